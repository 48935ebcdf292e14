"""The integrations stay out of what the memory stack ships and loads: optional extras, not in
the Lambda layer's requirements (the API function's cold path is checked by
tests/api/test_cold_path.py)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[\[<>=!~ ;]", line.strip(), maxsplit=1)[0].lower() for line in requirements if line.strip()}


def test_each_framework_is_an_optional_extra_and_not_a_dependency() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]

    extras = project["optional-dependencies"]
    assert _names(extras["strands"]) == {"strands-agents"}
    assert _names(extras["openai-agents"]) == {"openai-agents"}
    assert not _names(project["dependencies"]) & {"strands-agents", "openai-agents", "openai", "mcp"}


def test_the_lambda_layer_ships_no_agent_framework() -> None:
    lines = [line for line in (REPO_ROOT / "layers" / "requirements.txt").read_text().splitlines() if not line.startswith("#")]

    assert not _names(lines) & {"strands-agents", "openai-agents", "openai", "mcp"}
