"""Test data and clients shared by the API tests.

Ids are unique per call: the DynamoDB backend shares one table across the session, so tests
are isolated by ids, never by a fresh table.
"""

from __future__ import annotations

import gc
import importlib.util
import tomllib
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx

from memkit.config import AgentRegistry, MemoryConfig
from memkit.models import format_ts
from tests.support.lambda_events import LambdaContext, LambdaResponse, http_api_event

REPO_ROOT = Path(__file__).resolve().parents[2]
API_HANDLER_PATH = REPO_ROOT / "functions" / "api" / "app.py"
OPS_HANDLER_PATH = REPO_ROOT / "functions" / "operations" / "app.py"

BASE_TIME = datetime(2024, 1, 1, tzinfo=UTC)


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


def ts(ms: int) -> str:
    return format_ts(BASE_TIME + timedelta(milliseconds=ms))


def message(
    thread_id: str,
    resource_id: str,
    text: str,
    *,
    message_id: str | None = None,
    role: str = "user",
    at_ms: int = 0,
) -> dict[str, Any]:
    return {
        "id": message_id or uid("msg"),
        "threadId": thread_id,
        "resourceId": resource_id,
        "role": role,
        "type": "v2",
        "createdAt": ts(at_ms),
        "content": {"format": 2, "parts": [{"type": "text", "text": text}]},
    }


# The agents tests address by agentId, as a memkit.toml (the Lambda tests load it from a file).
AGENTS_TOML = """
[agents.default]
lastMessages = 10
workingMemory = { enabled = true }

[agents.reader]
readOnly = true

[agents.thread-wm]
workingMemory = { enabled = true, scope = "thread" }

[agents.schema-wm]
workingMemory = { enabled = true, schema = { type = "object", properties = { name = { type = "string" }, prefs = { type = "object" } } } }
"""


def agent_registry() -> AgentRegistry:
    agents = tomllib.loads(AGENTS_TOML)["agents"]
    return AgentRegistry({agent_id: MemoryConfig.model_validate(table) for agent_id, table in agents.items()})


class ApiClient:
    """A synchronous facade over httpx's ASGI transport, run on one shared event loop."""

    def __init__(self, app: Any, portal: Any, headers: dict[str, str] | None = None):
        self.app = app
        self.portal = portal
        self.headers = headers or {}

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self.portal.call(self._request, method, url, kwargs)

    async def _request(self, method: str, url: str, kwargs: dict[str, Any]) -> httpx.Response:
        transport = httpx.ASGITransport(app=self.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://memkit.test", headers=self.headers) as client:
            return await client.request(method, url, **kwargs)

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def patch(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PATCH", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", url, **kwargs)


def load_module(path: Path, name: str) -> ModuleType:
    """Import a Lambda handler file as a fresh module (both handlers are called app.py).

    The handler turns the cyclic collector off until its first invocation (a container's init
    is short-lived; this test process is not): turned back on here, whether or not the test
    invokes the handler or its init fails. ``tests/api/test_cold_path.py`` checks the hold in
    a process of its own."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    collecting = gc.isenabled()
    try:
        spec.loader.exec_module(module)
    finally:
        if collecting:
            gc.enable()
    return module


class LambdaApi:
    """The API as Lambda runs it: events into ``functions/api/app.handler``."""

    def __init__(self, module: ModuleType, headers: dict[str, str] | None = None):
        self.module = module
        self.headers = headers or {}

    def request(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, Any] | str | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        claims: dict[str, str] | None = None,
        base64_body: bool = False,
    ) -> LambdaResponse:
        event = http_api_event(
            method,
            path,
            query=query,
            body=body,
            headers={**self.headers, **(headers or {})},
            claims=claims,
            base64_body=base64_body,
        )
        return LambdaResponse.from_result(self.module.handler(event, LambdaContext()))


def threads_of(api: ApiClient, resource_id: str) -> list[dict[str, Any]]:
    response = api.get("/api/memory/threads", params={"resourceId": resource_id})
    assert response.status_code == 200, response.text
    return response.json()["threads"]


def messages_of(api: ApiClient, thread_id: str) -> list[dict[str, Any]]:
    response = api.get(f"/api/memory/threads/{thread_id}/messages")
    assert response.status_code == 200, response.text
    return response.json()["messages"]
