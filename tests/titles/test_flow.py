"""Title generation end to end: messages saved over the HTTP API, the job on the queue, the
worker (or the in-process queue) writing the title. Also what a save must and must not enqueue."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any, Callable

import anyio.from_thread
import pytest

from memkit.api.app import create_app
from memkit.runtime import Runtime
from tests.api.support import ApiClient

from tests.support.openai_stub import OpenAIStub

from tests.support.jobs import QueuePair, message, sqs_event, unique, wait_for

TITLE_MODEL = {"generateTitle": {"model": "openai/gpt-4o-mini"}}


@pytest.fixture
def sqs_runtime(
    storage_url: str, queues: QueuePair, openai: OpenAIStub, runtimes: Callable[..., Runtime]
) -> Callable[[dict[str, dict[str, Any]]], Runtime]:
    """A runtime (one container) on the SQS queue, with the given agents."""

    def build(agents: dict[str, dict[str, Any]]) -> Runtime:
        return runtimes(storage_url, jobs="sqs", queue_url=queues.url, openai_base_url=openai.base_url, agents=agents)

    return build


@pytest.fixture(scope="module")
def portal() -> Iterator[Any]:
    with anyio.from_thread.start_blocking_portal() as blocking_portal:
        yield blocking_portal


@pytest.fixture
def api(portal: Any) -> Callable[[Runtime], ApiClient]:
    """The HTTP API of one container, called in-process."""
    return lambda runtime: ApiClient(create_app(runtime), portal)


def create_thread(client: ApiClient, agent_id: str = "default") -> dict[str, Any]:
    response = client.post(f"/api/memory/threads?agentId={agent_id}", json={"resourceId": unique("res")})
    assert response.status_code == 200, response.text
    return response.json()


def save(client: ApiClient, thread: dict[str, Any], text: str, agent_id: str = "default", **kwargs: Any):
    body = {"agentId": agent_id, "messages": [message(thread["id"], thread["resourceId"], text, **kwargs)]}
    return client.post(f"/api/memory/save-messages?agentId={agent_id}", json=body)


def title_of(client: ApiClient, thread: dict[str, Any]) -> str | None:
    response = client.get(f"/api/memory/threads/{thread['id']}", params={"resourceId": thread["resourceId"]})
    assert response.status_code == 200, response.text
    return response.json()["title"]


# ------------------------------------------------------------------ end to end


@pytest.mark.sqs
def test_title_goes_through_sqs_and_the_worker(
    sqs_runtime: Callable[..., Runtime],
    queues: QueuePair,
    openai: OpenAIStub,
    api: Callable[[Runtime], ApiClient],
    invoke_worker: Callable[[Runtime, dict[str, Any]], dict[str, Any]],
) -> None:
    # Given the API and the worker as two containers sharing a store and a queue
    client = api(sqs_runtime({"default": TITLE_MODEL}))
    worker_runtime = sqs_runtime({"default": TITLE_MODEL})
    thread = create_thread(client)

    # When messages are saved over the API
    assert save(client, thread, "Can you plan a weekend in Lisbon for two?").status_code == 200
    assert save(client, thread, "Sure, here is a plan", role="assistant", offset_ms=10).status_code == 200

    # Then one job is on the queue, and the worker turns the received record into a title
    [received] = queues.receive_exactly(1)
    assert json.loads(received["Body"]) == {
        "type": "generate_title",
        "v": 1,
        "agent_id": "default",
        "thread_id": thread["id"],
        "resource_id": thread["resourceId"],
    }
    assert title_of(client, thread) is None
    assert invoke_worker(worker_runtime, sqs_event([received], queues.arn)) == {"batchItemFailures": []}
    assert title_of(client, thread) == "Can you plan a weekend in"
    assert queues.receive() == []


def test_title_appears_on_the_embedded_default_with_no_servers(
    file_db: str, runtimes: Callable[..., Runtime], api: Callable[[Runtime], ApiClient]
) -> None:
    # The make-run setup: a libSQL file, the in-process queue, the extractive titler.
    runtime = runtimes(file_db, agents={"default": {"generateTitle": True}})
    client = api(runtime)
    thread = create_thread(client)

    assert save(client, thread, "Hello! Which trams go to Belém in Lisbon?").status_code == 200

    assert wait_for(lambda: title_of(client, thread), what="the title") == "Which trams go to Belém in Lisbon?"
    assert runtime.jobs.name == "inprocess"


def test_a_thread_opened_by_the_assistant_is_titled_from_the_first_user_message(
    file_db: str, runtimes: Callable[..., Runtime], api: Callable[[Runtime], ApiClient]
) -> None:
    # Given an agent whose greeting is saved before the user says anything
    runtime = runtimes(file_db, agents={"default": {"generateTitle": True}})
    client = api(runtime)
    thread = create_thread(client)
    assert save(client, thread, "Hi! How can I help you today?", role="assistant").status_code == 200

    # When the user then speaks
    assert save(client, thread, "Which trams go to Belém in Lisbon?", offset_ms=10).status_code == 200

    # Then the thread is titled from the user's words
    assert wait_for(lambda: title_of(client, thread), what="the title") == "Which trams go to Belém in Lisbon?"


@pytest.mark.sqs
def test_a_save_without_user_words_enqueues_no_title_job(
    sqs_runtime: Callable[..., Runtime], queues: QueuePair, api: Callable[[Runtime], ApiClient]
) -> None:
    client = api(sqs_runtime({"default": TITLE_MODEL}))
    thread = create_thread(client)
    image_only = message(thread["id"], thread["resourceId"], "unused")
    image_only["content"]["parts"] = [{"type": "file", "mimeType": "image/png", "data": "iVBORw0KGgo="}]

    assert save(client, thread, "Hello, I am your assistant.", role="assistant").status_code == 200
    assert client.post("/api/memory/save-messages", json={"messages": [image_only]}).status_code == 200
    assert queues.depth() == 0

    assert save(client, thread, "What is in this picture?", offset_ms=5).status_code == 200
    assert queues.depth() == 1


@pytest.mark.sqs
def test_a_title_job_that_finds_no_user_words_gives_the_claim_back(
    sqs_runtime: Callable[..., Runtime],
    queues: QueuePair,
    api: Callable[[Runtime], ApiClient],
    invoke_worker: Callable[[Runtime, dict[str, Any]], dict[str, Any]],
) -> None:
    # Given a title job queued for a user message that is deleted before the worker runs
    client = api(sqs_runtime({"default": TITLE_MODEL}))
    worker_runtime = sqs_runtime({"default": TITLE_MODEL})
    thread = create_thread(client)
    first = message(thread["id"], thread["resourceId"], "Plan a weekend in Lisbon")
    assert client.post("/api/memory/save-messages", json={"messages": [first]}).status_code == 200
    [received] = queues.receive_exactly(1)
    assert client.post("/api/memory/messages/delete", json={"messageIds": [first["id"]]}).status_code == 200

    # When the worker runs it
    assert invoke_worker(worker_runtime, sqs_event([received], queues.arn)) == {"batchItemFailures": []}

    # Then the claim is free again: the next user message, saved by another container, asks anew
    other_container = api(sqs_runtime({"default": TITLE_MODEL}))
    assert save(other_container, thread, "Plan a weekend in Porto", offset_ms=10).status_code == 200
    [asked_again] = queues.receive_exactly(1)
    assert json.loads(asked_again["Body"])["thread_id"] == thread["id"]


@pytest.mark.sqs
def test_user_rename_between_enqueue_and_worker_wins(
    sqs_runtime: Callable[..., Runtime],
    queues: QueuePair,
    openai: OpenAIStub,
    api: Callable[[Runtime], ApiClient],
    invoke_worker: Callable[[Runtime, dict[str, Any]], dict[str, Any]],
) -> None:
    runtime = sqs_runtime({"default": TITLE_MODEL})
    client = api(runtime)
    thread = create_thread(client)
    assert save(client, thread, "Plan a weekend in Lisbon").status_code == 200
    [received] = queues.receive_exactly(1)

    renamed = client.patch(f"/api/memory/threads/{thread['id']}", json={"title": "Lisbon, our way"})
    assert renamed.status_code == 200, renamed.text
    assert invoke_worker(runtime, sqs_event([received], queues.arn)) == {"batchItemFailures": []}

    assert title_of(client, thread) == "Lisbon, our way"
    assert openai.chat_requests() == []


# ------------------------------------------------------------------ what a save enqueues


@pytest.mark.sqs
def test_save_with_titles_on_costs_one_send_message_and_no_model_call(
    sqs_runtime: Callable[..., Runtime], queues: QueuePair, openai: OpenAIStub, api: Callable[[Runtime], ApiClient]
) -> None:
    runtime = sqs_runtime({"default": TITLE_MODEL})
    client = api(runtime)
    thread = create_thread(client)
    sqs_calls: list[str] = []
    runtime.jobs.client.meta.events.register(
        "before-call.sqs", lambda model, **_: sqs_calls.append(model.name)
    )

    assert save(client, thread, "Plan a weekend in Lisbon").status_code == 200
    assert sqs_calls == ["SendMessage"]
    assert openai.chat_requests() == []

    # A later save to the same thread finds the title already requested.
    assert save(client, thread, "And Porto too", offset_ms=10).status_code == 200
    assert sqs_calls == ["SendMessage"]
    assert queues.depth() == 1


@pytest.mark.sqs
def test_no_job_when_generate_title_is_off(
    sqs_runtime: Callable[..., Runtime], queues: QueuePair, api: Callable[[Runtime], ApiClient]
) -> None:
    client = api(sqs_runtime({"default": {"generateTitle": False}}))
    thread = create_thread(client)

    assert save(client, thread, "Plan a weekend in Lisbon").status_code == 200

    assert queues.depth() == 0


@pytest.mark.sqs
def test_no_job_for_a_read_only_agent(
    sqs_runtime: Callable[..., Runtime], queues: QueuePair, api: Callable[[Runtime], ApiClient]
) -> None:
    client = api(sqs_runtime({"default": TITLE_MODEL, "reader": {**TITLE_MODEL, "readOnly": True}}))
    thread = create_thread(client)

    response = save(client, thread, "Plan a weekend in Lisbon", agent_id="reader")

    assert response.status_code == 403, response.text
    assert queues.depth() == 0


@pytest.mark.sqs
def test_no_job_for_a_thread_that_already_has_a_title(
    sqs_runtime: Callable[..., Runtime], queues: QueuePair, api: Callable[[Runtime], ApiClient]
) -> None:
    client = api(sqs_runtime({"default": TITLE_MODEL}))
    response = client.post("/api/memory/threads", json={"resourceId": unique("res"), "title": "Chosen by the user"})
    thread = response.json()

    assert save(client, thread, "Plan a weekend in Lisbon").status_code == 200

    assert queues.depth() == 0


@pytest.mark.sqs
def test_racing_saves_enqueue_exactly_one_job(sqs_runtime: Callable[..., Runtime], queues: QueuePair) -> None:
    # Given several API containers saving to the same new thread at the same moment
    containers = [sqs_runtime({"default": TITLE_MODEL}) for _ in range(6)]
    thread = containers[0].memory().create_thread(resource_id=unique("res"))
    barrier = threading.Barrier(len(containers))
    errors: list[BaseException] = []

    def save_at_once(runtime: Runtime, n: int) -> None:
        try:
            barrier.wait(timeout=10)
            runtime.memory().save_messages([message(thread.id, thread.resource_id, f"Message {n}", offset_ms=n)])
        except BaseException as exc:  # surfaced to the test thread below
            errors.append(exc)

    workers = [threading.Thread(target=save_at_once, args=(rt, n)) for n, rt in enumerate(containers)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)

    # Then one title job was queued between them
    assert errors == []
    assert queues.depth() == 1


@pytest.mark.sqs
def test_a_failed_enqueue_answers_200_and_gives_the_title_claim_back(
    sqs_endpoint: str, storage_url: str, openai: OpenAIStub, runtimes: Callable[..., Runtime], api: Callable[[Runtime], ApiClient]
) -> None:
    # Given a container whose queue does not exist (SendMessage fails)
    missing_queue = f"{sqs_endpoint}/123456789012/{unique('missing-queue')}"
    runtime = runtimes(
        storage_url, jobs="sqs", queue_url=missing_queue, openai_base_url=openai.base_url,
        agents={"default": TITLE_MODEL},
    )
    client = api(runtime)
    thread = create_thread(client)

    # When a save cannot enqueue its title job
    response = save(client, thread, "Plan a weekend in Lisbon")

    # Then the save, stored, answers 200 (the failure is logged and counted, not the caller's),
    # and the claim is free again so the next save requests the title
    assert response.status_code == 200, response.text
    listed = client.get(f"/api/memory/threads/{thread['id']}/messages", params={"resourceId": thread["resourceId"]})
    assert listed.json()["total"] == 1
    assert runtime.memory().follow_up_failures["title"] == 1
    assert runtime.storage().claim_thread_task(thread["id"], "title") is True


@pytest.mark.sqs
def test_later_saves_to_a_thread_whose_title_is_claimed_do_not_read_it(
    sqs_runtime: Callable[..., Runtime],
    queues: QueuePair,
    api: Callable[[Runtime], ApiClient],
    first_arguments: Callable[[Any, str], list[Any]],
) -> None:
    runtime = sqs_runtime({"default": TITLE_MODEL})
    client = api(runtime)
    thread = create_thread(client)
    reads = first_arguments(runtime.memory().storage, "get_thread")

    # The first save reads the thread and claims its title job; later saves know the claim.
    assert save(client, thread, "Plan a weekend in Lisbon").status_code == 200
    assert save(client, thread, "And Porto too", offset_ms=10).status_code == 200
    assert save(client, thread, "And Faro", offset_ms=20).status_code == 200
    assert reads == [thread["id"]]
    assert queues.depth() == 1


@pytest.mark.sqs
def test_a_title_cleared_by_the_user_is_requested_again_by_the_same_container(
    sqs_runtime: Callable[..., Runtime], queues: QueuePair, api: Callable[[Runtime], ApiClient]
) -> None:
    client = api(sqs_runtime({"default": TITLE_MODEL}))
    thread = client.post("/api/memory/threads", json={"resourceId": unique("res"), "title": "Chosen by the user"}).json()
    assert save(client, thread, "Plan a weekend in Lisbon").status_code == 200
    assert queues.depth() == 0

    cleared = client.patch(
        f"/api/memory/threads/{thread['id']}", json={"resourceId": thread["resourceId"], "title": None}
    )
    assert cleared.status_code == 200, cleared.text
    assert save(client, thread, "And Porto too", offset_ms=10).status_code == 200
    assert queues.depth() == 1
