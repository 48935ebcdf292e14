"""How provider messages map onto Mastra's v2 shape, and the choices memkit makes where the
formats differ (merging, steps, stamps, system prompts, binary, names)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from memkit.formats import anthropic, bedrock, openai_chat, openai_responses
from memkit.models import Message, parse_model
from tests.formats.support import START, load, provider_side, stamp, ticking_clock, to_v2


def _parts(message: dict) -> list[dict]:
    return message["content"]["parts"]


def test_tool_calls_and_their_results_become_one_assistant_message_with_a_step_per_model_call() -> None:
    v2 = to_v2("openai_chat", provider_side("openai_chat", load("openai_chat", "multi_step_tools")))

    assert [m["role"] for m in v2] == ["system", "user", "assistant", "user"]
    assert [p["type"] for p in _parts(v2[2])] == ["tool-invocation", "step-start", "text", "tool-invocation", "step-start", "text"]
    geocode, forecast = (p["toolInvocation"] for p in _parts(v2[2]) if p["type"] == "tool-invocation")
    assert geocode == {
        "state": "result",
        "toolCallId": "call_9XuTOV4Ih0AjaWWPDE6c8m3Y",
        "toolName": "geocode",
        "args": {"query": "Lisbon"},
        "result": '{"lat":38.7223,"lon":-9.1393,"country":"PT"}',
    }
    assert forecast["toolCallId"] == "call_2kQmWvB0y7tFjL3pXcN5aR1s" and forecast["state"] == "result"


def test_parallel_calls_share_a_step_and_each_result_finds_its_call_by_id() -> None:
    v2 = to_v2("anthropic", provider_side("anthropic", load("anthropic", "parallel_tool_calls_and_error")))

    parts = _parts(v2[2])
    assert [p["type"] for p in parts] == ["text", "tool-invocation", "tool-invocation", "step-start", "text"]
    assert parts[1]["toolInvocation"]["result"] == '{"status":"on time","gate":"B44"}'
    assert parts[2]["toolInvocation"] == {
        "state": "output-error",
        "toolCallId": "toolu_01BA117bbbbbbbbbbbbbbbbb",
        "toolName": "flight_status",
        "args": {"flight": "BA117"},
        "errorText": "Upstream API timed out after 10s",
    }


def test_ids_come_from_the_factory_and_created_at_never_goes_backwards_on_a_frozen_clock() -> None:
    v2 = to_v2("openai_chat", provider_side("openai_chat", load("openai_chat", "multi_step_tools")))

    assert [m["id"] for m in v2] == ["msg-1", "msg-2", "msg-3", "msg-4"]
    assert [m["createdAt"] for m in v2] == [
        "2025-03-01T09:00:00.000Z",
        "2025-03-01T09:00:00.001Z",
        "2025-03-01T09:00:00.002Z",
        "2025-03-01T09:00:00.003Z",
    ]
    assert {(m["threadId"], m["resourceId"], m["type"]) for m in v2} == {("thread-1", "user-1", "v2")}


def test_an_advancing_clock_is_used_as_it_is() -> None:
    v2 = to_v2("openai_chat", provider_side("openai_chat", load("openai_chat", "multi_step_tools")), clock=ticking_clock(250))

    assert [m["createdAt"] for m in v2] == [
        "2025-03-01T09:00:00.000Z",
        "2025-03-01T09:00:00.250Z",
        "2025-03-01T09:00:00.500Z",
        "2025-03-01T09:00:00.750Z",
    ]


def test_without_a_factory_and_clock_ids_are_uuids_and_created_at_is_now() -> None:
    before = datetime.now(timezone.utc) - timedelta(milliseconds=1)

    v2 = openai_chat.to_v2([{"role": "user", "content": "hi"}], thread_id="t-1", resource_id="r-1")

    message = parse_model(Message, v2[0])
    assert uuid.UUID(message.id).version == 4
    assert before <= message.created_at <= datetime.now(timezone.utc)


def test_anthropic_user_text_after_tool_results_is_its_own_v2_message_and_rejoins_their_turn() -> None:
    fixture = load("anthropic", "multi_step_tools_with_thinking")

    v2 = to_v2("anthropic", provider_side("anthropic", fixture))

    assert [m["role"] for m in v2] == ["system", "user", "assistant", "user", "assistant"]
    assert _parts(v2[3]) == [{"type": "text", "text": "Also, make it urgent next time."}]
    turn = anthropic.from_v2(v2)["messages"][4]
    assert [block["type"] for block in turn["content"]] == ["tool_result", "text"]


def test_signed_thinking_and_redacted_thinking_keep_their_signature_and_data() -> None:
    v2 = to_v2("anthropic", provider_side("anthropic", load("anthropic", "images_and_documents")))

    assert _parts(v2[1])[0] == {
        "type": "reasoning",
        "reasoning": "",
        "details": [{"type": "redacted", "data": "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpPkNRj2YfWXGmKDxH4mPnZ5sQ7vB5URj2pabwh4kTVTaxD7GmUcA=="}],
    }


def test_files_become_v2_file_parts_with_their_media_types() -> None:
    v2 = to_v2("anthropic", provider_side("anthropic", load("anthropic", "images_and_documents")))

    files = [(p["mimeType"], p["data"][:24], p.get("filename")) for p in _parts(v2[0]) if p["type"] == "file"]
    assert files == [
        ("image/png", "iVBORw0KGgoAAAANSUhEUgAA", None),
        ("image/*", "https://upload.wikimedia", None),
        ("application/pdf", "JVBERi0xLjQKMSAwIG9iaiA8", "Q3 report"),
        ("text/plain", "TWVldGluZyBub3Rlczogc2hp", None),
        ("application/pdf", "https://assets.anthropic", None),
    ]
    tool_result = _parts(v2[1])[1]["toolInvocation"]["result"]
    assert tool_result["content"][1] == {"type": "image", "data": "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==", "mimeType": "image/png"}


def test_a_conversation_moves_from_anthropic_to_chat_completions_through_v2() -> None:
    v2 = to_v2("anthropic", provider_side("anthropic", load("anthropic", "multi_step_tools_with_thinking")))

    messages = openai_chat.from_v2(v2)

    assert [m["role"] for m in messages] == ["system", "user", "assistant", "tool", "assistant", "tool", "user", "assistant"]
    assert messages[0]["content"] == [
        {"type": "text", "text": "You are an operations assistant for ACME's warehouse."},
        {"type": "text", "text": "Inventory policy: reorder below 20 units."},
    ]
    assert messages[2] == {
        "role": "assistant",
        "content": "Let me check the stock.",
        "tool_calls": [{"id": "toolu_01A09q90qw90lq917835lq9", "type": "function", "function": {"name": "get_stock", "arguments": '{"item":"bolt-m8"}'}}],
    }
    # Thinking cannot go to Chat Completions: the second step is its tool call alone.
    assert messages[4]["content"] is None and messages[4]["tool_calls"][0]["id"] == "toolu_01D7FLrfh4GYq7yT1ULFeyMV"
    assert messages[5]["content"] == [{"type": "text", "text": "Order PO-4471 placed."}, {"type": "text", "text": "ETA 3 days."}]


def test_system_messages_anywhere_go_to_the_separate_system_prompt_in_order() -> None:
    v2 = openai_chat.to_v2(
        [
            {"role": "system", "content": "Rule one."},
            {"role": "user", "content": "hi"},
            {"role": "system", "content": "Rule two."},
            {"role": "assistant", "content": "hello"},
        ],
        **stamp(),
    )

    assert anthropic.from_v2(v2) == {
        "system": [{"type": "text", "text": "Rule one."}, {"type": "text", "text": "Rule two."}],
        "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": [{"type": "text", "text": "hello"}]}],
    }
    assert bedrock.from_v2(v2)["system"] == [{"text": "Rule one."}, {"text": "Rule two."}]


def test_bedrock_merges_consecutive_messages_of_one_role_into_one_turn() -> None:
    v2 = openai_chat.to_v2(
        [
            {"role": "user", "content": "First question."},
            {"role": "user", "content": "And a second one."},
            {"role": "assistant", "content": "Both answered."},
        ],
        **stamp(),
    )

    assert bedrock.from_v2(v2)["messages"] == [
        {"role": "user", "content": [{"text": "First question."}, {"text": "And a second one."}]},
        {"role": "assistant", "content": [{"text": "Both answered."}]},
    ]


def test_bedrock_document_names_are_made_valid_and_unnamed_documents_numbered() -> None:
    pdf = "JVBERi0xLjQKMSAwIG9iaiA8PC9UeXBlIC9DYXRhbG9nPj4gZW5kb2JqCnRyYWlsZXIgPDwvUm9vdCAxIDAgUj4+CiUlRU9GCg=="
    v2 = [{
        "id": "m1", "threadId": "t", "resourceId": "r", "role": "user", "type": "v2", "createdAt": "2025-01-01T00:00:00.000Z",
        "content": {"format": 2, "parts": [
            {"type": "file", "mimeType": "application/pdf", "data": pdf, "filename": "report_2025.final  (v2).pdf"},
            {"type": "file", "mimeType": "text/csv", "data": "Y2l0eSx0ZW1wCg=="},
            {"type": "file", "mimeType": "text/markdown", "data": "IyBUaXRsZQo="},
        ]},
    }]

    blocks = bedrock.from_v2(v2, binary="base64")["messages"][0]["content"]

    assert [b["document"]["name"] for b in blocks] == ["report-2025-final (v2)-pdf", "document-1", "document-2"]
    assert [b["document"]["format"] for b in blocks] == ["pdf", "csv", "md"]


def test_chat_reasoning_content_is_read_and_only_written_when_asked_for() -> None:
    v2 = to_v2("openai_chat", provider_side("openai_chat", load("openai_chat", "reasoning_and_refusal")))

    assert _parts(v2[1])[0] == {"type": "reasoning", "reasoning": "", "details": [{"type": "text", "text": "Check divisors up to 31: none divide 1009."}]}
    assert openai_chat.from_v2(v2)[1] == {"role": "assistant", "content": "Yes, 1009 is prime."}
    assert openai_chat.from_v2(v2, reasoning_content=True)[1]["reasoning_content"] == "Check divisors up to 31: none divide 1009."


def test_responses_reasoning_keeps_its_item_id_and_encrypted_content_for_stateless_requests() -> None:
    v2 = to_v2("openai_responses", provider_side("openai_responses", load("openai_responses", "multi_step_tools")))

    reasoning = _parts(v2[2])[0]
    assert reasoning["providerMetadata"] == {"openai": {
        "itemId": "rs_6820f383d7c08191846711c5df8233bc0ac5ba57aafcbac7",
        "reasoningEncryptedContent": "gAAAAABoIPOEx2yHS1ZXy3tkpL_example_ciphertext==",
    }}
    assert reasoning["details"][0]["text"].startswith("**Finding the winner**")
    text = _parts(v2[2])[-1]
    assert text["providerMetadata"]["openai"]["annotations"][0]["type"] == "url_citation"


def test_reasoning_from_another_provider_is_not_sent_as_a_responses_reasoning_item() -> None:
    v2 = to_v2("anthropic", provider_side("anthropic", load("anthropic", "multi_step_tools_with_thinking")))

    items = openai_responses.from_v2(v2)

    assert "reasoning" not in {item["type"] for item in items}
    assert [item["call_id"] for item in items if item["type"] == "function_call"] == ["toolu_01A09q90qw90lq917835lq9", "toolu_01D7FLrfh4GYq7yT1ULFeyMV"]


def test_the_start_of_the_clock_is_the_first_created_at() -> None:
    v2 = openai_chat.to_v2([{"role": "user", "content": "x"}], **stamp())

    assert v2[0]["createdAt"] == START.strftime("%Y-%m-%dT%H:%M:%S.000Z")
