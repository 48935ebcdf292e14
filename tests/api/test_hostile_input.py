"""Input that once broke the server: deep nesting, huge numbers, NUL and lone surrogates, a
message id twice in one save. Each is a 400 naming where the problem is, and writes nothing;
what an older version may already have stored still reads back."""

from __future__ import annotations

import json
from typing import Any

import pytest

from memkit.models.limits import MAX_DEPTH
from memkit.models import MAX_COUNT
from tests.api.support import ApiClient, message, messages_of, threads_of, uid


def nested(depth: int, leaf: Any = "x") -> Any:
    """A JSON value ``depth`` objects deep."""
    value = leaf
    for _ in range(depth):
        value = {"a": value}
    return value


def nested_text(depth: int) -> str:
    # Built as text: json.dumps itself gives up long before 10,000 levels.
    return '{"a":' * depth + '"x"' + "}" * depth


def new_thread(api: ApiClient, resource_id: str) -> str:
    response = api.post("/api/memory/threads", json={"resourceId": resource_id, "title": "original"})
    assert response.status_code == 200, response.text
    return response.json()["id"]


def assert_400(response: Any, *mentions: str) -> None:
    assert response.status_code == 400, response.text
    for text in mentions:
        assert text in response.json()["error"], response.json()


# ---------------------------------------------------------------- nesting


@pytest.mark.parametrize("depth", [MAX_DEPTH, 255, 1_000, 10_000])
def test_metadata_nested_too_deep_is_400_and_creates_nothing(api: ApiClient, resource_id: str, depth: int) -> None:
    body = '{"resourceId": "%s", "metadata": {"k": %s}}' % (resource_id, nested_text(depth))

    response = api.post("/api/memory/threads", content=body.encode(), headers={"content-type": "application/json"})

    assert_400(response, f"deeper than {MAX_DEPTH} levels")
    assert threads_of(api, resource_id) == []


def test_nesting_just_under_the_limit_round_trips(api: ApiClient, resource_id: str) -> None:
    # The body is one level, metadata another: the value may use the rest.
    metadata = {"k": nested(MAX_DEPTH - 3)}
    created = api.post("/api/memory/threads", json={"resourceId": resource_id, "metadata": metadata})

    assert created.status_code == 200, created.text
    assert api.get(f"/api/memory/threads/{created.json()['id']}").json()["metadata"] == metadata


def test_deep_json_in_a_query_parameter_is_400(api: ApiClient, resource_id: str) -> None:
    response = api.get("/api/memory/threads", params={"resourceId": resource_id, "metadata": nested_text(1_200)})
    assert_400(response, "metadata", "deeper than")


def test_deep_tool_arguments_in_a_message_are_400_and_save_nothing(api: ApiClient, resource_id: str) -> None:
    thread_id = new_thread(api, resource_id)
    deep = message(thread_id, resource_id, "hi")
    deep["content"]["parts"].append(
        {"type": "tool-invocation", "toolInvocation": {"state": "call", "toolCallId": "c1", "toolName": "t", "args": nested(300)}}
    )

    response = api.post("/api/memory/save-messages", json={"messages": [message(thread_id, resource_id, "ok"), deep]})

    assert_400(response, "messages[1].content.parts[1].toolInvocation.args")
    assert messages_of(api, thread_id) == []


def test_deep_metadata_already_stored_still_reads_back(make_runtime, portal, resource_id: str) -> None:
    # Written before the limit existed (straight into the store, past every check): reads of
    # the thread and listings of its resource must keep answering.
    from memkit.api.app import create_app
    from memkit.models import Thread, utc_now

    runtime = make_runtime()
    api = ApiClient(create_app(runtime), portal)
    now = utc_now()
    stored = Thread.model_construct(
        id=uid("thr"), resource_id=resource_id, title="old", metadata={"k": nested(300)},
        created_at=now, updated_at=now, last_message_at=None,
    )
    store = runtime.storage()
    write_unchecked(store, stored)

    got = api.get(f"/api/memory/threads/{stored.id}")
    listed = api.get("/api/memory/threads", params={"resourceId": resource_id})

    assert got.status_code == 200, got.text
    assert got.json()["metadata"] == {"k": nested(300)}
    assert listed.status_code == 200, listed.text
    assert [t["id"] for t in listed.json()["threads"]] == [stored.id]


