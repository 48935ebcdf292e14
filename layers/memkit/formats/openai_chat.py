"""OpenAI Chat Completions messages <-> Mastra v2 messages.

``to_v2(messages, thread_id=..., resource_id=...)`` reads a ``messages`` list;
``from_v2(v2_messages)`` writes one. The merging, splitting and stamping rules shared by every
format are in ``memkit.formats._v2``.

Mapping:

========================================  ============================================================
Chat Completions                          v2
========================================  ============================================================
``system`` / ``developer`` message        ``system`` message, one ``text`` part per text
``user`` text                             ``text`` part
``image_url`` (URL or data URL)           ``file`` part (``image/*`` for a URL; the data URL's type);
                                          ``detail`` in ``providerMetadata.openai.imageDetail``
``input_audio`` (wav, mp3)                ``file`` part, ``audio/wav`` / ``audio/mpeg``, base64
``file`` with ``file_data``               ``file`` part (type from the data URL), ``filename``
assistant ``content``                     ``text`` parts; ``refusal`` is a text part with
                                          ``providerMetadata.openai.refusal: true``
assistant ``reasoning_content``           ``reasoning`` part (DeepSeek-style servers send it)
``tool_calls[]`` (ids kept)               ``tool-invocation`` parts; ``arguments`` parsed to ``args``
``tool`` message (``tool_call_id``)       the call's invocation, state ``result``; a string stays a
                                          string, text parts become ``{"content": [text blocks]}``
========================================  ============================================================

Normalised on a round trip (Chat -> v2 -> Chat): ``developer`` comes back as ``system``; content
given as a list holding one text part comes back as a string; ``arguments`` are re-serialised as
compact JSON (``""`` becomes ``"{}"``); a ``refusal`` content part comes back as the
``refusal`` field; ``name`` fields are not kept.

Not expressible in Chat Completions, left out by ``from_v2``: reasoning (unless
``reasoning_content=True``, which sends its text; signatures and redacted reasoning never go),
files in assistant messages, other providers' metadata. A tool error goes as its error text
(Chat has no error flag), and a structured result as its JSON text. Content a user gave that
Chat cannot carry is an error instead: audio other than wav/mp3, audio or documents by URL.
Inputs memkit cannot store are errors too: ``file_id`` references (the file lives at OpenAI),
the legacy ``function`` role and ``function_call``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from memkit.formats import _v2
from memkit.formats._common import (
    choice,
    compact_json,
    data_url,
    fail,
    field,
    file_source,
    is_url,
    need_dict,
    need_list,
    need_str,
    parse_arguments,
    parse_data_url,
    provider_meta,
    str_field,
    with_provider_meta,
)
from memkit.formats.tools import ToolCall, ToolDefinition, ToolResult

_ROLES = ("system", "developer", "user", "assistant", "tool")
_AUDIO = {"wav": "audio/wav", "mp3": "audio/mpeg"}
_AUDIO_FORMATS = {"audio/wav": "wav", "audio/x-wav": "wav", "audio/wave": "wav", "audio/mpeg": "mp3", "audio/mp3": "mp3"}


def to_v2(
    messages: Any,
    *,
    thread_id: str,
    resource_id: str,
    new_id: Callable[[], str] | None = None,
    clock: Callable[[], datetime] | None = None,
) -> list[dict[str, Any]]:
    """Chat Completions messages as v2 messages of ``thread_id``/``resource_id``; ids from
    ``new_id`` (default UUID4), ``createdAt`` from ``clock`` (default now), kept increasing."""
    return _v2.build_messages(_read(messages, "messages"), _v2.Stamp(thread_id, resource_id, new_id, clock))


def from_v2(messages: Any, *, reasoning_content: bool = False) -> list[dict[str, Any]]:
    """v2 messages (dicts or ``memkit.models.Message``) as Chat Completions messages."""
    out: list[dict[str, Any]] = []
    for turn in _v2.split_messages(messages):
        if turn.role == "system":
            out.append({"role": "system", "content": _text_content([part for part, _ in turn.parts])})
        elif turn.role == "user":
            out.append({"role": "user", "content": _user_content(turn)})
        elif turn.role == "assistant":
            message = _assistant_message(turn, reasoning_content)
            if message is not None:
                out.append(message)
        else:
            out.extend(_tool_messages(turn))
    return out


def tool(definition: ToolDefinition) -> dict[str, Any]:
    """A tool for the request's ``tools`` list."""
    return {
        "type": "function",
        "function": {
            "name": definition.name,
            "description": definition.description,
            "parameters": definition.input_schema,
        },
    }


def tool_calls(message: Any) -> list[ToolCall]:
    """The tool calls of an assistant message (``choices[0].message``)."""
    return _v2.tool_calls([_read_message(message, "message")])


