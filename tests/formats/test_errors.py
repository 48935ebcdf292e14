"""Malformed input: a ValidationError whose field is the path of the bad value, and whose
message names it too."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from memkit.errors import ValidationError
from memkit.formats import anthropic, bedrock, openai_chat, openai_responses
from tests.formats.support import stamp

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
CALL = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}


def chat(messages: Any) -> Callable[[], Any]:
    return lambda: openai_chat.to_v2(messages, **stamp())


def responses(items: Any) -> Callable[[], Any]:
    return lambda: openai_responses.to_v2(items, **stamp())


def claude(messages: Any, system: Any = None) -> Callable[[], Any]:
    return lambda: anthropic.to_v2(messages, system=system, **stamp())


def converse(messages: Any, system: Any = None) -> Callable[[], Any]:
    return lambda: bedrock.to_v2(messages, system=system, **stamp())


PROVIDER_INPUT = {
    "chat: messages is not a list": (chat({"role": "user"}), "messages"),
    "chat: unknown role": (chat([{"role": "function", "content": "x", "name": "f"}]), "messages[0].role"),
    "chat: unknown content part": (chat([{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "video", "video": {}}]}]), "messages[0].content[1].type"),
    "chat: text part without text": (chat([{"role": "user", "content": [{"type": "text"}]}]), "messages[0].content[0].text"),
    "chat: image url that is not a URL": (chat([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "picture.png"}}]}]), "messages[0].content[0].image_url.url"),
    "chat: audio in an unsupported format": (chat([{"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "AA==", "format": "ogg"}}]}]), "messages[0].content[0].input_audio.format"),
    "chat: a file uploaded to OpenAI": (chat([{"role": "user", "content": [{"type": "file", "file": {"file_id": "file-abc"}}]}]), "messages[0].content[0].file.file_id"),
    "chat: arguments that are not JSON": (chat([{"role": "assistant", "content": None, "tool_calls": [{**CALL, "function": {"name": "f", "arguments": "{city: Paris"}}]}]), "messages[0].tool_calls[0].function.arguments"),
    "chat: arguments that are not an object": (chat([{"role": "assistant", "content": None, "tool_calls": [{**CALL, "function": {"name": "f", "arguments": "[1, 2]"}}]}]), "messages[0].tool_calls[0].function.arguments"),
    "chat: tool call without an id": (chat([{"role": "assistant", "content": None, "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": "{}"}}]}]), "messages[0].tool_calls[0].id"),
    "chat: a custom tool call": (chat([{"role": "assistant", "content": None, "tool_calls": [{**CALL, "type": "custom"}]}]), "messages[0].tool_calls[0].type"),
    "chat: empty assistant message": (chat([{"role": "user", "content": "hi"}, {"role": "assistant", "content": None}]), "messages[1]"),
    "chat: legacy function_call": (chat([{"role": "assistant", "content": None, "function_call": {"name": "f", "arguments": "{}"}}]), "messages[0].function_call"),
    "chat: tool result before any call": (chat([{"role": "tool", "tool_call_id": "call_1", "content": "x"}]), "messages[0]"),
    "chat: tool result for an unknown call": (chat([{"role": "assistant", "content": None, "tool_calls": [CALL]}, {"role": "tool", "tool_call_id": "call_1", "content": "a"}, {"role": "tool", "tool_call_id": "call_2", "content": "b"}]), "messages[2]"),
    "chat: second result for one call": (chat([{"role": "assistant", "content": None, "tool_calls": [CALL]}, {"role": "tool", "tool_call_id": "call_1", "content": "a"}, {"role": "tool", "tool_call_id": "call_1", "content": "b"}]), "messages[2]"),
    "responses: unsupported item type": (responses([{"type": "item_reference", "id": "msg_1"}]), "input[0].type"),
    "responses: function call without call_id": (responses([{"type": "function_call", "name": "f", "arguments": "{}"}]), "input[0].call_id"),
    "responses: image uploaded to OpenAI": (responses([{"role": "user", "content": [{"type": "input_image", "file_id": "file-1", "detail": "auto"}]}]), "input[0].content[0].file_id"),
    "responses: image in a system message": (responses([{"role": "system", "content": [{"type": "input_image", "image_url": "https://x/y.png"}]}]), "input[0].content[0].type"),
    "responses: output for a call never made": (responses([{"role": "user", "content": "hi"}, {"type": "function_call_output", "call_id": "call_9", "output": "x"}]), "input[1]"),
    "anthropic: text before a tool result": (claude([
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}]},
        {"role": "user", "content": [{"type": "text", "text": "here"}, {"type": "tool_result", "tool_use_id": "toolu_1", "content": "x"}]},
    ]), "messages[2].content[1]"),
    "anthropic: thinking without a signature": (claude([{"role": "assistant", "content": [{"type": "thinking", "thinking": "hm"}]}]), "messages[0].content[0].signature"),
    "anthropic: tool input that is not an object": (claude([{"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "f", "input": "x"}]}]), "messages[0].content[0].input"),
    "anthropic: image from the Files API": (claude([{"role": "user", "content": [{"type": "image", "source": {"type": "file", "file_id": "file_1"}}]}]), "messages[0].content[0].source.type"),
    "anthropic: server tool block": (claude([{"role": "assistant", "content": [{"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}}]}]), "messages[0].content[0].type"),
    "anthropic: system block that is not text": (claude([], system=[{"type": "image", "source": {}}]), "system[0].type"),
    "anthropic: error result holding an image": (claude([
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "is_error": True, "content": [{"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}]}]},
    ]), "messages[1].content[0].content"),
    "bedrock: block with two kinds": (converse([{"role": "user", "content": [{"text": "a", "image": {}}]}]), "messages[0].content[0]"),
    "bedrock: unsupported image format": (converse([{"role": "user", "content": [{"image": {"format": "bmp", "source": {"bytes": b"BM"}}}]}]), "messages[0].content[0].image.format"),
    "bedrock: bytes that are not base64": (converse([{"role": "user", "content": [{"image": {"format": "png", "source": {"bytes": "not base64!"}}}]}]), "messages[0].content[0].image.source.bytes"),
    "bedrock: document without a name": (converse([{"role": "user", "content": [{"document": {"format": "pdf", "source": {"bytes": b"%PDF"}}}]}]), "messages[0].content[0].document.name"),
    "bedrock: video": (converse([{"role": "user", "content": [{"video": {"format": "mp4", "source": {"bytes": b""}}}]}]), "messages[0].content[0].video"),
    "bedrock: tool result after text": (converse([
        {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t1", "name": "f", "input": {}}}]},
        {"role": "user", "content": [{"text": "note"}, {"toolResult": {"toolUseId": "t1", "content": [{"text": "x"}]}}]},
    ]), "messages[1].content[1]"),
    "bedrock: unknown tool result status": (converse([
        {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t1", "name": "f", "input": {}}}]},
        {"role": "user", "content": [{"toolResult": {"toolUseId": "t1", "content": [], "status": "partial"}}]},
    ]), "messages[1].content[0].toolResult.status"),
    "stamp: empty thread id": (lambda: openai_chat.to_v2([], thread_id="", resource_id="r"), "threadId"),
    "stamp: id factory giving a bad id": (lambda: openai_chat.to_v2([{"role": "user", "content": "x"}], thread_id="t", resource_id="r", new_id=lambda: "no spaces allowed"), "message id"),
}


@pytest.mark.parametrize(("convert", "path"), PROVIDER_INPUT.values(), ids=PROVIDER_INPUT.keys())
def test_bad_provider_input_names_the_bad_field(convert: Callable[[], Any], path: str) -> None:
    with pytest.raises(ValidationError) as caught:
        convert()

    assert caught.value.field == path
    assert path in str(caught.value)


def v2_message(role: str, *parts: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "m1", "threadId": "t", "resourceId": "r", "role": role, "type": "v2",
        "createdAt": "2025-01-01T00:00:00.000Z", "content": {"format": 2, "parts": list(parts)},
    }


def file(mime_type: str, data: str) -> dict[str, Any]:
    return {"type": "file", "mimeType": mime_type, "data": data}


V2_INPUT = {
    "not a list": (openai_chat.from_v2, {"id": "m1"}, "messages"),
    "unknown role": (openai_chat.from_v2, [{**v2_message("user"), "role": "tool"}], "messages[0].role"),
    "part without a type": (openai_chat.from_v2, [v2_message("user", {"text": "hi"})], "messages[0].content.parts[0].type"),
    "invocation without a call id": (anthropic.from_v2, [v2_message("assistant", {"type": "tool-invocation", "toolInvocation": {"state": "call", "toolName": "f", "args": {}}})], "messages[0].content.parts[0].toolInvocation.toolCallId"),
    "invocation in an unknown state": (anthropic.from_v2, [v2_message("assistant", {"type": "tool-invocation", "toolInvocation": {"state": "done", "toolCallId": "c", "toolName": "f"}})], "messages[0].content.parts[0].toolInvocation.state"),
    "reasoning in a user message": (openai_chat.from_v2, [v2_message("user", {"type": "reasoning", "reasoning": "x", "details": []})], "messages[0].content.parts[0].type"),
    "file part without a media type": (bedrock.from_v2, [v2_message("user", {"type": "file", "data": PNG})], "messages[0].content.parts[0].mimeType"),
    "a PDF by URL for Chat Completions": (openai_chat.from_v2, [v2_message("user", file("application/pdf", "https://example.com/a.pdf"))], "messages[0].content.parts[0]"),
    "ogg audio for Chat Completions": (openai_chat.from_v2, [v2_message("user", file("audio/ogg", "T2dnUw=="))], "messages[0].content.parts[0].mimeType"),
    "an image URL for Converse": (bedrock.from_v2, [v2_message("user", file("image/png", "https://example.com/a.png"))], "messages[0].content.parts[0].data"),
    "a docx for Anthropic": (anthropic.from_v2, [v2_message("user", file("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "UEsDBA=="))], "messages[0].content.parts[0]"),
    "a base64 image of unknown type for Anthropic": (anthropic.from_v2, [v2_message("user", file("image/*", PNG))], "messages[0].content.parts[0].mimeType"),
    "a zip for Converse": (bedrock.from_v2, [v2_message("user", file("application/zip", "UEsDBA=="))], "messages[0].content.parts[0].mimeType"),
    "bad base64 for Converse": (bedrock.from_v2, [v2_message("user", file("image/png", "%%%"))], "messages[0].content.parts[0].data"),
    "a malformed data URL": (openai_responses.from_v2, [v2_message("user", file("image/png", "data:nonsense"))], "messages[0].content.parts[0].data"),
    "plain text that is not UTF-8 for Anthropic": (anthropic.from_v2, [v2_message("user", file("text/plain", "//7/"))], "messages[0].content.parts[0].data"),
    "a legacy invocation without a tool name": (
        openai_chat.from_v2,
        [{**v2_message("assistant"), "content": {"format": 2, "parts": [], "toolInvocations": [{"state": "call", "toolCallId": "c1", "args": {}}]}}],
        "messages[0].content.toolInvocations[0].toolName",
    ),
}


@pytest.mark.parametrize(("write", "messages", "path"), V2_INPUT.values(), ids=V2_INPUT.keys())
def test_bad_v2_input_or_content_the_format_cannot_carry_names_the_part(write: Callable[[Any], Any], messages: Any, path: str) -> None:
    with pytest.raises(ValidationError) as caught:
        write(messages)

    assert caught.value.field == path
    assert path in str(caught.value)


def test_an_unknown_binary_option_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        bedrock.from_v2([], binary="hex")  # type: ignore[arg-type]

    assert caught.value.field == "binary"
