"""Anthropic Messages (``system`` + ``messages``) <-> Mastra v2 messages.

``to_v2(messages, system=..., thread_id=..., resource_id=...)`` reads a request's
``messages`` and ``system``; ``from_v2(v2_messages)`` returns ``{"system": ..., "messages":
[...]}`` (``system`` only when there is one). Shared rules: ``memkit.formats._v2``.

Mapping:

=====================================  ================================================================
Anthropic                              v2
=====================================  ================================================================
``system`` (string or text blocks)     a ``system`` message first, one ``text`` part per block
``text``                               ``text`` part
``image`` base64 / url source          ``file`` part (its media type; ``image/*`` for a URL)
``document`` base64 / url (PDF)        ``file`` part ``application/pdf``; ``title`` <-> ``filename``
``document`` text source               ``file`` part ``text/plain`` (the text, base64)
``thinking`` (``signature``)           ``reasoning`` part, detail ``{type: text, text, signature}``
``redacted_thinking``                  ``reasoning`` part, detail ``{type: redacted, data}``
``tool_use`` (id kept)                 ``tool-invocation`` part
``tool_result`` in the next user turn  the call's invocation: ``result`` (a string stays a string,
                                       blocks become ``{"content": [...]}``), or with ``is_error``
                                       state ``output-error`` and ``errorText``
``cache_control`` on text, image,      ``providerMetadata.anthropic.cacheControl``
document and system blocks
=====================================  ================================================================

Tool results open their user turn (a user turn with text before a ``tool_result`` is an
error, as in Anthropic's API). Writing, a user message right after tool results joins their
turn, so a turn holding results and text comes back the same.

Normalised on a round trip (Anthropic -> v2 -> Anthropic): a user turn or ``system`` that is one
plain text block comes back as a string and an assistant turn given as a string comes back as
a text block; a ``tool_result`` without content comes back with ``content: ""``,
``is_error: false`` is left out, an error's text blocks come back joined as one string.
Not kept: ``citations``, document ``context`` and ``citations`` settings, ``cache_control`` on
``tool_use``/``tool_result`` blocks.

Not expressible, left out by ``from_v2``: reasoning without a signature (Anthropic accepts only
its own signed thinking), files in assistant messages, other providers' metadata. Content a
user gave that Anthropic cannot carry is an error: files other than images, PDFs and plain
text; plain text by URL; an image of unknown type given as base64. Server tool blocks and
``file`` sources (uploads at Anthropic) are errors on input.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from memkit.formats import _v2
from memkit.formats._common import (
    b64decode,
    b64encode,
    choice,
    compact_json,
    fail,
    field,
    file_source,
    need_dict,
    need_list,
    need_str,
    provider_meta,
    str_field,
    with_provider_meta,
)
from memkit.formats.tools import ToolCall, ToolDefinition, ToolResult

_USER_BLOCKS = ("text", "image", "document", "tool_result")
_ASSISTANT_BLOCKS = ("text", "thinking", "redacted_thinking", "tool_use")


def to_v2(
    messages: Any,
    *,
    system: Any = None,
    thread_id: str,
    resource_id: str,
    new_id: Callable[[], str] | None = None,
    clock: Callable[[], datetime] | None = None,
) -> list[dict[str, Any]]:
    """Anthropic messages (and ``system``) as v2 messages of ``thread_id``/``resource_id``;
    ids from ``new_id`` (default UUID4), ``createdAt`` from ``clock`` (default now)."""
    turns = []
    if system is not None and (parts := _system_parts(system)):
        turns.append(_v2.Turn("system", parts, "system"))
    for index, message in enumerate(need_list(messages, "messages")):
        turns.extend(_read_message(message, f"messages[{index}]"))
    return _v2.build_messages(turns, _v2.Stamp(thread_id, resource_id, new_id, clock))


def from_v2(messages: Any) -> dict[str, Any]:
    """v2 messages (dicts or ``memkit.models.Message``) as ``{"system"?, "messages"}``.
    System messages, wherever they are in the conversation, go to ``system`` in order."""
    system: list[dict[str, Any]] = []
    out: list[dict[str, Any]] = []
    results_turn: dict[str, Any] | None = None  # the last user turn, when it holds tool results
    for turn in _v2.split_messages(messages):
        if turn.role == "system":
            system.extend(_text_block(part) for part, _ in turn.parts)
            continue
        if turn.role == "user":
            blocks = [_text_block(p) if p["type"] == "text" else _file_block(p, where) for p, where in turn.parts]
            if results_turn is not None and out[-1] is results_turn:
                results_turn["content"].extend(blocks)
            else:
                out.append({"role": "user", "content": _plain(blocks)})
        elif turn.role == "assistant":
            blocks = _assistant_blocks(turn)
            if blocks:
                out.append({"role": "assistant", "content": blocks})
        else:
            results_turn = {"role": "user", "content": _result_blocks(turn)}
            out.append(results_turn)
    request: dict[str, Any] = {"messages": out}
    if system:
        request["system"] = _plain(system)
    return request


def tool(definition: ToolDefinition) -> dict[str, Any]:
    """A tool for the request's ``tools`` list."""
    return {"name": definition.name, "description": definition.description, "input_schema": definition.input_schema}


