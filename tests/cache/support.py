"""Building cached stores for tests: through the real factory, one cache namespace per test.

Each store opened here plays one Lambda container: its own ``UpstashCache`` (own HTTP client,
breaker, dirty flag) in front of a store and a Redis that other "containers" may share.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from memkit.config import AgentRegistry
from memkit.cache.cached_store import CachedMemoryStorage
from memkit.cache.factory import cache_window, wrap_with_cache
from memkit.cache.upstash import UpstashCache
from memkit.models import ListMessagesInput
from memkit.settings import Settings
from memkit.storage.memory.base import MemoryStorage


def cache_settings(url: str, token: str, **overrides: object) -> Settings:
    return Settings()._replace(cache="upstash", upstash_url=url, upstash_token=token, **overrides)


def container(
    store: MemoryStorage,
    url: str,
    token: str,
    *,
    namespace: str,
    window: int | None = None,
    timeout_seconds: float | None = None,
) -> CachedMemoryStorage:
    """One "container": ``store`` behind its own cache client for ``namespace``. By default
    built by the factory exactly as in production; ``window`` overrides the message window
    (small windows make the trimming and boundary cases frequent)."""
    if window is None:
        window = cache_window(AgentRegistry().max_last_messages())
        cached = wrap_with_cache(store, cache_settings(url, token), window=window, namespace=namespace)
        assert isinstance(cached, CachedMemoryStorage)
        return cached
    backend = UpstashCache(url, token) if timeout_seconds is None else UpstashCache(url, token, timeout_seconds=timeout_seconds)
    return CachedMemoryStorage(store, backend, namespace=namespace, window=window)


def cached(open_store: Callable[[pytest.FixtureRequest], MemoryStorage]) -> Callable[[pytest.FixtureRequest], MemoryStorage]:
    """A conformance-suite opener: ``open_store``'s store behind the cache, through the local
    Upstash gateway and a real redis-server. A fresh namespace per test keeps tests apart even
    where two in-memory databases would reuse ids."""

    def open_cached(request: pytest.FixtureRequest) -> MemoryStorage:
        gateway = request.getfixturevalue("upstash_gateway")
        return container(open_store(request), gateway.url, gateway.token, namespace=uuid.uuid4().hex)

    return open_cached


def newest(thread_id: str, count: int = 20, resource_id: str | None = None) -> ListMessagesInput:
    """The read an agent turn makes: the last ``count`` messages, newest first."""
    return ListMessagesInput.build(
        thread_id=thread_id,
        resource_id=resource_id,
        per_page=count,
        order_by={"field": "createdAt", "direction": "DESC"},
    )


def snapshot(store: MemoryStorage, thread_id: str, resource_id: str) -> dict[str, Any]:
    """Everything an agent turn reads, in wire form, as ``store`` answers it now."""
    thread = store.get_thread(thread_id)
    resource = store.get_resource(resource_id)
    return {
        "thread": thread.to_wire() if thread else None,
        "last20": store.list_messages(newest(thread_id, 20)).to_wire(),
        "last5_owner": store.list_messages(newest(thread_id, 5, resource_id)).to_wire()
        if thread is None or thread.resource_id == resource_id
        else None,
        "resource": resource.to_wire() if resource else None,
    }


def assert_fresh(cached: MemoryStorage, truth: MemoryStorage, thread_id: str, resource_id: str) -> None:
    """``cached`` answers every turn read exactly as the store does right now."""
    assert snapshot(cached, thread_id, resource_id) == snapshot(truth, thread_id, resource_id)


BUDGET_TABLE = "memkit-cache-budget"


def dynamodb_behind_the_cache(url: str, token: str) -> CachedMemoryStorage:
    """The turn budgets' store: DynamoDB Local behind the local Upstash gateway, as bench/cache.py
    measures it."""
    from bench.cache import cached_store
    from memkit.storage.memory.dynamodb.store import DynamoDBStore

    return cached_store(DynamoDBStore(BUDGET_TABLE, create_table=True), url, token)


def expected_reads(truth: MemoryStorage, thread_id: str, resource_id: str) -> list[object]:
    return [
        truth.get_thread(thread_id).to_wire(),
        truth.list_messages(newest(thread_id, 20, resource_id)).to_wire(),
        truth.get_resource(resource_id).to_wire(),
    ]

