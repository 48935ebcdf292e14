"""The working-memory tool (Mastra's ``updateWorkingMemory``) and the instructions around it.

An agent with ``workingMemory.enabled`` gives its model one tool and a system text:

- ``definition(config)``: the tool. Markdown agents (a ``template``, or the default one) take
  ``{"memory": "<the whole Markdown document>"}``, which replaces what is stored. Schema agents
  take ``{"memory": <an object of the agent's JSON schema>}``, which is merged into what is
  stored. Render it with a format module's ``tool()``: ``openai_chat.tool(definition(config))``.
- ``instructions(config, working_memory)``: the system text, with the template and the current
  working memory.
- ``parse_tool_call(call, config)``: the model's call as a ``WorkingMemoryUpdate``: the
  Markdown text that replaces the memory, or the JSON object to merge. Like Mastra it accepts
  a JSON string for a schema agent's object, and an object sent without the ``memory`` wrapper.
- ``next_working_memory(current, update, template=...)``: what the stored text becomes, with
  Mastra's rules: a Markdown update that is only the empty template does not replace real
  content; a JSON update merges object by object, ``null`` removes a field, a list replaces the
  stored list.
- ``handle_tool_call(call, config, apply)``: parse, hand the update to ``apply`` (the storage
  write) and answer the model with a ``ToolResult`` (bad input or a refused write becomes an
  error result the model can act on). Send it back with a format module's
  ``tool_result_messages([...])``.

``apply`` is where memkit's ``Memory`` plugs in, for example::

    handle_tool_call(call, config, lambda update: memory.update_working_memory(
        thread_id=thread_id, resource_id=resource_id, working_memory=update.value))
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from typing import Any, Literal, NamedTuple

from memkit.config import MemoryConfig, WorkingMemoryConfig
from memkit.errors import ValidationError
from memkit.formats._common import compact_json
from memkit.formats.tools import ToolCall, ToolDefinition, ToolResult
from memkit.models import parse_model

TOOL_NAME = "updateWorkingMemory"

_MARKDOWN_DESCRIPTION = (
    "Replace the working memory with new content. Pass the complete Markdown document in "
    "`memory` as a string: whatever you leave out is removed."
)
_JSON_DESCRIPTION = (
    "Update the working memory. `memory` is merged into what is stored: include only the "
    "fields you add or change and omit the others to keep them; set a field to null to "
    "remove it. A list you send replaces the stored list, so send all of its items."
)


class WorkingMemoryUpdate(NamedTuple):
    format: Literal["markdown", "json"]
    # markdown: the complete new text, which replaces the stored one;
    # json: the object to merge into the stored one.
    value: str | dict[str, Any]


def definition(config: WorkingMemoryConfig | MemoryConfig | dict[str, Any] | None = None) -> ToolDefinition:
    wm = _working_memory_config(config)
    if wm.format == "markdown":
        memory = {
            "type": "string",
            "description": "The complete working memory as Markdown, in the template's structure. A string, never an object.",
        }
        return ToolDefinition(TOOL_NAME, _MARKDOWN_DESCRIPTION, _object_schema(memory))
    memory = copy.deepcopy(wm.schema_)
    memory.pop("$schema", None)  # a nested schema may not declare its dialect
    memory.setdefault("description", "The fields of the working memory to add, change or remove (null).")
    return ToolDefinition(TOOL_NAME, _JSON_DESCRIPTION, _object_schema(memory))


def _object_schema(memory: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": {"memory": memory}, "required": ["memory"], "additionalProperties": False}


def instructions(
    config: WorkingMemoryConfig | MemoryConfig | dict[str, Any] | None = None, working_memory: str | None = None
) -> str:
    """The system text for an agent's model: how to keep the working memory, its template and
    what is stored now (``working_memory``, empty when nothing is)."""
    wm = _working_memory_config(config)
    if wm.format == "markdown":
        template = wm.effective_template.strip()
        how = (
            "- Call updateWorkingMemory with one argument, `memory`: the complete Markdown document "
            "as a string. It replaces what is stored, so send every section of the template, the "
            "unchanged and the empty ones too, and keep its headings and list structure."
        )
    else:
        template = json.dumps(wm.schema_, indent=2, ensure_ascii=False)
        how = (
            "- Call updateWorkingMemory with one argument, `memory`: a JSON object matching the "
            "schema below that holds only what changed. It is merged into what is stored: fields "
            "you omit stay, a field set to null is removed, a list you send replaces the stored "
            "list whole."
        )
    return f"""WORKING_MEMORY_SYSTEM_INSTRUCTION:
You have a working memory: notes that stay with you across turns and conversations even when
the earlier messages are no longer in your context. Keep it current with the
updateWorkingMemory tool.

