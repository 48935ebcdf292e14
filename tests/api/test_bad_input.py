"""Bad input gets a 4xx naming what was wrong, and writes nothing (checked by reading back)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from tests.api.support import ApiClient, message, messages_of, threads_of, uid


def new_thread(api: ApiClient, resource_id: str) -> str:
    response = api.post("/api/memory/threads", json={"resourceId": resource_id, "title": "original", "metadata": {"k": "v"}})
    assert response.status_code == 200, response.text
    return response.json()["id"]


def assert_error(response: Any, status: int, *mentions: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    for text in mentions:
        assert text in body["error"]


# ---------------------------------------------------------------- bodies


def test_malformed_json_body_is_400_and_creates_nothing(api: ApiClient, resource_id: str) -> None:
    response = api.post(
        "/api/memory/threads", content=b'{"resourceId": "' + resource_id.encode() + b'", "title": ', headers={"content-type": "application/json"}
    )
    assert_error(response, 400, "Malformed JSON body")
    assert threads_of(api, resource_id) == []


def test_body_that_is_not_an_object_is_400(api: ApiClient, resource_id: str) -> None:
    response = api.post("/api/memory/threads", json=[{"resourceId": resource_id}])
    assert_error(response, 400, "JSON object")
    assert threads_of(api, resource_id) == []


def test_body_in_another_content_type_is_415(api: ApiClient, resource_id: str) -> None:
    response = api.post(
        "/api/memory/threads", content=json.dumps({"resourceId": resource_id}).encode(), headers={"content-type": "text/plain"}
    )
    assert_error(response, 415, "application/json")
    assert threads_of(api, resource_id) == []


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"title": 123}, "title"),
        ({"metadata": "not-an-object"}, "metadata"),
        ({"metadata": {"bad key": 1}}, "metadata"),
        ({"metadata": {"__proto__": 1}}, "metadata"),
        ({"threadId": "has spaces"}, "threadId"),
    ],
)
def test_create_thread_with_wrong_types_is_400_naming_the_field(
    api: ApiClient, resource_id: str, fields: dict[str, Any], named: str
) -> None:
    response = api.post("/api/memory/threads", json={"resourceId": resource_id, **fields})
    assert_error(response, 400, named)
    assert threads_of(api, resource_id) == []


def test_create_thread_without_resource_id_is_400(api: ApiClient) -> None:
    assert_error(api.post("/api/memory/threads", json={"title": "x"}), 400, "resourceId")


def test_update_thread_with_wrong_types_changes_nothing(api: ApiClient, resource_id: str) -> None:
    thread_id = new_thread(api, resource_id)

    response = api.patch(f"/api/memory/threads/{thread_id}", json={"title": ["x"], "metadata": {"k": "changed"}})

    assert_error(response, 400, "title")
    thread = api.get(f"/api/memory/threads/{thread_id}").json()
    assert (thread["title"], thread["metadata"]) == ("original", {"k": "v"})


def test_save_messages_is_all_or_nothing_on_an_invalid_message(api: ApiClient, resource_id: str) -> None:
    thread_id = new_thread(api, resource_id)
    valid = message(thread_id, resource_id, "fine")
    invalid = message(thread_id, resource_id, "no owner")
    del invalid["resourceId"]

    response = api.post("/api/memory/save-messages", json={"messages": [valid, invalid]})

    assert_error(response, 400, "messages[1]", "resourceId")
    assert messages_of(api, thread_id) == []


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({}, "messages"),
        ({"messages": "m1"}, "messages"),
        ({"messages": [{"id": "m1"}]}, "messages[0]"),
        ({"messages": [{**message("t1", "r1", "x"), "role": "robot"}]}, "role"),
    ],
)
def test_save_messages_with_wrong_shapes_is_400(api: ApiClient, body: dict[str, Any], named: str) -> None:
    assert_error(api.post("/api/memory/save-messages", json=body), 400, named)


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity", b"1e999"])
def test_non_finite_numbers_in_a_body_are_400_and_create_nothing(
    api: ApiClient, resource_id: str, literal: bytes
) -> None:
    # Python's json reads these; JSON has no such numbers, and storing one would hand back null.
    body = b'{"resourceId": "' + resource_id.encode() + b'", "metadata": {"score": ' + literal + b"}}"

    response = api.post("/api/memory/threads", content=body, headers={"content-type": "application/json"})

    assert_error(response, 400, "finite JSON number")
    assert threads_of(api, resource_id) == []


def test_non_finite_number_in_a_json_query_parameter_is_400(api: ApiClient, resource_id: str) -> None:
    response = api.get("/api/memory/threads", params={"resourceId": resource_id, "metadata": '{"score": NaN}'})

    assert_error(response, 400, "metadata", "finite JSON number")


@pytest.mark.parametrize("created_at", [1e20, "9999-12-31T23:59:59.999-05:00"])
def test_out_of_range_created_at_is_400_and_saves_nothing(api: ApiClient, resource_id: str, created_at: Any) -> None:
    thread_id = new_thread(api, resource_id)

    response = api.post(
        "/api/memory/save-messages",
        json={"messages": [{**message(thread_id, resource_id, "when?"), "createdAt": created_at}]},
    )

    assert_error(response, 400, "createdAt")
    assert messages_of(api, thread_id) == []


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({}, "messageIds is required"),
        ({"messageIds": None}, "messageIds is required"),
        ({"messageIds": 5}, "messageIds must be a non-empty string"),
        ({"messageIds": [""]}, "messageIds[0] must be a non-empty string"),
        ({"messageIds": [None]}, "messageIds[0] must be a non-empty string"),
        ({"messageIds": {"noid": 1}}, "messageIds.id must be a non-empty string"),
        ({"messageIds": [{"noid": 1}]}, "messageIds[0].id must be a non-empty string"),
        ({"messageIds": ["ok", {"id": 7}]}, "messageIds[1].id must be a non-empty string"),
    ],
)
def test_delete_messages_with_bad_ids_is_400_naming_the_item_and_deletes_nothing(
    api: ApiClient, resource_id: str, body: dict[str, Any], error: str
) -> None:
    thread_id = new_thread(api, resource_id)
    api.post("/api/memory/save-messages", json={"messages": [message(thread_id, resource_id, "keep")]})

    response = api.post("/api/memory/messages/delete", json=body)

    assert response.status_code == 400, response.text
    assert response.json() == {"error": error}
    assert len(messages_of(api, thread_id)) == 1


def test_working_memory_of_wrong_type_is_400(api: ApiClient, resource_id: str) -> None:
    thread_id = new_thread(api, resource_id)
    path = f"/api/memory/threads/{thread_id}/working-memory"

    assert_error(api.post(path, json={"workingMemory": 42, "resourceId": resource_id}), 400, "workingMemory")
    assert_error(api.post(path, params={"agentId": "schema-wm"}, json={"workingMemory": "not json", "resourceId": resource_id}), 400, "workingMemory")
    assert api.get(path, params={"resourceId": resource_id}).json()["workingMemory"] is None


# ---------------------------------------------------------------- size limits


@pytest.fixture
def small_api(make_api: Callable[..., ApiClient]) -> ApiClient:
    return make_api(max_body_bytes=1024)


def big_thread_body(resource_id: str) -> dict[str, Any]:
    return {"resourceId": resource_id, "title": "x" * 2000}


def test_body_declared_larger_than_the_limit_is_413(small_api: ApiClient, resource_id: str) -> None:
    response = small_api.post("/api/memory/threads", json=big_thread_body(resource_id))
    assert_error(response, 413, "1024")
    assert threads_of(small_api, resource_id) == []


def test_chunked_body_larger_than_the_limit_is_413(small_api: ApiClient, resource_id: str) -> None:
    payload = json.dumps(big_thread_body(resource_id)).encode()

    async def chunks() -> AsyncIterator[bytes]:
        # A generator body is sent without Content-Length, so only the bytes read can tell.
        for start in range(0, len(payload), 256):
            yield payload[start : start + 256]

    response = small_api.post("/api/memory/threads", content=chunks(), headers={"content-type": "application/json"})
    assert_error(response, 413, "1024")
    assert threads_of(small_api, resource_id) == []


def test_understated_content_length_does_not_bypass_the_limit(small_api: ApiClient, resource_id: str) -> None:
    payload = json.dumps(big_thread_body(resource_id)).encode()
    response = small_api.post(
        "/api/memory/threads", content=payload, headers={"content-type": "application/json", "content-length": "10"}
    )
    assert response.status_code in (400, 413), response.text
    assert threads_of(small_api, resource_id) == []


def body_of_exactly(size: int, resource_id: str) -> bytes:
    frame = json.dumps({"resourceId": resource_id, "title": ""}).encode()
    return json.dumps({"resourceId": resource_id, "title": "x" * (size - len(frame))}).encode()


def test_body_of_exactly_the_limit_is_accepted(small_api: ApiClient, resource_id: str) -> None:
    body = body_of_exactly(1024, resource_id)

    response = small_api.post("/api/memory/threads", content=body, headers={"content-type": "application/json"})

    assert len(body) == 1024
    assert response.status_code == 200, response.text
    assert [thread["title"] for thread in threads_of(small_api, resource_id)] == [json.loads(body)["title"]]


def test_body_one_byte_over_the_limit_is_413(small_api: ApiClient, resource_id: str) -> None:
    response = small_api.post(
        "/api/memory/threads", content=body_of_exactly(1025, resource_id), headers={"content-type": "application/json"}
    )

    assert_error(response, 413, "1024")
    assert threads_of(small_api, resource_id) == []


# ---------------------------------------------------------------- query parameters


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"page": "-1"}, "page"),
        ({"page": "abc"}, "page"),
        ({"page": "1.5"}, "page"),
        ({"perPage": "ten"}, "perPage"),
        ({"perPage": "false", "page": "2"}, "page"),
        ({"metadata": "{not json"}, "metadata"),
        ({"metadata": "[1, 2]"}, "metadata"),
        ({"orderBy[field]": "title"}, "orderBy.field"),
        ({"orderBy[direction]": "sideways"}, "orderBy.direction"),
    ],
)
def test_bad_thread_listing_parameters_are_400_naming_the_parameter(
    api: ApiClient, resource_id: str, params: dict[str, str], named: str
) -> None:
    assert_error(api.get("/api/memory/threads", params={"resourceId": resource_id, **params}), 400, named)


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"page": "x"}, "page"),
        ({"orderBy": "createdAt"}, "orderBy"),
        ({"orderBy": json.dumps({"field": "id"})}, "orderBy.field"),
        ({"filter": "[]"}, "filter"),
        ({"filter": json.dumps({"roles": ["robot"]})}, "filter"),
        ({"filter": json.dumps({"dateRange": {"start": "yesterday"}})}, "dateRange.start"),
        ({"include": "{}"}, "include"),
        ({"include": json.dumps([{"withPreviousMessages": 1}])}, "include[0]"),
        ({"include": json.dumps([{"id": "m1", "withNextMessages": -1}])}, "include"),
        ({"includeSystemReminders": "maybe"}, "includeSystemReminders"),
    ],
)
def test_bad_message_listing_parameters_are_400_naming_the_parameter(
    api: ApiClient, resource_id: str, params: dict[str, str], named: str
) -> None:
    thread_id = new_thread(api, resource_id)
    assert_error(api.get(f"/api/memory/threads/{thread_id}/messages", params=params), 400, named)


def test_negative_per_page_falls_back_to_the_default(api: ApiClient, resource_id: str) -> None:
    new_thread(api, resource_id)
    response = api.get("/api/memory/threads", params={"resourceId": resource_id, "perPage": "-5"})
    assert response.status_code == 200
    assert response.json()["perPage"] == 100


def test_bad_agent_id_type_in_body_is_400(api: ApiClient, resource_id: str) -> None:
    response = api.post("/api/memory/threads", json={"resourceId": resource_id, "agentId": 7})
    assert_error(response, 400, "agentId")
    assert threads_of(api, resource_id) == []


def test_invalid_resource_id_in_query_is_400(api: ApiClient) -> None:
    assert_error(api.get("/api/memory/threads", params={"resourceId": "a b"}), 400, "resourceId")


def test_unknown_thread_id_characters_in_path_are_400(api: ApiClient) -> None:
    assert_error(api.get(f"/api/memory/threads/{uid('t')}%20x"), 400, "threadId")
