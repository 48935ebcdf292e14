"""What ``make run`` (``python -m infra.local.run``) shows the person who started it."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from infra.local import stack
from tests.local.conftest import REPO_ROOT, LocalServer

def test_each_request_writes_one_readable_line_and_no_metrics_blob(local_server: LocalServer) -> None:
    requests = [
        ("POST", "/api/memory/threads", {"resourceId": "user-1", "title": "Hello"}),
        ("GET", "/api/memory/threads?resourceId=user-1", None),
        ("GET", "/api/memory/threads/no-such-thread", None),
    ]
    for method, path, body in requests:
        httpx.request(method, local_server.base_url + path, json=body, timeout=10)

    output = local_server.stop()

    request_lines = [line for line in output.splitlines() if "/api/memory/" in line and "curl" not in line]
    assert len(request_lines) == len(requests), output
    for line, (method, path, _) in zip(request_lines, requests):
        # Time, level, method, path as sent (ids included), status and latency.
        assert re.fullmatch(rf"\d\d:\d\d:\d\d (INFO|WARNING)\s+{method} {re.escape(path.split('?')[0])} \d{{3}} [\d.]+ ms", line), line
    assert "CloudWatchMetrics" not in output
    assert '"level"' not in output  # no JSON log line


def run_until_it_stops(tmp_path: Path, **env: str | None) -> tuple[int, list[str]]:
    """``make run`` with ``env`` on top of the test environment (a value of None unsets)."""
    environment = {**os.environ, "MEMKIT_STORAGE_URL": f"file:{tmp_path / 'memkit.db'}", **env}
    environment = {name: value for name, value in environment.items() if value is not None}
    environment.pop("AWS_LAMBDA_FUNCTION_NAME", None)
    finished = subprocess.run(
        [sys.executable, "-m", "infra.local.run"], cwd=REPO_ROOT, env=environment,
        capture_output=True, text=True, timeout=60,
    )
    return finished.returncode, (finished.stdout + finished.stderr).strip().splitlines()


@pytest.mark.parametrize(
    ("env", "line"),
    [
        ({"MEMKIT_PORT": "abc"}, "make run: MEMKIT_PORT must be a port number, got 'abc'"),
        ({"MEMKIT_PORT": "70000"}, "make run: MEMKIT_PORT must be between 1 and 65535, got 70000"),
        ({"MEMKIT_AUTH": "cookie"}, "make run: MEMKIT_AUTH must be one of ('none', 'api-key', 'jwt'), got 'cookie'"),
        ({"MEMKIT_CACHE_TIMEOUT_SECONDS": "soon"}, "make run: MEMKIT_CACHE_TIMEOUT_SECONDS must be a number, got 'soon'"),
        (
            {"MEMKIT_STORAGE_URL": "foo://x"},
            "make run: Unsupported storage URL 'foo://x': use file:<path>, :memory: or dynamodb://<table>",
        ),
        ({"MEMKIT_EMBEDDER": "foo"}, "make run: MEMKIT_EMBEDDER must be local, lexical, openai/<model> or bedrock/<model-id>, got 'foo'"),
        (
            # No region anywhere botocore looks: not in the environment, no config file.
            {"MEMKIT_STORAGE_URL": "dynamodb://memkit-table", "AWS_REGION": None, "AWS_DEFAULT_REGION": None,
             "AWS_CONFIG_FILE": "/nonexistent/aws-config", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials"},
            "make run: storage dynamodb://memkit-table needs an AWS region: set AWS_REGION",
        ),
    ],
)
def test_a_bad_setting_stops_make_run_with_one_line_and_no_banner(
    tmp_path: Path, env: dict[str, str | None], line: str
) -> None:
    code, output = run_until_it_stops(tmp_path, **{"MEMKIT_PORT": str(stack.free_port()), **env})
    assert (code, output) == (1, [line])


def test_a_typo_in_memkit_toml_is_one_line_with_a_suggestion(tmp_path: Path) -> None:
    config = tmp_path / "memkit.toml"
    config.write_text("[agents.default]\nlastMesages = 5\n")

    code, output = run_until_it_stops(tmp_path, MEMKIT_CONFIG=str(config), MEMKIT_PORT=str(stack.free_port()))

    assert (code, output) == (1, [f"make run: {config}: [agents.default] unknown key lastMesages (did you mean lastMessages?)"])


def test_a_busy_port_says_how_to_choose_another(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        code, output = run_until_it_stops(tmp_path, MEMKIT_PORT=str(port))

    assert code == 1
    assert output == [f"make run: port {port} is already in use (another make run?): stop it or choose another with MEMKIT_PORT=8001 make run"]


def test_the_banner_comes_once_the_port_is_bound(local_server: LocalServer) -> None:
    # The fixture waited for /health; the first line printed names the address that answered.
    output = local_server.stop()
    assert output.splitlines()[0].startswith(f"memkit API on {local_server.base_url} ")


def test_the_listening_socket_says_tcp_so_replies_are_not_delayed_by_nagle() -> None:
    # asyncio disables Nagle's algorithm (TCP_NODELAY) on accepted sockets only when the
    # listening socket's protocol is IPPROTO_TCP; with protocol 0, every reply on a kept-alive
    # connection waited for the client's delayed ACK (~40 ms).
    from infra.local.run import _bind

    sock = _bind(stack.free_port())
    try:
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()
