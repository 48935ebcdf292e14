"""The OpenAPI 3.1 document served at ``/openapi.json``, built from the route table.

Built on the first request for it and then kept: generating JSON schemas from the pydantic
models takes tens of milliseconds, which no cold start of a memory route should pay.
Request schemas come from the operations' argument models (``memkit.operations.args``; path
parameters removed, since the URL carries them), entity schemas from the domain models in
``memkit.models``.

The document describes what the server accepts, which is more than pydantic can see: ids,
metadata keys and counts are checked by validators (``models.validate_id``,
``validate_metadata_keys``, the pagination checks), not by field types. ``_refined`` adds those
rules to every schema by property name, the way the validators apply them, and query
parameters are typed by name in ``_QUERY``/``_JSON_QUERY``, the way ``params.Query`` reads them.
A message's content is Mastra's v2 format, written out here (``_message_content_schemas``):
the model keeps parts as plain objects so that unknown fields round-trip untouched.
"""

from __future__ import annotations

import copy
import re
import threading
from typing import TYPE_CHECKING, Any

from memkit.models import FORBIDDEN_METADATA_KEYS, ID_PATTERN, MAX_ID_LENGTH, METADATA_KEY_PATTERN
from memkit.memory.search import MAX_LIMIT

if TYPE_CHECKING:
    from memkit.api.routes import ApiRoute

_lock = threading.Lock()
_document: dict[str, Any] | None = None

_PATH_PARAM = re.compile(r"{(\w+)}")
_REF = "#/components/schemas/{model}"

ERROR_STATUSES = {
    "400": "Invalid input (the message names the field)",
    "401": "Missing or invalid credentials",
    "403": "The caller may not access this resource or thread",
    "404": "Thread, resource or agent not found",
    "409": "Conflicts with existing data",
    "413": "Request body too large",
    "415": "Request body is not JSON",
    "500": "Server fault (details are logged, not returned)",
    "503": "A dependency is throttling or unavailable; retry",
}

# Both stores keep counts and offsets in signed 64-bit integers.
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

ID: dict[str, Any] = {
    "type": "string",
    "minLength": 1,
    "maxLength": MAX_ID_LENGTH,
    "pattern": ID_PATTERN.pattern,
    "description": f"An id: at most {MAX_ID_LENGTH} URL-safe characters (A-Z a-z 0-9 _ - . : @ ~)",
}
METADATA: dict[str, Any] = {
    "type": "object",
    "propertyNames": {
        "pattern": METADATA_KEY_PATTERN.pattern,
        "maxLength": 128,
        "not": {"enum": sorted(FORBIDDEN_METADATA_KEYS)},
    },
}
COUNT: dict[str, Any] = {"type": "integer", "minimum": 0, "maximum": INT64_MAX}
INTEGER: dict[str, Any] = {"type": "integer", "minimum": INT64_MIN, "maximum": INT64_MAX}

# Properties, wherever they appear, that the validators check as ids, metadata or counts.
_ID_PROPERTIES = frozenset({"id", "threadId", "resourceId", "newThreadId", "sourceThreadId", "messageIds"})
_COUNT_PROPERTIES = frozenset(
    {"page", "total", "messageLimit", "withPreviousMessages", "withNextMessages"}
)
_RULES: dict[str, dict[str, Any]] = {
    **{name: ID for name in _ID_PROPERTIES},
    **{name: COUNT for name in _COUNT_PROPERTIES},
    "metadata": METADATA,
}

PER_PAGE: dict[str, Any] = {
    "description": "Page size; false returns everything (page 0 only), a negative size means the default",
    "anyOf": [INTEGER, {"const": False}],
}

