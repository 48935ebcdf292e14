"""The cache as deployed: settings from the environment build it, and the HTTP API reads through
it (what ``MEMKIT_CACHE=upstash-local make run`` serves: the launcher starts the gateway and
hands the app ``MEMKIT_CACHE=upstash``)."""

from __future__ import annotations

from pathlib import Path

import anyio.from_thread
import pytest

from memkit.api.app import create_app
from memkit.cache.cached_store import CachedMemoryStorage
from memkit.runtime import Runtime
from memkit.settings import Settings
from tests.api.support import ApiClient, message, uid

pytestmark = pytest.mark.redis


def test_the_api_reads_through_the_cache_configured_from_the_environment(upstash_gateway, tmp_path: Path):
    settings = Settings.from_env(
        {
            "MEMKIT_STORAGE_URL": f"file:{tmp_path / 'memkit.db'}",
            "MEMKIT_CACHE": "upstash",
            **upstash_gateway.env,
        }
    )
    runtime = Runtime(settings)
    store = runtime.storage()
    assert isinstance(store, CachedMemoryStorage)
    thread_id, resource_id = uid("thr"), uid("res")
    with anyio.from_thread.start_blocking_portal() as portal:
        client = ApiClient(create_app(runtime), portal)
        created = client.post("/api/memory/threads", json={"threadId": thread_id, "resourceId": resource_id, "title": "Hi"})
        assert created.status_code == 200, created.text
        saved = client.post(
            "/api/memory/save-messages",
            json={"messages": [message(thread_id, resource_id, f"hello {i}", at_ms=i) for i in range(3)]},
        )
        assert saved.status_code == 200, saved.text
        path = f"/api/memory/threads/{thread_id}/messages"
        newest = {"resourceId": resource_id, "perPage": 2, "orderBy": '{"field":"createdAt","direction":"DESC"}'}
        first = client.get(path, params=newest)
        hits = store.stats["hits"]
        second = client.get(path, params=newest)
        assert first.status_code == second.status_code == 200
        assert second.json() == first.json()
        assert [m["content"]["parts"][0]["text"] for m in second.json()["messages"]] == ["hello 2", "hello 1"]
        assert second.json()["total"] == 3
        assert store.stats["hits"] > hits
        # Ownership is enforced from the cached thread exactly as from the store
        assert client.get(path, params={**newest, "resourceId": "someone-else"}).status_code == 403
    runtime.close()
