"""Every route and request quirk of docs/http-api.md, in process over ASGI, on both stores."""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

import pytest

from memkit.api import observability
from memkit.errors import ConflictError, RetryableError
from memkit.memory import Memory
from memkit.runtime import Runtime
from tests.api.support import ApiClient, message, uid


def create_thread(api: ApiClient, resource_id: str, **fields: Any) -> dict[str, Any]:
    response = api.post("/api/memory/threads", params={"agentId": "default"}, json={"resourceId": resource_id, **fields})
    assert response.status_code == 200, response.text
    return response.json()


def save(api: ApiClient, *messages: dict[str, Any], agent_id: str = "default") -> dict[str, Any]:
    response = api.post("/api/memory/save-messages", params={"agentId": agent_id}, json={"agentId": agent_id, "messages": list(messages)})
    assert response.status_code == 200, response.text
    return response.json()


def thread_with_messages(api: ApiClient, resource_id: str, count: int) -> tuple[str, list[str]]:
    thread = create_thread(api, resource_id, title="conversation")
    ids = [uid("msg") for _ in range(count)]
    save(api, *(message(thread["id"], resource_id, f"text {i}", message_id=ids[i], at_ms=i * 10) for i in range(count)))
    return thread["id"], ids


def listed_ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [m["id"] for m in response.json()["messages"]]


# ---------------------------------------------------------------- memkit additions


