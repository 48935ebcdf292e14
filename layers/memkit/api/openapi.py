"""The OpenAPI 3.1 document served at ``/openapi.json``, built from the route table.

Built on the first request for it and then kept: generating JSON schemas from the pydantic
models takes tens of milliseconds, which no cold start of a memory route should pay.
Request schemas come from the ``memkit.ops`` argument models (path parameters removed, since
the URL carries them), response schemas from the domain models in ``memkit.models``.
"""

from __future__ import annotations

import copy
import re
import threading
from typing import TYPE_CHECKING, Any

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


def _response_schemas() -> dict[str, dict[str, Any]]:
    """Response schema per route handler name (the Mastra shapes of mastra-routes.md)."""
    thread, message = _ref("Thread"), _ref("Message")
    page = {
        "total": {"type": "integer"},
        "page": {"type": "integer"},
        "perPage": {"oneOf": [{"type": "integer"}, {"const": False}]},
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
            {"result": {"type": "string"}, "deletedThreadIds": {"type": "array", "items": {"type": "string"}}},
            ["result", "deletedThreadIds"],
        ),
    }


def build_document(routes: list[ApiRoute]) -> dict[str, Any]:
    from pydantic.json_schema import models_json_schema

    import memkit
    from memkit import models, ops

    response_models = [models.Thread, models.Message, models.Resource, models.ThreadPage, models.MessagePage, models.CloneThreadResult]
    arg_models = {op.args_model for op in ops.OPERATIONS.values()}
    keys, definitions = models_json_schema(
        [(m, "serialization") for m in response_models] + [(m, "validation") for m in sorted(arg_models, key=lambda m: m.__name__)],
        ref_template=_REF,
    )
    schemas: dict[str, Any] = dict(definitions.get("$defs", {}))
    args_schema_names = {model: keys[(model, "validation")]["$ref"].rsplit("/", 1)[1] for model in arg_models}
    schemas["Error"] = _object({"error": {"type": "string"}}, ["error"])

    responses = _response_schemas()
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        path_params = _PATH_PARAM.findall(route.path)
        operation: dict[str, Any] = {
            "operationId": route.handler.__name__,
            "summary": route.summary,
            "parameters": [
                {"name": name, "in": "path", "required": True, "schema": {"type": "string"}} for name in path_params
            ]
            + [
                {"name": name, "in": "query", "required": False, "description": text, "schema": {"type": "string"}}
                for name, text in route.query.items()
            ],
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
            schemas[body_name] = _without_properties(
                schemas[args_schema_names[ops.OPERATIONS[route.op].args_model]], path_params
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
