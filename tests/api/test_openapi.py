"""/openapi.json describes every served route, and costs nothing until it is asked for."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import jsonschema
import pytest
from starlette.routing import Route

from memkit import models
from memkit.api.openapi import openapi_json
from memkit.api.routes import ROUTES
from tests.api.support import REPO_ROOT, ApiClient, LambdaApi, message


def resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def refs_in(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in refs_in(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in refs_in(value)]
    return []


def test_document_lists_every_served_route_and_every_ref_resolves(api: ApiClient) -> None:
    response = api.get("/openapi.json")
    assert response.status_code == 200
    document = response.json()

    assert document["openapi"] == "3.1.0"
    served = {
        (method.lower(), route.path)
        for route in api.app.routes
        if isinstance(route, Route)
        for method in (route.methods or ())
        if method != "HEAD"
    }
    documented = {(method, path) for path, item in document["paths"].items() for method in item}
    assert documented == served
    for ref in refs_in(document):
        assert isinstance(resolve(document, ref), dict), ref


def test_request_bodies_come_from_the_operation_models(api: ApiClient) -> None:
    document = api.get("/openapi.json").json()

    save = document["paths"]["/api/memory/save-messages"]["post"]
    body = resolve(document, save["requestBody"]["content"]["application/json"]["schema"]["$ref"])
    assert body["required"] == ["messages"]
    working_memory = document["paths"]["/api/memory/threads/{threadId}/working-memory"]["post"]
    wm_body = resolve(document, working_memory["requestBody"]["content"]["application/json"]["schema"]["$ref"])
    # The path carries threadId, so the body schema does not ask for it.
    assert "threadId" not in wm_body["properties"]
    assert wm_body["required"] == ["workingMemory"]
    delete = document["paths"]["/api/memory/messages/delete"]["post"]
    delete_body = resolve(document, delete["requestBody"]["content"]["application/json"]["schema"]["$ref"])
    # The model gives messageIds a None default only to word the missing-value error itself.
    assert delete_body["required"] == ["messageIds"]
    assert "default" not in delete_body["properties"]["messageIds"]
    assert len(delete_body["properties"]["messageIds"]["anyOf"]) == 3  # an id, a list, {id}
    thread = resolve(document, "#/components/schemas/Thread")
    assert {"id", "resourceId", "createdAt", "updatedAt"} <= set(thread["required"])


def test_public_routes_are_marked_as_needing_no_credentials(api: ApiClient) -> None:
    document = api.get("/openapi.json").json()
    assert document["paths"]["/health"]["get"]["security"] == []
    assert "security" not in document["paths"]["/api/memory/threads"]["get"]
    assert {route.path for route in ROUTES if route.public} == {"/health", "/openapi.json"}


def test_schemas_are_not_built_at_import() -> None:
    probe = (
        "import sys; import memkit.api.app, memkit.api.routes; "
        "assert 'memkit.api.openapi' not in sys.modules; "
        "print('lazy')"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO_ROOT, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "lazy"


# ---------------------------------------------------------------- what the server accepts


def schema_at(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    return resolve(document, schema["$ref"]) if "$ref" in schema else schema


def id_schemas(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Where the document declares an id: every path parameter, the resourceId/threadId query
    parameters, and the id fields of bodies and messages."""
    found: dict[str, dict[str, Any]] = {}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for parameter in operation["parameters"]:
                if parameter["in"] == "path" or parameter["name"] in ("resourceId", "threadId"):
                    found[f"{method} {path} {parameter['name']}"] = parameter["schema"]
    schemas = document["components"]["schemas"]
    for name, field in [
        ("Message", "id"), ("Message", "threadId"), ("Message", "resourceId"),
        ("CreateThreadBody", "resourceId"), ("Thread", "id"), ("Thread", "resourceId"),
    ]:
        found[f"{name}.{field}"] = schemas[name]["properties"][field]
    found["CreateThreadBody.threadId"] = schemas["CreateThreadBody"]["properties"]["threadId"]["anyOf"][0]
    found["CloneThreadBody.newThreadId"] = schemas["CloneThreadBody"]["properties"]["newThreadId"]["anyOf"][0]
    found["DeleteMessagesBody.messageIds"] = schemas["DeleteMessagesBody"]["properties"]["messageIds"]["anyOf"][0]
    return found


