"""A ``make run`` server (``python -m infra.local.run``) in a process of its own."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from infra.local import stack

REPO_ROOT = Path(__file__).resolve().parents[2]


class LocalServer:
    def __init__(self, process: subprocess.Popen[str], base_url: str):
        self.process = process
        self.base_url = base_url

    def stop(self) -> str:
        """Stops the server (as Ctrl-C does) and returns everything it printed."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        output, _ = self.process.communicate(timeout=30)
        return output


@pytest.fixture
def local_server(tmp_path: Path) -> Iterator[LocalServer]:
    port = stack.free_port()
    env = {
        **os.environ,
        "MEMKIT_PORT": str(port),
        "MEMKIT_STORAGE_URL": f"file:{tmp_path / 'memkit.db'}",
        "MEMKIT_CONFIG": str(REPO_ROOT / "memkit.toml"),
    }
    for name in ("MEMKIT_LOG_FORMAT", "MEMKIT_METRICS", "AWS_LAMBDA_FUNCTION_NAME"):
        env.pop(name, None)
    process = subprocess.Popen(
        [sys.executable, "-m", "infra.local.run"],
        cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    server = LocalServer(process, f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{server.base_url}/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"make run did not start:\n{server.stop()}")
        time.sleep(0.1)
    yield server
    server.stop()
