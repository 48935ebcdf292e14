"""OpenAI Responses API input items <-> Mastra v2 messages.

``to_v2(items, thread_id=..., resource_id=...)`` reads an ``input`` list (previous output items
included); ``from_v2(v2_messages)`` writes one. Shared rules: ``memkit.formats._v2``. The items
of one model step (reasoning, assistant message, function calls) form one assistant turn; the
``function_call_output`` items after them are its tool results.

Mapping:

========================================  ============================================================
Responses                                 v2
========================================  ============================================================
``message`` system / developer            ``system`` message, one ``text`` part per ``input_text``
``message`` user: ``input_text``          ``text`` part
``input_image`` (URL or data URL)         ``file`` part (``image/*`` for a URL); ``detail`` other
                                          than ``auto`` in ``providerMetadata.openai.imageDetail``
``input_file`` ``file_data`` / ``file_url``  ``file`` part (the data URL's type; a URL is
                                          ``application/octet-stream``), ``filename``
``message`` assistant: ``output_text``    ``text`` part; the item ``id`` in
                                          ``providerMetadata.openai.itemId``, non-empty
                                          ``annotations`` in ``providerMetadata.openai.annotations``;
                                          ``refusal`` is a text part with ``openai.refusal: true``
``reasoning`` (``summary``)               ``reasoning`` part, one text detail per summary text;
                                          ``id`` and ``encrypted_content`` in
                                          ``providerMetadata.openai`` (``itemId``,
                                          ``reasoningEncryptedContent``)
``function_call`` (``call_id`` kept)      ``tool-invocation`` part; ``arguments`` parsed to ``args``;
                                          the item ``id`` in ``providerMetadata.openai.itemId``
``function_call_output``                  the call's invocation, state ``result``: a string stays a
                                          string, a content list becomes ``{"content": [...]}``
========================================  ============================================================

Normalised on a round trip (Responses -> v2 -> Responses): every item comes back with its
``type``; ``developer`` comes back as ``system``; user and system content that is one
``input_text`` comes back as a string and assistant content as ``output_text`` parts; an image
without ``detail`` comes back with ``"auto"``; consecutive assistant text parts with the same
item id (or none) come back as one message item; ``arguments`` are re-serialised as compact
JSON. Not kept: item ``status``, empty ``annotations``, ``function_call_output`` ids, a
reasoning item's raw ``content``.

Not expressible, left out by ``from_v2``: reasoning without an OpenAI item id (from other
providers; a reasoning item needs its id), redacted reasoning, files in assistant messages,
other providers' metadata. A tool error goes as its error text, a structured result as its JSON
text. Errors on input: other item types (``item_reference``, built-in tool calls, ...) and
``file_id`` references (memkit stores content).
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

_ITEMS = ("message", "reasoning", "function_call", "function_call_output")
_ROLES = ("user", "system", "developer", "assistant")
_URL_FILE_TYPE = "application/octet-stream"


def to_v2(
    items: Any,
    *,
    thread_id: str,
    resource_id: str,
    new_id: Callable[[], str] | None = None,
    clock: Callable[[], datetime] | None = None,
) -> list[dict[str, Any]]:
    """Responses input items as v2 messages of ``thread_id``/``resource_id``; ids from
    ``new_id`` (default UUID4), ``createdAt`` from ``clock`` (default now), kept increasing."""
    return _v2.build_messages(_read(items, "input"), _v2.Stamp(thread_id, resource_id, new_id, clock))


def from_v2(messages: Any) -> list[dict[str, Any]]:
    """v2 messages (dicts or ``memkit.models.Message``) as Responses input items."""
    items: list[dict[str, Any]] = []
    for turn in _v2.split_messages(messages):
        if turn.role in ("system", "user"):
            items.append({"type": "message", "role": turn.role, "content": _input_content(turn)})
        elif turn.role == "assistant":
            items.extend(_assistant_items(turn))
        else:
            items.extend(_output_items(turn))
    return items


def tool(definition: ToolDefinition) -> dict[str, Any]:
    """A function tool for the request's ``tools`` list (not strict: agent schemas rarely meet
    strict mode's rules)."""
    return {
        "type": "function",
        "name": definition.name,
        "description": definition.description,
        "parameters": definition.input_schema,
        "strict": False,
    }


def tool_calls(items: Any) -> list[ToolCall]:
    """The function calls among a response's ``output`` items."""
    return _v2.tool_calls(_read(items, "output"))


def tool_result_messages(results: Sequence[ToolResult]) -> list[dict[str, Any]]:
    """One ``function_call_output`` item per result."""
    return _output_items(_v2.result_turn(results))


# ---------------------------------------------------------------- reading


