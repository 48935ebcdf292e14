"""examples/strands_lambda: the handler run in-process as Lambda would (a module load per
container, API Gateway payload 2.0 events), with a scripted model in place of Bedrock, on
libSQL and DynamoDB Local; and its SAM template through `sam validate --lint`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from memkit import Memory
from memkit.settings import get_settings
from tests.support.lambda_events import LambdaContext, LambdaResponse, http_api_event
from tests.api.support import load_module, uid
from tests.infrastructure.test_template import _run_sam
from tests.integrations.scripted_strands import ScriptedModel, text, tool_use

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "strands_lambda"


@pytest.fixture
def container(storage_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[ScriptedModel], ModuleType]]:
    """``container(model)``: a fresh load of the handler module (a new Lambda container) whose
    agent talks to ``model``."""
    monkeypatch.setenv("MEMKIT_STORAGE_URL", storage_url)
    monkeypatch.setenv("MODEL_ID", "anthropic.claude-3-haiku-20240307-v1:0")
    loaded: list[ModuleType] = []

    def start(model: ScriptedModel) -> ModuleType:
        get_settings.cache_clear()  # the settings are read once per process, as in a container
        module = load_module(EXAMPLE / "app.py", f"strands_lambda_example_{len(loaded)}")
        module.create_model = lambda: model
        loaded.append(module)
        return module

    yield start
    for module in loaded:
        module.runtime.close()
    get_settings.cache_clear()


def invoke(module: ModuleType, body: Any, *, claims: dict[str, str] | None = None) -> LambdaResponse:
    event = http_api_event("POST", "/", body=body, claims=claims)
    return LambdaResponse.from_result(module.handler(event, LambdaContext(function_name="strands-agent")))


def test_a_conversation_continues_in_another_container_with_its_tool_call(
    container: Callable[[ScriptedModel], ModuleType], new_memory: Callable[[], Memory]
) -> None:
    session, user = uid("trip"), uid("user")
    first_model = ScriptedModel([tool_use("tooluse-1", "trip_length", start="2026-05-01", end="2026-05-04"), text("Three nights.")])
    first = invoke(container(first_model), {"sessionId": session, "userId": user, "message": "How long is May 1 to May 4?"})

    assert (first.status, first.body) == (200, {"sessionId": session, "reply": "Three nights."})
    # The tool ran for real: its result went back to the model.
    assert first_model.requests[1][-1]["content"][0]["toolResult"]["content"] == [{"text": "3"}]

    second_model = ScriptedModel([text("You asked about May 1 to May 4.")])
    second = invoke(container(second_model), {"sessionId": session, "userId": user, "message": "Which dates did I give?"})

    assert second.body["reply"] == "You asked about May 1 to May 4."
    sent = second_model.requests[0]
    assert [m["role"] for m in sent] == ["user", "assistant", "user", "assistant", "user"]
    assert sent[0]["content"] == [{"text": "How long is May 1 to May 4?"}]
    stored = new_memory().list_messages(thread_id=session, resource_id=user, per_page=False, order_by={"field": "createdAt", "direction": "ASC"})
    assert [(m.role, m.text()) for m in stored.messages] == [
        ("user", "How long is May 1 to May 4?"),
        ("assistant", "Three nights."),
        ("user", "Which dates did I give?"),
        ("assistant", "You asked about May 1 to May 4."),
    ]


def test_bad_input_is_a_400_naming_the_field(container: Callable[[ScriptedModel], ModuleType]) -> None:
    module = container(ScriptedModel([]))

    missing = invoke(module, {"sessionId": "trip-1", "userId": "user-1"})
    not_json = invoke(module, "{not json")
    bad_id = invoke(module, {"sessionId": "trip 1", "userId": "user-1", "message": "Hi"})

    assert (missing.status, missing.body["field"]) == (400, "message")
    assert (not_json.status, not_json.body["field"]) == (400, "body")
    assert (bad_id.status, bad_id.body["field"]) == (400, "session_id")


def test_the_user_is_the_tokens_subject_and_cannot_open_anothers_session(
    container: Callable[[ScriptedModel], ModuleType]
) -> None:
    session = uid("trip")
    module = container(ScriptedModel([text("Hi Ada.")]))
    mine = invoke(module, {"sessionId": session, "userId": "mallory", "message": "Hi"}, claims={"sub": "ada"})
    theirs = invoke(module, {"sessionId": session, "message": "Show me"}, claims={"sub": "mallory"})

    assert mine.status == 200
    assert (theirs.status, theirs.body) == (403, {"error": "this session belongs to another user"})
    assert module.memory.get_thread(session).resource_id == "ada"


@pytest.mark.sam
def test_sam_validate_with_lint_accepts_the_examples_template(sam_cli: Path) -> None:
    result = _run_sam(sam_cli, "validate", "--lint", "--template-file", str(EXAMPLE / "template.yaml"), timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
