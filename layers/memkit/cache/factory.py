"""Build the cache from settings and wrap a store with it (the composition root calls this).

``MEMKIT_CACHE=upstash`` selects the Upstash REST client. The token may be a value or an
``ssm:``/``secretsmanager:`` reference, resolved once per container.
"""

from __future__ import annotations

import hashlib

from memkit.cache.base import CacheBackend
from memkit.clients.secrets import resolve_secret
from memkit.errors import ConfigurationError
from memkit.settings import Settings
from memkit.storage.memory.base import MemoryStorage

# Per-request lastMessages overrides (the memoryConfig query parameter) stay cached up to this
# many even when every configured agent reads fewer.
MIN_WINDOW = 20


def create_cache_backend(settings: Settings) -> CacheBackend:
    """The backend for ``MEMKIT_CACHE=upstash``; with ``none`` the runtime never wraps its stores."""
    if not settings.upstash_url or not settings.upstash_token:
        raise ConfigurationError("MEMKIT_CACHE=upstash needs UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN")
    from memkit.cache.upstash import UpstashCache

    token = resolve_secret(settings.upstash_token)
    if not token:
        raise ConfigurationError(f"UPSTASH_REDIS_REST_TOKEN reference {settings.upstash_token!r} resolved to nothing")
    return UpstashCache(settings.upstash_url, token, timeout_seconds=settings.cache_timeout_seconds)


def cache_window(max_last_messages: int) -> int:
    """How many newest messages a thread entry keeps: every configured agent's lastMessages."""
    return max(MIN_WINDOW, max_last_messages)


def store_namespace(store: MemoryStorage) -> str:
    """Cache keys are per store (table or database file), so two stores sharing one Redis
    never read each other's entries."""
    location = getattr(store, "table_name", None) or getattr(store, "path", None)
    if not location:
        raise ConfigurationError(
            f"cannot tell which database {type(store).__name__} reads; pass namespace= to wrap_with_cache"
        )
    return hashlib.sha256(f"{store.name}:{location}".encode()).hexdigest()[:16]


def wrap_with_cache(
    store: MemoryStorage,
    settings: Settings,
    *,
    window: int,
    namespace: str | None = None,
) -> MemoryStorage:
    """``store`` behind the cache; a thread entry keeps ``window`` messages (``cache_window``)."""
    backend = create_cache_backend(settings)
    from memkit.cache.cached_store import CachedMemoryStorage

    return CachedMemoryStorage(
        store,
        backend,
        namespace=namespace or store_namespace(store),
        window=window,
        emit_metrics=settings.lambda_runtime,
    )
