"""Mastra v2 messages <-> turns, the neutral sequence every format module reads and writes.

A turn is what one provider message (or run of Responses items) says: ``system`` or ``user``
content, one ``assistant`` step (text, reasoning, tool calls), or ``tool`` results. The rules
that tie turns to v2 messages live here once, for all formats:

- **Merging (provider -> v2).** Consecutive assistant turns and the tool results between them
  become one v2 assistant message, as Mastra stores them: each result is written into its call's
  ``tool-invocation`` part (state ``result``, or ``output-error`` with ``errorText`` when the
  tool failed), and every assistant turn after the first starts with a ``step-start`` part.
  A result with no waiting call before it is an error.
- **Splitting (v2 -> provider).** An assistant message splits into steps at ``step-start``
  parts and where a tool invocation's ``step`` number changes; each step is an assistant turn
  (its tool invocations as calls) followed by a tool turn with the results it has. A call that
  has no result yet (state ``call``/``partial-call``) is written as a call with no result.
- **Stamps.** Messages made from provider input get ``threadId``/``resourceId`` from the caller,
  ids from the caller's factory (default: UUID4) and ``createdAt`` from the caller's clock
  (default: now), moved 1 ms past the previous message when the clock has not advanced, so
  the conversation keeps its order when stored.
- **Legacy v2 fields.** A message without text parts takes ``content.content`` as its text;
  ``content.toolInvocations`` missing from the parts are added; ``experimental_attachments``
  become file parts when the message has none. Output always carries everything in ``parts``.
- **Parts no provider takes** (``source``, ``data-*``, ``step-start`` as content, unknown
  types) are left out when writing provider messages, as are messages with role ``signal``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from memkit.formats._common import (
    choice,
    fail,
    file_source,
    is_url,
    need_dict,
    need_list,
    need_str,
    parse_data_url,
    str_field,
)
from memkit.formats.tools import ToolCall, ToolResult
from memkit.models import format_ts, to_ms, utc_now, validate_id

ROLES = ("user", "assistant", "system", "signal")
STATES = ("partial-call", "call", "result", "output-error")
# Content blocks of a rich tool result, ``{"content": [...]}`` (MCP's shape, as Mastra reads
# it; ``file`` and ``json`` are memkit's for documents, image URLs and Bedrock's json blocks).
RESULT_BLOCK_TYPES = ("text", "image", "file", "json")


class Outcome(NamedTuple):
    """A tool's answer to one call: ``result`` when it succeeded, ``error`` text when not."""

    call_id: str
    result: Any = None
    error: str | None = None


class Turn(NamedTuple):
    role: str  # system | user | assistant | tool
    # (v2 part, where it came from); a tool turn holds (Outcome, where) instead.
    parts: list[tuple[Any, str]]
    path: str


# ---------------------------------------------------------------- provider -> v2


