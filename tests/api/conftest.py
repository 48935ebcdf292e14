"""Fixtures for the API tests: a Runtime per store, the in-process ASGI client, and the Lambda
handler loaded with a chosen environment."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio.from_thread
import pytest

from memkit.api.app import create_app
from memkit.runtime import Runtime
from memkit.settings import Settings, get_settings
from tests.api.support import AGENTS_TOML, API_HANDLER_PATH, ApiClient, LambdaApi, agent_registry, load_module, uid

DYNAMODB_TABLE_URL = "dynamodb://memkit-api-tests"
API_KEY = "test-api-key-0123456789"


@pytest.fixture(scope="session")
def portal() -> Iterator[Any]:
    with anyio.from_thread.start_blocking_portal() as blocking_portal:
        yield blocking_portal


@pytest.fixture(params=["libsql", pytest.param("dynamodb", marks=pytest.mark.dynamodb)])
def store(request: pytest.FixtureRequest) -> str:
    """The backend name; ``storage_url`` gives its URL."""
    if request.param == "dynamodb":
        # Looked up lazily so a libsql-only run (-k libsql) never starts DynamoDB Local.
        request.getfixturevalue("dynamodb_endpoint")
    return request.param


@pytest.fixture
def storage_url(store: str, tmp_path: Path) -> str:
    return DYNAMODB_TABLE_URL if store == "dynamodb" else f"file:{tmp_path / 'memkit.db'}"


@pytest.fixture
def make_runtime(storage_url: str) -> Iterator[Callable[..., Runtime]]:
    runtimes: list[Runtime] = []

    def build(**settings: Any) -> Runtime:
        runtime = Runtime(Settings(storage_url=storage_url, **settings), agent_registry())
        runtimes.append(runtime)
        return runtime

    yield build
    for runtime in runtimes:
        runtime.close()


@pytest.fixture
def runtime(make_runtime: Callable[..., Runtime]) -> Runtime:
    return make_runtime()


@pytest.fixture
def make_api(make_runtime: Callable[..., Runtime], portal: Any) -> Callable[..., ApiClient]:
    def build(headers: dict[str, str] | None = None, **settings: Any) -> ApiClient:
        return ApiClient(create_app(make_runtime(**settings)), portal, headers)

    return build


@pytest.fixture
def api(runtime: Runtime, portal: Any) -> ApiClient:
    return ApiClient(create_app(runtime), portal)


@pytest.fixture
def resource_id() -> str:
    return uid("res")


@pytest.fixture
def lambda_api(storage_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Callable[..., LambdaApi]]:
    """Loads ``functions/api/app.py`` as Lambda would, with this environment on top of a
    Lambda-like default (api-key auth): ``lambda_api(MEMKIT_AUTH="jwt")``. A value of None unsets."""
    loaded: list[Any] = []
    config = tmp_path / "memkit.toml"
    config.write_text(AGENTS_TOML)

    def start(headers: dict[str, str] | None = None, **env: str | None) -> LambdaApi:
        settings = {
            "AWS_LAMBDA_FUNCTION_NAME": "memkit-api",
            "MEMKIT_STORAGE_URL": storage_url,
            "MEMKIT_AUTH": "api-key",
            "MEMKIT_API_KEY": API_KEY,
            "MEMKIT_CONFIG": str(config),
            **env,
        }
        for name, value in settings.items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        module = load_module(API_HANDLER_PATH, f"memkit_api_handler_{len(loaded)}")
        loaded.append(module)
        default_headers = {"x-api-key": API_KEY} if settings["MEMKIT_AUTH"] == "api-key" else {}
        return LambdaApi(module, {**default_headers, **(headers or {})})

    yield start
    for module in loaded:
        module.app.state.runtime.close()
    get_settings.cache_clear()
