"""Conversations as Mastra stores them (v2), written out for each provider and read back.

Each format keeps everything it can express; what it cannot is listed in its module docstring
and spelled out here, per format, as the expected change.
"""

from __future__ import annotations

import copy
import json
from typing import Any, Callable

import pytest

from memkit.formats import anthropic, bedrock, openai_chat, openai_responses
from memkit.models import Message, parse_model
from tests.formats.support import FORMATS, from_v2, load, to_v2, without_stamps

Parts = list[dict[str, Any]]


def _map_invocations(messages: list[dict[str, Any]], change: Callable[[dict[str, Any]], None]) -> list[dict[str, Any]]:
    messages = copy.deepcopy(messages)
    for message in messages:
        for part in message["content"]["parts"]:
            if part["type"] == "tool-invocation":
                change(part["toolInvocation"])
    return messages


def _results_as_text(invocation: dict[str, Any]) -> None:
    """Chat and Responses carry a tool's answer as text: an error as its text, a structured
    result as its JSON."""
    if invocation["state"] == "output-error":
        invocation["state"] = "result"
        invocation["result"] = invocation.pop("errorText")
    elif not isinstance(invocation["result"], str):
        invocation["result"] = json.dumps(invocation["result"], separators=(",", ":"))


def _structured_results_as_text(invocation: dict[str, Any]) -> None:
    """Anthropic carries errors (is_error) but a structured result as its JSON text."""
    if invocation["state"] == "result" and not isinstance(invocation["result"], str):
        invocation["result"] = json.dumps(invocation["result"], separators=(",", ":"))


def _without_reasoning(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {**m, "content": {**m["content"], "parts": [p for p in m["content"]["parts"] if p["type"] != "reasoning"]}}
        for m in messages
    ]


CARRIED: dict[str, Callable[[list[dict[str, Any]]], list[dict[str, Any]]]] = {
    # Chat has no reasoning (without reasoning_content) and carries tool answers as text.
    "openai_chat": lambda ms: _without_reasoning(_map_invocations(ms, _results_as_text)),
    # A reasoning item needs OpenAI's item id; this reasoning came from Anthropic.
    "openai_responses": lambda ms: _without_reasoning(_map_invocations(ms, _results_as_text)),
    "anthropic": lambda ms: _map_invocations(ms, _structured_results_as_text),
    "bedrock": lambda ms: copy.deepcopy(ms),
}


@pytest.mark.parametrize("format_name", sorted(FORMATS))
def test_a_stored_conversation_keeps_what_each_format_can_express(format_name: str) -> None:
    stored = load("v2", "support_conversation")["messages"]

    back = to_v2(format_name, from_v2(format_name, stored))

    assert without_stamps(back) == without_stamps(CARRIED[format_name](stored))
    for message in back:
        parse_model(Message, message)


def test_the_stored_conversation_in_chat_completions_form() -> None:
    stored = load("v2", "support_conversation")["messages"]

    messages = openai_chat.from_v2(stored)

    assert [m["role"] for m in messages] == ["system", "user", "assistant", "tool", "tool", "assistant", "tool", "assistant", "user", "assistant"]
    first_step = messages[2]
    assert first_step["content"] == "Let me pull up your account and that invoice."
    assert [(c["id"], c["function"]["arguments"]) for c in first_step["tool_calls"]] == [
        ("call_acct", '{"user":"user-7"}'),
        ("call_inv", '{"number":"2025-02"}'),
    ]
    assert messages[3] == {"role": "tool", "tool_call_id": "call_acct", "content": '{"plan":"pro","seats":5,"tags":["eu","annual"]}'}
    assert messages[4] == {"role": "tool", "tool_call_id": "call_inv", "content": "Billing service timed out"}
    assert messages[1]["content"][2] == {
        "type": "file",
        "file": {"file_data": "data:application/pdf;base64," + stored[1]["content"]["parts"][2]["data"], "filename": "Invoice 2025-02"},
    }


def test_the_stored_conversation_in_anthropic_form_keeps_signed_thinking_and_the_error() -> None:
    stored = load("v2", "support_conversation")["messages"]

    request = anthropic.from_v2(stored)

    assert request["system"] == "You are ACME's support agent."
    first_step = request["messages"][1]["content"]
    assert first_step[0] == {"type": "thinking", "thinking": "I need the account and the invoice record.", "signature": "EqQBCgIYAhIMsig"}
    results = request["messages"][2]["content"]
    assert results[1] == {"type": "tool_result", "tool_use_id": "call_inv", "content": "Billing service timed out", "is_error": True}


def test_the_stored_conversation_in_bedrock_form_keeps_structured_results_and_bytes() -> None:
    stored = load("v2", "support_conversation")["messages"]

    request = bedrock.from_v2(stored)

    user = request["messages"][0]["content"]
    assert user[1]["image"]["source"]["bytes"].startswith(b"\x89PNG")
    assert user[2]["document"]["name"] == "Invoice 2025-02"
    results = request["messages"][2]["content"]
    assert results[0] == {"toolResult": {"toolUseId": "call_acct", "content": [{"json": {"plan": "pro", "seats": 5, "tags": ["eu", "annual"]}}]}}
    assert results[1] == {"toolResult": {"toolUseId": "call_inv", "content": [{"text": "Billing service timed out"}], "status": "error"}}


def test_memkit_message_objects_convert_like_their_wire_form() -> None:
    stored = load("v2", "support_conversation")["messages"]
    models = [parse_model(Message, message) for message in stored]

    for module in (openai_chat, openai_responses, anthropic, bedrock):
        assert module.from_v2(models) == module.from_v2(stored)


def test_messages_stored_by_older_mastra_versions_are_read_from_their_legacy_fields() -> None:
    legacy = load("v2", "legacy_fields")["messages"]

    chat = openai_chat.from_v2(legacy)
    converse = bedrock.from_v2(legacy, binary="base64")

    assert chat[0] == {
        "role": "user",
        "content": [
            {"type": "text", "text": "What's on this receipt?"},
            {"type": "image_url", "image_url": {"url": legacy[0]["content"]["experimental_attachments"][0]["url"]}},
        ],
    }
    assert chat[1]["content"] == "Reading it."
    assert chat[1]["tool_calls"][0]["function"] == {"name": "ocr", "arguments": '{"image":"receipt.png"}'}
    assert chat[2] == {"role": "tool", "tool_call_id": "call_ocr", "content": "TOTAL 12.40"}
    # The plain-string reasoning of AI SDK v4 is unsigned: Converse takes it, Anthropic does not.
    assert converse["messages"][1]["content"][0] == {"reasoningContent": {"reasoningText": {"text": "The user wants the total."}}}
    assert all(block["type"] != "thinking" for block in anthropic.from_v2(legacy)["messages"][1]["content"])


def test_a_call_still_waiting_for_its_result_is_written_as_a_call() -> None:
    pending = [{
        "id": "m1", "threadId": "t", "resourceId": "r", "role": "assistant", "type": "v2", "createdAt": "2025-01-01T00:00:00.000Z",
        "content": {"format": 2, "parts": [{"type": "tool-invocation", "toolInvocation": {"state": "call", "toolCallId": "call_x", "toolName": "lookup", "args": {"q": 1}}}]},
    }]

    assert openai_chat.from_v2(pending) == [{
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": "call_x", "type": "function", "function": {"name": "lookup", "arguments": '{"q":1}'}}],
    }]
    assert openai_responses.from_v2(pending) == [{"type": "function_call", "call_id": "call_x", "name": "lookup", "arguments": '{"q":1}'}]