# Query parameters by name, as params.Query reads them. A route naming a parameter that is in
# neither table fails the document's build (and its test), so none goes out untyped.
_QUERY: dict[str, dict[str, Any]] = {
    "agentId": {"type": "string"},
    "resourceId": ID,
    "threadId": ID,
    "page": COUNT,
    "perPage": PER_PAGE,
    "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
    "includeSystemReminders": {"type": "boolean"},
    "orderBy[field]": {"enum": ["createdAt", "updatedAt"]},
    "orderBy[direction]": {"enum": ["ASC", "DESC"]},
    "searchQuery": {"type": "string"},
}
# Parameters sent as JSON text in the query string.
_JSON_QUERY: dict[str, dict[str, Any]] = {
    "metadata": METADATA,
    "orderBy": {"$ref": _REF.format(model="OrderBy")},
    "filter": {"$ref": _REF.format(model="MessageFilter")},
    "include": {"type": "array", "items": {"$ref": _REF.format(model="IncludeItem")}},
    "memoryConfig": {"type": "object"},
}


def openapi_json(routes: list[ApiRoute]) -> dict[str, Any]:
    global _document
    with _lock:
        if _document is None:
            _document = build_document(routes)
        return _document


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF.format(model=name)}


def _object(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


# ---------------------------------------------------------------- schemas


def _constrained(schema: Any, rule: dict[str, Any]) -> Any:
    """``schema`` with ``rule`` applied to each of its leaves of the rule's type (through
    unions and arrays: a nullable id, a list of ids)."""
    if not isinstance(schema, dict):
        return schema
    if "anyOf" in schema:
        return {**schema, "anyOf": [_constrained(option, rule) for option in schema["anyOf"]]}
    if schema.get("type") == "array" and rule["type"] != "array":
        return {**schema, "items": _constrained(schema.get("items", {}), rule)}
    if schema.get("type") == rule["type"]:
        refined = {**schema, **rule}
        if "description" in schema:
            refined["description"] = schema["description"]
        return refined
    return schema


def _refined(node: Any) -> Any:
    """A pydantic schema with the validators' rules: ids, metadata keys, counts, and 64-bit
    bounds on every other integer."""
    if isinstance(node, list):
        return [_refined(value) for value in node]
    if not isinstance(node, dict):
        return node
    refined = {key: _refined(value) for key, value in node.items()}
    if refined.get("type") == "integer":
        refined = {**INTEGER, **refined}
    properties = refined.get("properties")
    if isinstance(properties, dict):
        refined["properties"] = {
            name: _constrained(schema, _RULES[name]) if name in _RULES else schema
            for name, schema in properties.items()
        }
    return refined


def _part(part_type: str, properties: dict[str, Any] | None = None, required: list[str] | None = None) -> dict[str, Any]:
    # Parts may carry more than these fields (providerMetadata, a provider's extras): kept as sent.
    return {
        "type": "object",
        "properties": {"type": {"const": part_type}, **(properties or {})},
        "required": ["type", *(required or [])],
    }


def _message_content_schemas() -> dict[str, dict[str, Any]]:
    """Mastra's v2 message content (the AI SDK's UI message parts), by part type."""
    text = {"type": "string"}
    tool_invocation = {
        "type": "object",
        "properties": {
            "state": {"enum": ["partial-call", "call", "result"]},
            "toolCallId": text,
            "toolName": text,
            "args": {},
            "result": {},
            "step": {"type": "integer", "minimum": 0, "maximum": INT64_MAX},
        },
        "required": ["state", "toolCallId", "toolName", "args"],
    }
    reasoning_detail = {
        "oneOf": [
            _part("text", {"text": text, "signature": text}, ["text"]),
            _part("redacted", {"data": text}, ["data"]),
        ]
    }
    parts = {
        "TextPart": _part("text", {"text": text}, ["text"]),
        "ToolInvocationPart": _part("tool-invocation", {"toolInvocation": _ref("ToolInvocation")}, ["toolInvocation"]),
        "ReasoningPart": _part(
            "reasoning", {"reasoning": text, "details": {"type": "array", "items": reasoning_detail}}, ["reasoning", "details"]
        ),
        "FilePart": _part(
            "file", {"mimeType": text, "data": {"type": "string", "description": "base64, or a URL"}}, ["mimeType", "data"]
        ),
        "SourcePart": _part(
            "source",
            {
                "source": {
                    "type": "object",
                    "properties": {"sourceType": {"const": "url"}, "id": text, "url": text, "title": text},
                    "required": ["sourceType", "id", "url"],
                }
            },
            ["source"],
        ),
        "StepStartPart": _part("step-start"),
        "DataPart": {
            "type": "object",
            "description": "An application's own data part (data-<name>), stored as sent",
            "properties": {"type": {"type": "string", "pattern": "^data-"}, "data": {}},
            "required": ["type"],
        },
    }
    content = {
        "type": "object",
        "description": "Mastra's v2 message content. Fields not named here are kept and returned as sent.",
        "properties": {
            "format": {"const": 2},
            "parts": {"type": "array", "items": {"oneOf": [_ref(name) for name in parts]}},
            "content": {"type": "string", "description": "The message's plain text (legacy)"},
            "metadata": {"type": "object"},
            "reasoning": text,
            "toolInvocations": {"type": "array", "items": _ref("ToolInvocation")},
            "annotations": {"type": "array"},
            "experimental_attachments": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"name": text, "contentType": text, "url": text},
                    "required": ["url"],
                },
            },
            "providerMetadata": {"type": "object"},
        },
        "required": ["format", "parts"],
    }
    return {"MessageContent": content, "ToolInvocation": tool_invocation, **parts}


