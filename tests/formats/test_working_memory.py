"""The updateWorkingMemory tool: its definition in every provider's tool syntax, the system
instructions, parsing a model's call, the update rules, and the answer sent back."""

from __future__ import annotations

import json

import pytest

from memkit.config import DEFAULT_WORKING_MEMORY_TEMPLATE, MemoryConfig
from memkit.errors import ValidationError
from memkit.formats import anthropic, bedrock, openai_chat, openai_responses, working_memory
from memkit.formats.tools import ToolCall, ToolResult
from memkit.formats.working_memory import WorkingMemoryUpdate, handle_tool_call, next_working_memory, parse_tool_call

PROFILE_SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "city": {"type": "string"},
        "pets": {"type": "array", "items": {"type": "string"}},
        "preferences": {"type": "object", "properties": {"tone": {"type": "string"}, "units": {"type": "string"}}},
    },
    "required": ["name"],
}
MARKDOWN = {"enabled": True, "template": "# Profile\n- Name:\n- City:\n"}
SCHEMA = {"enabled": True, "schema": PROFILE_SCHEMA}


def call(args: dict, name: str = "updateWorkingMemory") -> ToolCall:
    return ToolCall("call_wm1", name, args)


# ---------------------------------------------------------------- definition


def test_markdown_agents_get_a_tool_taking_the_whole_document_as_a_string() -> None:
    definition = working_memory.definition(MARKDOWN)

    assert definition.name == "updateWorkingMemory"
    assert definition.input_schema["required"] == ["memory"]
    assert definition.input_schema["properties"]["memory"]["type"] == "string"
    assert "whatever you leave out is removed" in definition.description


def test_schema_agents_get_their_schema_under_memory_without_its_dialect() -> None:
    definition = working_memory.definition(SCHEMA)

    memory = definition.input_schema["properties"]["memory"]
    assert "$schema" not in memory
    assert memory["properties"] == PROFILE_SCHEMA["properties"] and memory["required"] == ["name"]
    assert "$schema" in PROFILE_SCHEMA  # the agent's own schema is left as it was
    assert "null to remove it" in definition.description


def test_the_tool_in_each_providers_syntax() -> None:
    definition = working_memory.definition(MemoryConfig.model_validate({"workingMemory": MARKDOWN}))
    schema = definition.input_schema

    assert openai_chat.tool(definition) == {
        "type": "function",
        "function": {"name": "updateWorkingMemory", "description": definition.description, "parameters": schema},
    }
    assert openai_responses.tool(definition) == {
        "type": "function", "name": "updateWorkingMemory", "description": definition.description, "parameters": schema, "strict": False,
    }
    assert anthropic.tool(definition) == {"name": "updateWorkingMemory", "description": definition.description, "input_schema": schema}
    assert bedrock.tool(definition) == {
        "toolSpec": {"name": "updateWorkingMemory", "description": definition.description, "inputSchema": {"json": schema}},
    }


# ---------------------------------------------------------------- instructions


def test_instructions_carry_the_template_and_what_is_stored() -> None:
    text = working_memory.instructions(MARKDOWN, "# Profile\n- Name: Dana\n- City: Lisbon\n")

    assert text.startswith("WORKING_MEMORY_SYSTEM_INSTRUCTION:")
    assert "<working_memory_template>\n# Profile\n- Name:\n- City:\n</working_memory_template>" in text
    assert "<working_memory_data>\n# Profile\n- Name: Dana\n- City: Lisbon\n\n</working_memory_data>" in text
    assert "complete Markdown document" in text


def test_instructions_for_the_default_agent_use_the_default_template_and_empty_data() -> None:
    text = working_memory.instructions(None, None)

    assert DEFAULT_WORKING_MEMORY_TEMPLATE.strip() in text
    assert "<working_memory_data>\n\n</working_memory_data>" in text


def test_instructions_for_schema_agents_explain_merging_and_show_the_schema() -> None:
    text = working_memory.instructions(SCHEMA, '{"name":"Dana"}')

    assert json.dumps(PROFILE_SCHEMA, indent=2) in text
    assert "merged into what is stored" in text and "set to null is removed" in text
    assert '<working_memory_data>\n{"name":"Dana"}\n</working_memory_data>' in text