def _read(items: Any, path: str) -> list[_v2.Turn]:
    turns: list[_v2.Turn] = []
    for index, item in enumerate(need_list(items, path)):
        where = f"{path}[{index}]"
        item = need_dict(item, where)
        kind = choice(item.get("type", "message" if "role" in item else None), _ITEMS, f"{where}.type")
        if kind == "message":
            role = choice(item.get("role"), _ROLES, f"{where}.role")
            if role != "assistant":
                turns.append(_v2.Turn("system" if role == "developer" else role, _input_parts(item, role, where), where))
                continue
            parts = _assistant_parts(item, where)
        elif kind == "reasoning":
            parts = [(_reasoning_part(item, where), where)]
        elif kind == "function_call":
            part = _v2.tool_call_part(
                str_field(item, "call_id", where, non_empty=True),
                str_field(item, "name", where, non_empty=True),
                parse_arguments(field(item, "arguments", where), f"{where}.arguments"),
            )
            parts = [(with_provider_meta(part, "openai", itemId=_item_id(item, where)), where)]
        else:
            outcome = _v2.Outcome(str_field(item, "call_id", where, non_empty=True), result=_output_value(field(item, "output", where), f"{where}.output"))
            if turns and turns[-1].role == "tool":
                turns[-1].parts.append((outcome, where))
            else:
                turns.append(_v2.Turn("tool", [(outcome, where)], where))
            continue
        # Assistant-side items of one step accumulate into one turn.
        if turns and turns[-1].role == "assistant":
            turns[-1].parts.extend(parts)
        else:
            turns.append(_v2.Turn("assistant", parts, where))
    return turns


def _item_id(item: dict[str, Any], where: str) -> str | None:
    return None if item.get("id") is None else need_str(item["id"], f"{where}.id")


def _input_parts(item: dict[str, Any], role: str, where: str) -> list[tuple[dict[str, Any], str]]:
    content = field(item, "content", where)
    content_path = f"{where}.content"
    if isinstance(content, str):
        return [(_v2.text_part(content), content_path)]
    allowed = ("input_text",) if role in ("system", "developer") else ("input_text", "input_image", "input_file")
    parts = []
    for index, block in enumerate(need_list(content, content_path)):
        block_path = f"{content_path}[{index}]"
        parts.append((_input_block(block, block_path, allowed), block_path))
    return parts


def _input_block(block: Any, where: str, allowed: tuple[str, ...]) -> dict[str, Any]:
    kind = choice(need_dict(block, where).get("type"), allowed, f"{where}.type")
    if kind == "input_text":
        return _v2.text_part(str_field(block, "text", where))
    if block.get("file_id") is not None:
        fail(f"{where}.file_id", "refers to a file uploaded to OpenAI; memkit stores content, give the data or a URL")
    if kind == "input_image":
        url = str_field(block, "image_url", where)
        if url.startswith("data:"):
            part = _v2.file_part(*parse_data_url(url, f"{where}.image_url"))
        elif is_url(url):
            part = _v2.file_part("image/*", url)
        else:
            fail(f"{where}.image_url", "must be an http(s) URL or a base64 data URL")
        detail = block.get("detail")
        if detail is None or need_str(detail, f"{where}.detail") == "auto":
            return part  # "auto" is what an image without detail gets: nothing to remember
        return with_provider_meta(part, "openai", imageDetail=detail)
    filename = block.get("filename")
    filename = None if filename is None else need_str(filename, f"{where}.filename")
    if block.get("file_url") is not None:
        return _v2.file_part(_URL_FILE_TYPE, need_str(block["file_url"], f"{where}.file_url"), filename)
    mime_type, data = parse_data_url(str_field(block, "file_data", where), f"{where}.file_data")
    return _v2.file_part(mime_type, data, filename)


def _assistant_parts(item: dict[str, Any], where: str) -> list[tuple[dict[str, Any], str]]:
    item_id = _item_id(item, where)
    content = field(item, "content", where)
    content_path = f"{where}.content"
    if isinstance(content, str):
        return [(with_provider_meta(_v2.text_part(content), "openai", itemId=item_id), content_path)]
    parts = []
    for index, block in enumerate(need_list(content, content_path)):
        block_path = f"{content_path}[{index}]"
        kind = choice(need_dict(block, block_path).get("type"), ("output_text", "input_text", "refusal"), f"{block_path}.type")
        if kind == "refusal":
            part = with_provider_meta(_v2.text_part(str_field(block, "refusal", block_path)), "openai", refusal=True)
        else:
            part = _v2.text_part(str_field(block, "text", block_path))
            annotations = block.get("annotations")
            if annotations:
                with_provider_meta(part, "openai", annotations=need_list(annotations, f"{block_path}.annotations"))
        parts.append((with_provider_meta(part, "openai", itemId=item_id), block_path))
    return parts


