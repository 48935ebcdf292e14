"""The agent turn budget of docs/cache.md on DynamoDB Local: warm 1 DynamoDB request and at most 2
Upstash REST calls, cold at most 3 DynamoDB requests; and the turn reads the right data."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench.cache import TurnMeter, agent_turn, cached_store, exchange, seed_conversation
from memkit.cache.cached_store import CachedMemoryStorage
from memkit.models import MessageUpdate
from bench.instruments import RequestCounter
from memkit.storage.memory.dynamodb.store import DynamoDBStore
from tests.cache.support import container, newest

pytestmark = [pytest.mark.redis, pytest.mark.dynamodb]


@pytest.fixture
def cached(dynamodb_endpoint: str, upstash_gateway) -> Iterator[CachedMemoryStorage]:
    store = cached_store(DynamoDBStore("memkit-cache-budget", create_table=True), upstash_gateway.url, upstash_gateway.token)
    yield store
    store.close()


def expected_reads(truth: DynamoDBStore, thread_id: str, resource_id: str) -> list[object]:
    return [
        truth.get_thread(thread_id).to_wire(),
        truth.list_messages(newest(thread_id, 20, resource_id)).to_wire(),
        truth.get_resource(resource_id).to_wire(),
    ]


def test_agent_turns_stay_within_the_request_budget_and_read_the_truth(cached):
    truth = cached.inner
    meter = TurnMeter(truth, cached)
    thread = seed_conversation(truth)
    for turn_number in range(4):
        # Given what the store holds before the turn
        expected = expected_reads(truth, thread.id, thread.resource_id)
        reads: list[object] = []

        def turn() -> None:
            read = agent_turn(cached, thread.id, thread.resource_id, exchange(thread, 2))
            reads.extend(item.to_wire() for item in read)

        # When the agent runs a turn
        cost = meter.measure(turn)
        # Then it read exactly that, within budget
        assert reads == expected
        if turn_number == 0:
            assert cost["dynamodb"] <= 3, "cold turn"
        else:
            assert cost["dynamodb"] == 1, "warm turn: only the save"
            assert cost["rest"] <= 2, "warm turn: one read, one write-through"
    assert cached.stats["errors"] == 0


def test_a_warm_turn_sees_a_save_made_by_another_container(cached, upstash_gateway):
    truth = cached.inner
    other = container(truth, upstash_gateway.url, upstash_gateway.token, namespace=cached.namespace)
    thread = seed_conversation(truth)
    agent_turn(cached, thread.id, thread.resource_id, exchange(thread, 2))
    # Another container answers the user meanwhile
    elsewhere = exchange(thread, 2)
    other.save_messages(elsewhere)
    expected = expected_reads(truth, thread.id, thread.resource_id)
    read = agent_turn(cached, thread.id, thread.resource_id, exchange(thread, 2))
    assert [item.to_wire() for item in read] == expected
    assert {m.id for m in elsewhere} <= {m.id for m in read[1].messages}
    other.backend.close()  # not other.close(): the store is shared


def test_moving_a_message_costs_only_the_stores_own_requests_and_drops_the_source_thread(cached):
    # Given two threads of one resource, the first one's newest page cached
    truth = cached.inner
    source = seed_conversation(truth, history=4)
    destination = truth.save_thread(source.model_copy(update={"id": f"{source.id}-dest", "title": "Elsewhere"}))
    moved = cached.list_messages(newest(source.id)).messages[0]

    # When the newest message moves to the other thread through the cache
    counter = RequestCounter(truth, consumed_capacity=False)
    with counter:
        cached.update_messages([MessageUpdate(id=moved.id, thread_id=destination.id)])

    # Then the store's update alone ran (the id pointer, the message with both threads, the
    # transaction): the cache learned the source thread from the store instead of reading it
    assert counter.operations() == ["BatchGetItem", "BatchGetItem", "TransactWriteItems"]
    # And the cached page of the source no longer shows the message, the destination's does
    assert moved.id not in {m.id for m in cached.list_messages(newest(source.id)).messages}
    assert [m.id for m in cached.list_messages(newest(destination.id)).messages] == [moved.id]
    assert cached.stats["errors"] == 0