When to update:
- As soon as the user tells you something worth knowing later (who they are, preferences,
  goals, plans, facts about their situation), in the same response.
- When something stored is no longer true. If nothing changed, do not call the tool.
- Something not being relevant to the current topic is no reason to remove it: the memory
  serves every conversation with this user.

How to update:
{how}
- Keep it to yourself: do not mention the working memory to the user, and do not ask for
  personal details only to fill it in.

<working_memory_template>
{template}
</working_memory_template>

<working_memory_data>
{working_memory or ""}
</working_memory_data>"""


def parse_tool_call(
    call: ToolCall, config: WorkingMemoryConfig | MemoryConfig | dict[str, Any] | None = None
) -> WorkingMemoryUpdate | None:
    """The update a model's ``updateWorkingMemory`` call asks for; None when it asks for no
    change (a schema agent's empty or missing object)."""
    if call.name != TOOL_NAME:
        raise ValidationError(f"tool call {call.id} calls {call.name!r}, not {TOOL_NAME}", field="name")
    wm = _working_memory_config(config)
    args = call.args
    if wm.format == "markdown":
        if args.get("memory") is None:
            raise ValidationError(f"{TOOL_NAME}.memory is required: the complete Markdown document", field="memory")
        memory = args["memory"]
        # Mastra stores what a model sent as an object as its JSON text; the model sees it next turn.
        return WorkingMemoryUpdate("markdown", memory if isinstance(memory, str) else compact_json(memory))
    if "memory" in args:
        memory = args["memory"]
    else:
        # Some models send the object itself, without the wrapper, and fill the optional
        # fields they leave alone with null, which would remove them.
        memory = _without_optional_nulls(args, wm.schema_ or {}) if args else None
    if isinstance(memory, str):
        try:
            memory = json.loads(memory)
        except json.JSONDecodeError as exc:
            raise ValidationError(f"{TOOL_NAME}.memory is not valid JSON: {exc.msg} at character {exc.pos}", field="memory") from None
    if memory is None or memory == {}:
        return None
    if not isinstance(memory, dict):
        raise ValidationError(f"{TOOL_NAME}.memory must be a JSON object, got {type(memory).__name__}", field="memory")
    return WorkingMemoryUpdate("json", memory)


def next_working_memory(current: str | None, update: WorkingMemoryUpdate, *, template: str | None = None) -> str | None:
    """The stored text after ``update``; None when the update must not be applied (a Markdown
    update that is only the empty ``template`` over real content)."""
    if update.format == "markdown":
        text = update.value
        if template and current and _squashed(text) == _squashed(template) != _squashed(current):
            return None
        return text
    stored: Any = None
    if current and current.strip():
        try:
            stored = json.loads(current)
        except json.JSONDecodeError:
            stored = None  # Markdown left from before the agent had a schema: start over
    return json.dumps(merge(stored if isinstance(stored, dict) else {}, update.value), ensure_ascii=False)


def merge(stored: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Mastra's merge for schema working memory: objects merge key by key, ``null`` removes the
    key, lists and scalars replace."""
    merged = dict(stored)
    for key, value in update.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def handle_tool_call(
    call: ToolCall,
    config: WorkingMemoryConfig | MemoryConfig | dict[str, Any] | None,
    apply: Callable[[WorkingMemoryUpdate], object],
) -> ToolResult:
    """Parse ``call``, pass the update to ``apply`` and say how it went, as the tool result to
    send back. Bad input (from the model or refused by ``apply``) is an error result naming
    the problem, so the model can correct itself; any other failure propagates."""
    try:
        update = parse_tool_call(call, config)
        if update is None:
            return ToolResult(call.id, {"success": True, "message": "Nothing to update; the working memory is unchanged."})
        apply(update)
    except ValidationError as exc:
        return ToolResult(call.id, str(exc), is_error=True)
    return ToolResult(call.id, {"success": True})


def _working_memory_config(config: Any) -> WorkingMemoryConfig:
    if config is None:
        return WorkingMemoryConfig()
    if isinstance(config, MemoryConfig):
        return config.working_memory
    if isinstance(config, WorkingMemoryConfig):
        return config
    return parse_model(WorkingMemoryConfig, config, what="workingMemory")


def _squashed(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _without_optional_nulls(value: Any, schema: dict[str, Any]) -> Any:
    if isinstance(value, list):
        return [_without_optional_nulls(item, schema.get("items") or {}) for item in value]
    if not isinstance(value, dict):
        return value
    properties = schema.get("properties") or {}
    required = set(schema.get("required") or ())
    return {
        key: _without_optional_nulls(item, properties.get(key) or {})
        for key, item in value.items()
        if item is not None or key in required
    }
