"""/openapi.json describes every served route, and costs nothing until it is asked for."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from starlette.routing import Route

from memkit.api.routes import ROUTES
from tests.api.support import REPO_ROOT, ApiClient


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
