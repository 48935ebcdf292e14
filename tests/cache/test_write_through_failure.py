"""A save the store has acknowledged stands when the cache step after it fails in memkit's own
code (not Redis: that fails open already): the caller gets its messages, the failure is logged
and counted, and the container invalidates the cache, so no container serves the thread as it
was before the save."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pytest

from infra.local import stack
from memkit.cache import cached_store
from memkit.storage.factory import create_memory_storage
from tests.cache.support import assert_fresh, container
from tests.storage.memory.builders import create_thread, make_messages

pytestmark = pytest.mark.redis


def test_a_save_whose_write_through_fails_stands_and_invalidates_every_container(
    upstash_gateway: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Given two containers sharing one cache, both holding the thread's entry
    truth = create_memory_storage(":memory:")
    namespace = uuid.uuid4().hex
    writer, reader = (container(truth, upstash_gateway.url, upstash_gateway.token, namespace=namespace) for _ in range(2))
    thread = create_thread(truth)
    truth.save_messages(make_messages(thread, 2))
    for cached in (writer, reader):
        assert_fresh(cached, truth, thread.id, thread.resource_id)

    # When the writer's save is stored but merging it into the cached window raises
    def broken_merge(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug in the write-through")

    monkeypatch.setattr(cached_store, "apply_save", broken_merge)
    caplog.set_level(logging.WARNING, logger="memkit.cache")
    sent = make_messages(thread, 2, start_ms=1_000)
    saved = writer.save_messages(sent)

    # Then the save answers with its messages, the failure is logged and counted, and once the
    # writer has bumped the epoch neither container serves the thread from before the save
    assert [m.id for m in saved] == [m.id for m in sent]
    assert writer.stats["write_through_errors"] == 1
    assert any("write-through" in record.getMessage() for record in caplog.records)
    stack.wait_until(lambda: not writer.dirty, 10, "the writer's epoch bump")
    for cached in (writer, reader):
        assert_fresh(cached, truth, thread.id, thread.resource_id)
    writer.close()
    reader.close()
