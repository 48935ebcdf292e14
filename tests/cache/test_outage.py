"""Redis down, unreachable or hung: every request still succeeds with the store's data, and when
Redis answers again no entry from before a write made during the outage is served."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import redis

from infra.local.stack import free_port, wait_until
from memkit.cache.base import request_scope
from memkit.cache.cached_store import CachedMemoryStorage
from memkit.cache.coherence import BREAKER_THRESHOLD
from memkit.cache.upstash import UpstashCache
from tests.cache.support import assert_fresh, newest
from tests.storage.memory.builders import ids, make_messages, make_thread

pytestmark = pytest.mark.redis


def unreachable_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


def test_every_request_succeeds_with_correct_data_while_redis_is_down(seeded, redis_server):
    containers, thread, _ = seeded
    a, b = containers.both()
    truth = containers.truth
    for cached in (a, b):
        assert_fresh(cached, truth, thread.id, thread.resource_id)
    with redis_server.stopped():
        for turn in range(4):
            with request_scope():
                assert_fresh(a, truth, thread.id, thread.resource_id)
                a.save_messages(make_messages(thread, 2, start_ms=10_000 + 10 * turn))
            assert_fresh(b, truth, thread.id, thread.resource_id)
        assert a.dirty
        assert a.stats["errors"] > 0 and b.stats["errors"] > 0
    # Redis is back (empty, as a restarted redis-server without persistence is)
    wait_until(lambda: not a.dirty, timeout=15, what="A's epoch increment after the outage")
    for cached in (a, b):
        assert_fresh(cached, truth, thread.id, thread.resource_id)


@pytest.mark.parametrize("cut_off", ["wrong port", "wrong token"])
def test_entries_cached_before_an_outage_are_not_trusted_after_a_write_during_it(seeded, redis_server, upstash_gateway, cut_off):
    containers, thread, _ = seeded
    a, b = containers.both()
    truth = containers.truth
    for cached in (a, b):
        assert_fresh(cached, truth, thread.id, thread.resource_id)
    direct = redis.Redis(port=redis_server.port, protocol=2, decode_responses=True)
    key = a.thread_key(thread.id)
    cached_before = direct.hget(key, "v")
    assert cached_before is not None
    # Given A cannot reach Redis (which keeps its data) while it saves
    reachable = a.backend
    a.backend = (
        UpstashCache(unreachable_url(), upstash_gateway.token, timeout_seconds=0.5)
        if cut_off == "wrong port"
        else UpstashCache(upstash_gateway.url, "wrong-token", timeout_seconds=0.5)
    )
    later = make_messages(thread, 2, start_ms=10_000)
    a.save_messages(later)
    assert a.dirty
    assert direct.hget(key, "v") == cached_before  # the pre-write entry is still stored
    # When A reaches Redis again
    a.backend.close()
    a.backend = reachable
    wait_until(lambda: not a.dirty, timeout=15, what="A's epoch increment after the partition")
    # Then the old entry is still there but belongs to a past epoch, and nobody serves it
    assert direct.hget(key, "v") == cached_before
    assert int(direct.hget(key, "e")) != int(direct.get(a.epoch_key))
    for cached in (b, a):
        assert_fresh(cached, truth, thread.id, thread.resource_id)
        assert set(ids(later)) <= set(ids(cached.list_messages(newest(thread.id)).messages))
    direct.close()


def test_the_breaker_stops_calling_a_failing_cache_for_a_while(libsql_containers):
    containers = libsql_containers
    truth = containers.truth
    now = [0.0]
    broken = UpstashCache(unreachable_url(), "token", timeout_seconds=0.5)
    cached = CachedMemoryStorage(
        truth, broken, namespace="breaker", window=20, breaker_cooldown_seconds=5, clock=lambda: now[0]
    )
    thread = truth.save_thread(make_thread())
    # Given the cache failed BREAKER_THRESHOLD times in a row
    for _ in range(BREAKER_THRESHOLD):
        assert cached.get_thread(thread.id) == truth.get_thread(thread.id)
    assert broken.rest_calls == BREAKER_THRESHOLD
    # Then it is not called again during the cooldown, and the store keeps answering
    for _ in range(10):
        assert cached.get_thread(thread.id) == truth.get_thread(thread.id)
    assert broken.rest_calls == BREAKER_THRESHOLD
    assert cached.stats["skipped"] == 10
    # After the cooldown one call probes it again
    now[0] += 5
    assert cached.get_thread(thread.id) == truth.get_thread(thread.id)
    assert broken.rest_calls == BREAKER_THRESHOLD + 1
    broken.close()


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts connections and never answers: a hung Upstash."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
                accepted.append(connection)
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    listener.close()


def test_a_hung_cache_costs_a_request_no_more_than_its_timeout(libsql_containers, silent_server):
    truth = libsql_containers.truth
    hung = UpstashCache(silent_server, "token", timeout_seconds=0.2)
    cached = CachedMemoryStorage(truth, hung, namespace="hung", window=20)
    thread = truth.save_thread(make_thread())
    started = time.monotonic()
    assert cached.get_thread(thread.id) == truth.get_thread(thread.id)
    assert time.monotonic() - started < 1.0
    assert cached.stats["errors"] == 1
    hung.close()


def test_a_hung_cache_is_waited_for_once_per_request_not_once_per_read(libsql_containers, silent_server):
    truth = libsql_containers.truth
    hung = UpstashCache(silent_server, "token", timeout_seconds=0.2)
    cached = CachedMemoryStorage(truth, hung, namespace="hung-turn", window=20)
    thread = truth.save_thread(make_thread())
    started = time.monotonic()
    with request_scope():
        # An agent turn: the thread, its recent messages, the resource, then a save.
        assert cached.get_thread(thread.id) == truth.get_thread(thread.id)
        assert cached.list_messages(newest(thread.id)) == truth.list_messages(newest(thread.id))
        assert cached.get_resource(thread.resource_id) == truth.get_resource(thread.resource_id)
        cached.save_messages(make_messages(thread, 2))
    # One read waited out the timeout; the later reads went straight to the store, and only
    # the write's own cache step (a put or drop) tried again.
    assert hung.rest_calls == 2
    assert time.monotonic() - started < 0.2 * 2 + 0.5
    assert truth.list_messages(newest(thread.id)).total == 2
    hung.close()