def tool_result_messages(results: Sequence[ToolResult]) -> list[dict[str, Any]]:
    """One ``tool`` message per result."""
    return _tool_messages(_v2.result_turn(results))


# ---------------------------------------------------------------- reading


def _read(messages: Any, path: str) -> list[_v2.Turn]:
    turns: list[_v2.Turn] = []
    for index, message in enumerate(need_list(messages, path)):
        turn = _read_message(message, f"{path}[{index}]")
        if turn.role == "tool" and turns and turns[-1].role == "tool":
            turns[-1].parts.extend(turn.parts)
        else:
            turns.append(turn)
    return turns


def _read_message(message: Any, where: str) -> _v2.Turn:
    message = need_dict(message, where)
    role = choice(message.get("role"), _ROLES, f"{where}.role")
    content_path = f"{where}.content"
    if role in ("system", "developer"):
        return _v2.Turn("system", _content_parts(field(message, "content", where), content_path, ("text",)), where)
    if role == "user":
        return _v2.Turn("user", _content_parts(field(message, "content", where), content_path), where)
    if role == "assistant":
        return _v2.Turn("assistant", _assistant_parts(message, where), where)
    call_id = str_field(message, "tool_call_id", where, non_empty=True)
    result = _tool_result(field(message, "content", where), content_path)
    return _v2.Turn("tool", [(_v2.Outcome(call_id, result=result), where)], where)


def _content_parts(
    content: Any, path: str, allowed: tuple[str, ...] = ("text", "image_url", "input_audio", "file")
) -> list[tuple[dict[str, Any], str]]:
    if isinstance(content, str):
        return [(_v2.text_part(content), path)]
    parts = []
    for index, item in enumerate(need_list(content, path)):
        where = f"{path}[{index}]"
        kind = choice(need_dict(item, where).get("type"), allowed, f"{where}.type")
        if kind == "text":
            parts.append((_v2.text_part(str_field(item, "text", where)), where))
        elif kind == "image_url":
            parts.append((_image_part(need_dict(field(item, "image_url", where), f"{where}.image_url"), f"{where}.image_url"), where))
        elif kind == "input_audio":
            audio = need_dict(field(item, "input_audio", where), f"{where}.input_audio")
            audio_format = choice(audio.get("format"), tuple(_AUDIO), f"{where}.input_audio.format")
            parts.append((_v2.file_part(_AUDIO[audio_format], str_field(audio, "data", f"{where}.input_audio")), where))
        else:
            parts.append((_file_part(need_dict(field(item, "file", where), f"{where}.file"), f"{where}.file"), where))
    return parts


def _image_part(image: dict[str, Any], where: str) -> dict[str, Any]:
    url = str_field(image, "url", where)
    if url.startswith("data:"):
        part = _v2.file_part(*parse_data_url(url, f"{where}.url"))
    elif is_url(url):
        part = _v2.file_part("image/*", url)
    else:
        fail(f"{where}.url", "must be an http(s) URL or a base64 data URL")
    if image.get("detail") is not None:
        with_provider_meta(part, "openai", imageDetail=need_str(image["detail"], f"{where}.detail"))
    return part


def _file_part(file: dict[str, Any], where: str) -> dict[str, Any]:
    if "file_data" not in file and "file_id" in file:
        fail(f"{where}.file_id", "refers to a file uploaded to OpenAI; memkit stores content, give file_data")
    mime_type, data = parse_data_url(str_field(file, "file_data", where), f"{where}.file_data")
    filename = file.get("filename")
    return _v2.file_part(mime_type, data, None if filename is None else need_str(filename, f"{where}.filename"))


def _assistant_parts(message: dict[str, Any], where: str) -> list[tuple[dict[str, Any], str]]:
    if message.get("function_call") is not None:
        fail(f"{where}.function_call", "the legacy function_call is not supported; use tool_calls")
    parts: list[tuple[dict[str, Any], str]] = []
    reasoning = message.get("reasoning_content")
    if reasoning is not None and need_str(reasoning, f"{where}.reasoning_content"):
        parts.append((_v2.reasoning_part([_v2.reasoning_text(reasoning)]), f"{where}.reasoning_content"))
    content = message.get("content")
    if isinstance(content, str):
        parts.append((_v2.text_part(content), f"{where}.content"))
    elif content is not None:
        for index, item in enumerate(need_list(content, f"{where}.content")):
            item_path = f"{where}.content[{index}]"
            kind = choice(need_dict(item, item_path).get("type"), ("text", "refusal"), f"{item_path}.type")
            if kind == "text":
                parts.append((_v2.text_part(str_field(item, "text", item_path)), item_path))
            else:
                parts.append((_refusal_part(str_field(item, "refusal", item_path)), item_path))
    if message.get("refusal") is not None:
        parts.append((_refusal_part(need_str(message["refusal"], f"{where}.refusal")), f"{where}.refusal"))
    for index, call in enumerate(need_list(message.get("tool_calls") or [], f"{where}.tool_calls")):
        call_path = f"{where}.tool_calls[{index}]"
        choice(need_dict(call, call_path).get("type", "function"), ("function",), f"{call_path}.type")
        function = need_dict(field(call, "function", call_path), f"{call_path}.function")
        parts.append((
            _v2.tool_call_part(
                str_field(call, "id", call_path, non_empty=True),
                str_field(function, "name", f"{call_path}.function", non_empty=True),
                parse_arguments(field(function, "arguments", f"{call_path}.function"), f"{call_path}.function.arguments"),
            ),
            call_path,
        ))
    if not parts:
        fail(where, "an assistant message needs content, refusal or tool_calls")
    return parts


