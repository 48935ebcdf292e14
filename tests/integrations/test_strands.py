"""Strands Agents on memkit: real ``strands.Agent`` objects with a scripted model, on libSQL and
DynamoDB Local. A "restart" builds every object again (Memory, store, manager, agent), or runs
a fresh interpreter; the HTTP API reads the same store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from strands import Agent, tool
from strands.agent.conversation_manager import SlidingWindowConversationManager
from strands.types.exceptions import SessionException
from strands.types.session import SessionMessage

from memkit import Memory
from memkit.errors import OwnershipError
from memkit.integrations.strands import MemkitSessionManager
from tests.api.support import ApiClient
from tests.integrations.conftest import listed_messages, visible
from tests.integrations.scripted_strands import ScriptedModel, text, tool_use

REPO_ROOT = Path(__file__).resolve().parents[2]


@tool
def weather(city: str) -> str:
    """Today's weather in a city."""
    return f"Sunny and 24°C in {city}"


def as_sent(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages as an agent sends them to its model (without Strands' own keys)."""
    return [{"role": m["role"], "content": m["content"]} for m in messages]


def agent_for(memory: Memory, session_id: str, resource_id: str, model: ScriptedModel, **kwargs: Any) -> Agent:
    manager = MemkitSessionManager(session_id=session_id, resource_id=resource_id, memory=memory)
    return Agent(model=model, tools=[weather], session_manager=manager, callback_handler=None, **kwargs)


def two_turns_with_a_tool_call(memory: Memory, session_id: str, resource_id: str) -> Agent:
    model = ScriptedModel([
        text("Hello Ada! Where are you headed?"),
        tool_use("tooluse-1", "weather", city="Lisbon"),
        text("Lisbon is sunny, 24°C: pack light."),
    ])
    agent = agent_for(memory, session_id, resource_id, model)
    agent("Hi, I'm Ada.")
    agent("What's the weather in Lisbon?")
    return agent


def test_a_conversation_with_a_tool_call_resumes_from_new_objects(
    new_memory: Callable[[], Memory], session_id: str, resource_id: str
) -> None:
    first = two_turns_with_a_tool_call(new_memory(), session_id, resource_id)

    model = ScriptedModel([text("You asked about Lisbon.")])
    resumed = agent_for(new_memory(), session_id, resource_id, model)

    assert resumed.messages == first.messages
    assert [m["role"] for m in resumed.messages] == ["user", "assistant", "user", "assistant", "user", "assistant"]
    assert resumed.messages[4]["content"][0]["toolResult"]["content"] == [{"text": "Sunny and 24°C in Lisbon"}]
    resumed("Which city did I ask about?")
    # The model got the whole stored conversation, then the new prompt.
    assert model.requests[0][:-1] == as_sent(first.messages)
    assert model.requests[0][-1]["content"] == [{"text": "Which city did I ask about?"}]
    again = agent_for(new_memory(), session_id, resource_id, ScriptedModel([]))
    assert again.messages == resumed.messages
    assert len(again.messages) == 8


def test_the_conversation_reads_through_the_http_api_as_mastra_v2_messages(
    new_memory: Callable[[], Memory], api: ApiClient, session_id: str, resource_id: str
) -> None:
    two_turns_with_a_tool_call(new_memory(), session_id, resource_id)

    messages = listed_messages(api, session_id, resource_id)

    assert [visible(m) for m in messages] == [
        ("user", [{"type": "text", "text": "Hi, I'm Ada."}]),
        ("assistant", [{"type": "text", "text": "Hello Ada! Where are you headed?"}]),
        ("user", [{"type": "text", "text": "What's the weather in Lisbon?"}]),
        ("assistant", [
            {"type": "tool-invocation", "toolInvocation": {
                "state": "result", "toolCallId": "tooluse-1", "toolName": "weather",
                "args": {"city": "Lisbon"}, "result": "Sunny and 24°C in Lisbon"}},
            {"type": "step-start"},
            {"type": "text", "text": "Lisbon is sunny, 24°C: pack light."},
        ]),
    ]
    assert {m["threadId"] for m in messages} == {session_id}
    assert {m["resourceId"] for m in messages} == {resource_id}
    created = [m["createdAt"] for m in messages]
    assert created == sorted(created) and len(set(created)) == len(created)
    # Each Strands message is kept whole (index, message, timestamps) in one v2 message.
    indexes = [r["index"] for m in messages for r in m["content"]["metadata"]["strands"]["records"]]
    assert indexes == [0, 1, 2, 3, 4, 5]
    thread = api.get(f"/api/memory/threads/{session_id}", params={"resourceId": resource_id}).json()
    assert thread["resourceId"] == resource_id
    assert thread["metadata"]["strands"]["session"]["session_id"] == session_id


def test_agent_state_is_kept_with_the_thread_and_restored(
    new_memory: Callable[[], Memory], api: ApiClient, session_id: str, resource_id: str
) -> None:
    agent = agent_for(new_memory(), session_id, resource_id, ScriptedModel([text("Noted.")]))
    agent.state.set("preferences", {"seat": "window", "budget": 900})
    agent("Remember I like window seats.")

    resumed = agent_for(new_memory(), session_id, resource_id, ScriptedModel([]))

    assert resumed.state.get("preferences") == {"seat": "window", "budget": 900}
    stored = api.get(f"/api/memory/threads/{session_id}", params={"resourceId": resource_id}).json()
    assert stored["metadata"]["strands"]["agents"]["default"]["state"] == {"preferences": {"seat": "window", "budget": 900}}


def test_a_redacted_message_is_rewritten_where_it_was(
    new_memory: Callable[[], Memory], api: ApiClient, session_id: str, resource_id: str
) -> None:
    agent = agent_for(new_memory(), session_id, resource_id, ScriptedModel([text("Got it.")]))
    agent("My card number is 4111 1111 1111 1111")
    manager = agent._session_manager
    before = listed_messages(api, session_id, resource_id)

    # What a guardrail intervention does to the latest message.
    manager.redact_latest_message({"role": "assistant", "content": [{"text": "[redacted]"}]}, agent)

    after = listed_messages(api, session_id, resource_id)
    assert [m["id"] for m in after] == [m["id"] for m in before]
    assert visible(after[1]) == ("assistant", [{"type": "text", "text": "[redacted]"}])
    record = after[1]["content"]["metadata"]["strands"]["records"][0]["value"]
    assert record["message"]["content"] == [{"text": "Got it."}]  # the original, as Strands keeps it
    assert record["redact_message"] == {"role": "assistant", "content": [{"text": "[redacted]"}]}
    resumed = agent_for(new_memory(), session_id, resource_id, ScriptedModel([]))
    assert resumed.messages[1] == {"role": "assistant", "content": [{"text": "[redacted]"}]}


def test_an_older_message_is_updated_in_its_own_turn(
    new_memory: Callable[[], Memory], api: ApiClient, session_id: str, resource_id: str
) -> None:
    two_turns_with_a_tool_call(new_memory(), session_id, resource_id)
    manager = MemkitSessionManager(session_id=session_id, resource_id=resource_id, memory=new_memory())
    repository = manager.session_repository
    first = repository.read_message(session_id, "default", 0)
    assert first is not None
    first.redact_message = {"role": "user", "content": [{"text": "Hi."}]}
    before = listed_messages(api, session_id, resource_id)

    repository.update_message(session_id, "default", first)

    after = listed_messages(api, session_id, resource_id)
    assert visible(after[0]) == ("user", [{"type": "text", "text": "Hi."}])
    assert [(m["id"], m["createdAt"]) for m in after] == [(m["id"], m["createdAt"]) for m in before]
    assert after[1:] == before[1:]
    listed = repository.list_messages(session_id, "default")
    assert [m.message_id for m in listed] == [0, 1, 2, 3, 4, 5]
    assert listed[0].to_message() == {"role": "user", "content": [{"text": "Hi."}]}


def test_messages_the_bedrock_mapping_cannot_express_come_back_exactly(
    new_memory: Callable[[], Memory], api: ApiClient, session_id: str, resource_id: str
) -> None:
    png = bytes(range(256))
    message = {
        "role": "user",
        "content": [
            {"text": "What is in this picture?"},
            {"image": {"format": "png", "source": {"bytes": png}}},
            {"video": {"format": "mp4", "source": {"bytes": b"\x00\x01"}}},
        ],
    }
    agent = agent_for(new_memory(), session_id, resource_id, ScriptedModel([text("A gradient.")]))
    agent(message["content"])

    resumed = agent_for(new_memory(), session_id, resource_id, ScriptedModel([]))

    assert resumed.messages[0]["content"] == message["content"]
    assert resumed.messages[0]["content"][1]["image"]["source"]["bytes"] == png
    shown = listed_messages(api, session_id, resource_id)[0]
    # The video block has no v2 form: the text and the image show, the video is kept only.
    assert [part["type"] for part in shown["content"]["parts"]] == ["text", "file"]
    assert shown["content"]["parts"][1]["mimeType"] == "image/png"


def test_a_sliding_window_resumes_with_the_window_it_had(
    new_memory: Callable[[], Memory], session_id: str, resource_id: str
) -> None:
    replies = [text(f"Answer {n}.") for n in range(3)]
    agent = agent_for(
        new_memory(), session_id, resource_id, ScriptedModel(replies),
        conversation_manager=SlidingWindowConversationManager(window_size=4),
    )
    for n in range(3):
        agent(f"Question {n}?")
    assert len(agent.messages) == 4

    resumed = agent_for(
        new_memory(), session_id, resource_id, ScriptedModel([]),
        conversation_manager=SlidingWindowConversationManager(window_size=4),
    )

    assert resumed.messages == agent.messages
    assert resumed.messages[0]["content"] == [{"text": "Question 1?"}]
    # Everything stays stored; the window is an offset into it.
    everything = resumed._session_manager.session_repository.list_messages(session_id, "default")
    assert [m.message_id for m in everything] == list(range(6))


def test_two_agents_in_one_session_each_resume_their_own_messages(
    new_memory: Callable[[], Memory], api: ApiClient, session_id: str, resource_id: str
) -> None:
    memory = new_memory()
    manager = MemkitSessionManager(session_id=session_id, resource_id=resource_id, memory=memory)
    planner = Agent(agent_id="planner", model=ScriptedModel([text("Plan: Lisbon.")]), session_manager=manager, callback_handler=None)
    planner("Plan a trip.")
    critic = Agent(agent_id="critic", model=ScriptedModel([text("Looks good.")]), session_manager=manager, callback_handler=None)
    critic("Review the plan.")

    again = MemkitSessionManager(session_id=session_id, resource_id=resource_id, memory=new_memory())
    planner_again = Agent(agent_id="planner", model=ScriptedModel([]), session_manager=again, callback_handler=None)
    critic_again = Agent(agent_id="critic", model=ScriptedModel([]), session_manager=again, callback_handler=None)

    assert planner_again.messages == planner.messages
    assert critic_again.messages == critic.messages
    assert [visible(m)[1][0]["text"] for m in listed_messages(api, session_id, resource_id)] == [
        "Plan a trip.", "Plan: Lisbon.", "Review the plan.", "Looks good.",
    ]


def test_a_session_of_another_resource_is_refused(
    new_memory: Callable[[], Memory], session_id: str, resource_id: str
) -> None:
    agent = agent_for(new_memory(), session_id, resource_id, ScriptedModel([text("Hi.")]))
    agent("Hello")

    with pytest.raises(OwnershipError, match=f"Thread with id {session_id} is for resource with id {resource_id}"):
        MemkitSessionManager(session_id=session_id, resource_id="someone-else", memory=new_memory())


def test_a_thread_made_through_the_api_becomes_the_session(
    new_memory: Callable[[], Memory], api: ApiClient, session_id: str, resource_id: str
) -> None:
    created = api.post("/api/memory/threads", json={"resourceId": resource_id, "threadId": session_id, "title": "Trip to Lisbon"})
    assert created.status_code == 200, created.text

    agent = agent_for(new_memory(), session_id, resource_id, ScriptedModel([text("Hi!")]))
    agent("Hello")

    thread = api.get(f"/api/memory/threads/{session_id}", params={"resourceId": resource_id}).json()
    assert thread["title"] == "Trip to Lisbon"
    assert list(thread["metadata"]["strands"]["agents"]) == ["default"]
    resumed = agent_for(new_memory(), session_id, resource_id, ScriptedModel([]))
    assert resumed.messages == agent.messages


def test_a_stored_message_reads_back_as_strands_wrote_it(
    new_memory: Callable[[], Memory], session_id: str, resource_id: str
) -> None:
    agent = agent_for(new_memory(), session_id, resource_id, ScriptedModel([text("Hi!")]))
    agent("Hello")
    written = agent._session_manager._held_records["default"]

    repository = MemkitSessionManager(session_id=session_id, resource_id=resource_id, memory=new_memory()).session_repository

    read = [repository.read_message(session_id, "default", index) for index in (0, 1)]
    assert [m.to_dict() for m in read if m is not None] == [m.to_dict() for m in written]
    assert repository.read_message(session_id, "default", 2) is None
    assert isinstance(read[0], SessionMessage)


RESUME_IN_A_NEW_PROCESS = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from memkit import Memory
from tests.integrations.scripted_strands import ScriptedModel, text
from tests.integrations.test_strands import agent_for
model = ScriptedModel([text("Welcome back, Ada.")])
agent = agent_for(Memory(sys.argv[2]), sys.argv[3], sys.argv[4], model)
agent("Do you remember me?")
print(json.dumps({"sent": model.requests[0], "messages": len(agent.messages)}, ensure_ascii=False))
"""


def test_a_new_process_resumes_the_conversation(
    new_memory: Callable[[], Memory], storage_url: str, session_id: str, resource_id: str
) -> None:
    first = two_turns_with_a_tool_call(new_memory(), session_id, resource_id)

    child = subprocess.run(
        [sys.executable, "-c", RESUME_IN_A_NEW_PROCESS, str(REPO_ROOT), storage_url, session_id, resource_id],
        env=dict(os.environ), capture_output=True, text=True, timeout=120, cwd=REPO_ROOT,
    )

    assert child.returncode == 0, child.stderr
    outcome = json.loads(child.stdout.strip().splitlines()[-1])
    assert outcome["sent"][:-1] == json.loads(json.dumps(as_sent(first.messages), ensure_ascii=False))
    assert outcome["messages"] == 8
    resumed = agent_for(new_memory(), session_id, resource_id, ScriptedModel([]))
    assert resumed.messages[-1]["content"] == [{"text": "Welcome back, Ada."}]


def test_a_turn_saves_each_new_message_once_and_reads_nothing(
    new_memory: Callable[[], Memory], session_id: str, resource_id: str,
    first_arguments: Callable[[Any, str], list[Any]],
) -> None:
    memory = new_memory()
    saves = first_arguments(memory, "save_messages")
    reads = first_arguments(memory, "list_messages")
    new = agent_for(memory, session_id, resource_id, ScriptedModel([text("Hi!"), tool_use("t-1", "weather", city="Porto"), text("Sunny.")]))

    new("Hello")
    assert reads == []  # a new session has nothing to read back
    resumed = agent_for(memory, session_id, resource_id, ScriptedModel([tool_use("t-2", "weather", city="Porto"), text("Still sunny.")]))
    assert len(reads) == 1  # resuming reads the agent's messages once
    resumed("And tomorrow?")

    assert len(reads) == 1
    # One save per message Strands added, each writing one v2 message: the prompt, then the
    # assistant message as it grows (tool call, its result, the answer).
    assert [[m["id"] for m in saved] for saved in saves] == [
        [f"{session_id}:default:0:0"], [f"{session_id}:default:0:1"],
        [f"{session_id}:default:2:0"], *[[f"{session_id}:default:2:1"]] * 3,
    ]


def test_deleting_the_session_deletes_the_thread_and_the_next_agent_starts_fresh(
    new_memory: Callable[[], Memory], api: ApiClient, session_id: str, resource_id: str
) -> None:
    agent = agent_for(new_memory(), session_id, resource_id, ScriptedModel([text("Hi!")]))
    agent("Hello")
    repository = agent._session_manager.session_repository

    repository.delete_session(session_id)

    assert api.get(f"/api/memory/threads/{session_id}", params={"resourceId": resource_id}).status_code == 404
    with pytest.raises(SessionException, match="does not exist"):
        repository.delete_session(session_id)
    fresh = agent_for(new_memory(), session_id, resource_id, ScriptedModel([text("Hello again.")]))
    assert fresh.messages == []
    fresh("Hi")
    assert [visible(m)[0] for m in listed_messages(api, session_id, resource_id)] == ["user", "assistant"]