# ---------------------------------------------------------------- parsing


def test_a_markdown_call_replaces_the_memory_with_its_text() -> None:
    assert parse_tool_call(call({"memory": "# Profile\n- Name: Dana"}), MARKDOWN) == WorkingMemoryUpdate("markdown", "# Profile\n- Name: Dana")


def test_a_markdown_call_sent_as_an_object_is_stored_as_its_json_text() -> None:
    assert parse_tool_call(call({"memory": {"name": "Dana"}}), MARKDOWN) == WorkingMemoryUpdate("markdown", '{"name":"Dana"}')


def test_a_schema_call_may_send_the_object_or_its_json_text() -> None:
    as_object = parse_tool_call(call({"memory": {"city": "Porto"}}), SCHEMA)
    as_text = parse_tool_call(call({"memory": '{"city": "Porto"}'}), SCHEMA)

    assert as_object == as_text == WorkingMemoryUpdate("json", {"city": "Porto"})


def test_a_schema_call_without_the_wrapper_is_read_and_its_optional_nulls_dropped() -> None:
    update = parse_tool_call(call({"name": "Dana", "city": None, "preferences": {"tone": "warm", "units": None}}), SCHEMA)

    assert update == WorkingMemoryUpdate("json", {"name": "Dana", "preferences": {"tone": "warm"}})


def test_a_schema_call_with_nothing_in_it_changes_nothing() -> None:
    assert parse_tool_call(call({}), SCHEMA) is None
    assert parse_tool_call(call({"memory": {}}), SCHEMA) is None