def _refusal_part(text: str) -> dict[str, Any]:
    return with_provider_meta(_v2.text_part(text), "openai", refusal=True)


def _tool_result(content: Any, path: str) -> Any:
    if isinstance(content, str):
        return content
    return {"content": [part for part, _ in _content_parts(content, path, ("text",))]}


# ---------------------------------------------------------------- writing


def _text_content(parts: list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    if len(parts) == 1:
        return parts[0]["text"]
    if not parts:
        return ""
    return [{"type": "text", "text": part["text"]} for part in parts]


def _user_content(turn: _v2.Turn) -> str | list[dict[str, Any]]:
    parts = [part for part, _ in turn.parts]
    if all(part["type"] == "text" for part in parts):
        return _text_content(parts)
    return [
        {"type": "text", "text": part["text"]} if part["type"] == "text" else _file_content(part, where)
        for part, where in turn.parts
    ]


def _file_content(part: dict[str, Any], where: str) -> dict[str, Any]:
    mime_type = part["mimeType"]
    kind, data = file_source(part, where)
    if mime_type.startswith("image/"):
        image = {"url": data if kind == "url" else data_url(mime_type, data)}
        detail = provider_meta(part, "openai").get("imageDetail")
        if detail is not None:
            image["detail"] = detail
        return {"type": "image_url", "image_url": image}
    if kind == "url":
        fail(where, f"Chat Completions takes {mime_type} files as base64 content, not by URL")
    if mime_type.startswith("audio/"):
        if mime_type not in _AUDIO_FORMATS:
            fail(f"{where}.mimeType", f"Chat Completions takes wav or mp3 audio, not {mime_type}")
        return {"type": "input_audio", "input_audio": {"data": data, "format": _AUDIO_FORMATS[mime_type]}}
    file = {"file_data": data_url(mime_type, data)}
    if part.get("filename") is not None:
        file["filename"] = part["filename"]
    return {"type": "file", "file": file}


def _assistant_message(turn: _v2.Turn, reasoning_content: bool) -> dict[str, Any] | None:
    texts: list[str] = []
    refusals: list[str] = []
    reasoning: list[str] = []
    calls: list[dict[str, Any]] = []
    for part, _ in turn.parts:
        if part["type"] == "text":
            (refusals if provider_meta(part, "openai").get("refusal") else texts).append(part["text"])
        elif part["type"] == "reasoning":
            reasoning.extend(d["text"] for d in part["details"] if d["type"] == "text")
        elif part["type"] == "tool-invocation":
            invocation = part["toolInvocation"]
            calls.append({
                "id": invocation["toolCallId"],
                "type": "function",
                "function": {"name": invocation["toolName"], "arguments": compact_json(invocation.get("args") or {})},
            })
    reasoning_text = "".join(reasoning) if reasoning_content else ""
    if not (texts or refusals or calls or reasoning_text):
        return None  # only what Chat cannot carry (reasoning, files)
    message: dict[str, Any] = {"role": "assistant"}
    if reasoning_text:
        message["reasoning_content"] = reasoning_text
    message["content"] = _text_content([{"text": text} for text in texts]) if texts else None
    if refusals:
        message["refusal"] = "".join(refusals)
    if calls:
        message["tool_calls"] = calls
    return message


def _tool_messages(turn: _v2.Turn) -> list[dict[str, Any]]:
    return [
        {"role": "tool", "tool_call_id": outcome.call_id, "content": _tool_content(outcome)}
        for outcome, _ in turn.parts
    ]


def _tool_content(outcome: _v2.Outcome) -> str | list[dict[str, Any]]:
    if outcome.error is not None:
        return outcome.error
    if isinstance(outcome.result, str):
        return outcome.result
    blocks = _v2.result_blocks(outcome.result)
    if blocks is not None and all(block["type"] == "text" and isinstance(block.get("text"), str) for block in blocks):
        return [{"type": "text", "text": block["text"]} for block in blocks]
    return compact_json(outcome.result)