def _response_schemas() -> dict[str, dict[str, Any]]:
    """Response schema per route handler name (Mastra's shapes: docs/http-api.md)."""
    thread, message = _ref("Thread"), _ref("Message")
    page = {
        "total": COUNT,
        "page": COUNT,
        "perPage": {"anyOf": [INTEGER, {"const": False}]},
        "hasMore": {"type": "boolean"},
    }
    return {
        "memory_status": _object({"result": {"const": True}, "memoryType": {"type": "string"}}, ["result", "memoryType"]),
        "memory_config": _object({"config": {"type": "object"}}, ["config"]),
        "list_threads": _ref("ThreadPage"),
        "create_thread": thread,
        "get_thread": thread,
        "update_thread": thread,
        "delete_thread": _object({"result": {"const": "Thread deleted"}}, ["result"]),
        "list_messages": _object(
            {"messages": {"type": "array", "items": message}, "uiMessages": {"type": "null"}, **page},
            ["messages", "uiMessages", "total", "page", "perPage", "hasMore"],
        ),
        "save_messages": _object({"messages": {"type": "array", "items": message}}, ["messages"]),
        "delete_messages": _object({"success": {"const": True}, "message": {"type": "string"}}, ["success", "message"]),
        "get_working_memory": _object(
            {
                "workingMemory": {"type": ["string", "null"]},
                "source": {"enum": ["resource", "thread"]},
                "workingMemoryTemplate": {
                    "oneOf": [
                        _object({"format": {"enum": ["markdown", "json"]}, "content": {"type": ["string", "null"]}}),
                        {"type": "null"},
                    ]
                },
                "threadExists": {"type": "boolean"},
            },
            ["workingMemory", "source", "workingMemoryTemplate", "threadExists"],
        ),
        "update_working_memory": _object({"success": {"const": True}}, ["success"]),
        "clone_thread": _ref("CloneThreadResult"),
        "health": _object({"status": {"const": "ok"}}, ["status"]),
        "openapi_document": {"type": "object"},
        "erase_resource": _object(
            {"result": {"type": "string"}, "deletedThreadIds": {"type": "array", "items": ID}},
            ["result", "deletedThreadIds"],
        ),
    }


# ---------------------------------------------------------------- the document


def _query_parameter(name: str, description: str, required: bool) -> dict[str, Any]:
    parameter: dict[str, Any] = {"name": name, "in": "query", "required": required, "description": description}
    if name in _JSON_QUERY:
        parameter["content"] = {"application/json": {"schema": _JSON_QUERY[name]}}
    else:
        parameter["schema"] = _QUERY[name]
    return parameter