def _reasoning_part(item: dict[str, Any], where: str) -> dict[str, Any]:
    details = []
    for index, summary in enumerate(need_list(item.get("summary") or [], f"{where}.summary")):
        summary_path = f"{where}.summary[{index}]"
        choice(need_dict(summary, summary_path).get("type"), ("summary_text",), f"{summary_path}.type")
        details.append(_v2.reasoning_text(str_field(summary, "text", summary_path)))
    encrypted = item.get("encrypted_content")
    return with_provider_meta(
        _v2.reasoning_part(details),
        "openai",
        itemId=_item_id(item, where),
        reasoningEncryptedContent=None if encrypted is None else need_str(encrypted, f"{where}.encrypted_content"),
    )


def _output_value(output: Any, where: str) -> Any:
    if isinstance(output, str):
        return output
    blocks = []
    for index, block in enumerate(need_list(output, where)):
        part = _input_block(block, f"{where}[{index}]", ("input_text", "input_image", "input_file"))
        blocks.append(part if part["type"] == "text" else _v2.file_result_block(part))
    return {"content": blocks}


# ---------------------------------------------------------------- writing


def _input_content(turn: _v2.Turn) -> str | list[dict[str, Any]]:
    if len(turn.parts) == 1 and turn.parts[0][0]["type"] == "text":
        return turn.parts[0][0]["text"]
    return [_input_block_out(part, where) for part, where in turn.parts]


def _input_block_out(part: dict[str, Any], where: str) -> dict[str, Any]:
    if part["type"] == "text":
        return {"type": "input_text", "text": part["text"]}
    mime_type = part["mimeType"]
    kind, data = file_source(part, where)
    if mime_type.startswith("image/"):
        url = data if kind == "url" else data_url(mime_type, data)
        return {"type": "input_image", "image_url": url, "detail": provider_meta(part, "openai").get("imageDetail", "auto")}
    block: dict[str, Any] = {"type": "input_file"}
    if part.get("filename") is not None:
        block["filename"] = part["filename"]
    if kind == "url":
        block["file_url"] = data
    else:
        block["file_data"] = data_url(mime_type, data)
    return block


def _assistant_items(turn: _v2.Turn) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    message: dict[str, Any] | None = None  # the assistant message item that text parts join
    for part, _ in turn.parts:
        openai = provider_meta(part, "openai")
        kind = part["type"]
        if kind == "text":
            item_id = openai.get("itemId")
            if message is None or message.get("id") != item_id:
                message = {"type": "message", "role": "assistant", "content": []}
                if item_id is not None:
                    message["id"] = item_id
                items.append(message)
            message["content"].append(_output_text(part, openai))
            continue
        message = None
        if kind == "reasoning" and openai.get("itemId") is not None:
            item = {
                "type": "reasoning",
                "id": openai["itemId"],
                "summary": [{"type": "summary_text", "text": d["text"]} for d in part["details"] if d["type"] == "text"],
            }
            if openai.get("reasoningEncryptedContent") is not None:
                item["encrypted_content"] = openai["reasoningEncryptedContent"]
            items.append(item)
        elif kind == "tool-invocation":
            invocation = part["toolInvocation"]
            item = {
                "type": "function_call",
                "call_id": invocation["toolCallId"],
                "name": invocation["toolName"],
                "arguments": compact_json(invocation.get("args") or {}),
            }
            if openai.get("itemId") is not None:
                item["id"] = openai["itemId"]
            items.append(item)
    return items


def _output_text(part: dict[str, Any], openai: dict[str, Any]) -> dict[str, Any]:
    if openai.get("refusal"):
        return {"type": "refusal", "refusal": part["text"]}
    block: dict[str, Any] = {"type": "output_text", "text": part["text"]}
    if openai.get("annotations"):
        block["annotations"] = openai["annotations"]
    return block


def _output_items(turn: _v2.Turn) -> list[dict[str, Any]]:
    return [
        {"type": "function_call_output", "call_id": outcome.call_id, "output": _output(outcome, where)}
        for outcome, where in turn.parts
    ]


def _output(outcome: _v2.Outcome, where: str) -> str | list[dict[str, Any]]:
    if outcome.error is not None:
        return outcome.error
    if isinstance(outcome.result, str):
        return outcome.result
    blocks = _v2.result_blocks(outcome.result)
    if blocks is None:
        return compact_json(outcome.result)
    output = []
    for index, block in enumerate(blocks):
        block_path = f"{where}.toolInvocation.result.content[{index}]"
        if block["type"] == "json":
            output.append({"type": "input_text", "text": compact_json(block.get("json"))})
        elif block["type"] == "text":
            output.append({"type": "input_text", "text": str_field(block, "text", block_path)})
        else:
            output.append(_input_block_out(_v2.block_as_file(block, block_path), block_path))
    return output
