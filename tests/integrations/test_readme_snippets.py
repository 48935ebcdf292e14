"""README "Use memkit from your agent": each snippet runs as written, in an empty folder, with a
scripted model standing in for the framework's default (Bedrock for Strands, OpenAI's Responses
API for the SDK), which is the one line that would otherwise need credentials and a network."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from agents.models.multi_provider import MultiProvider
from agents.testing import ScriptedModel as ScriptedOpenAIModel
from agents.testing import assistant_message

from tests.integrations.scripted_strands import ScriptedModel, text

README = Path(__file__).resolve().parents[2] / "README.md"


def snippet(framework: str) -> str:
    section = README.read_text().split("## Use memkit from your agent", 1)[1].split("\n## ", 1)[0]
    after = section.split(f"**{framework}**", 1)[1]
    match = re.search(r"```python\n(.*?)```", after, re.S)
    assert match is not None, f"no python block after {framework}"
    return match.group(1)


def test_the_strands_snippet_stores_and_resumes_a_conversation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    models: list[ScriptedModel] = []

    def default_model(*args: object, **kwargs: object) -> ScriptedModel:
        models.append(ScriptedModel([text("Lisbon it is, Ada.")]))
        return models[-1]

    monkeypatch.setattr("strands.agent.agent.BedrockModel", default_model)
    monkeypatch.chdir(tmp_path)

    exec(compile(snippet("Strands Agents"), "README.md", "exec"), {})

    # Strands' default callback handler prints the reply as it streams, then the snippet prints.
    assert capsys.readouterr().out == "Lisbon it is, Ada.[{'text': \"I'm Ada. A weekend in Lisbon?\"}]\n"
    assert models[0].requests[0][-1]["content"] == [{"text": "I'm Ada. A weekend in Lisbon?"}]
    assert (tmp_path / "memkit.db").exists()


def test_the_openai_agents_snippet_runs_twice_on_one_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    model = ScriptedOpenAIModel([[assistant_message("Lisbon it is!")], [assistant_message("You are Ada.")]])
    monkeypatch.setattr(MultiProvider, "get_model", lambda self, name: model)
    monkeypatch.chdir(tmp_path)
    exec(compile(snippet("OpenAI Agents SDK"), "README.md", "exec"), {})

    assert capsys.readouterr().out.strip().splitlines()[-1] == "You are Ada. ['user', 'assistant', 'user', 'assistant']"
    assert model.calls[1].input[0] == {"content": "I'm Ada. A weekend in Lisbon?", "role": "user"}
