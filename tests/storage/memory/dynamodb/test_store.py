"""The DynamoDB memory store's own guarantees beyond the conformance suite: concurrent metadata
merges, exact thread counters through every kind of write, and a clone that fails leaving
nothing behind."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator

import pytest

from memkit.errors import RetryableError
from memkit.models import CloneThreadInput, ListMessagesInput, ListThreadsInput, Message, MessageUpdate
from memkit.storage.memory.dynamodb.store import DynamoDBStore
from tests.storage.dynamodb.support import (
    NEWEST_FIRST,
    at,
    counted,
    ids,
    messages_for,
    new_thread,
    open_budget_store,
    save_all,
    unique,
)

pytestmark = pytest.mark.dynamodb


@pytest.fixture(scope="module")
def store(dynamodb_endpoint: str) -> Iterator[DynamoDBStore]:
    yield from open_budget_store()


def test_concurrent_metadata_merges_of_different_keys_all_survive(store):
    # Given 8 writers merging one key each into the same resource at the same time
    resource_id = unique("res")
    start = threading.Barrier(8)

    def merge(index: int) -> None:
        start.wait()
        store.update_resource(resource_id, metadata={f"key_{index}": index})

    workers = [threading.Thread(target=merge, args=(index,)) for index in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    # Then every key is there
    assert store.get_resource(resource_id).metadata == {f"key_{index}": index for index in range(8)}


def test_thread_counters_stay_exact_through_moves_updates_and_deletes(store):
    """messageCount, foreignMessageCount and the resource's thread counter against a plain model."""
    rng = random.Random(20240101)
    owner = unique("res")
    stranger = unique("res")
    threads = [new_thread(store, owner, created_ms=index) for index in range(3)]
    # The model: message id -> (thread id, resource id, createdAt ms)
    model: dict[str, tuple[str, str, int]] = {}
    clock = 0
    # Sequential ids under one unique prefix: the scenario the seed picks is the same every run.
    id_prefix = unique("m")
    next_number = iter(range(1_000_000))

    def new_id() -> str:
        return f"{id_prefix}-{next(next_number):05d}"

    def message(message_id: str, thread_id: str, resource_id: str, ms: int) -> Message:
        return Message(
            id=message_id,
            thread_id=thread_id,
            resource_id=resource_id,
            role="user",
            created_at=at(ms),
            content={"format": 2, "parts": [{"type": "text", "text": message_id}]},
        )

    for step in range(80):
        action = rng.choice(["save", "save", "resave", "move", "update", "delete"])
        known = sorted(model)
        if action == "save" or not known:
            batch = {}
            for _ in range(rng.randint(1, 4)):
                clock += 1
                batch[new_id()] = (rng.choice(threads).id, rng.choice([owner, owner, stranger]), clock)
            store.save_messages([message(message_id, *fields) for message_id, fields in batch.items()])
            model.update(batch)
        elif action in ("resave", "move"):
            message_id = rng.choice(known)
            thread_id, resource_id, ms = model[message_id]
            if action == "move":
                thread_id = rng.choice(threads).id
                resource_id = rng.choice([owner, stranger])
            ms = ms if rng.random() < 0.5 else rng.randint(0, clock)
            store.save_messages([message(message_id, thread_id, resource_id, ms)])
            model[message_id] = (thread_id, resource_id, ms)
        elif action == "update":
            message_id = rng.choice(known)
            thread_id = rng.choice(threads).id
            resource_id = rng.choice([owner, stranger])
            store.update_messages([MessageUpdate(id=message_id, thread_id=thread_id, resource_id=resource_id)])
            model[message_id] = (thread_id, resource_id, model[message_id][2])
        else:
            doomed = rng.sample(known, k=min(len(known), rng.randint(1, 3)))
            store.delete_messages(doomed + [new_id()])
            for message_id in doomed:
                del model[message_id]

        # Then every total matches the model: all messages, and the owner's view (resource filter)
        for thread in threads:
            in_thread = sorted((ms, mid) for mid, (tid, _, ms) in model.items() if tid == thread.id)
            owned = sorted((ms, mid) for mid, (tid, rid, ms) in model.items() if tid == thread.id and rid == owner)
            everyone = store.list_messages(ListMessagesInput.build(thread_id=thread.id, per_page=0))
            assert everyone.total == len(in_thread), f"step {step} ({action})"
            for per_page in (3, False):
                mine = store.list_messages(
                    ListMessagesInput.build(
                        thread_id=thread.id, resource_id=owner, per_page=per_page, order_by=NEWEST_FIRST
                    )
                )
                assert mine.total == len(owned), f"step {step} ({action})"
                expected = [mid for _, mid in reversed(owned)]
                assert ids(mine.messages) == (expected if per_page is False else expected[:3])

    # And once the other resource's messages are gone, the owner's recent window is the single
    # Query again (the foreign count came back to 0, not just "high enough to stay correct")
    store.delete_messages([mid for mid, (_, rid, _) in model.items() if rid == stranger])
    for thread in threads:
        page, counter = counted(
            store,
            lambda thread=thread: store.list_messages(
                ListMessagesInput.build(thread_id=thread.id, resource_id=owner, per_page=3, order_by=NEWEST_FIRST)
            ),
        )
        assert counter.operations() == ["Query"]
        assert page.total == sum(1 for tid, rid, _ in model.values() if tid == thread.id and rid == owner)

    # And the resource's thread counter follows creates and deletes
    store.delete_thread(threads[0].id)
    listing = store.list_threads(ListThreadsInput.build(resource_id=owner, per_page=1))
    assert listing.total == 2


def test_a_clone_whose_messages_cannot_be_saved_leaves_no_thread(store: DynamoDBStore, monkeypatch):
    # Given a thread to clone, and a service failure while the copies are written
    source = new_thread(store)
    save_all(store, messages_for(source, 5))
    clone_id = unique("clone")

    def failing_save(messages):
        raise RetryableError("DynamoDB is busy, retry later")

    monkeypatch.setattr(store.writes, "save_messages_with_receipt", failing_save)

    # When the clone is attempted
    with pytest.raises(RetryableError):
        store.clone_thread(CloneThreadInput(source_thread_id=source.id, new_thread_id=clone_id))

    # Then nothing of it remains, and the same clone can be retried
    monkeypatch.undo()
    assert store.get_thread(clone_id) is None
    result = store.clone_thread(CloneThreadInput(source_thread_id=source.id, new_thread_id=clone_id))
    assert len(result.cloned_messages) == 5
