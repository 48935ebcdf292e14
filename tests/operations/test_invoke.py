"""The direct-invoke dispatcher (``memkit.operations.invoke.dispatch``): every operation from an
event, errors as statuses, EventBridge's detail; its Lambda handler is tests/functions/'s."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from memkit.errors import RetryableError
from memkit.memory import Memory
from memkit.operations.calls import OPERATIONS
from memkit.operations.invoke import dispatch
from memkit.runtime import Runtime
from tests.api.support import message, uid


@pytest.fixture
def call(runtime: Runtime) -> Callable[..., dict[str, Any]]:
    def invoke(op: str, agent_id: str | None = None, **args: Any) -> dict[str, Any]:
        event: dict[str, Any] = {"op": op, "args": args}
        if agent_id is not None:
            event["agentId"] = agent_id
        return dispatch(event, runtime)

    return invoke


def ok(outcome: dict[str, Any]) -> Any:
    assert outcome["ok"] is True, outcome
    return outcome["result"]


def test_every_operation_round_trips(call: Callable[..., dict[str, Any]]) -> None:
    resource_id, thread_id = uid("res"), uid("thr")
    seen: set[str] = set()

    def run(op: str, **kwargs: Any) -> Any:
        seen.add(op)
        return ok(call(op, **kwargs))

    assert run("createThread", resourceId=resource_id, threadId=thread_id, title="t")["id"] == thread_id
    assert run("getThread", threadId=thread_id)["title"] == "t"
    assert run("updateThread", threadId=thread_id, title="u", metadata={"k": 1})["metadata"] == {"k": 1}
    assert [t["id"] for t in run("listThreads", resourceId=resource_id, perPage=False)["threads"]] == [thread_id]
    messages = [message(thread_id, resource_id, f"m{i}", at_ms=i) for i in range(3)]
    assert len(run("saveMessages", messages=messages)["messages"]) == 3
    page = run("listMessages", threadId=thread_id, perPage=2, orderBy={"direction": "DESC"})
    assert [m["id"] for m in page["messages"]] == [messages[2]["id"], messages[1]["id"]]
    updated = run("updateMessages", messages=[{"id": messages[0]["id"], "content": {"metadata": {"seen": True}}}])
    assert updated["messages"][0]["content"]["metadata"] == {"seen": True}
    assert run("deleteMessages", messageIds=[messages[1]["id"]])["message"] == "1 message(s) deleted successfully"
    assert run("updateWorkingMemory", threadId=thread_id, resourceId=resource_id, workingMemory="# wm") == {"success": True}
    assert run("getWorkingMemory", threadId=thread_id, resourceId=resource_id)["workingMemory"] == "# wm"
    clone = run("cloneThread", threadId=thread_id, title="copy")
    assert len(clone["clonedMessages"]) == 2
    assert run("getResource", resourceId=resource_id)["workingMemory"] == "# wm"
    assert run("updateResource", resourceId=resource_id, metadata={"plan": "pro"})["metadata"] == {"plan": "pro"}
    # searchMemory needs semantic recall, which this agent lacks: a 400 that says so, not an empty list
    refused = call("searchMemory", searchQuery="m0", resourceId=resource_id)
    seen.add("searchMemory")
    assert (refused["ok"], refused["status"]) == (False, 400) and "semantic recall" in refused["error"]
    assert run("deleteThread", threadId=thread_id) == {"result": "Thread deleted"}
    erased = run("eraseResource", resourceId=resource_id)
    assert erased["deletedThreadIds"] == [clone["thread"]["id"]]
    assert seen == set(OPERATIONS)


@pytest.mark.parametrize(
    ("event", "status", "mentions"),
    [
        ({"op": "dropTables", "args": {}}, 400, "op"),
        ({"args": {}}, 400, "op"),
        ({"op": "getThread", "args": "t1"}, 400, "args"),
        ({"op": "getThread", "args": {}}, 400, "threadId"),
        ({"op": "listThreads", "args": {"resourceId": "r", "page": "1"}}, 400, "page"),
        ({"op": "saveMessages", "args": {"messages": [{"id": "m1"}]}}, 400, "messages[0]"),
        ({"op": "deleteMessages", "args": {}}, 400, "messageIds is required"),
        ({"op": "deleteMessages", "args": {"messageIds": [{"noid": 1}]}}, 400, "messageIds[0].id must be a non-empty string"),
        ({"op": "getThread", "args": {"threadId": "missing-thread"}}, 404, "Thread not found"),
        ({"op": "getResource", "args": {"resourceId": "missing-resource"}}, 404, "missing-resource"),
        ({"op": "getThread", "agentId": "nobody", "args": {"threadId": "t"}}, 404, "nobody"),
        ({"op": "createThread", "agentId": "reader", "args": {"resourceId": "r"}}, 403, "read-only"),
    ],
)
def test_errors_are_returned_with_status(runtime: Runtime, event: dict[str, Any], status: int, mentions: str) -> None:
    outcome = dispatch(event, runtime)
    assert outcome["ok"] is False
    assert outcome["status"] == status
    assert mentions in outcome["error"]


def test_invalid_save_writes_nothing(call: Callable[..., dict[str, Any]]) -> None:
    resource_id = uid("res")
    thread_id = ok(call("createThread", resourceId=resource_id))["id"]
    bad = message(thread_id, resource_id, "bad")
    bad["role"] = "robot"

    assert call("saveMessages", messages=[message(thread_id, resource_id, "good"), bad])["status"] == 400
    assert ok(call("listMessages", threadId=thread_id))["total"] == 0


def test_eventbridge_event_carries_the_request_in_detail(runtime: Runtime) -> None:
    resource_id = uid("res")
    event = {
        "version": "0",
        "source": "my.agents",
        "detail-type": "memkit.op",
        "detail": {"op": "createThread", "agentId": "default", "args": {"resourceId": resource_id, "title": "from EB"}},
    }
    assert ok(dispatch(event, runtime))["title"] == "from EB"


def test_server_faults_raise_for_eventbridge_but_return_for_direct_invokes(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    def throttled(self: Memory, *args: Any, **kwargs: Any) -> None:
        raise RetryableError("DynamoDB is throttling")

    monkeypatch.setattr(Memory, "create_thread", throttled)
    request = {"op": "createThread", "args": {"resourceId": uid("res")}}

    assert dispatch(request, runtime) == {"ok": False, "status": 503, "error": "DynamoDB is throttling"}
    with pytest.raises(RetryableError):
        # Nobody reads an async invocation's result: raising lets Lambda retry, then dead-letter.
        dispatch({"detail-type": "memkit.op", "source": "s", "detail": request}, runtime)


def test_unexpected_errors_do_not_leak(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: Memory, *args: Any, **kwargs: Any) -> None:
        raise KeyError("internal_column_name")

    monkeypatch.setattr(Memory, "get_thread", broken)
    assert dispatch({"op": "getThread", "args": {"threadId": "t"}}, runtime) == {
        "ok": False,
        "status": 500,
        "error": "Internal server error",
    }
