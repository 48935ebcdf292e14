"""Amazon Bedrock Converse (``system`` + ``messages``) <-> Mastra v2 messages.

``to_v2(messages, system=..., thread_id=..., resource_id=...)`` reads a Converse request's
``messages`` and ``system``; ``from_v2(v2_messages)`` returns ``{"system": [...], "messages":
[...]}`` (``system`` only when there is one), ready for ``client.converse(modelId=...,
**request)``. Binary content (image and document bytes, redacted reasoning) is read as
``bytes`` or base64 text and written as ``bytes`` (boto3) or, with ``binary="base64"``, as
base64 text (the HTTP API's JSON). Shared rules: ``memkit.formats._v2``.

Mapping (a content block is an object with one key):

=========================================  ============================================================
Converse                                   v2
=========================================  ============================================================
``system`` ``[{text}]``                    a ``system`` message first, one ``text`` part per block
``text``                                   ``text`` part
``image`` {format, source: bytes}          ``file`` part ``image/<format>``, base64
``image`` source ``s3Location``            ``file`` part with the ``s3://`` URI (``bucketOwner`` in
                                           ``providerMetadata.bedrock``)
``document`` {format, name, source}        ``file`` part (format <-> media type), ``name`` <-> ``filename``
``reasoningContent.reasoningText``         ``reasoning`` part, detail ``{type: text, text, signature?}``
``reasoningContent.redactedContent``       ``reasoning`` part, detail ``{type: redacted, data: base64}``
``toolUse`` (``toolUseId`` kept)           ``tool-invocation`` part
``toolResult`` in the next user turn       the call's invocation: one ``text`` block is a string, one
                                           ``json`` block is its value, anything else
                                           ``{"content": [...]}``; ``status: error`` gives state
                                           ``output-error`` with the text as ``errorText``
``cachePoint`` after a text, file,         ``providerMetadata.bedrock.cachePoint`` on that part
reasoning or toolUse block
=========================================  ============================================================

Converse wants turns to alternate, so ``from_v2`` merges consecutive messages of one role into
one turn (tool results and the user message after them share a turn, as do two assistant
steps with no tool results between them; on the way back these become one message and one
step). Tool results must open their user turn.

Normalised on a round trip (Converse -> v2 -> Converse): binary comes back as ``bytes`` (or
base64 with ``binary="base64"``); ``status: success`` is left out; an error's text blocks come
back joined as one text block; an empty ``toolResult`` content comes back as one empty text
block. Not kept: ``cachePoint`` after a ``toolResult`` or at the start of a turn.

Not expressible, left out by ``from_v2``: files in assistant messages, other providers'
metadata. Content a user gave that Converse cannot carry is an error: images or documents by
http(s) URL (Converse takes bytes or S3 locations), image and document types outside its
lists. A document needs a name: a file part without ``filename`` is named ``document-<n>``,
and characters Converse does not allow in names become ``-``. ``video``, ``guardContent``,
``citationsContent`` and document ``text``/``content`` sources are errors on input.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Literal

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

Binary = Literal["bytes", "base64"]

_IMAGE_FORMATS = {"png": "image/png", "jpeg": "image/jpeg", "gif": "image/gif", "webp": "image/webp"}
_DOCUMENT_FORMATS = {
    "pdf": "application/pdf",
    "csv": "text/csv",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xls": "application/vnd.ms-excel",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "html": "text/html",
    "txt": "text/plain",
    "md": "text/markdown",
}
_FORMAT_OF = {mime: name for name, mime in {**_IMAGE_FORMATS, **_DOCUMENT_FORMATS}.items()}
_USER_BLOCKS = ("text", "image", "document", "toolResult", "cachePoint")
_ASSISTANT_BLOCKS = ("text", "reasoningContent", "toolUse", "cachePoint")
_NAME_FORBIDDEN = re.compile(r"[^A-Za-z0-9\s()\[\]-]")


def to_v2(
    messages: Any,
    *,
    system: Any = None,
    thread_id: str,
    resource_id: str,
    new_id: Callable[[], str] | None = None,
    clock: Callable[[], datetime] | None = None,
) -> list[dict[str, Any]]:
    """Converse messages (and ``system``) as v2 messages of ``thread_id``/``resource_id``;
    ids from ``new_id`` (default UUID4), ``createdAt`` from ``clock`` (default now)."""
    turns = []
    if system is not None and (parts := _read_blocks(need_list(system, "system"), "system", ("text", "cachePoint"))):
        turns.append(_v2.Turn("system", parts, "system"))
    for index, message in enumerate(need_list(messages, "messages")):
        turns.extend(_read_message(message, f"messages[{index}]"))
    return _v2.build_messages(turns, _v2.Stamp(thread_id, resource_id, new_id, clock))


def from_v2(messages: Any, *, binary: Binary = "bytes") -> dict[str, Any]:
    """v2 messages (dicts or ``memkit.models.Message``) as ``{"system"?, "messages"}``.
    System messages, wherever they are in the conversation, go to ``system`` in order."""
    writer = _Writer(choice(binary, ("bytes", "base64"), "binary"))
    system: list[dict[str, Any]] = []
    out: list[dict[str, Any]] = []
    for turn in _v2.split_messages(messages):
        if turn.role == "system":
            system.extend(block for part, where in turn.parts for block in writer.part(part, where))
            continue
        if turn.role == "tool":
            role, content = "user", writer.results(turn)
        else:
            role = turn.role
            content = [block for part, where in turn.parts for block in writer.part(part, where)]
        if not content:
            continue
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(content)
        else:
            out.append({"role": role, "content": content})
    request: dict[str, Any] = {"messages": out}
    if system:
        request["system"] = system
    return request


def tool(definition: ToolDefinition) -> dict[str, Any]:
    """A tool for ``toolConfig.tools``."""
    return {
        "toolSpec": {
            "name": definition.name,
            "description": definition.description,
            "inputSchema": {"json": definition.input_schema},
        }
    }


def tool_calls(message: Any) -> list[ToolCall]:
    """The ``toolUse`` blocks of an assistant message (``response["output"]["message"]``)."""
    return _v2.tool_calls(_read_message(message, "message"))


def tool_result_messages(results: Sequence[ToolResult], *, binary: Binary = "bytes") -> list[dict[str, Any]]:
    """The user turn carrying the results (a list of one message)."""
    return [{"role": "user", "content": _Writer(binary).results(_v2.result_turn(results))}]


# ---------------------------------------------------------------- reading


def _read_message(message: Any, where: str) -> list[_v2.Turn]:
    message = need_dict(message, where)
    role = choice(message.get("role"), ("user", "assistant"), f"{where}.role")
    content_path = f"{where}.content"
    blocks = need_list(field(message, "content", where), content_path)
    if role == "assistant":
        return [_v2.Turn("assistant", _read_blocks(blocks, content_path, _ASSISTANT_BLOCKS), where)]
    results = 0
    while results < len(blocks) and _kind(blocks[results], f"{content_path}[{results}]", _USER_BLOCKS) == "toolResult":
        results += 1
    parts = _read_blocks(blocks[results:], content_path, _USER_BLOCKS, offset=results)
    turns = []
    if results:
        outcomes = [(_read_tool_result(blocks[i]["toolResult"], f"{content_path}[{i}].toolResult"), f"{content_path}[{i}]") for i in range(results)]
        turns.append(_v2.Turn("tool", outcomes, where))
    if parts or not results:
        turns.append(_v2.Turn("user", parts, where))
    return turns


def _kind(block: Any, where: str, allowed: tuple[str, ...]) -> str:
    keys = list(need_dict(block, where))
    if len(keys) != 1:
        fail(where, f"a content block holds exactly one of {', '.join(allowed)}; got {', '.join(keys) or 'nothing'}")
    return choice(keys[0], allowed, f"{where}.{keys[0]}")


def _read_blocks(blocks: list[Any], path: str, allowed: tuple[str, ...], offset: int = 0) -> list[tuple[dict[str, Any], str]]:
    parts: list[tuple[dict[str, Any], str]] = []
    for index, block in enumerate(blocks, start=offset):
        where = f"{path}[{index}]"
        kind = _kind(block, where, allowed)
        value = block[kind]
        inner = f"{where}.{kind}"
        if kind == "cachePoint":
            # Kept on the block it follows; one at the start of a turn marks nothing stored.
            if parts:
                with_provider_meta(parts[-1][0], "bedrock", cachePoint=need_dict(value, inner))
            continue
        if kind == "toolResult":
            fail(where, "toolResult blocks must come before any other content in a user turn")
        if kind == "text":
            part = _v2.text_part(need_str(value, inner))
        elif kind in ("image", "document"):
            part = _read_file(kind, need_dict(value, inner), inner)
        elif kind == "reasoningContent":
            part = _v2.reasoning_part([_read_reasoning(need_dict(value, inner), inner)])
        else:
            value = need_dict(value, inner)
            part = _v2.tool_call_part(
                str_field(value, "toolUseId", inner, non_empty=True),
                str_field(value, "name", inner, non_empty=True),
                need_dict(field(value, "input", inner), f"{inner}.input"),
            )
        parts.append((part, where))
    return parts


def _read_file(kind: str, block: dict[str, Any], where: str) -> dict[str, Any]:
    formats = _IMAGE_FORMATS if kind == "image" else _DOCUMENT_FORMATS
    mime_type = formats[choice(block.get("format"), tuple(formats), f"{where}.format")]
    source_path = f"{where}.source"
    source = need_dict(field(block, "source", where), source_path)
    source_kind = _kind(source, source_path, ("bytes", "s3Location"))
    name = str_field(block, "name", where, non_empty=True) if kind == "document" else None
    if source_kind == "bytes":
        return _v2.file_part(mime_type, _read_bytes(source["bytes"], f"{source_path}.bytes"), name)
    location = need_dict(source["s3Location"], f"{source_path}.s3Location")
    part = _v2.file_part(mime_type, str_field(location, "uri", f"{source_path}.s3Location", non_empty=True), name)
    owner = location.get("bucketOwner")
    return with_provider_meta(part, "bedrock", bucketOwner=None if owner is None else need_str(owner, f"{source_path}.s3Location.bucketOwner"))


def _read_bytes(value: Any, where: str) -> str:
    if isinstance(value, (bytes, bytearray)):
        return b64encode(bytes(value))
    b64decode(need_str(value, where), where)
    return value


def _read_reasoning(block: dict[str, Any], where: str) -> dict[str, Any]:
    kind = _kind(block, where, ("reasoningText", "redactedContent"))
    if kind == "redactedContent":
        return {"type": "redacted", "data": _read_bytes(block[kind], f"{where}.redactedContent")}
    text = need_dict(block[kind], f"{where}.reasoningText")
    signature = text.get("signature")
    return _v2.reasoning_text(
        str_field(text, "text", f"{where}.reasoningText"),
        None if signature is None else need_str(signature, f"{where}.reasoningText.signature"),
    )


def _read_tool_result(block: Any, where: str) -> _v2.Outcome:
    block = need_dict(block, where)
    call_id = str_field(block, "toolUseId", where, non_empty=True)
    status = choice(block.get("status", "success"), ("success", "error"), f"{where}.status")
    content: list[dict[str, Any]] = []
    for index, item in enumerate(need_list(field(block, "content", where), f"{where}.content")):
        item_path = f"{where}.content[{index}]"
        kind = _kind(item, item_path, ("text", "json", "image", "document"))
        if kind == "text":
            content.append(_v2.text_part(need_str(item["text"], f"{item_path}.text")))
        elif kind == "json":
            content.append({"type": "json", "json": item["json"]})
        else:
            content.append(_v2.file_result_block(_read_file(kind, need_dict(item[kind], f"{item_path}.{kind}"), f"{item_path}.{kind}")))
    if status == "error":
        if any(b["type"] not in ("text", "json") for b in content):
            fail(f"{where}.content", "an error result must hold text or json only")
        return _v2.Outcome(call_id, error="\n".join(b["text"] if b["type"] == "text" else compact_json(b["json"]) for b in content))
    if not content:
        return _v2.Outcome(call_id, result="")
    if len(content) == 1 and content[0]["type"] in ("text", "json"):
        only = content[0]
        return _v2.Outcome(call_id, result=only["text"] if only["type"] == "text" else only["json"])
    return _v2.Outcome(call_id, result={"content": content})


# ---------------------------------------------------------------- writing


class _Writer:
    def __init__(self, binary: Binary) -> None:
        self.binary = binary
        self.unnamed_documents = 0

    def binary_out(self, data: str, where: str) -> bytes | str:
        return b64decode(data, where) if self.binary == "bytes" else data

    def part(self, part: dict[str, Any], where: str) -> list[dict[str, Any]]:
        """The blocks of one v2 part: the block and the cachePoint that follows it."""
        kind = part["type"]
        if kind == "text":
            blocks = [{"text": part["text"]}]
        elif kind == "file":
            blocks = [self.file(part, where)]
        elif kind == "reasoning":
            blocks = [{"reasoningContent": self.reasoning(detail, where)} for detail in part["details"]]
        elif kind == "tool-invocation":
            invocation = part["toolInvocation"]
            blocks = [{"toolUse": {"toolUseId": invocation["toolCallId"], "name": invocation["toolName"], "input": invocation.get("args") or {}}}]
        else:
            blocks = []
        cache_point = provider_meta(part, "bedrock").get("cachePoint")
        if blocks and cache_point is not None:
            blocks.append({"cachePoint": cache_point})
        return blocks

    def file(self, part: dict[str, Any], where: str) -> dict[str, Any]:
        mime_type = part["mimeType"]
        if mime_type not in _FORMAT_OF:
            fail(f"{where}.mimeType", f"Converse takes images ({', '.join(_IMAGE_FORMATS)}) and documents ({', '.join(_DOCUMENT_FORMATS)}), not {mime_type}")
        kind, data = file_source(part, where)
        if kind == "url":
            if not data.startswith("s3://"):
                fail(f"{where}.data", "Converse takes files as bytes or s3:// locations, not http(s) URLs")
            location = {"uri": data}
            owner = provider_meta(part, "bedrock").get("bucketOwner")
            if owner is not None:
                location["bucketOwner"] = owner
            source: dict[str, Any] = {"s3Location": location}
        else:
            source = {"bytes": self.binary_out(data, f"{where}.data")}
        if mime_type.startswith("image/"):
            return {"image": {"format": _FORMAT_OF[mime_type], "source": source}}
        return {"document": {"format": _FORMAT_OF[mime_type], "name": self.document_name(part.get("filename")), "source": source}}

    def document_name(self, filename: Any) -> str:
        if isinstance(filename, str) and filename.strip():
            return re.sub(r"\s+", " ", _NAME_FORBIDDEN.sub("-", filename)).strip()
        self.unnamed_documents += 1
        return f"document-{self.unnamed_documents}"

    def reasoning(self, detail: dict[str, Any], where: str) -> dict[str, Any]:
        if detail["type"] == "redacted":
            return {"redactedContent": self.binary_out(detail["data"], f"{where}.details")}
        text = {"text": detail["text"]}
        if detail.get("signature"):
            text["signature"] = detail["signature"]
        return {"reasoningText": text}

    def results(self, turn: _v2.Turn) -> list[dict[str, Any]]:
        blocks = []
        for outcome, where in turn.parts:
            result: dict[str, Any] = {"toolUseId": outcome.call_id}
            if outcome.error is not None:
                result["content"] = [{"text": outcome.error}]
                result["status"] = "error"
            else:
                result["content"] = self.result_content(outcome.result, where)
            blocks.append({"toolResult": result})
        return blocks

    def result_content(self, value: Any, where: str) -> list[dict[str, Any]]:
        if isinstance(value, str):
            return [{"text": value}]
        blocks = _v2.result_blocks(value)
        if blocks is None:
            return [{"json": value}]
        content = []
        for index, block in enumerate(blocks):
            block_path = f"{where}.toolInvocation.result.content[{index}]"
            if block["type"] == "text":
                content.append({"text": str_field(block, "text", block_path)})
            elif block["type"] == "json":
                content.append({"json": block.get("json")})
            else:
                content.append(self.file(_v2.block_as_file(block, block_path), block_path))
        return content
