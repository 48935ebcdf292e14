"""Tenant isolation in jwt mode: every route, tried with another tenant's ids.

Mallory is bound to her own resource by API Gateway's JWT authorizer. She knows Alice's ids
(thread ids, message ids, resource id) and tries each route with them. Every attempt must be
refused or come back empty, no response may carry anything of Alice's (her text, her resource
id in a refusal), and Alice's data must read back exactly as it was. Runs through the Lambda
handler on libSQL and DynamoDB.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.api.support import LambdaApi, message, uid

SECRET = "alice-secret-7d1f"


class Caller:
    def __init__(self, api: LambdaApi, resource_id: str):
        self.api = api
        self.resource_id = resource_id

    def __call__(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.api.request(method, path, claims={"sub": self.resource_id}, **kwargs)


@pytest.fixture
def jwt_api(lambda_api: Callable[..., LambdaApi], tmp_path) -> LambdaApi:
    # Vectors in a libSQL file beside either store, so the search route runs for real.
    return lambda_api(MEMKIT_AUTH="jwt", MEMKIT_API_KEY=None, MEMKIT_VECTOR_URL=f"file:{tmp_path / 'vectors.db'}")


@pytest.fixture
def alice(jwt_api: LambdaApi) -> Caller:
    return Caller(jwt_api, uid("alice"))


@pytest.fixture
def mallory(jwt_api: LambdaApi) -> Caller:
    return Caller(jwt_api, uid("mallory"))


def make_thread(caller: Caller, *texts: str) -> tuple[str, list[str]]:
    created = caller("POST", "/api/memory/threads", body={"title": "mine", "metadata": {"kind": "diary"}})
    assert created.status == 200, created.body
    thread_id = created.body["id"]
    messages = [message(thread_id, caller.resource_id, text, at_ms=i) for i, text in enumerate(texts)]
    saved = caller("POST", "/api/memory/save-messages", body={"messages": messages})
    assert saved.status == 200, saved.body
    return thread_id, [m["id"] for m in messages]


def snapshot(caller: Caller, thread_id: str) -> dict[str, Any]:
    """Everything of the caller's that a route could change, as the caller reads it."""
    return {
        "thread": caller("GET", f"/api/memory/threads/{thread_id}").body,
        "messages": caller("GET", f"/api/memory/threads/{thread_id}/messages", query={"perPage": "false"}).body,
        "threads": caller("GET", "/api/memory/threads").body,
        "working memory": caller("GET", f"/api/memory/threads/{thread_id}/working-memory").body,
    }