def tool_calls(message: Any) -> list[ToolCall]:
    """The ``tool_use`` blocks of an assistant message (``{"role": "assistant", "content"}``)."""
    return _v2.tool_calls(_read_message(message, "message"))


def tool_result_messages(results: Sequence[ToolResult]) -> list[dict[str, Any]]:
    """The user turn carrying the results (a list of one message)."""
    return [{"role": "user", "content": _result_blocks(_v2.result_turn(results))}]


# ---------------------------------------------------------------- reading


def _system_parts(system: Any) -> list[tuple[dict[str, Any], str]]:
    if isinstance(system, str):
        return [(_v2.text_part(system), "system")]
    parts = []
    for index, block in enumerate(need_list(system, "system")):
        where = f"system[{index}]"
        choice(need_dict(block, where).get("type"), ("text",), f"{where}.type")
        parts.append((_read_text(block, where), where))
    return parts


def _read_message(message: Any, where: str) -> list[_v2.Turn]:
    message = need_dict(message, where)
    role = choice(message.get("role"), ("user", "assistant"), f"{where}.role")
    content = field(message, "content", where)
    content_path = f"{where}.content"
    if isinstance(content, str):
        return [_v2.Turn(role, [(_v2.text_part(content), content_path)], where)]
    blocks = need_list(content, content_path)
    if role == "assistant":
        return [_v2.Turn("assistant", [_read_assistant_block(b, f"{content_path}[{i}]") for i, b in enumerate(blocks)], where)]
    outcomes: list[tuple[_v2.Outcome, str]] = []
    parts: list[tuple[dict[str, Any], str]] = []
    for index, block in enumerate(blocks):
        block_path = f"{content_path}[{index}]"
        kind = choice(need_dict(block, block_path).get("type"), _USER_BLOCKS, f"{block_path}.type")
        if kind == "tool_result":
            if parts:
                fail(block_path, "tool_result blocks must come before any other content in a user turn")
            outcomes.append((_read_tool_result(block, block_path), block_path))
        else:
            parts.append((_read_text(block, block_path) if kind == "text" else _read_file(block, block_path), block_path))
    turns = [_v2.Turn("tool", outcomes, where)] if outcomes else []
    if parts or not outcomes:
        turns.append(_v2.Turn("user", parts, where))
    return turns


def _read_text(block: dict[str, Any], where: str) -> dict[str, Any]:
    return _cache_control(_v2.text_part(str_field(block, "text", where)), block)


def _cache_control(part: dict[str, Any], block: dict[str, Any]) -> dict[str, Any]:
    return with_provider_meta(part, "anthropic", cacheControl=block.get("cache_control"))


def _read_file(block: dict[str, Any], where: str) -> dict[str, Any]:
    source_path = f"{where}.source"
    source = need_dict(field(block, "source", where), source_path)
    if block["type"] == "image":
        kind = choice(source.get("type"), ("base64", "url"), f"{source_path}.type")
        if kind == "url":
            part = _v2.file_part("image/*", str_field(source, "url", source_path))
        else:
            part = _v2.file_part(str_field(source, "media_type", source_path, non_empty=True), str_field(source, "data", source_path))
        return _cache_control(part, block)
    kind = choice(source.get("type"), ("base64", "url", "text"), f"{source_path}.type")
    title = None if block.get("title") is None else need_str(block["title"], f"{where}.title")
    if kind == "url":
        part = _v2.file_part("application/pdf", str_field(source, "url", source_path), title)
    elif kind == "text":
        part = _v2.file_part("text/plain", b64encode(str_field(source, "data", source_path).encode()), title)
    else:
        part = _v2.file_part(str_field(source, "media_type", source_path, non_empty=True), str_field(source, "data", source_path), title)
    return _cache_control(part, block)


def _read_assistant_block(block: Any, where: str) -> tuple[dict[str, Any], str]:
    kind = choice(need_dict(block, where).get("type"), _ASSISTANT_BLOCKS, f"{where}.type")
    if kind == "text":
        return _read_text(block, where), where
    if kind == "thinking":
        detail = _v2.reasoning_text(str_field(block, "thinking", where), str_field(block, "signature", where))
        return _v2.reasoning_part([detail]), where
    if kind == "redacted_thinking":
        return _v2.reasoning_part([{"type": "redacted", "data": str_field(block, "data", where)}]), where
    call = _v2.tool_call_part(
        str_field(block, "id", where, non_empty=True),
        str_field(block, "name", where, non_empty=True),
        need_dict(field(block, "input", where), f"{where}.input"),
    )
    return call, where