def _body_schema(schema: dict[str, Any], path_params: list[str], required: frozenset[str]) -> dict[str, Any]:
    """An operation's args schema as a body: the path's parameters removed, the route's
    required ones required (and no longer nullable)."""
    body = _without_properties(schema, path_params)
    properties = body.get("properties", {})
    for name in sorted(required & set(properties)):
        prop = properties[name]
        options = [option for option in prop.get("anyOf", [prop]) if option.get("type") != "null"]
        properties[name] = {key: value for key, value in prop.items() if key not in ("anyOf", "default")}
        properties[name].update(options[0] if len(options) == 1 else {"anyOf": options})
        body["required"] = sorted({*body.get("required", []), name})
    return body


def build_document(routes: list[ApiRoute]) -> dict[str, Any]:
    from pydantic.json_schema import models_json_schema

    import memkit
    from memkit import models
    from memkit.operations import calls

    entity_models = [
        models.Thread, models.Message, models.Resource, models.ThreadPage, models.MessagePage, models.CloneThreadResult,
        models.OrderBy, models.MessageFilter, models.IncludeItem,
    ]
    arg_models = {op.args_model for op in calls.OPERATIONS.values()}
    # Validation schemas for the entities too: the wire models' JSON serializer hides their
    # field types from a serialization schema, and a response has the shape a request gives.
    keys, definitions = models_json_schema(
        [(m, "validation") for m in entity_models] + [(m, "validation") for m in sorted(arg_models, key=lambda m: m.__name__)],
        ref_template=_REF,
    )
    schemas: dict[str, Any] = _refined(dict(definitions.get("$defs", {})))
    schemas.update(_message_content_schemas())
    schemas["Message"]["properties"]["content"] = {
        "anyOf": [_ref("MessageContent"), {"type": "string", "description": "Plain text, stored as one text part"}]
    }
    args_schema_names = {model: keys[(model, "validation")]["$ref"].rsplit("/", 1)[1] for model in arg_models}
    schemas["Error"] = _object({"error": {"type": "string"}}, ["error"])

    responses = _response_schemas()
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        path_params = _PATH_PARAM.findall(route.path)
        operation: dict[str, Any] = {
            "operationId": route.handler.__name__,
            "summary": route.summary,
            "parameters": [{"name": name, "in": "path", "required": True, "schema": ID} for name in path_params]
            + [_query_parameter(name, text, name in route.required) for name, text in route.query.items()],
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {"application/json": {"schema": responses.get(route.handler.__name__, {"type": "object"})}},
                },
                **({} if route.public else {
                    status: {"description": text, "content": {"application/json": {"schema": _ref("Error")}}}
                    for status, text in ERROR_STATUSES.items()
                }),
            },
        }
        if route.public:
            operation["security"] = []
        if route.reads_body and route.op is not None:
            body_name = f"{route.op[0].upper()}{route.op[1:]}Body"
            schemas[body_name] = _body_schema(
                schemas[args_schema_names[calls.OPERATIONS[route.op].args_model]], path_params, route.required
            )
            operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": _ref(body_name)}}}
        paths.setdefault(route.path, {})[route.method.lower()] = operation

    return {
        "openapi": "3.1.0",
        "info": {
            "title": "memkit",
            "version": memkit.__version__,
            "description": "Durable memory for AI agents: Mastra-compatible memory routes under /api/memory.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
                "bearer": {"type": "http", "scheme": "bearer", "description": "The API key, or a JWT in jwt mode"},
            },
        },
        "security": [{"apiKey": []}, {"bearer": []}],
    }


def _without_properties(schema: dict[str, Any], names: list[str]) -> dict[str, Any]:
    trimmed = copy.deepcopy(schema)
    for name in names:
        trimmed.get("properties", {}).pop(name, None)
    if "required" in trimmed:
        trimmed["required"] = [r for r in trimmed["required"] if r not in names]
        if not trimmed["required"]:
            del trimmed["required"]
    return trimmed
