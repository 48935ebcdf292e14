"""The agent turn with and without the Upstash cache, on DynamoDB Local behind the local gateway.

A turn is what an agent does per user message: get the thread (its ownership check), read the
last 20 messages, read working memory (the resource), then save 2 messages. It runs inside
one ``request_scope()``, as one Lambda invocation would.

- **cold**: the first turn on a thread, nothing cached for it or its resource.
- **warm**: later turns; the previous turn's save kept the window current.
- **uncached**: the same turn on the bare DynamoDB store (what the turn costs without a cache;
  Mastra's own DynamoDB store needs about 7 requests for it).

Request counts are exact (DynamoDB requests from the store's ``RequestCounter``, Upstash REST
calls from the cache client's HTTP hook); latencies are medians on this machine.
"""

from __future__ import annotations

import statistics
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from memkit.config import AgentRegistry
from memkit.cache.base import request_scope
from memkit.cache.cached_store import CachedMemoryStorage
from memkit.cache.factory import cache_window, wrap_with_cache
from memkit.models import ListMessagesInput, Message, MessagePage, Resource, Thread
from memkit.settings import Settings
from memkit.storage.memory.base import MemoryStorage

TABLE = "memkit-bench-cache"
THREADS = 15
WARM_TURNS_PER_THREAD = 3
HISTORY = 30
LAST_MESSAGES = 20
_EPOCH = datetime(2025, 1, 1, tzinfo=timezone.utc)


def agent_turn(
    store: MemoryStorage, thread_id: str, resource_id: str, reply: list[Message]
) -> tuple[Thread | None, MessagePage, Resource | None]:
    """One agent turn; returns what it read."""
    with request_scope():
        thread = store.get_thread(thread_id, resource_id)
        recent = store.list_messages(
            ListMessagesInput.build(
                thread_id=thread_id,
                resource_id=resource_id,
                per_page=LAST_MESSAGES,
                order_by={"field": "createdAt", "direction": "DESC"},
            )
        )
        resource = store.get_resource(resource_id)
        store.save_messages(reply)
    return thread, recent, resource


def seed_conversation(store: MemoryStorage, history: int = HISTORY) -> Thread:
    """A thread with ``history`` messages and a resource holding working memory."""
    resource_id = f"bench-user-{uuid.uuid4().hex[:8]}"
    thread = store.save_thread(
        Thread(id=f"bench-{uuid.uuid4().hex}", resource_id=resource_id, title="Bench", created_at=_EPOCH, updated_at=_EPOCH)
    )
    store.save_messages(exchange(thread, history, start=_EPOCH))
    store.update_resource(resource_id, working_memory="# User Information\n- **First Name**: Ada\n")
    return thread


def exchange(thread: Thread, count: int, *, start: datetime | None = None) -> list[Message]:
    """``count`` alternating user/assistant messages, 1 ms apart from ``start`` (default: now)."""
    start = start or datetime.now(timezone.utc)
    return [
        Message(
            id=uuid.uuid4().hex,
            thread_id=thread.id,
            resource_id=thread.resource_id,
            role="user" if index % 2 == 0 else "assistant",
            created_at=start + timedelta(milliseconds=index),
            content={"format": 2, "parts": [{"type": "text", "text": f"message {index}: " + "lorem ipsum " * 20}]},
        )
        for index in range(count)
    ]


def cached_store(store: MemoryStorage, url: str, token: str) -> CachedMemoryStorage:
    settings = Settings()._replace(cache="upstash", upstash_url=url, upstash_token=token)
    # A fresh namespace: every run starts cold whatever an earlier run left in Redis.
    cached = wrap_with_cache(
        store, settings, window=cache_window(AgentRegistry().max_last_messages()), namespace=f"bench-{uuid.uuid4().hex}"
    )
    assert isinstance(cached, CachedMemoryStorage)
    return cached


class TurnMeter:
    """Counts one turn's DynamoDB requests and REST calls and times it."""

    def __init__(self, dynamodb: Any, cache: CachedMemoryStorage | None):
        from bench.instruments import RequestCounter

        self._counter = RequestCounter(dynamodb)
        self._cache = cache

    def measure(self, turn: Any) -> dict[str, float]:
        rest_before = self._cache.backend.rest_calls if self._cache else 0  # type: ignore[attr-defined]
        with self._counter:
            self._counter.reset()
            started = time.perf_counter()
            turn()
            elapsed_ms = (time.perf_counter() - started) * 1000
            requests = self._counter.count()
        rest = (self._cache.backend.rest_calls - rest_before) if self._cache else 0  # type: ignore[attr-defined]
        return {"dynamodb": requests, "rest": rest, "ms": elapsed_ms}


def _row(label: str, samples: list[dict[str, float]], rest: bool) -> dict[str, Any]:
    return {
        "turn": label,
        "turns measured": len(samples),
        "DynamoDB requests (max)": int(max(s["dynamodb"] for s in samples)),
        "Upstash REST calls (max)": int(max(s["rest"] for s in samples)) if rest else "-",
        "median ms": statistics.median(s["ms"] for s in samples),
        "p90 ms": statistics.quantiles([s["ms"] for s in samples], n=10)[-1] if len(samples) >= 10 else None,
    }


def run(stack: Any) -> list[tuple[str, list[dict[str, Any]]]]:
    stack.dynamodb  # started on first use; exports AWS_ENDPOINT_URL_DYNAMODB
    from memkit.storage.memory.dynamodb.store import DynamoDBStore

    dynamodb = DynamoDBStore(TABLE, create_table=True)
    cached = cached_store(dynamodb, stack.upstash_url, stack.upstash_token)
    cached_meter, bare_meter = TurnMeter(dynamodb, cached), TurnMeter(dynamodb, None)
    cold: list[dict[str, float]] = []
    warm: list[dict[str, float]] = []
    uncached: list[dict[str, float]] = []
    try:
        for _ in range(THREADS):
            thread = seed_conversation(dynamodb)

            def turn(store: MemoryStorage = cached, thread: Thread = thread) -> None:
                agent_turn(store, thread.id, thread.resource_id, exchange(thread, 2))

            cold.append(cached_meter.measure(turn))
            for _ in range(WARM_TURNS_PER_THREAD):
                warm.append(cached_meter.measure(turn))
            for _ in range(WARM_TURNS_PER_THREAD):
                uncached.append(bare_meter.measure(lambda thread=thread: turn(dynamodb, thread)))
    finally:
        cached.backend.close()
        dynamodb.close()
    rows = [
        _row("warm (cached)", warm, rest=True),
        _row("cold (cached, first turn)", cold, rest=True),
        _row("uncached: our DynamoDB store alone (Mastra's store: ~7 requests)", uncached, rest=False),
    ]
    budget = {"turn": "budget (docs/cache.md)", "DynamoDB requests (max)": "warm 1 / cold <= 3", "Upstash REST calls (max)": "warm <= 2"}
    return [("Agent turn with the Upstash cache (get thread, last 20, working memory, save 2)", rows + [budget])]
