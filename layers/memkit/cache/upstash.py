"""Upstash Redis over its REST API, through the ``upstash-redis`` SDK (sync client).

The SDK's defaults do not suit a request path, so the client is configured here:

- **Retries.** It retries a failed HTTP call once after 3 s by default; here ``rest_retries=0``.
  A failed cache call falls through to the store at once, and the decorator's breaker stops
  calling a cache that keeps failing.
- **Timeout.** It builds its ``httpx.Client`` with ``timeout=None`` and offers no option, so a
  hung connection would hang the request. The client's timeout is set after construction
  (connect, read, write and pool wait are each bounded by ``timeout_seconds``). The SDK's
  internals are checked first: if a release moves them, construction fails loudly instead of
  running unbounded.
- **Telemetry** headers are off (no SDK/runtime fingerprint on every call).

Every script goes out as ``EVAL`` (never ``EVAL_RO``): Upstash routes it to the primary, so the
asynchronous read replicas of a Global database can never answer with an older entry.

``rest_calls`` counts HTTP requests sent (an httpx request hook), for the budget test and the
bench.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from memkit.cache.base import CacheBackend, CacheError, LuaScript
from memkit.errors import ConfigurationError


class UpstashCache(CacheBackend):
    name = "upstash"

    def __init__(self, url: str, token: str, *, timeout_seconds: float = 0.5):
        import httpx
        from upstash_redis import Redis

        self.url = url
        self._redis = Redis(
            url=url,
            token=token,
            rest_retries=0,
            rest_retry_interval=0,
            allow_telemetry=False,
        )
        client = getattr(getattr(self._redis, "_http", None), "_client", None)
        if not isinstance(client, httpx.Client):
            raise ConfigurationError(
                "upstash-redis no longer exposes its httpx client as Redis._http._client; "
                "the cache cannot bound its request timeout with this SDK version"
            )
        client.timeout = httpx.Timeout(timeout_seconds)
        client.event_hooks["request"].append(self._count_request)
        self._calls_lock = threading.Lock()
        self._rest_calls = 0

    def _count_request(self, request: Any) -> None:
        with self._calls_lock:
            self._rest_calls += 1

    @property
    def rest_calls(self) -> int:
        """HTTP requests sent so far (each pipeline or script call is one)."""
        with self._calls_lock:
            return self._rest_calls

    def eval(self, script: LuaScript, keys: Sequence[str], args: Sequence[str | int]) -> Any:
        command: list[Any] = ["EVAL", script.source, len(keys), *keys, *args]
        try:
            return self._redis.execute(command)
        except Exception as exc:
            # UpstashError, httpx timeouts and connection errors, a JSON decode error on a
            # proxy's HTML page, or an AttributeError from the SDK decoding a reply it did not
            # expect: all mean "no answer from the cache".
            raise CacheError(f"{script.name}: {type(exc).__name__}: {exc}") from exc

    def close(self) -> None:
        self._redis.close()
