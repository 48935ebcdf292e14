"""How the explorer's files are served: only when turned on (never by default in Lambda), without
auth (they hold no data), with a strict content policy, and never loaded on a cold path."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from memkit.api.app import create_app
from memkit.runtime import Runtime
from memkit.settings import Settings, get_settings
from tests.support.lambda_events import LambdaContext, http_api_event
from tests.api.support import API_HANDLER_PATH, load_module
from tests.functions.test_cold_path import cold_first_request

API_KEY = "explorer-serving-key-0123456789"


@pytest.fixture
def lambda_handler(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Any]:
    """``lambda_handler(**env)``: ``functions/api/app.py`` loaded as Lambda would, with this environment."""
    loaded: list[Any] = []

    def load(**env: str) -> Any:
        monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "memkit-api")
        monkeypatch.setenv("MEMKIT_STORAGE_URL", f"file:{tmp_path / 'memkit.db'}")
        monkeypatch.setenv("MEMKIT_AUTH", "api-key")
        monkeypatch.setenv("MEMKIT_API_KEY", API_KEY)
        monkeypatch.delenv("MEMKIT_EXPLORER", raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        module = load_module(API_HANDLER_PATH, f"memkit_explorer_handler_{len(loaded)}")
        loaded.append(module)
        return module.handler

    yield load
    for module in loaded:
        module.app.state.runtime.close()
    get_settings.cache_clear()


def test_the_explorer_is_off_by_default_in_lambda(lambda_handler: Any) -> None:
    handler = lambda_handler()

    result = handler(http_api_event("GET", "/explorer", headers={"x-api-key": API_KEY}), LambdaContext())

    assert result["statusCode"] == 404
    assert json.loads(result["body"]) == {"error": "Not Found"}


def test_the_explorer_can_be_turned_on_in_lambda(lambda_handler: Any) -> None:
    handler = lambda_handler(MEMKIT_EXPLORER="1")

    # No key: the page is public
    result = handler(http_api_event("GET", "/explorer"), LambdaContext())

    assert result["statusCode"] == 200
    assert result["headers"]["content-type"] == "text/html; charset=utf-8"
    assert "<title>memkit · memory explorer</title>" in result["body"]


@pytest.mark.parametrize(
    ("env", "served"),
    [
        ({}, True),
        ({"AWS_LAMBDA_FUNCTION_NAME": "memkit-api"}, False),
        ({"AWS_LAMBDA_FUNCTION_NAME": "memkit-api", "MEMKIT_EXPLORER": "1"}, True),
        ({"MEMKIT_EXPLORER": "0"}, False),
    ],
)
def test_memkit_explorer_defaults_to_on_outside_lambda_only(env: dict[str, str], served: bool) -> None:
    assert Settings.from_env(env).explorer is served


class Client:
    """GETs into the app in-process (nothing here needs a socket)."""

    def __init__(self, app: Any):
        self.app = app

    def get(self, path: str) -> httpx.Response:
        return anyio.run(self._get, path)

    async def _get(self, path: str) -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://memkit.test") as client:
            return await client.get(path)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Client]:
    runtime = Runtime(Settings(storage_url=f"file:{tmp_path / 'memkit.db'}", auth_mode="api-key", api_key=API_KEY, explorer=True))
    yield Client(create_app(runtime))
    runtime.close()


def test_the_page_and_every_file_it_names_are_served_without_auth_under_a_strict_policy(client: Client) -> None:
    # Given the page, fetched without the API key
    page = client.get("/explorer")
    referenced = re.findall(r'(?:src|href)="(explorer/[^"]+)"', page.text)
    assert sorted(referenced) == ["explorer/explorer.css", "explorer/explorer.js"]

    # When every file it names is fetched the same way
    responses = {"explorer": page, **{path: client.get(f"/{path}") for path in referenced}}

    # Then each is served with its type, and only the page's own script may run
    types = {path: response.headers["content-type"].split(";")[0] for path, response in responses.items()}
    assert types == {"explorer": "text/html", "explorer/explorer.css": "text/css", "explorer/explorer.js": "text/javascript"}
    for response in responses.values():
        assert response.status_code == 200, response.url
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
        assert response.headers["x-content-type-options"] == "nosniff"


def test_only_the_pages_own_files_are_served_from_its_folder(client: Client) -> None:
    # The module beside the files exists on disk, but is not one of the page's files
    response = client.get("/explorer/__init__.py")

    assert response.status_code == 404
    assert response.json() == {"error": "The explorer has no file '__init__.py'"}
    assert client.get("/explorer/..%2Fauth.py").status_code == 404


def test_with_the_explorer_on_a_cold_first_request_still_does_not_load_it(tmp_path: Path) -> None:
    outcome = cold_first_request(tmp_path, MEMKIT_EXPLORER="1")

    assert outcome["status"] == 200
    assert "memkit.api.app" in outcome["modules"]
    assert "memkit.api.explorer" not in outcome["modules"]
