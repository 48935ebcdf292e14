"""Saves through the API while DynamoDB fails: every answer is one a client can trust.

The fault proxy (``infra/local/dynamodb_faults.py``) fails a seeded share of the requests memkit
sends to DynamoDB Local: throttled (nothing applied), a 500 before the request is applied, or a
500 after it was applied (the answer lost). botocore's retries are off, so each fault reaches
memkit instead of being retried away. Titles are on (a save of a new thread reads it, claims
its title and queues a job), the cache off, the job queue in-process.

For every save: the answer is 200 or 503; a 200 save is stored, whole; no save is half-applied;
and a save that answered 503 stored nothing, so a client that believes it failed is right.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

import anyio.from_thread
import pytest

from memkit.config import AgentRegistry, MemoryConfig
from memkit.api.app import create_app
from memkit.jobs.inprocess import InProcessQueue
from memkit.runtime import Runtime
from memkit.settings import Settings
from memkit.storage.memory.dynamodb.store import DynamoDBStore
from tests.api.support import ApiClient, message, uid
from tests.support.dynamodb_faults import DynamoDBFaults, without_sdk_retries

pytestmark = pytest.mark.dynamodb

SEED = 20251204
FAULT_RATE = 0.6
THREADS = 20
SAVES = 100
CONCURRENT_CLIENTS = 4


class Service(NamedTuple):
    runtime: Runtime
    api: ApiClient
    store: DynamoDBStore

    @property
    def jobs(self) -> InProcessQueue:
        queue = self.runtime.jobs
        assert isinstance(queue, InProcessQueue)
        return queue


@pytest.fixture(scope="module")
def portal() -> Iterator[Any]:
    with anyio.from_thread.start_blocking_portal() as blocking_portal:
        yield blocking_portal


@pytest.fixture
def faults(dynamodb_faults: DynamoDBFaults) -> Iterator[DynamoDBFaults]:
    yield dynamodb_faults
    dynamodb_faults.stop()


@pytest.fixture
def service(faults: DynamoDBFaults, portal: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Service]:
    """The API with titles on, the in-process queue and no cache, on DynamoDB through the proxy."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", faults.url)
    registry = AgentRegistry({"default": MemoryConfig.model_validate({"generateTitle": True})})
    runtime = Runtime(Settings(storage_url="dynamodb://memkit-fault-tests", cache="none", jobs="inprocess"), registry)
    store = runtime.storage()
    assert isinstance(store, DynamoDBStore)
    without_sdk_retries(store)
    yield Service(runtime, ApiClient(create_app(runtime), portal), store)
    runtime.close()


def create_thread(api: ApiClient) -> dict[str, Any]:
    response = api.post("/api/memory/threads", json={"resourceId": uid("res")})
    assert response.status_code == 200, response.text
    return response.json()


class Save(NamedTuple):
    thread_id: str
    message_ids: tuple[str, ...]
    status: int


def save_turn(api: ApiClient, thread: dict[str, Any], turn: int) -> Save:
    """One agent turn: the user's message and the answer, in one save."""
    messages = [
        message(thread["id"], thread["resourceId"], f"question {turn}: plan a trip to Lisbon", at_ms=2 * turn),
        message(thread["id"], thread["resourceId"], f"answer {turn}", role="assistant", at_ms=2 * turn + 1),
    ]
    response = api.post("/api/memory/save-messages", json={"messages": messages})
    return Save(thread["id"], tuple(m["id"] for m in messages), response.status_code)


def stored_ids(store: DynamoDBStore, saves: list[Save]) -> set[str]:
    return {m.id for m in store.list_messages_by_id([i for save in saves for i in save.message_ids])}


def test_saves_under_dynamodb_faults_answer_200_or_503_and_a_503_never_hides_a_stored_save(
    service: Service, faults: DynamoDBFaults
) -> None:
    # Given threads created while DynamoDB is healthy
    threads = [create_thread(service.api) for _ in range(THREADS)]

    # When clients save turns while 60% of DynamoDB requests fail
    with faults.injecting(FAULT_RATE, seed=SEED), ThreadPoolExecutor(CONCURRENT_CLIENTS) as clients:
        saves = list(clients.map(lambda turn: save_turn(service.api, threads[turn % THREADS], turn), range(SAVES)))
        counts = faults.counts()
    assert service.jobs.wait_idle(timeout=60)

    # Then every answer is 200 or 503, and it tells the truth about what is stored
    stored = stored_ids(service.store, saves)
    statuses = [save.status for save in saves]
    assert set(statuses) <= {200, 503}, statuses
    for save in saves:
        kept = [message_id in stored for message_id in save.message_ids]
        assert all(kept) or not any(kept), f"half-applied save: {save}"
        assert all(kept) == (save.status == 200), f"answered {save.status} but stored={all(kept)}: {save}"

    # And the faults were real: each kind hit the commits, throttles before a commit reached the
    # caller as 503, and the work after the commit failed without failing its save
    commit_faults = {kind: by_operation.get("TransactWriteItems", 0) for kind, by_operation in counts["injected"].items()}
    assert all(commit_faults.values()), commit_faults
    assert 503 in statuses and 200 in statuses
    assert service.runtime.memory().follow_up_failures["title"] > 0


def test_a_commit_whose_answer_is_lost_answers_200_and_is_applied_once(service: Service, faults: DynamoDBFaults) -> None:
    thread = create_thread(service.api)
    faults.script("error-after", "error-after", "error", operations=("TransactWriteItems",))

    save = save_turn(service.api, thread, 1)

    assert save.status == 200
    assert stored_ids(service.store, [save]) == set(save.message_ids)
    # Sent four times with one ClientRequestToken: DynamoDB applied it once.
    assert faults.counts()["requests"]["TransactWriteItems"] == 4
    listed = service.api.get(f"/api/memory/threads/{thread['id']}/messages", params={"perPage": "0"})
    assert listed.json()["total"] == 2


def test_a_commit_throttled_before_it_was_applied_answers_503_and_stores_nothing(
    service: Service, faults: DynamoDBFaults
) -> None:
    thread = create_thread(service.api)
    faults.script("throttle", operations=("TransactWriteItems",))

    save = save_turn(service.api, thread, 1)

    assert save.status == 503
    assert stored_ids(service.store, [save]) == set()


def test_a_title_claim_that_could_not_be_given_back_is_released_by_the_next_save(
    service: Service, faults: DynamoDBFaults
) -> None:
    # Given a save whose title claim was applied but answered 500, and whose release then failed
    thread = create_thread(service.api)
    faults.script("error-after", "error", operations=("UpdateItem",))
    first = save_turn(service.api, thread, 1)
    faults.stop()
    memory = service.runtime.memory()
    assert first.status == 200
    assert memory.follow_up_failures["title claim release"] == 1
    assert service.store.claim_thread_task(thread["id"], "title") is False, "the claim should be stuck"

    # When the thread's next save comes
    second = save_turn(service.api, thread, 2)

    # Then it gives the stuck claim back, claims it again, and the thread gets its title
    assert second.status == 200
    assert service.jobs.wait_idle(timeout=30)
    assert "Lisbon" in (service.store.get_thread(thread["id"]).title or "")