def _read_tool_result(block: dict[str, Any], where: str) -> _v2.Outcome:
    call_id = str_field(block, "tool_use_id", where, non_empty=True)
    content = block.get("content")
    content_path = f"{where}.content"
    blocks: list[dict[str, Any]] = []
    if content is not None and not isinstance(content, str):
        for index, item in enumerate(need_list(content, content_path)):
            item_path = f"{content_path}[{index}]"
            kind = choice(need_dict(item, item_path).get("type"), ("text", "image", "document"), f"{item_path}.type")
            blocks.append(_read_text(item, item_path) if kind == "text" else _v2.file_result_block(_read_file(item, item_path)))
    if block.get("is_error"):
        if isinstance(content, str) or content is None:
            return _v2.Outcome(call_id, error=content or "")
        if any(b["type"] != "text" for b in blocks):
            fail(content_path, "an error result (is_error) must hold text only")
        return _v2.Outcome(call_id, error="\n".join(b["text"] for b in blocks))
    if content is None or isinstance(content, str):
        return _v2.Outcome(call_id, result=content or "")
    return _v2.Outcome(call_id, result={"content": blocks})


# ---------------------------------------------------------------- writing


def _plain(blocks: list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    """A lone text block without cache_control is written as a plain string."""
    if len(blocks) == 1 and blocks[0]["type"] == "text" and "cache_control" not in blocks[0]:
        return blocks[0]["text"]
    return blocks


def _text_block(part: dict[str, Any]) -> dict[str, Any]:
    return _with_cache_control({"type": "text", "text": part["text"]}, part)


def _with_cache_control(block: dict[str, Any], part: dict[str, Any]) -> dict[str, Any]:
    cache_control = provider_meta(part, "anthropic").get("cacheControl")
    if cache_control is not None:
        block["cache_control"] = cache_control
    return block


def _file_block(part: dict[str, Any], where: str) -> dict[str, Any]:
    mime_type = part["mimeType"]
    kind, data = file_source(part, where)
    if mime_type.startswith("image/"):
        if kind == "url":
            source = {"type": "url", "url": data}
        elif mime_type == "image/*":
            fail(f"{where}.mimeType", "Anthropic needs the media type of a base64 image (image/png, image/jpeg, ...)")
        else:
            source = {"type": "base64", "media_type": mime_type, "data": data}
        return _with_cache_control({"type": "image", "source": source}, part)
    if mime_type == "application/pdf":
        source = {"type": "url", "url": data} if kind == "url" else {"type": "base64", "media_type": mime_type, "data": data}
    elif mime_type == "text/plain" and kind == "base64":
        try:
            text = b64decode(data, f"{where}.data").decode("utf-8")
        except UnicodeDecodeError:
            fail(f"{where}.data", "must be UTF-8 text: Anthropic takes plain-text documents as text")
        source = {"type": "text", "media_type": "text/plain", "data": text}
    else:
        fail(where, f"Anthropic takes images, PDFs and plain text (as content, not by URL); got {mime_type}")
    block: dict[str, Any] = {"type": "document", "source": source}
    if part.get("filename") is not None:
        block["title"] = part["filename"]
    return _with_cache_control(block, part)


def _assistant_blocks(turn: _v2.Turn) -> list[dict[str, Any]]:
    blocks = []
    for part, _ in turn.parts:
        kind = part["type"]
        if kind == "text":
            blocks.append(_text_block(part))
        elif kind == "reasoning":
            for detail in part["details"]:
                if detail["type"] == "redacted":
                    blocks.append({"type": "redacted_thinking", "data": detail["data"]})
                elif detail.get("signature"):
                    blocks.append({"type": "thinking", "thinking": detail["text"], "signature": detail["signature"]})
        elif kind == "tool-invocation":
            invocation = part["toolInvocation"]
            blocks.append({
                "type": "tool_use",
                "id": invocation["toolCallId"],
                "name": invocation["toolName"],
                "input": invocation.get("args") or {},
            })
    return blocks


def _result_blocks(turn: _v2.Turn) -> list[dict[str, Any]]:
    blocks = []
    for outcome, where in turn.parts:
        block: dict[str, Any] = {"type": "tool_result", "tool_use_id": outcome.call_id}
        if outcome.error is not None:
            block["content"] = outcome.error
            block["is_error"] = True
        else:
            block["content"] = _result_content(outcome.result, where)
        blocks.append(block)
    return blocks


def _result_content(value: Any, where: str) -> str | list[dict[str, Any]]:
    if isinstance(value, str):
        return value
    blocks = _v2.result_blocks(value)
    if blocks is None:
        return compact_json(value)
    content = []
    for index, block in enumerate(blocks):
        block_path = f"{where}.toolInvocation.result.content[{index}]"
        if block["type"] == "text":
            str_field(block, "text", block_path)
            content.append(_text_block(block))
        elif block["type"] == "json":
            content.append({"type": "text", "text": compact_json(block.get("json"))})
        else:
            content.append(_file_block(_v2.block_as_file(block, block_path), block_path))
    return content
