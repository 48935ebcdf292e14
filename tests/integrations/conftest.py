"""Fixtures for the agent-framework integrations: a store per backend, fresh ``Memory`` objects
on it (what a new process would build) and the HTTP API over the same store."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio.from_thread
import pytest
from agents import set_tracing_disabled

from memkit import Memory
from memkit.api.app import create_app
from memkit.runtime import Runtime
from memkit.settings import Settings
from memkit.storage.factory import create_memory_storage
from tests.api.support import ApiClient, agent_registry, uid

DYNAMODB_TABLE_URL = "dynamodb://memkit-integrations-tests"


@pytest.fixture(autouse=True)
def no_trace_export() -> Iterator[None]:
    """The OpenAI Agents SDK would otherwise try to export traces to OpenAI at exit."""
    set_tracing_disabled(True)
    yield
    set_tracing_disabled(False)


@pytest.fixture(params=["libsql", pytest.param("dynamodb", marks=pytest.mark.dynamodb)])
def storage_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "dynamodb":
        # Looked up lazily so a libsql-only run (-k libsql) never starts DynamoDB Local.
        request.getfixturevalue("dynamodb_endpoint")
        return DYNAMODB_TABLE_URL
    return f"file:{tmp_path / 'memkit.db'}"


@pytest.fixture
def new_memory(storage_url: str) -> Callable[[], Memory]:
    """A Memory on its own store object each call: nothing cached carries over, as in a new
    process (DynamoDB: a new client; libSQL: the file, through the process's one connection)."""
    return lambda: Memory(create_memory_storage(storage_url))


@pytest.fixture
def resource_id() -> str:
    return uid("user")


@pytest.fixture
def session_id() -> str:
    return uid("session")


@pytest.fixture(scope="session")
def portal() -> Iterator[Any]:
    with anyio.from_thread.start_blocking_portal() as blocking_portal:
        yield blocking_portal


@pytest.fixture
def api(storage_url: str, portal: Any) -> Iterator[ApiClient]:
    """The HTTP API (Mastra's routes) over the same store, in-process."""
    runtime = Runtime(Settings(storage_url=storage_url), agent_registry())
    yield ApiClient(create_app(runtime), portal)
    runtime.close()


def listed_messages(api: ApiClient, thread_id: str, resource_id: str) -> list[dict[str, Any]]:
    response = api.get(
        f"/api/memory/threads/{thread_id}/messages",
        params={"resourceId": resource_id, "perPage": "false", "orderBy": '{"field":"createdAt","direction":"ASC"}'},
    )
    assert response.status_code == 200, response.text
    return response.json()["messages"]


def visible(message: dict[str, Any]) -> tuple[str, list[Any]]:
    """A v2 message as a Mastra reader sees it: its role and parts (no integration metadata)."""
    return message["role"], message["content"]["parts"]
