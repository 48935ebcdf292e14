"""The Upstash side of the agent turn budget (docs/cache.md): a warm turn makes at most 2 REST
calls (one read, one write-through) and reads the truth, and one API request reads through one
cache view. The DynamoDB side of the same turns is tests/storage/dynamodb/test_request_budgets.py's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anyio.from_thread
import pytest

from bench.cache import TurnMeter, agent_turn, exchange, seed_conversation
from memkit.api.app import create_app
from memkit.cache.cached_store import CachedMemoryStorage
from memkit.runtime import Runtime
from memkit.settings import Settings
from tests.api.support import ApiClient, uid
from tests.cache.support import dynamodb_behind_the_cache, expected_reads

pytestmark = [pytest.mark.redis, pytest.mark.dynamodb]


@pytest.fixture
def cached(dynamodb_endpoint: str, upstash_gateway) -> Iterator[CachedMemoryStorage]:
    store = dynamodb_behind_the_cache(upstash_gateway.url, upstash_gateway.token)
    yield store
    store.close()


def test_agent_turns_stay_within_the_rest_call_budget_and_read_the_truth(cached):
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
        if turn_number > 0:
            assert cost["rest"] <= 2, "warm turn: one read, one write-through"
    assert cached.stats["errors"] == 0


@pytest.mark.redis
def test_one_api_request_reads_through_one_cache_view(upstash_gateway, tmp_path: Path):
    # Given a warm cache for a thread and its resource (route handlers run inside request_scope)
    settings = Settings.from_env(
        {"MEMKIT_STORAGE_URL": f"file:{tmp_path / 'memkit.db'}", "MEMKIT_CACHE": "upstash", **upstash_gateway.env}
    )
    runtime = Runtime(settings)
    store = runtime.storage()
    thread_id, resource_id = uid("thr"), uid("res")
    with anyio.from_thread.start_blocking_portal() as portal:
        client = ApiClient(create_app(runtime), portal)
        client.post("/api/memory/threads", json={"threadId": thread_id, "resourceId": resource_id})
        path = f"/api/memory/threads/{thread_id}/working-memory"
        client.post(path, json={"workingMemory": "# User\n- name: Ada", "resourceId": resource_id})
        assert client.get(path, params={"resourceId": resource_id}).status_code == 200

        # When one request reads the thread (owner check) and the resource (working memory)
        before = store.backend.rest_calls
        response = client.get(path, params={"resourceId": resource_id})

        # Then both reads came from a single REST call
        assert response.status_code == 200 and response.json()["workingMemory"] == "# User\n- name: Ada"
        assert store.backend.rest_calls - before == 1
    runtime.close()