def write_unchecked(store: Any, thread: Any) -> None:
    """Stores a thread the way an older memkit could have: no input check on the way."""
    inner = getattr(store, "inner", store)
    if inner.name == "libsql":
        from memkit.storage.memory.libsql.schema import UPSERT_THREAD_SQL, thread_params

        with inner.database.transaction() as conn:
            conn.execute(UPSERT_THREAD_SQL, thread_params(thread))
    else:
        from memkit.storage.memory.dynamodb.items import thread_item

        inner.threads.create_thread(thread_item(inner.table.items, thread), thread.resource_id)


# ---------------------------------------------------------------- numbers


def test_an_integer_of_5000_digits_in_a_body_is_400(api: ApiClient, resource_id: str) -> None:
    body = '{"resourceId": "%s", "metadata": {"n": %s}}' % (resource_id, "9" * 5000)
    response = api.post("/api/memory/threads", content=body.encode(), headers={"content-type": "application/json"})
    assert_400(response, "64-bit")
    assert threads_of(api, resource_id) == []


def test_an_integer_beyond_64_bits_in_metadata_is_400(api: ApiClient, resource_id: str) -> None:
    response = api.post("/api/memory/threads", json={"resourceId": resource_id, "metadata": {"n": 2**64}})
    assert_400(response, "metadata.n", "64-bit")
    assert threads_of(api, resource_id) == []


@pytest.mark.parametrize("value", [2**63, 2**40, MAX_COUNT + 1])
@pytest.mark.parametrize("name", ["page", "perPage"])
def test_huge_page_numbers_are_400_naming_the_parameter(api: ApiClient, resource_id: str, name: str, value: int) -> None:
    thread_id = new_thread(api, resource_id)
    for path in ("/api/memory/threads", f"/api/memory/threads/{thread_id}/messages"):
        response = api.get(path, params={"resourceId": resource_id, name: str(value)})
        assert_400(response, name)


def test_the_largest_page_number_is_an_empty_page(api: ApiClient, resource_id: str) -> None:
    thread_id = new_thread(api, resource_id)
    response = api.get(
        f"/api/memory/threads/{thread_id}/messages", params={"page": str(MAX_COUNT), "perPage": str(MAX_COUNT)}
    )
    assert response.status_code == 200, response.text
    assert response.json()["messages"] == []


@pytest.mark.parametrize("direction", ["ASC", "DESC"])
@pytest.mark.parametrize("page", [0, 1, MAX_COUNT])
def test_the_largest_page_size_answers_in_either_order(api: ApiClient, resource_id: str, page: int, direction: str) -> None:
    # DynamoDB's Query Limit is 32-bit: a page size of MAX_COUNT (+1 to see the next item)
    # must not reach it unbounded.
    thread_id = new_thread(api, resource_id)
    assert api.post("/api/memory/save-messages", json={"messages": [message(thread_id, resource_id, "x")]}).status_code == 200
    listings = {
        f"/api/memory/threads/{thread_id}/messages": {"orderBy": json.dumps({"field": "createdAt", "direction": direction})},
        "/api/memory/threads": {"resourceId": resource_id, "orderBy[direction]": direction},
    }
    for path, params in listings.items():
        response = api.get(path, params={**params, "page": str(page), "perPage": str(MAX_COUNT)})
        assert response.status_code == 200, (path, response.text)
        assert response.json()["total"] == 1


