"""The README's HTTP walkthrough, run as written against ``make run``'s server."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from infra.local import stack
from tests.local.conftest import REPO_ROOT, LocalServer

README = REPO_ROOT / "README.md"


def walkthrough_script() -> str:
    text = README.read_text()
    section = text[text.index("### A conversation over HTTP") :]
    return re.search(r"```bash\n(.*?)```", section, re.DOTALL).group(1)


def test_the_readme_walkthrough_runs_as_written(local_server: LocalServer) -> None:
    script = walkthrough_script()
    assert script.startswith("API=http://127.0.0.1:8000\n")
    script = script.replace("API=http://127.0.0.1:8000", f"API={local_server.base_url}", 1)
    stack.ensure_curl()

    # Each curl on its own line of output, so the answers can be checked one by one.
    run = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", "curl() { command curl \"$@\"; echo; }\n" + script],
        capture_output=True, text=True, timeout=60,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    answers = [json.loads(line) for line in run.stdout.splitlines() if line.strip()]

    created, saved, listed, _, working_memory, search, titled, cloned, deleted, erased = answers
    assert created["id"] == "trip-1" and created["title"] is None
    assert [m["id"] for m in saved["messages"]] == ["m1", "m2"]
    assert [m["id"] for m in listed["messages"]] == ["m2", "m1"]
    assert working_memory["workingMemory"] == "# User\n- dog: Rex\n- next trip: Lisbon"
    assert "m1" in [hit["id"] for hit in search["results"]]
    assert titled["title"] == "Plan a weekend in Lisbon with my dog Rex"
    assert cloned["thread"]["id"] == "trip-1-copy" and len(cloned["clonedMessages"]) == 2
    assert deleted == {"result": "Thread deleted"}
    assert erased["deletedThreadIds"] == ["trip-1-copy"]
