"""Fixtures for the cache tests: "containers" (cached stores with their own cache clients) that
share one store and one real Redis behind the local Upstash gateway."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from memkit.cache.cached_store import CachedMemoryStorage
from memkit.models import Message, Resource, Thread
from memkit.storage.factory import create_memory_storage
from tests.cache.support import container
from tests.storage.memory.builders import make_messages, make_thread

pytestmark = pytest.mark.redis


class Interleaver:
    """Delegates to a store, and can run a hook right after one of its calls returns: after a
    store read but before the cache fill, or after a store commit but before the cache step.
    That is exactly where another container's request can land in production."""

    def __init__(self, store: Any):
        self._store = store
        self._hooks: dict[str, Callable[[], object]] = {}

    def after_next(self, method: str, hook: Callable[[], object]) -> None:
        self._hooks[method] = hook

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._store, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            result = attribute(*args, **kwargs)
            hook = self._hooks.pop(name, None)
            if hook is not None:
                hook()
            return result

        return call


class Containers:
    """Two containers (``a``, ``b``) over one store and one Redis namespace, plus ``truth``: the
    store itself, read directly."""

    def __init__(
        self, truth: Any, url: str, token: str, *, window: int | None = None, timeout_seconds: float | None = None
    ):
        self.truth = truth
        self.namespace = uuid.uuid4().hex
        self.a_store = Interleaver(truth)
        self.b_store = Interleaver(truth)
        options: dict[str, Any] = {"namespace": self.namespace, "window": window, "timeout_seconds": timeout_seconds}
        self.a = container(self.a_store, url, token, **options)  # type: ignore[arg-type]
        self.b = container(self.b_store, url, token, **options)  # type: ignore[arg-type]

    def both(self) -> tuple[CachedMemoryStorage, CachedMemoryStorage]:
        return self.a, self.b

    def close(self) -> None:
        # Each closes the shared store too; a store may be closed twice.
        self.a.close()
        self.b.close()


@pytest.fixture
def libsql_containers(upstash_gateway: Any) -> Iterator[Containers]:
    containers = Containers(create_memory_storage(":memory:"), upstash_gateway.url, upstash_gateway.token)
    yield containers
    containers.close()


@pytest.fixture
def seeded(libsql_containers: Containers) -> tuple[Containers, Thread, list[Message]]:
    """A thread with 30 messages and its resource with working memory, in the shared store."""
    store = libsql_containers.truth
    thread = store.save_thread(make_thread())
    messages = make_messages(thread, 30)
    store.save_messages(messages)
    store.save_resource(
        Resource(id=thread.resource_id, working_memory="# User\n- name: Ada", created_at=thread.created_at, updated_at=thread.created_at)
    )
    return libsql_containers, thread, messages