@pytest.mark.parametrize("window", ["withPreviousMessages", "withNextMessages"])
def test_huge_include_windows_are_400(api: ApiClient, resource_id: str, window: str) -> None:
    thread_id = new_thread(api, resource_id)
    include = json.dumps([{"id": uid("m"), window: 2**63}])
    response = api.get(f"/api/memory/threads/{thread_id}/messages", params={"include": include})
    assert_400(response, window)


def test_huge_clone_message_limit_is_400_and_clones_nothing(api: ApiClient, resource_id: str) -> None:
    thread_id = new_thread(api, resource_id)
    response = api.post(f"/api/memory/threads/{thread_id}/clone", json={"options": {"messageLimit": 2**63}})
    assert_400(response, "messageLimit")
    assert len(threads_of(api, resource_id)) == 1


# ---------------------------------------------------------------- characters


SURROGATE = "\\ud800"


@pytest.mark.parametrize(
    ("field", "raw_value"),
    [("title", f'"before{SURROGATE}after"'), ("title", '"before\\u0000after"')],
    ids=["lone-surrogate", "nul"],
)
def test_unstorable_characters_in_a_title_are_400(api: ApiClient, resource_id: str, field: str, raw_value: str) -> None:
    body = '{"resourceId": "%s", "%s": %s}' % (resource_id, field, raw_value)
    response = api.post("/api/memory/threads", content=body.encode(), headers={"content-type": "application/json"})
    assert_400(response, field)
    assert threads_of(api, resource_id) == []


@pytest.mark.parametrize("raw_text", [f'"hi {SURROGATE}"', '"hi \\u0000 there"'], ids=["lone-surrogate", "nul"])
def test_unstorable_characters_in_message_text_are_400(api: ApiClient, resource_id: str, raw_text: str) -> None:
    thread_id = new_thread(api, resource_id)
    template = json.dumps({"messages": [message(thread_id, resource_id, "PLACEHOLDER")]})
    body = template.replace('"PLACEHOLDER"', raw_text)

    response = api.post("/api/memory/save-messages", content=body.encode(), headers={"content-type": "application/json"})

    assert_400(response, "messages[0].content.parts[0].text")
    assert messages_of(api, thread_id) == []


@pytest.mark.parametrize("raw_value", [f'"# me {SURROGATE}"', '"before\\u0000after"'], ids=["lone-surrogate", "nul"])
def test_unstorable_characters_in_working_memory_are_400_and_keep_the_old_value(
    api: ApiClient, resource_id: str, raw_value: str
) -> None:
    thread_id = new_thread(api, resource_id)
    path = f"/api/memory/threads/{thread_id}/working-memory"
    assert api.post(path, json={"resourceId": resource_id, "workingMemory": "# kept"}).status_code == 200

    body = '{"resourceId": "%s", "workingMemory": %s}' % (resource_id, raw_value)
    response = api.post(path, content=body.encode(), headers={"content-type": "application/json"})

    assert_400(response, "workingMemory")
    assert api.get(path, params={"resourceId": resource_id}).json()["workingMemory"] == "# kept"


def test_a_key_with_a_lone_surrogate_is_400_with_a_readable_error(api: ApiClient, resource_id: str) -> None:
    body = '{"resourceId": "%s", "metadata": {"ok": {"bad%s": 1}}}' % (resource_id, SURROGATE)
    response = api.post("/api/memory/threads", content=body.encode(), headers={"content-type": "application/json"})
    assert_400(response, "metadata.ok")


# ---------------------------------------------------------------- repeated ids


def test_the_same_message_id_twice_in_one_save_is_400_naming_it(api: ApiClient, resource_id: str) -> None:
    thread_id = new_thread(api, resource_id)
    first = message(thread_id, resource_id, "first", message_id="dup-1")
    second = message(thread_id, resource_id, "second", message_id="dup-1", at_ms=1)

    response = api.post("/api/memory/save-messages", json={"messages": [first, second]})

    assert_400(response, "messages[1].id", "dup-1")
    assert messages_of(api, thread_id) == []