class Stamp:
    """Gives new v2 messages their thread, resource, id and createdAt."""

    def __init__(
        self,
        thread_id: str,
        resource_id: str,
        new_id: Callable[[], str] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.thread_id = validate_id(thread_id, "threadId")
        self.resource_id = validate_id(resource_id, "resourceId")
        self._new_id = new_id or (lambda: str(uuid.uuid4()))
        self._clock = clock or utc_now
        self._last: datetime | None = None

    def message(self, role: str) -> dict[str, Any]:
        created = to_ms(self._clock())
        if self._last is not None and created <= self._last:
            created = self._last + timedelta(milliseconds=1)
        self._last = created
        return {
            "id": validate_id(self._new_id(), "message id"),
            "threadId": self.thread_id,
            "resourceId": self.resource_id,
            "role": role,
            "type": "v2",
            "createdAt": format_ts(created),
            "content": {"format": 2, "parts": []},
        }


def build_messages(turns: Iterable[Turn], stamp: Stamp) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    assistant: dict[str, Any] | None = None  # the v2 assistant message being assembled
    for turn in turns:
        if turn.role == "assistant":
            if assistant is None:
                assistant = stamp.message("assistant")
                messages.append(assistant)
            elif assistant["content"]["parts"]:
                assistant["content"]["parts"].append({"type": "step-start"})
            assistant["content"]["parts"].extend(part for part, _ in turn.parts)
        elif turn.role == "tool":
            if assistant is None:
                fail(turn.path, "tool results must follow the assistant turn that called the tools")
            for outcome, where in turn.parts:
                _attach(assistant["content"]["parts"], outcome, where)
        else:
            assistant = None
            message = stamp.message(turn.role)
            message["content"]["parts"].extend(part for part, _ in turn.parts)
            messages.append(message)
    return messages


def _attach(parts: list[dict[str, Any]], outcome: Outcome, where: str) -> None:
    for part in reversed(parts):
        invocation = part.get("toolInvocation") if part.get("type") == "tool-invocation" else None
        if invocation and invocation["toolCallId"] == outcome.call_id and invocation["state"] == "call":
            if outcome.error is None:
                invocation["state"] = "result"
                invocation["result"] = outcome.result
            else:
                invocation["state"] = "output-error"
                invocation["errorText"] = outcome.error
            return
    fail(where, f"no tool call with id {outcome.call_id!r} is waiting for this result")


def tool_call_part(call_id: str, name: str, args: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "tool-invocation",
        "toolInvocation": {"state": "call", "toolCallId": call_id, "toolName": name, "args": args},
    }


def text_part(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def file_part(mime_type: str, data: str, filename: str | None = None) -> dict[str, Any]:
    part = {"type": "file", "mimeType": mime_type, "data": data}
    if filename is not None:
        part["filename"] = filename
    return part


def reasoning_part(details: list[dict[str, Any]]) -> dict[str, Any]:
    # ``reasoning`` stays empty and the text lives in ``details``, as Mastra stores it (the text
    # is not kept twice).
    return {"type": "reasoning", "reasoning": "", "details": details}


def reasoning_text(text: str, signature: str | None = None) -> dict[str, Any]:
    detail = {"type": "text", "text": text}
    if signature is not None:
        detail["signature"] = signature
    return detail


# ---------------------------------------------------------------- v2 -> provider


def split_messages(messages: Any, path: str = "messages") -> list[Turn]:
    turns: list[Turn] = []
    for index, raw in enumerate(need_list(messages, path)):
        where = f"{path}[{index}]"
        message = _wire(raw, where)
        role = choice(message.get("role"), ROLES, f"{where}.role")
        parts = _parts(message, where)
        if role == "signal":
            continue
        if role == "assistant":
            turns.extend(_assistant_turns(parts, where))
            continue
        allowed = ("text",) if role == "system" else ("text", "file")
        kept = []
        for part, part_path in parts:
            kind = part["type"]
            if kind in allowed:
                kept.append((part, part_path))
            elif kind in ("text", "file", "reasoning", "tool-invocation"):
                fail(f"{part_path}.type", f"a {role} message cannot hold a {kind} part")
        turns.append(Turn(role, kept, where))
    return turns


def _wire(raw: Any, where: str) -> dict[str, Any]:
    to_wire = getattr(raw, "to_wire", None)
    return to_wire() if callable(to_wire) else need_dict(raw, where)


def _parts(message: dict[str, Any], where: str) -> list[tuple[dict[str, Any], str]]:
    content = message.get("content")
    if isinstance(content, str):
        return [(text_part(content), f"{where}.content")]
    content = need_dict(content, f"{where}.content")
    located = [
        (_checked_part(part, f"{where}.content.parts[{i}]"), f"{where}.content.parts[{i}]")
        for i, part in enumerate(need_list(content.get("parts", []), f"{where}.content.parts"))
    ]
    legacy_text = content.get("content")
    if isinstance(legacy_text, str) and legacy_text and not any(p["type"] == "text" for p, _ in located):
        located.insert(0, (text_part(legacy_text), f"{where}.content.content"))
    seen_calls = {p["toolInvocation"]["toolCallId"] for p, _ in located if p["type"] == "tool-invocation"}
    invocations_path = f"{where}.content.toolInvocations"
    for i, invocation in enumerate(need_list(content.get("toolInvocations") or [], invocations_path)):
        invocation_path = f"{invocations_path}[{i}]"
        _checked_invocation(invocation, invocation_path)
        if invocation["toolCallId"] not in seen_calls:
            located.append(({"type": "tool-invocation", "toolInvocation": invocation}, invocation_path))
    if not any(p["type"] == "file" for p, _ in located):
        attachments_path = f"{where}.content.experimental_attachments"
        for i, attachment in enumerate(need_list(content.get("experimental_attachments") or [], attachments_path)):
            attachment_path = f"{attachments_path}[{i}]"
            located.append((_attachment_part(attachment, attachment_path), attachment_path))
    return located


def _checked_part(part: Any, where: str) -> dict[str, Any]:
    part = need_dict(part, where)
    kind = need_str(part.get("type"), f"{where}.type", non_empty=True)
    if kind == "text":
        str_field(part, "text", where)
    elif kind == "file":
        str_field(part, "mimeType", where, non_empty=True)
        file_source(part, where)
    elif kind == "reasoning":
        details = need_list(part.get("details") or [], f"{where}.details")
        for i, detail in enumerate(details):
            detail_path = f"{where}.details[{i}]"
            detail_kind = choice(need_dict(detail, detail_path).get("type"), ("text", "redacted"), f"{detail_path}.type")
            str_field(detail, "text" if detail_kind == "text" else "data", detail_path)
        summary = part.get("reasoning")
        if not any(d["type"] == "text" for d in details) and isinstance(summary, str) and summary:
            # AI SDK v4 kept reasoning as a plain string; it is one unsigned detail.
            part = {**part, "details": [reasoning_text(summary), *details]}
    elif kind == "tool-invocation":
        _checked_invocation(part.get("toolInvocation"), f"{where}.toolInvocation")
    return part


def _checked_invocation(invocation: Any, where: str) -> None:
    invocation = need_dict(invocation, where)
    str_field(invocation, "toolCallId", where, non_empty=True)
    str_field(invocation, "toolName", where, non_empty=True)
    choice(invocation.get("state"), STATES, f"{where}.state")
    if invocation.get("args") is not None:
        need_dict(invocation["args"], f"{where}.args")
    if invocation["state"] == "output-error" and invocation.get("errorText") is not None:
        need_str(invocation["errorText"], f"{where}.errorText")


def _attachment_part(attachment: Any, where: str) -> dict[str, Any]:
    attachment = need_dict(attachment, where)
    url = str_field(attachment, "url", where)
    if url.startswith("data:"):
        mime_type, data = parse_data_url(url, f"{where}.url")
        return file_part(mime_type, data, attachment.get("name"))
    return file_part(str_field(attachment, "contentType", where, non_empty=True), url, attachment.get("name"))


def _assistant_turns(parts: list[tuple[dict[str, Any], str]], where: str) -> list[Turn]:
    steps: list[list[tuple[dict[str, Any], str]]] = [[]]
    step_number: int | None = None
    for part, part_path in parts:
        kind = part["type"]
        if kind == "step-start":
            if steps[-1]:
                steps.append([])
            continue
        if kind == "tool-invocation":
            number = part["toolInvocation"].get("step")
            if isinstance(number, int):
                if step_number is not None and number != step_number and steps[-1]:
                    steps.append([])
                step_number = number
        if kind in ("text", "reasoning", "file", "tool-invocation"):
            steps[-1].append((part, part_path))
    turns = []
    for step in steps:
        if not step:
            continue
        turns.append(Turn("assistant", step, where))
        outcomes = [
            (_outcome(part["toolInvocation"]), part_path)
            for part, part_path in step
            if part["type"] == "tool-invocation" and part["toolInvocation"]["state"] in ("result", "output-error")
        ]
        if outcomes:
            turns.append(Turn("tool", outcomes, where))
    return turns


def _outcome(invocation: dict[str, Any]) -> Outcome:
    if invocation["state"] == "output-error":
        return Outcome(invocation["toolCallId"], error=invocation.get("errorText") or "")
    # Mastra stores an absent result as "" (AI SDK rejects undefined).
    result = invocation.get("result")
    return Outcome(invocation["toolCallId"], result="" if result is None else result)


# ---------------------------------------------------------------- tool results and calls


def result_blocks(value: Any) -> list[dict[str, Any]] | None:
    """The blocks of a rich result ``{"content": [...]}``; None for any other value."""
    if not (isinstance(value, dict) and list(value) == ["content"] and isinstance(value["content"], list)):
        return None
    blocks = value["content"]
    if blocks and all(isinstance(b, dict) and b.get("type") in RESULT_BLOCK_TYPES for b in blocks):
        return blocks
    return None


def image_result_block(mime_type: str, data: str) -> dict[str, Any]:
    return {"type": "image", "data": data, "mimeType": mime_type}


def block_as_file(block: dict[str, Any], where: str) -> dict[str, Any]:
    """An ``image`` block of a rich result as the v2 file part the format writers take."""
    if block["type"] == "image":
        return file_part(str_field(block, "mimeType", where), str_field(block, "data", where))
    str_field(block, "mimeType", where, non_empty=True)
    file_source(block, where)
    return block


def file_result_block(part: dict[str, Any]) -> dict[str, Any]:
    """A file part read from a provider's tool result, as a rich-result block: base64 images as
    MCP ``image`` blocks (what Mastra's tools produce), anything else as a ``file`` block."""
    if part["mimeType"].startswith("image/") and not is_url(part["data"]):
        return image_result_block(part["mimeType"], part["data"])
    return part


def tool_calls(turns: Iterable[Turn]) -> list[ToolCall]:
    return [
        ToolCall(inv["toolCallId"], inv["toolName"], inv.get("args") or {})
        for turn in turns
        if turn.role == "assistant"
        for part, _ in turn.parts
        if part["type"] == "tool-invocation"
        for inv in (part["toolInvocation"],)
    ]


def result_turn(results: Sequence[ToolResult]) -> Turn:
    outcomes = []
    for index, result in enumerate(results):
        where = f"results[{index}]"
        need_str(result.call_id, f"{where}.call_id", non_empty=True)
        if result.is_error:
            outcomes.append((Outcome(result.call_id, error=need_str(result.value, f"{where}.value")), where))
        else:
            outcomes.append((Outcome(result.call_id, result=result.value), where))
    return Turn("tool", outcomes, "results")
