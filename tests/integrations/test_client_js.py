"""A Strands conversation and an OpenAI Agents session read by the real ``@mastra/client-js``
(Node 22) from ``make run``'s server on the same libSQL file: ordinary threads of v2 messages."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from memkit import Memory
from memkit.integrations.openai_agents import MemkitSession
from tests.api.test_compat import local_server  # noqa: F401  (the fixture: make run's server on tmp_path)
from tests.integrations.conftest import visible
from tests.integrations.test_openai_agents import two_runs
from tests.integrations.test_strands import two_turns_with_a_tool_call

pytestmark = [pytest.mark.node, pytest.mark.slow]

READER = Path(__file__).parent / "read_with_client_js.mjs"


def read_with_client_js(node22: Path, client_dir: Path, url: str, thread_id: str, resource_id: str) -> dict[str, Any]:
    result = subprocess.run(
        [str(node22), str(READER)],
        env={**os.environ, "MEMKIT_URL": url, "MASTRA_CLIENT_DIR": str(client_dir), "THREAD_ID": thread_id, "RESOURCE_ID": resource_id},
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_client_js_reads_a_strands_conversation_as_a_thread(
    local_server: str, node22: Path, mastra_client_dir: Path, tmp_path: Path  # noqa: F811
) -> None:
    two_turns_with_a_tool_call(Memory(f"file:{tmp_path / 'memkit.db'}"), "trip-1", "ada")

    read = read_with_client_js(node22, mastra_client_dir, local_server, "trip-1", "ada")

    assert read["thread"]["resourceId"] == "ada"
    assert [m["role"] for m in read["messages"]] == ["user", "assistant", "user", "assistant"]
    _, parts = visible(read["messages"][3])
    assert [p["type"] for p in parts] == ["tool-invocation", "step-start", "text"]
    assert parts[0]["toolInvocation"]["result"] == "Sunny and 24°C in Lisbon"


def test_client_js_reads_an_openai_agents_session_as_a_thread(
    local_server: str, node22: Path, mastra_client_dir: Path, tmp_path: Path  # noqa: F811
) -> None:
    asyncio.run(two_runs(MemkitSession("chat-1", resource_id="ada", memory=Memory(f"file:{tmp_path / 'memkit.db'}"))))

    read = read_with_client_js(node22, mastra_client_dir, local_server, "chat-1", "ada")

    assert [(m["role"], m["content"]["parts"][-1]["type"]) for m in read["messages"]] == [
        ("user", "text"), ("assistant", "text"), ("user", "text"), ("assistant", "text"),
    ]
    assert read["messages"][3]["content"]["parts"][0]["toolInvocation"]["toolName"] == "weather"
