"""The real ``@mastra/client-js`` 1.x (Node 22) against ``make run``'s server (``infra.local.run``)
on a temporary libSQL file: create, list, get, update, save, list with include, working memory,
clone, delete messages, semantic search, delete thread. The assertions live in ``compat/client_compat.mjs``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.local import stack
from tests.api.support import REPO_ROOT

COMPAT_SCRIPT = Path(__file__).parent / "compat" / "client_compat.mjs"

pytestmark = [pytest.mark.node, pytest.mark.slow]

AGENTS = """
[agents.default]
lastMessages = 10
workingMemory = { enabled = true }

[agents.recall]
lastMessages = 10
semanticRecall = { topK = 4, messageRange = 1, scope = "resource" }
"""


@pytest.fixture
def local_server(tmp_path: Path) -> Iterator[str]:
    port = stack.free_port()
    config = tmp_path / "memkit.toml"
    config.write_text(AGENTS)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MEMKIT_") and k != "AWS_LAMBDA_FUNCTION_NAME"},
        "MEMKIT_PORT": str(port),
        "MEMKIT_STORAGE_URL": f"file:{tmp_path / 'memkit.db'}",
        # semantic recall for searchMemory: vectors in the same file, indexed before the save returns
        "MEMKIT_VECTOR_URL": f"file:{tmp_path / 'memkit.db'}",
        "MEMKIT_INDEXING": "sync",
        "MEMKIT_CONFIG": str(config),
        "MEMKIT_AUTH": "none",
    }
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "infra.local.run"], cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:

        def ready() -> bool:
            if server.poll() is not None:
                raise RuntimeError(f"the server exited with {server.returncode}:\n{log_path.read_text()}")
            return stack.answers_http(port)

        stack.wait_until(ready, timeout=30, what="memkit server")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def test_mastra_client_js_against_the_local_server(local_server: str, node22: Path, mastra_client_dir: Path) -> None:
    result = subprocess.run(
        [str(node22), str(COMPAT_SCRIPT)],
        env={**os.environ, "MEMKIT_URL": local_server, "MASTRA_CLIENT_DIR": str(mastra_client_dir)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert "client compat: all steps passed" in result.stdout