def test_health_answers_without_touching_the_store(api: ApiClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_store(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("/health opened a store")

    monkeypatch.setattr(runtime, "storage", no_store)
    monkeypatch.setattr(runtime, "memory", no_store)

    response = api.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["x-request-id"]


def test_request_id_header_becomes_the_correlation_id(api: ApiClient) -> None:
    response = api.get("/health", headers={"x-request-id": "corr-123"})
    assert response.headers["x-request-id"] == "corr-123"


def test_unknown_route_and_wrong_method_answer_json_errors(api: ApiClient) -> None:
    missing = api.get("/api/memory/nope")
    assert missing.status_code == 404
    assert missing.json() == {"error": "Not Found"}
    wrong_method = api.request("PUT", "/api/memory/threads")
    assert wrong_method.status_code == 405
    assert "error" in wrong_method.json()


def test_erase_resource_deletes_its_threads_and_messages(api: ApiClient, resource_id: str) -> None:
    thread_id, _ = thread_with_messages(api, resource_id, 2)
    api.post(f"/api/memory/threads/{thread_id}/working-memory", json={"workingMemory": "# notes", "resourceId": resource_id})

    response = api.delete(f"/api/memkit/resources/{resource_id}")

    assert response.status_code == 200, response.text
    assert response.json() == {"result": "Resource erased", "deletedThreadIds": [thread_id]}
    assert api.get(f"/api/memory/threads/{thread_id}").status_code == 404
    assert api.get("/api/memory/threads", params={"resourceId": resource_id}).json()["total"] == 0


# ---------------------------------------------------------------- status and config


def test_status_reports_the_store(api: ApiClient, store: str) -> None:
    response = api.get("/api/memory/status", params={"agentId": "default"})
    assert response.status_code == 200
    assert response.json() == {"result": True, "memoryType": store}


def test_config_describes_the_agent(api: ApiClient) -> None:
    response = api.get("/api/memory/config", params={"agentId": "thread-wm"})
    assert response.status_code == 200
    config = response.json()["config"]
    assert config["workingMemory"]["enabled"] is True
    assert config["workingMemory"]["scope"] == "thread"
    assert config["observationalMemory"] == {"enabled": False}
    assert config["lastMessages"] == 10


def test_absent_or_undefined_agent_uses_the_default(api: ApiClient) -> None:
    for params in ({}, {"agentId": "undefined"}):
        response = api.get("/api/memory/config", params=params)
        assert response.status_code == 200
        assert response.json()["config"]["workingMemory"]["scope"] == "resource"


def test_unknown_agent_is_404(api: ApiClient, resource_id: str) -> None:
    response = api.post("/api/memory/threads", params={"agentId": "nobody"}, json={"resourceId": resource_id})
    assert response.status_code == 404
    assert response.json() == {"error": "Agent with id nobody not found"}


# ---------------------------------------------------------------- threads


def test_create_then_get_thread_round_trips(api: ApiClient, resource_id: str) -> None:
    thread_id = uid("thr")
    created = create_thread(api, resource_id, threadId=thread_id, title="Trip 🚀 \"quoted\"", metadata={"k": "v"}, agentId="default")

    assert created["id"] == thread_id
    assert created["resourceId"] == resource_id
    assert created["title"] == "Trip 🚀 \"quoted\""
    assert created["metadata"] == {"k": "v"}
    assert created["createdAt"].endswith("Z")
    fetched = api.get(f"/api/memory/threads/{thread_id}", params={"agentId": "default", "resourceId": resource_id})
    assert fetched.status_code == 200
    assert fetched.json() == created


def test_create_thread_ignores_the_request_context_the_client_sends(api: ApiClient, resource_id: str) -> None:
    context = base64.b64encode(json.dumps({"tenant": "t1"}).encode()).decode()
    response = api.post(
        "/api/memory/threads",
        params={"agentId": "default", "requestContext": context},
        json={"resourceId": resource_id, "requestContext": {"tenant": "t1"}},
    )
    assert response.status_code == 200, response.text
    created = response.json()
    # Nothing of the context leaks into the stored thread.
    assert (created["resourceId"], created["title"], created["metadata"]) == (resource_id, None, None)
    fetched = api.get(f"/api/memory/threads/{created['id']}", params={"resourceId": resource_id})
    assert fetched.json() == created


def test_get_unknown_thread_is_404_with_mastras_message(api: ApiClient) -> None:
    response = api.get(f"/api/memory/threads/{uid('thr')}")
    assert response.status_code == 404
    assert response.json() == {"error": "Thread not found"}


def test_get_thread_of_another_resource_is_403(api: ApiClient, resource_id: str) -> None:
    thread = create_thread(api, resource_id)
    response = api.get(f"/api/memory/threads/{thread['id']}", params={"resourceId": "someone-else"})
    assert response.status_code == 403
    assert response.json()["error"] == (
        f"Thread with id {thread['id']} is for resource with id {resource_id} but resource someone-else was queried."
    )


def test_undefined_resource_id_is_treated_as_absent(api: ApiClient, resource_id: str) -> None:
    thread = create_thread(api, resource_id)
    response = api.get(f"/api/memory/threads/{thread['id']}", params={"resourceId": "undefined"})
    assert response.status_code == 200
    assert response.json()["id"] == thread["id"]


def test_list_threads_with_bracketed_order_and_string_pagination(api: ApiClient, resource_id: str) -> None:
    ids = [create_thread(api, resource_id, title=f"t{i}")["id"] for i in range(3)]
    # Touch the first thread so updatedAt order differs from createdAt order.
    api.patch(f"/api/memory/threads/{ids[0]}", params={"agentId": "default"}, json={"title": "renamed"})

    first_page = api.get(
        "/api/memory/threads",
        params={"resourceId": resource_id, "agentId": "default", "page": "0", "perPage": "2",
                "orderBy[field]": "updatedAt", "orderBy[direction]": "DESC"},
    )
    second_page = api.get(
        "/api/memory/threads",
        params={"resourceId": resource_id, "page": "1", "perPage": "2", "orderBy[field]": "updatedAt", "orderBy[direction]": "DESC"},
    )

    assert first_page.status_code == 200, first_page.text
    body = first_page.json()
    assert [t["id"] for t in body["threads"]][0] == ids[0]
    assert (body["total"], body["page"], body["perPage"], body["hasMore"]) == (3, 0, 2, True)
    rest = second_page.json()
    assert len(rest["threads"]) == 1 and rest["hasMore"] is False
    assert {t["id"] for t in body["threads"] + rest["threads"]} == set(ids)


def test_list_threads_by_json_metadata_and_per_page_false(api: ApiClient, resource_id: str) -> None:
    wanted = create_thread(api, resource_id, metadata={"topic": "travel", "lang": "en"})
    create_thread(api, resource_id, metadata={"topic": "food", "lang": "en"})

    response = api.get(
        "/api/memory/threads",
        params={"resourceId": resource_id, "metadata": json.dumps({"topic": "travel"}), "perPage": "false"},
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert [t["id"] for t in body["threads"]] == [wanted["id"]]
    assert body["perPage"] is False and body["hasMore"] is False


def test_update_thread_sets_title_and_merges_metadata(api: ApiClient, resource_id: str) -> None:
    thread = create_thread(api, resource_id, title="old", metadata={"a": 1, "b": 2})

    response = api.patch(
        f"/api/memory/threads/{thread['id']}",
        params={"agentId": "default"},
        json={"title": "new", "metadata": {"b": 3, "c": 4}, "resourceId": resource_id},
    )

    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["title"] == "new"
    assert updated["metadata"] == {"a": 1, "b": 3, "c": 4}
    assert api.get(f"/api/memory/threads/{thread['id']}").json() == updated


def test_update_thread_without_title_keeps_it(api: ApiClient, resource_id: str) -> None:
    thread = create_thread(api, resource_id, title="keep me")
    response = api.patch(f"/api/memory/threads/{thread['id']}", json={"metadata": {"x": 1}})
    assert response.status_code == 200, response.text
    assert response.json()["title"] == "keep me"


def test_update_unknown_thread_is_404_and_creates_nothing(api: ApiClient) -> None:
    thread_id = uid("thr")
    response = api.patch(f"/api/memory/threads/{thread_id}", json={"title": "x"})
    assert response.status_code == 404
    assert response.json() == {"error": f"Thread with id {thread_id} not found"}
    assert api.get(f"/api/memory/threads/{thread_id}").status_code == 404


def test_delete_thread_removes_it_and_its_messages(api: ApiClient, resource_id: str) -> None:
    thread_id, message_ids = thread_with_messages(api, resource_id, 2)

    response = api.delete(f"/api/memory/threads/{thread_id}", params={"agentId": "default", "resourceId": resource_id})

    assert response.status_code == 200
    assert response.json() == {"result": "Thread deleted"}
    assert api.get(f"/api/memory/threads/{thread_id}").status_code == 404
    assert api.post("/api/memory/messages/delete", json={"messageIds": message_ids}).json()["message"] == (
        "0 message(s) deleted successfully"
    )


def test_delete_unknown_thread_is_404(api: ApiClient) -> None:
    response = api.delete(f"/api/memory/threads/{uid('thr')}", params={"agentId": "default"})
    assert response.status_code == 404
    assert response.json() == {"error": "Thread not found"}


def test_clone_copies_thread_and_messages(api: ApiClient, resource_id: str) -> None:
    thread_id, message_ids = thread_with_messages(api, resource_id, 3)
    new_id = uid("thr")

    response = api.post(
        f"/api/memory/threads/{thread_id}/clone",
        params={"agentId": "default"},
        json={"newThreadId": new_id, "title": "copy", "options": {"messageLimit": 2}},
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["thread"]["id"] == new_id
    assert body["thread"]["resourceId"] == resource_id
    assert body["thread"]["metadata"]["clone"]["sourceThreadId"] == thread_id
    assert len(body["clonedMessages"]) == 2
    assert not {m["id"] for m in body["clonedMessages"]} & set(message_ids)
    assert all(m["threadId"] == new_id for m in body["clonedMessages"])


def test_clone_onto_an_existing_thread_is_409(api: ApiClient, resource_id: str) -> None:
    source = create_thread(api, resource_id)
    existing = create_thread(api, resource_id)
    response = api.post(f"/api/memory/threads/{source['id']}/clone", json={"newThreadId": existing["id"]})
    assert response.status_code == 409
    assert response.json() == {"error": f"Thread with id {existing['id']} already exists"}


# ---------------------------------------------------------------- messages


def test_save_messages_returns_them_and_list_is_oldest_first(api: ApiClient, resource_id: str) -> None:
    thread = create_thread(api, resource_id)
    first = message(thread["id"], resource_id, "hello", at_ms=0)
    second = message(thread["id"], resource_id, "world", role="assistant", at_ms=5)

    saved = save(api, second, first)

    assert [m["id"] for m in saved["messages"]] == [second["id"], first["id"]]
    assert saved["messages"][1]["content"] == first["content"]
    listed = api.get(f"/api/memory/threads/{thread['id']}/messages", params={"agentId": "default", "resourceId": resource_id})
    assert listed.status_code == 200
    body = listed.json()
    assert list(body) == ["messages", "uiMessages", "total", "page", "perPage", "hasMore"]
    assert [m["id"] for m in body["messages"]] == [first["id"], second["id"]]
    assert (body["uiMessages"], body["total"], body["page"], body["perPage"], body["hasMore"]) == (None, 2, 0, 40, False)
    assert body["messages"][0]["createdAt"] == first["createdAt"]


def test_list_messages_with_json_order_filter_and_pages(api: ApiClient, resource_id: str) -> None:
    thread_id, ids = thread_with_messages(api, resource_id, 5)
    base = f"/api/memory/threads/{thread_id}/messages"

    desc = api.get(base, params={"orderBy": json.dumps({"field": "createdAt", "direction": "DESC"}), "page": "1", "perPage": "2"})
    assert listed_ids(desc) == [ids[2], ids[1]]
    assert desc.json()["hasMore"] is True

    ranged = api.get(
        base,
        params={"filter": json.dumps({"dateRange": {"start": "2024-01-01T00:00:00.010Z", "end": "2024-01-01T00:00:00.030Z",
                                                    "endExclusive": True}, "roles": ["user"]})},
    )
    assert listed_ids(ranged) == [ids[1], ids[2]]

    everything = api.get(base, params={"perPage": "false", "includeSystemReminders": "false"})
    assert listed_ids(everything) == ids


def test_list_messages_include_adds_neighbours_from_another_thread(api: ApiClient, resource_id: str) -> None:
    other_thread, other_ids = thread_with_messages(api, resource_id, 5)
    thread_id, ids = thread_with_messages(api, resource_id, 1)

    response = api.get(
        f"/api/memory/threads/{thread_id}/messages",
        params={
            "agentId": "default",
            "resourceId": resource_id,
            "include": json.dumps([{"id": other_ids[2], "threadId": other_thread, "withPreviousMessages": 1, "withNextMessages": 1}]),
        },
    )

    assert set(listed_ids(response)) == {ids[0], *other_ids[1:4]}


def test_list_messages_of_another_resources_thread_is_403(api: ApiClient, resource_id: str) -> None:
    thread_id, _ = thread_with_messages(api, resource_id, 1)
    response = api.get(f"/api/memory/threads/{thread_id}/messages", params={"resourceId": "intruder"})
    assert response.status_code == 403
    assert response.json() == {
        "error": f"Thread with id {thread_id} is for resource with id {resource_id} but resource intruder was queried."
    }


def test_save_to_unknown_thread_is_404_and_writes_nothing(api: ApiClient, resource_id: str) -> None:
    thread = create_thread(api, resource_id)
    good = message(thread["id"], resource_id, "ok")
    orphan = message(uid("thr"), resource_id, "nowhere")

    response = api.post("/api/memory/save-messages", json={"messages": [good, orphan]})

    assert response.status_code == 404
    assert listed_ids(api.get(f"/api/memory/threads/{thread['id']}/messages")) == []


@pytest.mark.parametrize(
    "shape",
    [
        pytest.param(lambda ids: ids[0], id="string"),
        pytest.param(lambda ids: ids, id="list"),
        pytest.param(lambda ids: {"id": ids[0]}, id="object"),
        pytest.param(lambda ids: [{"id": i} for i in ids], id="object-list"),
    ],
)
def test_delete_messages_accepts_every_shape_of_message_ids(api: ApiClient, resource_id: str, shape: Any) -> None:
    thread_id, ids = thread_with_messages(api, resource_id, 3)
    targets = ids[:2]
    expected = [targets[0]] if isinstance(shape(targets), (str, dict)) else targets

    response = api.post("/api/memory/messages/delete", params={"agentId": "default"}, json={"messageIds": shape(targets)})

    assert response.status_code == 200, response.text
    assert response.json() == {"success": True, "message": f"{len(expected)} message(s) deleted successfully"}
    remaining = listed_ids(api.get(f"/api/memory/threads/{thread_id}/messages"))
    assert remaining == [i for i in ids if i not in expected]


def test_delete_messages_ignores_unknown_ids(api: ApiClient, resource_id: str) -> None:
    _, ids = thread_with_messages(api, resource_id, 1)
    response = api.post("/api/memory/messages/delete", json={"messageIds": [ids[0], uid("msg")]})
    assert response.json() == {"success": True, "message": "1 message(s) deleted successfully"}


# ---------------------------------------------------------------- working memory


def test_working_memory_resource_scope_round_trip(api: ApiClient, resource_id: str) -> None:
    thread = create_thread(api, resource_id)
    path = f"/api/memory/threads/{thread['id']}/working-memory"

    before = api.get(path, params={"agentId": "default", "resourceId": resource_id})
    assert before.status_code == 200, before.text
    assert before.json()["workingMemory"] is None
    assert before.json()["workingMemoryTemplate"]["format"] == "markdown"

    update = api.post(path, params={"agentId": "default"}, json={"workingMemory": "# User\n- name: Ada", "resourceId": resource_id})
    assert update.status_code == 200, update.text
    assert update.json() == {"success": True}

    # The client sends resourceId=undefined when the caller gave none.
    after = api.get(path, params={"agentId": "default", "resourceId": "undefined"})
    assert after.json() == {
        "workingMemory": "# User\n- name: Ada",
        "source": "resource",
        "workingMemoryTemplate": before.json()["workingMemoryTemplate"],
        "threadExists": True,
    }


def test_working_memory_thread_scope_lives_on_the_thread(api: ApiClient, resource_id: str) -> None:
    first = create_thread(api, resource_id)
    second = create_thread(api, resource_id)
    params = {"agentId": "thread-wm", "resourceId": resource_id}

    api.post(f"/api/memory/threads/{first['id']}/working-memory", params=params, json={"workingMemory": "first only"})

    assert api.get(f"/api/memory/threads/{first['id']}/working-memory", params=params).json()["workingMemory"] == "first only"
    other = api.get(f"/api/memory/threads/{second['id']}/working-memory", params=params).json()
    assert other["workingMemory"] is None and other["source"] == "thread"


def test_working_memory_schema_updates_deep_merge(api: ApiClient, resource_id: str) -> None:
    thread = create_thread(api, resource_id)
    path = f"/api/memory/threads/{thread['id']}/working-memory"
    params = {"agentId": "schema-wm"}

    api.post(path, params=params, json={"workingMemory": {"name": "Ada", "prefs": {"tea": True}}, "resourceId": resource_id})
    api.post(path, params=params, json={"workingMemory": json.dumps({"prefs": {"coffee": False}}), "resourceId": resource_id})

    view = api.get(path, params={**params, "resourceId": resource_id}).json()
    assert json.loads(view["workingMemory"]) == {"name": "Ada", "prefs": {"tea": True, "coffee": False}}
    assert view["workingMemoryTemplate"]["format"] == "json"


# ---------------------------------------------------------------- read-only agents and error mapping


def test_read_only_agent_reads_but_never_writes(api: ApiClient, resource_id: str) -> None:
    thread_id, ids = thread_with_messages(api, resource_id, 1)
    reader = {"agentId": "reader"}

    assert api.get(f"/api/memory/threads/{thread_id}/messages", params=reader).status_code == 200
    writes = [
        api.post("/api/memory/threads", params=reader, json={"resourceId": resource_id}),
        api.post("/api/memory/save-messages", params=reader, json={"messages": [message(thread_id, resource_id, "x")]}),
        api.patch(f"/api/memory/threads/{thread_id}", params=reader, json={"title": "nope"}),
        api.post("/api/memory/messages/delete", params=reader, json={"messageIds": ids}),
        api.post(f"/api/memory/threads/{thread_id}/working-memory", params=reader, json={"workingMemory": "x", "resourceId": resource_id}),
        api.delete(f"/api/memory/threads/{thread_id}", params=reader),
    ]
    assert [w.status_code for w in writes] == [403] * len(writes)
    assert writes[0].json() == {"error": "Memory of agent reader is read-only"}
    assert listed_ids(api.get(f"/api/memory/threads/{thread_id}/messages")) == ids


def test_unexpected_errors_are_500_without_internals(api: ApiClient, monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(self: Memory, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("table memkit_secret_internal exploded")

    monkeypatch.setattr(Memory, "list_threads", explode)
    response = api.get("/api/memory/threads", params={"resourceId": "r"})
    assert response.status_code == 500
    assert response.json() == {"error": "Internal server error"}


@pytest.mark.parametrize(("error", "status"), [(RetryableError("throttled, retry"), 503), (ConflictError("id taken"), 409)])
def test_domain_errors_map_to_their_status(api: ApiClient, monkeypatch: pytest.MonkeyPatch, error: Exception, status: int) -> None:
    def fail(self: Memory, *args: Any, **kwargs: Any) -> None:
        raise error

    monkeypatch.setattr(Memory, "list_threads", fail)
    response = api.get("/api/memory/threads", params={"resourceId": "r"})
    assert response.status_code == status
    assert response.json() == {"error": str(error)}


class FormattedLines(logging.Handler):
    """Formats each record when it is emitted, as the Powertools handler does (context-local
    keys such as the correlation id exist only while the request runs)."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(observability.logger.registered_formatter.format(record)))


def test_log_lines_carry_the_request_correlation_id(api: ApiClient) -> None:
    capture = FormattedLines()
    memkit_logger = logging.getLogger("memkit")
    memkit_logger.addHandler(capture)
    try:
        api.get("/health", headers={"x-request-id": "corr-abc"})
        api.get("/health", headers={"x-request-id": "corr-def"})
    finally:
        memkit_logger.removeHandler(capture)

    access = [(line.get("correlation_id"), line["route"], line["status"]) for line in capture.lines if line["message"] == "request"]
    assert access == [("corr-abc", "GET /health", 200), ("corr-def", "GET /health", 200)]