def test_every_id_is_declared_with_the_pattern_and_length_the_server_checks() -> None:
    document = openapi_json(ROUTES)

    declared = id_schemas(document)

    assert len(declared) > 20
    for where, schema in declared.items():
        assert schema["type"] == "string", where
        assert schema["pattern"] == models.ID_PATTERN.pattern, where
        assert (schema["minLength"], schema["maxLength"]) == (1, models.MAX_ID_LENGTH), where


@pytest.mark.parametrize(
    "candidate",
    ["thread-1_a.b:c@d~e", "x" * models.MAX_ID_LENGTH, "x" * (models.MAX_ID_LENGTH + 1), "has space", "ümlaut", "a/b", ""],
)
def test_the_server_accepts_exactly_the_ids_the_document_allows(api: ApiClient, resource_id: str, candidate: str) -> None:
    # Given what the document says of a thread id
    schema = openapi_json(ROUTES)["components"]["schemas"]["CreateThreadBody"]["properties"]["threadId"]["anyOf"][0]
    allowed = bool(re.fullmatch(schema["pattern"], candidate)) and schema["minLength"] <= len(candidate) <= schema["maxLength"]

    # When a thread is created with it
    response = api.post("/api/memory/threads", json={"resourceId": resource_id, "threadId": candidate or None})

    # Then the server agrees (an empty id means "make one up", which the document cannot say)
    if candidate == "":
        assert response.status_code == 200
    else:
        assert response.status_code == (200 if allowed else 400), response.text


def test_resource_id_is_required_where_the_server_requires_it(api: ApiClient, store: str) -> None:
    document = openapi_json(ROUTES)
    create_body = document["components"]["schemas"]["CreateThreadBody"]
    search = {p["name"]: p for p in document["paths"]["/api/memory/search"]["get"]["parameters"]}
    listing = {p["name"]: p for p in document["paths"]["/api/memory/threads"]["get"]["parameters"]}
    messages = {p["name"]: p for p in document["paths"]["/api/memory/threads/{threadId}/messages"]["get"]["parameters"]}

    assert "resourceId" in create_body["required"]
    assert "anyOf" not in create_body["properties"]["resourceId"], "a required resourceId is not nullable"
    assert search["resourceId"]["required"] is True
    assert listing["resourceId"]["required"] is True
    assert messages["resourceId"]["required"] is False

    assert api.post("/api/memory/threads", json={"title": "x"}).status_code == 400
    assert api.get("/api/memory/search", params={"searchQuery": "x"}).status_code == 400
    # libSQL can also list every thread, an extension the document leaves out.
    assert api.get("/api/memory/threads").status_code == (400 if store == "dynamodb" else 200)


def test_pagination_parameters_are_integers_with_the_bounds_the_stores_hold(api: ApiClient, resource_id: str) -> None:
    document = openapi_json(ROUTES)
    for path in ("/api/memory/threads", "/api/memory/threads/{threadId}/messages"):
        parameters = {p["name"]: p["schema"] for p in document["paths"][path]["get"]["parameters"] if "schema" in p}
        assert parameters["page"] == {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}, path
        integer, everything = parameters["perPage"]["anyOf"]
        assert integer["type"] == "integer" and integer["maximum"] == 2**63 - 1, path
        assert everything == {"const": False}, path

    assert api.get("/api/memory/threads", params={"resourceId": resource_id, "page": "-1"}).status_code == 400
    assert api.get("/api/memory/threads", params={"resourceId": resource_id, "page": "one"}).status_code == 400
    everything = api.get("/api/memory/threads", params={"resourceId": resource_id, "perPage": "false"})
    assert everything.status_code == 200 and everything.json()["perPage"] is False


MASTRA_PARTS = [
    {"type": "step-start"},
    {"type": "text", "text": "Find me a flight to Lisbon"},
    {"type": "reasoning", "reasoning": "The user wants flights.", "details": [{"type": "text", "text": "flights"}]},
    {
        "type": "tool-invocation",
        "toolInvocation": {
            "state": "result", "step": 0, "toolCallId": "call-1", "toolName": "searchFlights",
            "args": {"to": "LIS"}, "result": [{"flight": "TP123"}],
        },
    },
    {"type": "source", "source": {"sourceType": "url", "id": "src-1", "url": "https://example.com", "title": "Example"}},
    {"type": "file", "mimeType": "image/png", "data": "iVBORw0KGgo="},
    {"type": "data-weather", "data": {"city": "Lisbon", "celsius": 21}},
]


