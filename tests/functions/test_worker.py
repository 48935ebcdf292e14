"""The worker Lambda on real SQS records: messages sent to and received from moto's server,
turned into the event Lambda's poller would deliver, and handed to ``functions.worker.app``."""

from __future__ import annotations

import json
from typing import Any, Callable

import pytest

from memkit.runtime import Runtime

from tests.support.jobs import QueuePair, seed_thread, sqs_event, stored_title, title_job, wait_for
from tests.support.jobs import invoke_worker, queues, runtimes, sqs, storage_url  # noqa: F401 (fixtures)
from tests.support.openai_stub import OpenAIStub

pytestmark = pytest.mark.sqs

Invoke = Callable[[Runtime, dict[str, Any]], dict[str, Any]]


@pytest.fixture
def worker_runtime(storage_url: str, queues: QueuePair, openai: OpenAIStub, runtimes: Callable[..., Runtime]) -> Runtime:
    """The worker container's runtime: same settings as the API's, built separately."""
    return runtimes(
        storage_url,
        jobs="sqs",
        queue_url=queues.url,
        openai_base_url=openai.base_url,
        agents={"default": {"generateTitle": True}, "openai": {"generateTitle": {"model": "openai/gpt-4o-mini"}}},
    )


def failed_ids(response: dict[str, Any]) -> list[str]:
    return [failure["itemIdentifier"] for failure in response["batchItemFailures"]]


def test_poison_message_reaches_the_dlq_after_three_receives(
    worker_runtime: Runtime, queues: QueuePair, invoke_worker: Invoke
) -> None:
    # Given a message that is not JSON
    message_id = queues.send("{not json")

    # When the worker fails it on each of three receives
    for receive in (1, 2, 3):
        [received] = queues.receive_exactly(1, visibility_timeout=0)
        assert received["Attributes"]["ApproximateReceiveCount"] == str(receive)
        assert failed_ids(invoke_worker(worker_runtime, sqs_event([received], queues.arn))) == [message_id]

    # Then SQS moves it to the DLQ instead of delivering it a fourth time
    assert queues.receive() == []
    dead = wait_for(lambda: queues.client.receive_message(QueueUrl=queues.dlq_url).get("Messages"), what="the DLQ")
    assert [(m["MessageId"], m["Body"]) for m in dead] == [(message_id, "{not json")]
    assert queues.depth() == 0


@pytest.mark.parametrize(
    "bad_body",
    [
        "{not json",
        json.dumps({"type": "reindex_the_world", "v": 1}),
        json.dumps({"type": "generate_title", "v": 99, "agent_id": "default", "thread_id": "t", "resource_id": "r"}),
        json.dumps(["generate_title"]),
    ],
    ids=["not-json", "unknown-type", "unknown-version", "not-an-object"],
)
def test_one_bad_record_in_five_is_the_only_batch_item_failure(
    worker_runtime: Runtime, queues: QueuePair, invoke_worker: Invoke, bad_body: str
) -> None:
    # Given four good title jobs and one bad message in one batch
    threads = [seed_thread(worker_runtime, ("user", f"Visit city number {n}")) for n in range(4)]
    for thread in threads[:2]:
        queues.send(json.dumps(title_job(thread)))
    bad_id = queues.send(bad_body)
    for thread in threads[2:]:
        queues.send(json.dumps(title_job(thread)))
    received = queues.receive_exactly(5)

    # When the worker processes the batch
    response = invoke_worker(worker_runtime, sqs_event(received, queues.arn))

    # Then only the bad record comes back, and the good ones did their work
    assert failed_ids(response) == [bad_id]
    assert [stored_title(worker_runtime, t) for t in threads] == [f"Visit city number {n}" for n in range(4)]


def test_duplicate_delivery_gives_one_title(
    worker_runtime: Runtime, queues: QueuePair, openai: OpenAIStub, invoke_worker: Invoke
) -> None:
    thread = seed_thread(worker_runtime, ("user", "Visit Lisbon"))
    openai.script({"content": "First delivery"}, {"content": "Second delivery"})
    queues.send(json.dumps(title_job(thread, "openai")))
    [received] = queues.receive_exactly(1)
    event = sqs_event([received], queues.arn)

    # SQS is at-least-once: the same record may arrive twice.
    assert failed_ids(invoke_worker(worker_runtime, event)) == []
    assert failed_ids(invoke_worker(worker_runtime, event)) == []

    assert stored_title(worker_runtime, thread) == "First delivery"
    assert len(openai.chat_requests()) == 1


def test_throttled_provider_fails_the_record_and_the_redelivery_succeeds(
    worker_runtime: Runtime, queues: QueuePair, openai: OpenAIStub, invoke_worker: Invoke
) -> None:
    thread = seed_thread(worker_runtime, ("user", "Visit Lisbon"))
    openai.script({"status": 429}, {"content": "Lisbon after throttling"})
    message_id = queues.send(json.dumps(title_job(thread, "openai")))

    [first] = queues.receive_exactly(1, visibility_timeout=0)
    assert failed_ids(invoke_worker(worker_runtime, sqs_event([first], queues.arn))) == [message_id]
    assert stored_title(worker_runtime, thread) is None

    [second] = queues.receive_exactly(1)
    assert failed_ids(invoke_worker(worker_runtime, sqs_event([second], queues.arn))) == []
    assert stored_title(worker_runtime, thread) == "Lisbon after throttling"


def test_provider_auth_failure_fails_every_receive_until_the_dlq(
    worker_runtime: Runtime, queues: QueuePair, openai: OpenAIStub, invoke_worker: Invoke
) -> None:
    thread = seed_thread(worker_runtime, ("user", "Visit Lisbon"))
    openai.script(*[{"status": 401, "message": "Incorrect API key provided"}] * 3)
    message_id = queues.send(json.dumps(title_job(thread, "openai")))

    for _ in range(3):
        [received] = queues.receive_exactly(1, visibility_timeout=0)
        assert failed_ids(invoke_worker(worker_runtime, sqs_event([received], queues.arn))) == [message_id]

    assert queues.receive() == []
    wait_for(lambda: queues.depth(queues.dlq_url) == 1, what="the job in the DLQ")
    assert stored_title(worker_runtime, thread) is None
