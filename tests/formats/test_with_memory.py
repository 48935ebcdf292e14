"""The formats with a real Memory (libSQL file): agent turns in each provider's format are
stored as v2, recalled and sent back unchanged, and the working-memory tool writes through
Memory.update_working_memory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from memkit import Memory
from memkit.errors import ForbiddenError
from memkit.formats import anthropic, bedrock, openai_chat, working_memory
from memkit.formats.tools import ToolCall, ToolResult
from tests.formats.support import (
    FORMATS,
    SEPARATE_SYSTEM,
    bedrock_bytes,
    expected_back,
    fixture_names,
    from_v2,
    load,
    provider_side,
    ticking_clock,
    to_v2,
)


@pytest.fixture
def memory(tmp_path: Path) -> Memory:
    return Memory(f"file:{tmp_path / 'memkit.db'}", config={"lastMessages": 50})


def _without_system(format_name: str, request: dict) -> dict:
    """Memory stores the conversation; a request's system prompt is the agent's, not stored."""
    if format_name in SEPARATE_SYSTEM:
        return {"messages": request["messages"]}
    return {"messages": [m for m in request["messages"] if m.get("role") not in ("system", "developer")]}


@pytest.mark.parametrize(("format_name", "name"), [(f, n) for f in FORMATS for n in fixture_names(f) if "multi_step" in n])
def test_a_stored_agent_turn_is_recalled_as_the_same_provider_messages(memory: Memory, format_name: str, name: str) -> None:
    fixture = load(format_name, name)
    conversation = _without_system(format_name, provider_side(format_name, fixture))
    thread = memory.create_thread(resource_id="user-1", thread_id="thread-1")

    memory.save_messages(to_v2(format_name, conversation, clock=ticking_clock()))
    recalled = memory.recall(thread_id=thread.id, resource_id="user-1").messages

    assert from_v2(format_name, recalled) == _without_system(format_name, expected_back(format_name, fixture))


def test_the_working_memory_tool_updates_a_markdown_agents_memory(memory: Memory) -> None:
    config = {"enabled": True, "template": "# Profile\n- Name:\n- City:\n"}
    memory = Memory(memory.storage, config={"workingMemory": config})
    thread = memory.create_thread(resource_id="user-1", thread_id="thread-1")
    model_message = {"role": "assistant", "content": [
        {"type": "text", "text": "Nice to meet you, Dana!"},
        {"type": "tool_use", "id": "toolu_wm", "name": "updateWorkingMemory", "input": {"memory": "# Profile\n- Name: Dana\n- City: Lisbon\n"}},
    ]}

    results = [
        working_memory.handle_tool_call(call, config, lambda update: memory.update_working_memory(
            thread_id=thread.id, resource_id="user-1", working_memory=update.value))
        for call in anthropic.tool_calls(model_message)
    ]

    assert results == [ToolResult("toolu_wm", {"success": True})]
    stored = memory.get_working_memory(thread_id=thread.id, resource_id="user-1").working_memory
    assert stored == "# Profile\n- Name: Dana\n- City: Lisbon\n"
    assert f"<working_memory_data>\n{stored}\n</working_memory_data>" in working_memory.instructions(config, stored)
    # The call and its answer are stored with the turn like any other tool use.
    turn = [{"role": "user", "content": "I'm Dana, from Lisbon."}, model_message, *anthropic.tool_result_messages(results)]
    memory.save_messages(anthropic.to_v2(turn, thread_id=thread.id, resource_id="user-1", clock=ticking_clock()))
    recalled = memory.recall(thread_id=thread.id, resource_id="user-1").messages
    assert anthropic.from_v2(recalled)["messages"] == turn


def test_the_working_memory_tool_merges_into_a_schema_agents_memory(memory: Memory) -> None:
    config = {"enabled": True, "scope": "thread", "schema": {"type": "object", "properties": {"name": {"type": "string"}, "city": {"type": "string"}}}}
    memory = Memory(memory.storage, config={"workingMemory": config})
    thread = memory.create_thread(resource_id="user-1", thread_id="thread-1")

    def apply(update: working_memory.WorkingMemoryUpdate) -> None:
        memory.update_working_memory(thread_id=thread.id, resource_id="user-1", working_memory=update.value)

    first = working_memory.handle_tool_call(ToolCall("c1", "updateWorkingMemory", {"memory": {"name": "Dana", "city": "Lisbon"}}), config, apply)
    second = working_memory.handle_tool_call(ToolCall("c2", "updateWorkingMemory", {"memory": '{"city": "Porto"}'}), config, apply)

    assert first == ToolResult("c1", {"success": True}) and second == ToolResult("c2", {"success": True})
    stored = memory.get_working_memory(thread_id=thread.id, resource_id="user-1").working_memory
    assert json.loads(stored) == {"name": "Dana", "city": "Porto"}
    assert openai_chat.tool_result_messages([second]) == [{"role": "tool", "tool_call_id": "c2", "content": '{"success":true}'}]


def test_a_read_only_agents_refusal_is_not_turned_into_a_tool_result(memory: Memory) -> None:
    config = {"enabled": True}
    memory = Memory(memory.storage, config={"workingMemory": config, "readOnly": True})

    def apply(update: working_memory.WorkingMemoryUpdate) -> None:
        memory.update_working_memory(thread_id="thread-1", resource_id="user-1", working_memory=update.value)

    # A read-only agent should not have been given the tool: that is the caller's mistake, not
    # the model's, so it surfaces instead of being reported to the model.
    with pytest.raises(ForbiddenError):
        working_memory.handle_tool_call(ToolCall("c1", "updateWorkingMemory", {"memory": "# User"}), config, apply)


def test_bedrock_turns_with_bytes_are_stored_and_recalled_as_bytes(memory: Memory) -> None:
    fixture = load("bedrock", "images_and_documents")
    thread = memory.create_thread(resource_id="user-1", thread_id="thread-1")
    request = bedrock_bytes(provider_side("bedrock", fixture))
    memory.save_messages(bedrock.to_v2(request["messages"], thread_id=thread.id, resource_id="user-1", clock=ticking_clock()))

    recalled = memory.recall(thread_id=thread.id, resource_id="user-1").messages
    assert bedrock.from_v2(recalled) == request
