"""An Upstash that answers with errors, or refuses the token: requests succeed from the store,
each container logs the problem once, and every failure is counted."""

from __future__ import annotations

import logging

import pytest

from memkit.cache.base import request_scope
from memkit.storage.factory import create_memory_storage
from tests.cache.support import assert_fresh, container
from tests.storage.memory.builders import create_thread, make_messages

pytestmark = pytest.mark.redis


def run_turns(cached, truth, thread, turns: int) -> None:
    for turn in range(turns):
        with request_scope():
            assert_fresh(cached, truth, thread.id, thread.resource_id)
            cached.save_messages(make_messages(thread, 2, start_ms=1_000 * (turn + 1)))
        assert_fresh(cached, truth, thread.id, thread.resource_id)


def cache_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "memkit.cache" and r.levelno >= logging.WARNING]


def test_a_wrong_token_fails_open_with_one_log_line_per_container(upstash_gateway, caplog):
    caplog.set_level(logging.WARNING, logger="memkit.cache")
    truth = create_memory_storage(":memory:")
    containers = [container(truth, upstash_gateway.url, "not-the-token", namespace="wrong-token") for _ in range(2)]
    thread = create_thread(truth)
    for cached in containers:
        run_turns(cached, truth, thread, turns=3)
    warnings = cache_warnings(caplog)
    assert len(warnings) == 2  # one per container, not one per request
    assert all("Unauthorized" in record.getMessage() for record in warnings)
    for cached in containers:
        assert cached.stats["errors"] + cached.stats["skipped"] >= 3 * 4
        cached.close()


def test_upstash_answering_errors_fails_open_with_one_log_line(upstash_gateway, redis_server, caplog):
    caplog.set_level(logging.WARNING, logger="memkit.cache")
    truth = create_memory_storage(":memory:")
    cached = container(truth, upstash_gateway.url, upstash_gateway.token, namespace="answers-errors")
    thread = create_thread(truth)
    # The gateway is up but its Redis is not: every command comes back as an error
    with redis_server.stopped():
        run_turns(cached, truth, thread, turns=4)
    [warning] = cache_warnings(caplog)
    assert "unavailable" in warning.getMessage()
    assert cached.stats["errors"] >= 1
    cached.close()