def test_no_route_reads_or_changes_another_tenants_data(alice: Caller, mallory: Caller) -> None:
    alices_thread, (first, second) = make_thread(alice, f"{SECRET} one", f"{SECRET} two")
    assert alice(
        "POST", f"/api/memory/threads/{alices_thread}/working-memory", body={"workingMemory": f"# {SECRET}"}
    ).status == 200
    before = snapshot(alice, alices_thread)
    own_thread, (own_message,) = make_thread(mallory, "mallory's own words")
    a = alice.resource_id

    def planted(message_id: str, text: str = "mine now") -> dict[str, Any]:
        return message(own_thread, mallory.resource_id, text, message_id=message_id, at_ms=50)

    attempts = {
        "get thread": mallory("GET", f"/api/memory/threads/{alices_thread}"),
        "get thread naming her": mallory("GET", f"/api/memory/threads/{alices_thread}", query={"resourceId": a}),
        "list her threads": mallory("GET", "/api/memory/threads", query={"resourceId": a}),
        "list her messages": mallory("GET", f"/api/memory/threads/{alices_thread}/messages"),
        "include her messages in own listing": mallory(
            "GET",
            f"/api/memory/threads/{own_thread}/messages",
            query={"include": json.dumps([{"id": first, "withPreviousMessages": 5, "withNextMessages": 5}])},
        ),
        "include naming her thread": mallory(
            "GET",
            f"/api/memory/threads/{own_thread}/messages",
            query={"include": json.dumps([{"id": second, "threadId": alices_thread, "withPreviousMessages": 5}])},
        ),
        "save her message id (takeover)": mallory("POST", "/api/memory/save-messages", body={"messages": [planted(first)]}),
        "save her id among own": mallory(
            "POST", "/api/memory/save-messages", body={"messages": [planted(uid("m"), "fine"), planted(second)]}
        ),
        "save into her thread": mallory(
            "POST", "/api/memory/save-messages",
            body={"messages": [message(alices_thread, mallory.resource_id, "planted", at_ms=60)]},
        ),
        "update her message": mallory(
            "POST", "/api/memory/save-messages", body={"messages": [{**planted(first), "threadId": alices_thread}]}
        ),
        "update thread": mallory("PATCH", f"/api/memory/threads/{alices_thread}", body={"title": "pwned"}),
        "delete her messages": mallory("POST", "/api/memory/messages/delete", body={"messageIds": [first]}),
        "delete hers among own": mallory("POST", "/api/memory/messages/delete", body={"messageIds": [own_message, second]}),
        "read her working memory": mallory("GET", f"/api/memory/threads/{alices_thread}/working-memory"),
        "read her working memory by resource": mallory(
            "GET", f"/api/memory/threads/{own_thread}/working-memory", query={"resourceId": a}
        ),
        "write her working memory": mallory(
            "POST", f"/api/memory/threads/{alices_thread}/working-memory", body={"workingMemory": "x"}
        ),
        "write working memory naming her": mallory(
            "POST", f"/api/memory/threads/{own_thread}/working-memory", body={"workingMemory": "x", "resourceId": a}
        ),
        "clone her thread": mallory("POST", f"/api/memory/threads/{alices_thread}/clone", body={}),
        "clone own thread over hers": mallory(
            "POST", f"/api/memory/threads/{own_thread}/clone", body={"newThreadId": alices_thread}
        ),
        "clone own thread picking her ids": mallory(
            "POST", f"/api/memory/threads/{own_thread}/clone", body={"options": {"messageFilter": {"messageIds": [first]}}}
        ),
        "search her resource": mallory(
            "GET", "/api/memory/search",
            query={"searchQuery": SECRET, "resourceId": a, "memoryConfig": json.dumps({"semanticRecall": True})},
        ),
        "search her thread": mallory(
            "GET", "/api/memory/search",
            query={
                "searchQuery": SECRET,
                "threadId": alices_thread,
                "memoryConfig": json.dumps({"semanticRecall": {"scope": "thread"}}),
            },
        ),
        "delete her thread": mallory("DELETE", f"/api/memory/threads/{alices_thread}"),
        "erase her resource": mallory("DELETE", f"/api/memkit/resources/{a}"),
    }

    # Refusing a resourceId the caller sent may repeat it; anything else naming Alice's
    # resource tells Mallory who owns what.
    sent_her_resource = {
        "get thread naming her",
        "list her threads",
        "read her working memory by resource",
        "write working memory naming her",
        "search her resource",
        "erase her resource",
    }
    for name, response in attempts.items():
        text = json.dumps(response.body)
        assert SECRET not in text, f"{name}: {text}"
        if name not in sent_her_resource:
            assert a not in text, f"{name} names Alice's resource: {text}"
        assert alices_thread not in text or response.status >= 400, f"{name}: {text}"
    refused = {name for name, response in attempts.items() if response.status >= 400}
    # Only a listing scoped to herself, or a clone of her own thread that finds nothing of
    # Alice's to copy, may answer 200.
    assert set(attempts) - refused == {
        "include her messages in own listing",
        "include naming her thread",
        "clone own thread picking her ids",
    }
    assert {attempts[name].status for name in refused} <= {403, 409}, {n: attempts[n].status for n in refused}
    for name in set(attempts) - refused:
        assert own_message not in json.dumps(attempts[name].body) or name.startswith("include")
    assert snapshot(alice, alices_thread) == before
    assert mallory("GET", f"/api/memory/threads/{own_thread}/messages").body["total"] == 1


def test_a_refusal_for_another_tenants_thread_names_the_thread_and_no_resource(alice: Caller, mallory: Caller) -> None:
    alices_thread, _ = make_thread(alice, "hello")

    refused = mallory("GET", f"/api/memory/threads/{alices_thread}")

    assert refused.status == 403
    assert refused.body == {"error": f"Thread with id {alices_thread} belongs to another resource"}


def test_saving_another_tenants_message_id_neither_moves_nor_rewrites_it(alice: Caller, mallory: Caller) -> None:
    alices_thread, (first,) = make_thread(alice, f"{SECRET} original")
    own_thread, _ = make_thread(mallory)

    takeover = mallory(
        "POST",
        "/api/memory/save-messages",
        body={"messages": [message(own_thread, mallory.resource_id, "rewritten", message_id=first, at_ms=9)]},
    )
    deleted = mallory("POST", "/api/memory/messages/delete", body={"messageIds": [first]})

    assert (takeover.status, deleted.status) == (403, 403)
    assert takeover.body == {"error": f"Message with id {first} belongs to another resource"}
    alices = alice("GET", f"/api/memory/threads/{alices_thread}/messages").body["messages"]
    assert [(m["id"], m["content"]["parts"][0]["text"]) for m in alices] == [(first, f"{SECRET} original")]
    assert mallory("GET", f"/api/memory/threads/{own_thread}/messages").body["total"] == 0