def test_message_content_is_mastras_v2_format_with_a_schema_per_part_type() -> None:
    schemas = openapi_json(ROUTES)["components"]["schemas"]
    content = schemas["MessageContent"]
    part_schemas = [resolve({"components": {"schemas": schemas}}, ref["$ref"]) for ref in content["properties"]["parts"]["items"]["oneOf"]]

    typed = {schema["properties"]["type"].get("const") for schema in part_schemas} - {None}
    assert typed == {"text", "tool-invocation", "reasoning", "file", "source", "step-start"}
    assert content["properties"]["format"] == {"const": 2}
    assert schemas["TextPart"]["required"] == ["type", "text"]
    assert schemas["ToolInvocation"]["properties"]["state"] == {"enum": ["partial-call", "call", "result"]}


def test_a_saved_mastra_message_and_its_listing_match_the_document(api: ApiClient, resource_id: str) -> None:
    # Given a message with every kind of part, valid by the document
    document = openapi_json(ROUTES)
    thread = api.post("/api/memory/threads", json={"resourceId": resource_id}).json()
    sent = message(thread["id"], resource_id, "unused", role="assistant")
    sent["content"] = {"format": 2, "parts": MASTRA_PARTS, "metadata": {"model": "x"}}
    validator(document, "#/components/schemas/Message").validate(sent)

    # When it is saved and listed
    saved = api.post("/api/memory/save-messages", json={"messages": [sent]})
    listed = api.get(f"/api/memory/threads/{thread['id']}/messages")

    # Then both answers have the shape the document gives them, and the parts came back as sent
    for response, path, method in [(saved, "/api/memory/save-messages", "post"), (listed, "/api/memory/threads/{threadId}/messages", "get")]:
        assert response.status_code == 200, response.text
        schema = document["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"]
        validator(document, schema).validate(response.json())
    assert listed.json()["messages"][0]["content"]["parts"] == MASTRA_PARTS


def test_a_part_without_the_fields_of_its_type_does_not_match_the_document() -> None:
    check = validator(openapi_json(ROUTES), "#/components/schemas/MessageContent")
    for part in ({"type": "text"}, {"type": "tool-invocation", "toolInvocation": {"state": "call"}}, {"type": "file", "data": "x"}):
        assert not check.is_valid({"format": 2, "parts": [part]}), part


def validator(document: dict[str, Any], schema: dict[str, Any] | str) -> jsonschema.Draft202012Validator:
    root = {"components": document["components"], **({"$ref": schema} if isinstance(schema, str) else schema)}
    return jsonschema.Draft202012Validator(root)


# ---------------------------------------------------------------- OPTIONS and 405


def methods_by_path() -> dict[str, set[str]]:
    served: dict[str, set[str]] = {}
    for route in ROUTES:
        served.setdefault(route.path, set()).add(route.method)
    return {path: methods | ({"HEAD"} if "GET" in methods else set()) | {"OPTIONS"} for path, methods in served.items()}


def concrete(path: str) -> str:
    return re.sub(r"{\w+}", "some-id", path)


@pytest.mark.parametrize(("path", "methods"), sorted(methods_by_path().items()))
def test_options_answers_with_every_method_of_the_path(api: ApiClient, path: str, methods: set[str]) -> None:
    response = api.request("OPTIONS", concrete(path))

    assert response.status_code == 204
    assert set(response.headers["allow"].split(", ")) == methods
    assert response.content == b""


def test_a_method_a_path_does_not_serve_is_405_naming_every_method_it_does(api: ApiClient) -> None:
    response = api.request("PUT", "/api/memory/threads/some-id")

    assert response.status_code == 405
    assert set(response.headers["allow"].split(", ")) == {"GET", "HEAD", "PATCH", "DELETE", "OPTIONS"}
    assert response.json() == {"error": "Method Not Allowed"}


def test_options_on_an_unknown_path_is_404(api: ApiClient) -> None:
    assert api.request("OPTIONS", "/api/memory/nothing-here").status_code == 404


def test_options_through_api_gateway_needs_no_credentials(lambda_api: Callable[..., LambdaApi]) -> None:
    # The methods of a path are in the public document already; nothing else is disclosed.
    api = lambda_api(headers={"x-api-key": ""})

    response = api.request("OPTIONS", "/api/memory/threads/some-id/working-memory")

    assert response.status == 204
    assert set(response.headers["allow"].split(", ")) == {"GET", "HEAD", "POST", "OPTIONS"}
