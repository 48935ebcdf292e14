"""What a span's attributes say in the OpenTelemetry GenAI semantic conventions, in Mastra's terms.

OpenTelemetry describes an agent's work with ``gen_ai.*`` attributes (``gen_ai.operation.name``,
``gen_ai.request.model``, ``gen_ai.usage.input_tokens``, ``gen_ai.tool.name``, ...); Mastra's
span records say the same with a ``spanType``, an entity, ``input``/``output`` and typed
``attributes`` (``model``, ``provider``, ``usage: {inputTokens, ...}``, ``parameters``). This
module reads the first into the second. It also reads what Mastra's own OtelExporter writes
(``mastra.span.type`` and ``mastra.<type>.input``), so a Mastra app exporting to memkit over
OTLP gets its span types back exactly, and the older conventions instrumentations still emit
(``gen_ai.system``, ``gen_ai.prompt``/``gen_ai.completion``, the message events).

Message content moves into ``input``/``output`` and is removed from the attributes kept as
metadata (``consumed_keys``, ``consumed_events``), so a long prompt is stored once. Every other
attribute stays in metadata as sent. docs/otlp.md lists the mapping.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from memkit.errors import ValidationError
from memkit.models.limits import loads
from memkit.models import validate_id

# Mastra's SpanType values (@mastra/core observability): a ``mastra.span.type`` among them is
# taken as it is.
MASTRA_SPAN_TYPES = frozenset(
    {
        "agent_run", "scorer_run", "scorer_step", "generic", "model_generation", "model_step",
        "model_inference", "model_chunk", "mcp_tool_call", "processor_run", "tool_call",
        "client_tool_call", "provider_tool_call", "workflow_run", "workflow_step",
        "workflow_conditional", "workflow_conditional_eval", "workflow_parallel", "workflow_loop",
        "workflow_sleep", "workflow_wait_event", "memory_operation", "workspace_action",
        "rag_ingestion", "rag_embedding", "rag_vector_operation", "rag_action", "graph_action",
        "mapping", "skill_resolution", "skill_action", "agent_signal",
    }
)  # fmt: skip

GENERIC = "generic"
# gen_ai.operation.name (semantic conventions' well-known values) -> Mastra span type.
SPAN_TYPE_BY_OPERATION = {
    "invoke_agent": "agent_run",
    "chat": "model_generation",
    "text_completion": "model_generation",
    "generate_content": "model_generation",
    "embeddings": "rag_embedding",
    "retrieval": "rag_vector_operation",
    "execute_tool": "tool_call",
    "invoke_workflow": "workflow_run",
}
_TOOL_TYPES = frozenset({"tool_call", "mcp_tool_call", "client_tool_call", "provider_tool_call"})
_MODEL_TYPES = frozenset({"model_generation", "model_step", "model_inference", "rag_embedding"})

# (Mastra attribute, semantic-convention keys, first present wins: current name before deprecated).
_MODEL_ATTRIBUTES = (
    ("model", ("gen_ai.request.model", "gen_ai.response.model")),
    ("provider", ("gen_ai.provider.name", "gen_ai.system")),
    ("responseModel", ("gen_ai.response.model",)),
    ("responseId", ("gen_ai.response.id",)),
    ("streaming", ("gen_ai.request.stream",)),
    ("serverAddress", ("server.address",)),
    ("serverPort", ("server.port",)),
    ("conversationId", ("gen_ai.conversation.id",)),
    ("toolCallId", ("gen_ai.tool.call.id",)),
    ("toolDescription", ("gen_ai.tool.description",)),
    ("toolType", ("gen_ai.tool.type",)),
)
_PARAMETERS = (
    ("temperature", ("gen_ai.request.temperature",)),
    ("maxOutputTokens", ("gen_ai.request.max_tokens",)),
    ("topP", ("gen_ai.request.top_p",)),
    ("topK", ("gen_ai.request.top_k",)),
    ("presencePenalty", ("gen_ai.request.presence_penalty",)),
    ("frequencyPenalty", ("gen_ai.request.frequency_penalty",)),
    ("stopSequences", ("gen_ai.request.stop_sequences",)),
    ("seed", ("gen_ai.request.seed",)),
)
_USAGE = (
    ("inputTokens", ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens")),
    ("outputTokens", ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens")),
)
_INPUT_DETAILS = (
    ("cacheRead", ("gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens")),
    ("cacheWrite", ("gen_ai.usage.cache_creation.input_tokens", "gen_ai.usage.cache_creation_input_tokens")),
    ("audio", ("gen_ai.usage.audio_input_tokens",)),
)
_OUTPUT_DETAILS = (
    ("reasoning", ("gen_ai.usage.reasoning.output_tokens", "gen_ai.usage.reasoning_tokens")),
    ("audio", ("gen_ai.usage.audio_output_tokens",)),
)
# Top-level span record fields Mastra correlates by (spanContextFields).
_CONTEXT = (
    ("threadId", ("gen_ai.conversation.id",)),
    ("sessionId", ("session.id",)),
    ("userId", ("user.id", "enduser.id")),
)

# Content attributes, in the order they are looked for; each becomes input or output.
_INPUT_KEYS = (
    "gen_ai.input.messages",
    "gen_ai.tool.call.arguments",
    "gen_ai.retrieval.query.text",
    "gen_ai.prompt",
    "gen_ai.tool.input",
    "input.value",
)
_OUTPUT_KEYS = (
    "gen_ai.output.messages",
    "gen_ai.tool.call.result",
    "gen_ai.retrieval.documents",
    "gen_ai.completion",
    "gen_ai.tool.output",
    "output.value",
)
_INSTRUCTIONS_KEY = "gen_ai.system_instructions"
# Older instrumentations (OpenLLMetry) flatten messages: gen_ai.prompt.0.role, gen_ai.prompt.0.content.
_INDEXED = re.compile(r"^gen_ai\.(prompt|completion)\.(\d+)\.(.+)$")
# The conventions' earlier message events; their content is the span's input or output.
_INPUT_EVENTS = {
    "gen_ai.system.message": "system",
    "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant",
    "gen_ai.tool.message": "tool",
}
_OUTPUT_EVENT = "gen_ai.choice"
# Events that carry content attributes as a span would (gen_ai.input.messages, gen_ai.prompt).
_CONTENT_EVENTS = frozenset(
    {"gen_ai.client.inference.operation.details", "gen_ai.content.prompt", "gen_ai.content.completion"}
)


@dataclass
class Meaning:
    span_type: str = GENERIC
    entity_type: str | None = None
    entity_id: str | None = None
    input: Any = None
    output: Any = None
    #: Mastra's typed attributes (model, provider, usage, parameters, ...).
    attributes: dict[str, Any] = field(default_factory=dict)
    #: Further top-level span fields: entityName, threadId, sessionId, userId.
    context: dict[str, Any] = field(default_factory=dict)
    #: Attributes and events whose content now lives in input, output or attributes.
    consumed_keys: set[str] = field(default_factory=set)
    consumed_events: set[int] = field(default_factory=set)


def interpret(attributes: Mapping[str, Any], events: Sequence[Mapping[str, Any]]) -> Meaning:
    meaning = Meaning()
    meaning.span_type = _span_type(attributes)
    _entity(meaning, attributes)
    _content(meaning, attributes, events)
    typed = _pick(attributes, _MODEL_ATTRIBUTES)
    if "gen_ai.response.finish_reasons" in attributes:
        reasons = _json(attributes["gen_ai.response.finish_reasons"])
        reason = reasons[0] if isinstance(reasons, list) and reasons else reasons
        if isinstance(reason, str) and reason:
            typed["finishReason"] = reason
    parameters = _pick(attributes, _PARAMETERS)
    if isinstance(parameters.get("stopSequences"), str):
        parameters["stopSequences"] = _json(parameters["stopSequences"])
    if parameters:
        typed["parameters"] = parameters
    usage = _pick(attributes, _USAGE)
    for name, keys in (("inputDetails", _INPUT_DETAILS), ("outputDetails", _OUTPUT_DETAILS)):
        details = _pick(attributes, keys)
        if details:
            usage[name] = details
    if usage:
        typed["usage"] = usage
    meaning.attributes.update(typed)
    meaning.context.update(_pick(attributes, _CONTEXT))
    return meaning


def _span_type(attributes: Mapping[str, Any]) -> str:
    mastra_type = attributes.get("mastra.span.type")
    if mastra_type in MASTRA_SPAN_TYPES:
        return mastra_type
    operation = attributes.get("gen_ai.operation.name")
    if isinstance(operation, str) and operation in SPAN_TYPE_BY_OPERATION:
        return SPAN_TYPE_BY_OPERATION[operation]
    if operation is not None:
        # An operation the conventions do not list (create_agent, a vendor's own): still GenAI
        # work, but of no type Mastra has.
        return GENERIC
    # No operation name: the attributes present say what the span did.
    if "gen_ai.tool.name" in attributes:
        return "tool_call"
    if any(key in attributes for key in ("gen_ai.request.model", "gen_ai.provider.name", "gen_ai.system")):
        return "model_generation"
    if "gen_ai.agent.name" in attributes or "gen_ai.agent.id" in attributes:
        return "agent_run"
    if "gen_ai.workflow.name" in attributes:
        return "workflow_run"
    return GENERIC


def _entity(meaning: Meaning, attributes: Mapping[str, Any]) -> None:
    """Mastra's entity: the agent a run or a model call belongs to, the tool called, the
    workflow run. ``entityId`` must be a valid memkit id (it is filterable); a name that is not
    one ("Math Tutor") is kept as ``entityName`` only."""
    agent_id, agent_name = _text(attributes.get("gen_ai.agent.id")), _text(attributes.get("gen_ai.agent.name"))
    if meaning.span_type in _TOOL_TYPES:
        kind, candidates, name = "tool", (attributes.get("gen_ai.tool.name"),), attributes.get("gen_ai.tool.name")
    elif meaning.span_type in ("workflow_run", "workflow_step"):
        workflow = attributes.get("gen_ai.workflow.name")
        kind, candidates, name = meaning.span_type, (workflow,), workflow
    elif meaning.span_type == "agent_run" or (meaning.span_type in _MODEL_TYPES and (agent_id or agent_name)):
        kind, candidates, name = "agent", (agent_id, agent_name), agent_name
    else:
        return
    meaning.entity_type = kind
    meaning.entity_id = next((value for value in map(_as_id, candidates) if value), None)
    if _text(name):
        meaning.context["entityName"] = name


def _content(meaning: Meaning, attributes: Mapping[str, Any], events: Sequence[Mapping[str, Any]]) -> None:
    sources: dict[str, Any] = dict(attributes)
    # Content carried on events counts as the span's own, unless the span has it already.
    for index, event in enumerate(events):
        if event["name"] in _CONTENT_EVENTS:
            for key, value in event["attributes"].items():
                sources.setdefault(key, value)
            meaning.consumed_events.add(index)
    mastra_type = meaning.span_type
    input_keys = (*_INPUT_KEYS[:1], f"mastra.{mastra_type}.input", *_INPUT_KEYS[1:])
    output_keys = (*_OUTPUT_KEYS[:1], f"mastra.{mastra_type}.output", *_OUTPUT_KEYS[1:])
    meaning.input = _first_content(sources, input_keys, meaning.consumed_keys)
    meaning.output = _first_content(sources, output_keys, meaning.consumed_keys)
    if meaning.input is None:
        meaning.input = _indexed(attributes, "prompt", meaning.consumed_keys)
    if meaning.output is None:
        meaning.output = _indexed(attributes, "completion", meaning.consumed_keys)
    if meaning.input is None:
        meaning.input = _message_events(events, meaning.consumed_events) or None
    if meaning.output is None:
        choices = [_event_body(event) for event in events if event["name"] == _OUTPUT_EVENT]
        if choices:
            meaning.output = choices
            meaning.consumed_events.update(i for i, event in enumerate(events) if event["name"] == _OUTPUT_EVENT)
    if _INSTRUCTIONS_KEY in sources:
        meaning.attributes["instructions"] = _json(sources[_INSTRUCTIONS_KEY])
        meaning.consumed_keys.add(_INSTRUCTIONS_KEY)
    # An event's content keys are not span attributes: nothing to remove for them.
    meaning.consumed_keys &= set(attributes)


def _first_content(sources: Mapping[str, Any], keys: Sequence[str], consumed: set[str]) -> Any:
    for key in keys:
        if key in sources and sources[key] is not None:
            consumed.add(key)
            return _json(sources[key])
    return None


def _indexed(attributes: Mapping[str, Any], kind: str, consumed: set[str]) -> list[dict[str, Any]] | None:
    """``gen_ai.prompt.0.role`` / ``gen_ai.prompt.0.content`` ... as a list of messages."""
    messages: dict[int, dict[str, Any]] = {}
    for key, value in attributes.items():
        match = _INDEXED.match(key)
        if match and match.group(1) == kind:
            messages.setdefault(int(match.group(2)), {})[match.group(3)] = _json(value)
            consumed.add(key)
    return [messages[index] for index in sorted(messages)] or None


def _message_events(events: Sequence[Mapping[str, Any]], consumed: set[int]) -> list[dict[str, Any]]:
    messages = []
    for index, event in enumerate(events):
        role = _INPUT_EVENTS.get(event["name"])
        if role is not None:
            messages.append({"role": role, **_event_body(event)})
            consumed.add(index)
    return messages


def _event_body(event: Mapping[str, Any]) -> dict[str, Any]:
    """A message event's attributes without the namespace they repeat (gen_ai.system)."""
    return {key: _json(value) for key, value in event["attributes"].items() if key not in ("gen_ai.system", "gen_ai.provider.name")}


def _pick(attributes: Mapping[str, Any], names: Sequence[tuple[str, Sequence[str]]]) -> dict[str, Any]:
    picked = {}
    for name, keys in names:
        value = next((attributes[key] for key in keys if attributes.get(key) is not None), None)
        if value is not None:
            picked[name] = value
    return picked


def _json(value: Any) -> Any:
    """Structured content the conventions send as JSON text (messages, tool arguments) as the
    value it spells; anything else as it is."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return loads(value, "content")
        except (ValueError, ValidationError):
            # Not JSON after all, or JSON no store keeps (too deep, NaN): the text is kept.
            return value
    return value


def _as_id(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return validate_id(value, "entityId")
    except ValidationError:
        # Not usable as an id (spaces, too long): the caller keeps it as a name instead.
        return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
