"""Session-wide test environment and the real local services tests run against.

Each service fixture is session-scoped and lazy: the service starts the first
time a test asks for it, once per run, and is stopped when the session ends.
Processes and downloads are handled by ``infra.local.stack``; logs go to
``.cache/logs/``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any
from dataclasses import dataclass
from pathlib import Path

import pytest

from infra.local import stack
from tests.support.dynamodb_faults import DynamoDBFaults
from tests.support.openai_stub import OpenAIStub

TEST_ENVIRONMENT = {**stack.LOCAL_AWS_ENVIRONMENT, "MEMKIT_CREATE_TABLES": "1"}

_environment_patch = pytest.StashKey[pytest.MonkeyPatch]()


def pytest_configure(config: pytest.Config) -> None:
    # Done here rather than in an autouse fixture: fixtures run after
    # collection, and collection imports test modules, which may build boto3
    # clients or read settings at import time.
    patch = pytest.MonkeyPatch()
    for name, value in TEST_ENVIRONMENT.items():
        patch.setenv(name, value)
    for name in stack.AWS_VARIABLES_TO_DROP:
        patch.delenv(name, raising=False)
    config.stash[_environment_patch] = patch


def pytest_unconfigure(config: pytest.Config) -> None:
    patch = config.stash.get(_environment_patch, None)
    if patch is not None:
        patch.undo()


@pytest.fixture(scope="session")
def session_monkeypatch() -> Iterator[pytest.MonkeyPatch]:
    """monkeypatch for session-scoped fixtures; undone when the session ends."""
    with pytest.MonkeyPatch.context() as patch:
        yield patch


# --------------------------------------------------------------------------
# AWS services


@pytest.fixture(scope="session")
def dynamodb_local() -> Iterator[stack.Service]:
    service = stack.start_dynamodb_local()
    yield service
    service.stop()


@pytest.fixture(scope="session")
def dynamodb_endpoint(dynamodb_local: stack.Service, session_monkeypatch: pytest.MonkeyPatch) -> str:
    """URL of DynamoDB Local; also exported as AWS_ENDPOINT_URL_DYNAMODB for the rest of the session."""
    for name, value in dynamodb_local.env.items():
        session_monkeypatch.setenv(name, value)
    return dynamodb_local.url


@pytest.fixture(scope="session")
def dynamodb_faults(dynamodb_local: stack.Service) -> Iterator[DynamoDBFaults]:
    """The fault-injecting proxy in front of DynamoDB Local (``infra/local/dynamodb_faults.py``),
    passing everything through until a test calls ``inject``; tests share it, so each one that
    injects stops again (``passing_through``)."""
    service = stack.start_dynamodb_faults(dynamodb_local.url)
    yield DynamoDBFaults(service.url)
    service.stop()


@pytest.fixture(scope="session")
def sqs_server() -> Iterator[stack.Service]:
    service = stack.start_moto()
    yield service
    service.stop()


@pytest.fixture(scope="session")
def sqs_endpoint(sqs_server: stack.Service, session_monkeypatch: pytest.MonkeyPatch) -> str:
    """URL of moto's server; also exported as AWS_ENDPOINT_URL_SQS for the rest of the session."""
    for name, value in sqs_server.env.items():
        session_monkeypatch.setenv(name, value)
    return sqs_server.url


# --------------------------------------------------------------------------
# Redis and the Upstash REST gateway


@pytest.fixture(scope="session")
def redis_server() -> Iterator[stack.Service]:
    """A real redis-server without persistence.

    To test an outage, use ``with redis_server.stopped(): ...``: Redis comes
    back on the same port (empty) even if the block fails, so later tests
    still have it.
    """
    service = stack.start_redis()
    yield service
    service.stop()


@dataclass(frozen=True)
class UpstashGateway:
    url: str
    token: str
    service: stack.Service

    @property
    def env(self) -> dict[str, str]:
        return self.service.env


@pytest.fixture(scope="session")
def upstash_gateway(redis_server: stack.Service) -> Iterator[UpstashGateway]:
    service = stack.start_upstash_gateway(redis_port=redis_server.port)
    yield UpstashGateway(url=service.url, token=service.env["UPSTASH_REDIS_REST_TOKEN"], service=service)
    service.stop()


# --------------------------------------------------------------------------
# Stand-ins for Pinecone and OpenAI-compatible APIs


@pytest.fixture(scope="session")
def pinecone_server() -> Iterator[stack.Service]:
    """The Pinecone data-plane stand-in: 256 dimensions, cosine (the default embedding size)."""
    service = stack.start_pinecone(dimension=256, metric="cosine")
    yield service
    service.stop()


@pytest.fixture(scope="session")
def pinecone_host(pinecone_server: stack.Service) -> str:
    return pinecone_server.url


@pytest.fixture(scope="session")
def openai_server() -> Iterator[stack.Service]:
    service = stack.start_openai_stub()
    yield service
    service.stop()


@pytest.fixture(scope="session")
def openai_stub(openai_server: stack.Service) -> str:
    """Base URL ending in /v1, as OpenAI clients expect."""
    return openai_server.url


@pytest.fixture
def openai(openai_stub: str) -> Iterator[OpenAIStub]:
    """The stand-in with nothing scripted or recorded, and left that way."""
    stub = OpenAIStub(openai_stub)
    stub.reset()
    yield stub
    stub.reset()


# --------------------------------------------------------------------------
# Tools fetched on first use (cached in .cache/ and .venv-sam/ across runs)


@pytest.fixture(scope="session")
def node22() -> Path:
    return stack.ensure_node22()


@pytest.fixture(scope="session")
def mastra_client_dir() -> Path:
    """A folder whose node_modules holds @mastra/client-js 1.x; run Node 22 scripts from inside it."""
    return stack.ensure_mastra_client()


@pytest.fixture(scope="session")
def sam_cli() -> Path:
    return stack.ensure_sam()


@pytest.fixture
def first_arguments(monkeypatch: pytest.MonkeyPatch) -> Callable[[Any, str], list[Any]]:
    """``first_arguments(obj, "method")`` wraps the method for this test and returns the list of
    first arguments it is called with (e.g. the thread ids a store's ``get_thread`` reads)."""

    def record(target: Any, name: str) -> list[Any]:
        calls: list[Any] = []
        original = getattr(target, name)

        def recording(*args: Any, **kwargs: Any) -> Any:
            calls.append(args[0] if args else None)
            return original(*args, **kwargs)

        monkeypatch.setattr(target, name, recording)
        return calls

    return record


def pytest_report_header(config: pytest.Config) -> str:
    return f"local services: logs in {os.path.relpath(stack.LOG_DIR)}"
