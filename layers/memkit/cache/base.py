"""The cache port: a Redis-like store reached in round trips, plus the per-request read scope.

A backend runs one Lua script per round trip (``eval``). Everything the memory cache does is
one script call, so a backend only needs to ship a script and its arguments and hand back the
reply. Any failure, whatever the SDK raises, surfaces as ``CacheError``: callers fail open on
exactly that one type.

``request_scope()`` marks one request (an HTTP call, one agent turn, one job): cached reads
inside it share one consistent view fetched in a single round trip (see ``cached_store``).
It is defined here, not next to the decorator, so the API and workers can open it without
importing anything heavier than the standard library.
"""

from __future__ import annotations

import hashlib
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, NamedTuple


class CacheError(Exception):
    """The cache could not answer (unreachable, timed out, refused, malformed reply).
    Never reaches memkit's callers: the decorator falls through to the store."""


class LuaScript(NamedTuple):
    name: str
    source: str

    @property
    def sha1(self) -> str:
        return hashlib.sha1(self.source.encode()).hexdigest()


class CacheBackend(ABC):
    """Port: run a Lua script in one round trip."""

    #: short backend name for logs and metrics ("upstash")
    name: str = "abstract"

    @abstractmethod
    def eval(self, script: LuaScript, keys: Sequence[str], args: Sequence[str | int]) -> Any:
        """Run ``script`` atomically with ``KEYS``/``ARGV``; the decoded reply (strings, ints,
        None, nested lists). Raises ``CacheError`` on any failure."""

    def close(self) -> None:
        """Release connections. Safe to call twice."""


# ---------------------------------------------------------------- request scope


class ReadScope:
    """Cache slots read during one request, keyed by cache key. Guarded by a lock because a
    request may fan out to threads that copy its context. ``unavailable``: a read in this
    request found no cache, so later reads in it go straight to the store instead of waiting
    out the timeout again."""

    __slots__ = ("slots", "lock", "unavailable")

    def __init__(self) -> None:
        self.slots: dict[str, Any] = {}
        self.lock = threading.Lock()
        self.unavailable = False


_current_scope: ContextVar[ReadScope | None] = ContextVar("memkit_cache_read_scope", default=None)


@contextmanager
def request_scope() -> Iterator[ReadScope]:
    """Treat the reads inside the block as one request: the first cached read fetches the
    thread, its message window and the resource together, and later reads in the block are
    answered from that view (and from this block's own writes) without another round trip.

    The view is as of the first read, which starts after the block does, so a write
    acknowledged before the block began is always visible. Nested blocks share the outer view.
    """
    outer = _current_scope.get()
    if outer is not None:
        yield outer
        return
    scope = ReadScope()
    token = _current_scope.set(scope)
    try:
        yield scope
    finally:
        _current_scope.reset(token)


def current_scope() -> ReadScope | None:
    return _current_scope.get()
