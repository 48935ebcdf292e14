"""A real server and a real browser for the memory explorer's tests.

``explorer_server(...)`` serves the API (explorer on) with uvicorn, in this process, on a free
port, over a libSQL file with libSQL vectors; ``browser_page`` is a page in Debian's Chromium,
driven by Playwright with a fresh user-data dir per test (nothing a test stores in the browser
reaches the next one).
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import uvicorn

from infra.local import stack
from memkit.config import AgentRegistry, MemoryConfig
from memkit.api.app import create_app
from memkit.memory import Memory
from memkit.runtime import Runtime
from memkit.settings import Settings

ARTIFACTS_DIR = stack.CACHE_DIR / "artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# The page is judged on a loaded 2-core machine: waits are polls with a generous deadline.
BROWSER_TIMEOUT_MS = 15_000

AGENTS = {
    "default": {
        "lastMessages": 10,
        "semanticRecall": {"topK": 4, "messageRange": 1, "scope": "resource"},
        "workingMemory": {"enabled": True, "scope": "resource"},
    },
    "plain": {"lastMessages": 10},
}


class ExplorerServer(NamedTuple):
    url: str
    runtime: Runtime

    def memory(self, agent_id: str | None = None) -> Memory:
        return self.runtime.memory(agent_id)


@contextlib.contextmanager
def _uvicorn(app: Any) -> Iterator[str]:
    port = stack.free_port()
    server = uvicorn.Server(uvicorn.Config(app, host=stack.LOOPBACK, port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, name="explorer-test-server", daemon=True)
    thread.start()

    def started() -> bool:
        if not thread.is_alive():
            raise RuntimeError(f"the explorer test server on port {port} stopped before it started")
        return server.started

    stack.wait_until(started, 15, f"the explorer test server on port {port}")
    try:
        yield f"http://{stack.LOOPBACK}:{port}"
    finally:
        server.should_exit = True
        thread.join(15)


@pytest.fixture
def explorer_server(tmp_path: Path) -> Iterator[Callable[..., ExplorerServer]]:
    """``explorer_server(auth_mode="api-key", api_key=...)``: the app on its own database file."""
    opened = contextlib.ExitStack()
    numbers = itertools.count()

    def start(**settings: Any) -> ExplorerServer:
        database = f"file:{tmp_path / f'memkit-{next(numbers)}.db'}"
        registry = AgentRegistry({name: MemoryConfig.model_validate(config) for name, config in AGENTS.items()})
        # Sync indexing: what the test seeds is searchable as soon as the save returns.
        options = {"storage_url": database, "vector_url": database, "indexing": "sync", "explorer": True, **settings}
        runtime = Runtime(Settings(**options), registry)
        opened.callback(runtime.close)
        url = opened.enter_context(_uvicorn(create_app(runtime)))
        return ExplorerServer(url, runtime)

    with opened:
        yield start


@pytest.fixture(scope="session")
def chromium() -> str:
    return stack.ensure_chromium()


@pytest.fixture(scope="module")
def playwright_driver() -> Iterator[Any]:
    """Per module, not per session: while the driver runs, its event loop is the main thread's
    running loop, and code that runs a loop of its own there (Mangum, asyncio.run) would fail."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver


@pytest.fixture
def browser_page(chromium: str, playwright_driver: Any, tmp_path: Path) -> Iterator[Any]:
    """A page in a fresh Chromium profile; fails the test if the page threw or broke its CSP."""
    from playwright.sync_api import expect

    expect.set_options(timeout=BROWSER_TIMEOUT_MS)
    context = playwright_driver.chromium.launch_persistent_context(
        tmp_path / "chromium-profile",
        executable_path=chromium,
        headless=True,
        args=CHROMIUM_ARGS,
        viewport={"width": 1440, "height": 900},
    )
    page = context.pages[0] if context.pages else context.new_page()
    page.set_default_timeout(BROWSER_TIMEOUT_MS)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"uncaught: {error}"))
    page.on(
        "console",
        lambda message: problems.append(f"console: {message.text}") if "Content Security Policy" in message.text else None,
    )
    try:
        yield page
    finally:
        context.close()
    assert not problems, problems