@pytest.mark.parametrize(
    ("args", "config", "name", "problem"),
    [
        ({}, MARKDOWN, "updateWorkingMemory", "memory is required"),
        ({"memory": None}, MARKDOWN, "updateWorkingMemory", "memory is required"),
        ({"memory": "{name: Dana"}, SCHEMA, "updateWorkingMemory", "not valid JSON"),
        ({"memory": ["Dana"]}, SCHEMA, "updateWorkingMemory", "must be a JSON object"),
        ({"memory": "x"}, MARKDOWN, "searchWeb", "not updateWorkingMemory"),
    ],
    ids=["markdown without memory", "markdown with null", "schema with bad JSON", "schema with a list", "another tool"],
)
def test_a_bad_call_is_a_validation_error(args: dict, config: dict, name: str, problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        parse_tool_call(call(args, name), config)


# ---------------------------------------------------------------- update rules


def test_a_markdown_update_replaces_the_stored_text() -> None:
    update = WorkingMemoryUpdate("markdown", "# Profile\n- Name: Dana\n- City: Porto\n")

    assert next_working_memory("# Profile\n- Name: Dana\n- City: Lisbon\n", update, template=MARKDOWN["template"]) == update.value


def test_the_empty_template_does_not_overwrite_real_content() -> None:
    stored = "# Profile\n- Name: Dana\n- City: Lisbon\n"
    blank = WorkingMemoryUpdate("markdown", "# Profile\n-   Name:\n- City:")

    assert next_working_memory(stored, blank, template=MARKDOWN["template"]) is None
    assert next_working_memory(None, blank, template=MARKDOWN["template"]) == blank.value
    assert next_working_memory(MARKDOWN["template"], blank, template=MARKDOWN["template"]) == blank.value


def test_a_json_update_merges_removes_nulls_and_replaces_lists() -> None:
    stored = json.dumps({"name": "Dana", "city": "Lisbon", "pets": ["cat", "fish"], "preferences": {"tone": "warm", "units": "metric"}})
    update = WorkingMemoryUpdate("json", {"city": None, "pets": ["dog"], "preferences": {"units": "imperial"}})

    assert json.loads(next_working_memory(stored, update)) == {
        "name": "Dana",
        "pets": ["dog"],
        "preferences": {"tone": "warm", "units": "imperial"},
    }


def test_a_json_update_over_markdown_left_from_before_the_schema_starts_over() -> None:
    update = WorkingMemoryUpdate("json", {"name": "Dana"})

    assert json.loads(next_working_memory("# Profile\n- Name: Dana", update)) == {"name": "Dana"}


# ---------------------------------------------------------------- handling a call


def test_handling_a_call_applies_the_update_and_answers_success() -> None:
    applied: list[WorkingMemoryUpdate] = []

    result = handle_tool_call(call({"memory": "# Profile\n- Name: Dana"}), MARKDOWN, applied.append)

    assert applied == [WorkingMemoryUpdate("markdown", "# Profile\n- Name: Dana")]
    assert result == ToolResult("call_wm1", {"success": True})


def test_a_bad_call_is_answered_with_an_error_result_and_nothing_is_applied() -> None:
    applied: list[WorkingMemoryUpdate] = []

    result = handle_tool_call(call({"memory": "{oops"}), SCHEMA, applied.append)

    assert applied == []
    assert result.is_error and result.call_id == "call_wm1" and "not valid JSON" in result.value


def test_a_write_refused_as_bad_input_becomes_an_error_result() -> None:
    def refuse(update: WorkingMemoryUpdate) -> None:
        raise ValidationError("workingMemory must be a string (markdown template)", field="workingMemory")

    result = handle_tool_call(call({"memory": "x"}), MARKDOWN, refuse)

    assert result == ToolResult("call_wm1", "workingMemory must be a string (markdown template)", is_error=True)


def test_other_failures_of_the_write_propagate() -> None:
    def storage_down(update: WorkingMemoryUpdate) -> None:
        raise ConnectionError("store unreachable")

    with pytest.raises(ConnectionError):
        handle_tool_call(call({"memory": "x"}), MARKDOWN, storage_down)


def test_the_answer_in_each_providers_tool_result_syntax() -> None:
    ok = ToolResult("call_wm1", {"success": True})
    failed = ToolResult("call_wm2", "updateWorkingMemory.memory is required", is_error=True)

    assert openai_chat.tool_result_messages([ok, failed]) == [
        {"role": "tool", "tool_call_id": "call_wm1", "content": '{"success":true}'},
        {"role": "tool", "tool_call_id": "call_wm2", "content": "updateWorkingMemory.memory is required"},
    ]
    assert openai_responses.tool_result_messages([ok]) == [{"type": "function_call_output", "call_id": "call_wm1", "output": '{"success":true}'}]
    assert anthropic.tool_result_messages([ok, failed]) == [{"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "call_wm1", "content": '{"success":true}'},
        {"type": "tool_result", "tool_use_id": "call_wm2", "content": "updateWorkingMemory.memory is required", "is_error": True},
    ]}]
    assert bedrock.tool_result_messages([ok, failed]) == [{"role": "user", "content": [
        {"toolResult": {"toolUseId": "call_wm1", "content": [{"json": {"success": True}}]}},
        {"toolResult": {"toolUseId": "call_wm2", "content": [{"text": "updateWorkingMemory.memory is required"}], "status": "error"}},
    ]}]


def test_tool_calls_are_read_from_each_providers_model_output() -> None:
    expected = [ToolCall("c1", "updateWorkingMemory", {"memory": "# Profile"})]

    assert openai_chat.tool_calls({"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "updateWorkingMemory", "arguments": '{"memory":"# Profile"}'}},
    ]}) == expected
    assert openai_responses.tool_calls([
        {"type": "reasoning", "id": "rs_1", "summary": []},
        {"type": "function_call", "id": "fc_1", "call_id": "c1", "name": "updateWorkingMemory", "arguments": '{"memory":"# Profile"}'},
    ]) == expected
    assert anthropic.tool_calls({"role": "assistant", "content": [
        {"type": "text", "text": "Noted."},
        {"type": "tool_use", "id": "c1", "name": "updateWorkingMemory", "input": {"memory": "# Profile"}},
    ]}) == expected
    assert bedrock.tool_calls({"role": "assistant", "content": [
        {"toolUse": {"toolUseId": "c1", "name": "updateWorkingMemory", "input": {"memory": "# Profile"}}},
    ]}) == expected
