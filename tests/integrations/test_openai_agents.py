"""OpenAI Agents SDK sessions on memkit: ``Runner.run`` with the SDK's own ``ScriptedModel``, on
libSQL and DynamoDB Local, checked item for item against the SDK's ``SQLiteSession`` running the
same script."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from agents import Agent, Runner, SQLiteSession, function_tool
from agents.memory import Session
from agents.testing import ScriptedModel, assistant_message, function_call

from memkit import Memory
from memkit.errors import OwnershipError, ValidationError
from memkit.integrations.openai_agents import MemkitSession
from tests.api.support import ApiClient
from tests.integrations.conftest import listed_messages, visible


@function_tool
def weather(city: str) -> str:
    """Today's weather in a city."""
    return f"Sunny and 24°C in {city}"


def script() -> list[Any]:
    return [
        [assistant_message("Hello Ada! Where are you headed?", item_id="msg_1")],
        [function_call("weather", {"city": "Lisbon"}, call_id="call_1", item_id="fc_1")],
        [assistant_message("Lisbon is sunny, 24°C: pack light.", item_id="msg_2")],
    ]


async def two_runs(session: Session) -> ScriptedModel:
    model = ScriptedModel(script())
    agent = Agent(name="Planner", model=model, tools=[weather])
    await Runner.run(agent, "Hi, I'm Ada.", session=session)
    await Runner.run(agent, "What's the weather in Lisbon?", session=session)
    return model


def reference_items() -> list[Any]:
    """What the SDK's SQLiteSession holds after the same two runs."""
    async def run() -> list[Any]:
        session = SQLiteSession("reference")
        await two_runs(session)
        return await session.get_items()
    return asyncio.run(run())


def test_two_runs_store_exactly_the_items_the_sdk_gave(
    new_memory: Callable[[], Memory], session_id: str, resource_id: str
) -> None:
    session = MemkitSession(session_id, resource_id=resource_id, memory=new_memory())
    assert isinstance(session, Session)

    model = asyncio.run(two_runs(session))

    expected = reference_items()
    assert [item.get("type", "message") for item in expected] == [
        "message", "message", "message", "function_call", "function_call_output", "message",
    ]
    assert asyncio.run(session.get_items()) == expected
    reopened = MemkitSession(session_id, resource_id=resource_id, memory=new_memory())
    assert asyncio.run(reopened.get_items()) == expected
    # The second run sent the model the first run's items, then the new prompt.
    second_call = model.calls[1].input
    assert second_call[:2] == expected[:2]


def test_a_third_run_from_new_objects_continues_the_conversation(
    new_memory: Callable[[], Memory], session_id: str, resource_id: str
) -> None:
    asyncio.run(two_runs(MemkitSession(session_id, resource_id=resource_id, memory=new_memory())))
    model = ScriptedModel([[assistant_message("You asked about Lisbon.", item_id="msg_3")]])
    session = MemkitSession(session_id, resource_id=resource_id, memory=new_memory())

    result = asyncio.run(Runner.run(Agent(name="Planner", model=model), "Which city did I ask about?", session=session))

    assert result.final_output == "You asked about Lisbon."
    assert model.calls[0].input[:-1] == reference_items()
    assert len(asyncio.run(session.get_items())) == 8


def test_the_session_reads_through_the_http_api_as_mastra_v2_messages(
    new_memory: Callable[[], Memory], api: ApiClient, session_id: str, resource_id: str
) -> None:
    asyncio.run(two_runs(MemkitSession(session_id, resource_id=resource_id, memory=new_memory())))

    messages = listed_messages(api, session_id, resource_id)

    assert [visible(m) for m in messages] == [
        ("user", [{"type": "text", "text": "Hi, I'm Ada."}]),
        ("assistant", [{"type": "text", "text": "Hello Ada! Where are you headed?", "providerMetadata": {"openai": {"itemId": "msg_1"}}}]),
        ("user", [{"type": "text", "text": "What's the weather in Lisbon?"}]),
        ("assistant", [
            {"type": "tool-invocation", "toolInvocation": {
                "state": "result", "toolCallId": "call_1", "toolName": "weather",
                "args": {"city": "Lisbon"}, "result": "Sunny and 24°C in Lisbon"},
             "providerMetadata": {"openai": {"itemId": "fc_1"}}},
            {"type": "step-start"},
            {"type": "text", "text": "Lisbon is sunny, 24°C: pack light.", "providerMetadata": {"openai": {"itemId": "msg_2"}}},
        ]),
    ]
    assert {(m["threadId"], m["resourceId"]) for m in messages} == {(session_id, resource_id)}


def test_get_items_with_a_limit_returns_the_newest_oldest_first(
    new_memory: Callable[[], Memory], session_id: str, resource_id: str
) -> None:
    session = MemkitSession(session_id, resource_id=resource_id, memory=new_memory())
    asyncio.run(two_runs(session))
    expected = reference_items()

    for limit in range(0, len(expected) + 2):
        reopened = MemkitSession(session_id, resource_id=resource_id, memory=new_memory())
        assert asyncio.run(reopened.get_items(limit)) == (expected[-limit:] if limit else [])
    limited = MemkitSession(session_id, resource_id=resource_id, memory=new_memory(), session_settings={"limit": 2})
    assert asyncio.run(limited.get_items()) == expected[-2:]
    assert asyncio.run(limited.get_items(3)) == expected[-3:]


def test_pop_item_removes_the_newest_item_as_sqlite_session_does(
    new_memory: Callable[[], Memory], api: ApiClient, session_id: str, resource_id: str
) -> None:
    session = MemkitSession(session_id, resource_id=resource_id, memory=new_memory())
    asyncio.run(two_runs(session))
    expected = reference_items()

    popped = []
    while (item := asyncio.run(session.pop_item())) is not None:
        popped.append(item)
        remaining = MemkitSession(session_id, resource_id=resource_id, memory=new_memory())
        assert asyncio.run(remaining.get_items()) == expected[: len(expected) - len(popped)]

    assert popped == list(reversed(expected))
    assert asyncio.run(session.pop_item()) is None
    assert listed_messages(api, session_id, resource_id) == []


def test_popping_a_tool_output_shows_the_call_waiting_again(
    new_memory: Callable[[], Memory], api: ApiClient, session_id: str, resource_id: str
) -> None:
    session = MemkitSession(session_id, resource_id=resource_id, memory=new_memory())
    asyncio.run(two_runs(session))

    asyncio.run(session.pop_item())  # the final answer
    output = asyncio.run(session.pop_item())

    assert output == {"call_id": "call_1", "output": "Sunny and 24°C in Lisbon", "type": "function_call_output"}
    answer = listed_messages(api, session_id, resource_id)[-1]
    assert [p["toolInvocation"]["state"] for p in answer["content"]["parts"]] == ["call"]
    asyncio.run(session.add_items([output]))
    assert asyncio.run(session.get_items()) == reference_items()[:-1]


def test_clear_session_deletes_the_thread_and_the_next_items_start_it_again(
    new_memory: Callable[[], Memory], api: ApiClient, session_id: str, resource_id: str
) -> None:
    session = MemkitSession(session_id, resource_id=resource_id, memory=new_memory())
    asyncio.run(two_runs(session))

    asyncio.run(session.clear_session())

    assert asyncio.run(session.get_items()) == []
    assert asyncio.run(session.pop_item()) is None
    assert api.get(f"/api/memory/threads/{session_id}", params={"resourceId": resource_id}).status_code == 404
    asyncio.run(session.clear_session())  # clearing an empty session is fine, as in SQLiteSession
    asyncio.run(session.add_items([{"role": "user", "content": "Start over."}]))
    assert asyncio.run(session.get_items()) == [{"role": "user", "content": "Start over."}]
    assert [visible(m) for m in listed_messages(api, session_id, resource_id)] == [
        ("user", [{"type": "text", "text": "Start over."}]),
    ]


# Items memkit.formats.openai_responses does not map (hosted tools, references, compaction) or
# maps with normalisation (status, developer role, logprobs, a list output).
UNMAPPED_ITEMS: list[dict[str, Any]] = [
    {"role": "developer", "content": [{"type": "input_text", "text": "Be brief."}]},
    {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Search the news."}]},
    {"type": "web_search_call", "id": "ws_1", "status": "completed", "action": {"type": "search", "query": "news"}},
    {"type": "reasoning", "id": "rs_1", "summary": [], "content": [{"type": "reasoning_text", "text": "Look it up."}], "encrypted_content": None},
    {"type": "function_call", "id": "fc_9", "call_id": "call_9", "name": "lookup", "arguments": "{ \"q\": \"news\" }", "status": "completed"},
    {"type": "function_call_output", "id": "fco_9", "call_id": "call_9", "output": [{"type": "input_text", "text": "Rain."}], "status": "completed"},
    {"type": "item_reference", "id": "msg_0"},
    {"type": "message", "id": "msg_9", "role": "assistant", "status": "completed",
     "content": [{"type": "output_text", "text": "Rain today.", "annotations": [], "logprobs": [{"token": "Rain", "logprob": -0.25, "bytes": [82, 97, 105, 110], "top_logprobs": []}]}]},
    {"type": "compaction", "id": "cmp_1", "encrypted_content": "gAAAAB..."},
]


def test_items_the_v2_mapping_cannot_express_come_back_exactly(
    new_memory: Callable[[], Memory], api: ApiClient, session_id: str, resource_id: str
) -> None:
    session = MemkitSession(session_id, resource_id=resource_id, memory=new_memory())

    asyncio.run(session.add_items(UNMAPPED_ITEMS[:3]))
    asyncio.run(session.add_items(UNMAPPED_ITEMS[3:]))

    reopened = MemkitSession(session_id, resource_id=resource_id, memory=new_memory())
    assert asyncio.run(reopened.get_items()) == UNMAPPED_ITEMS
    assert asyncio.run(reopened.get_items(4)) == UNMAPPED_ITEMS[-4:]
    shown = [visible(m) for m in listed_messages(api, session_id, resource_id)]
    assert shown[0] == ("system", [{"type": "text", "text": "Be brief."}])
    assert shown[1] == ("user", [{"type": "text", "text": "Search the news."}])
    assert shown[2][0] == "assistant"
    assert [p["type"] for p in shown[2][1]] == ["reasoning", "tool-invocation", "step-start", "text"]
    assert asyncio.run(reopened.pop_item()) == UNMAPPED_ITEMS[-1]


def test_a_session_of_another_resource_is_refused(
    new_memory: Callable[[], Memory], session_id: str, resource_id: str
) -> None:
    asyncio.run(MemkitSession(session_id, resource_id=resource_id, memory=new_memory()).add_items([{"role": "user", "content": "Hi"}]))
    intruder = MemkitSession(session_id, resource_id="someone-else", memory=new_memory())

    with pytest.raises(OwnershipError):
        asyncio.run(intruder.get_items())
    with pytest.raises(OwnershipError):
        asyncio.run(intruder.add_items([{"role": "user", "content": "Mine now"}]))
    with pytest.raises(OwnershipError):
        asyncio.run(intruder.clear_session())
    owner = MemkitSession(session_id, resource_id=resource_id, memory=new_memory())
    assert asyncio.run(owner.get_items()) == [{"role": "user", "content": "Hi"}]


def test_items_that_are_not_json_are_refused_naming_the_item(
    new_memory: Callable[[], Memory], session_id: str, resource_id: str
) -> None:
    session = MemkitSession(session_id, resource_id=resource_id, memory=new_memory())

    with pytest.raises(ValidationError) as refused:
        asyncio.run(session.add_items([{"role": "user", "content": "ok"}, {"role": "user", "content": {1, 2}}]))

    assert refused.value.field == "items[1]"
    assert asyncio.run(session.get_items()) == []


def test_a_run_reads_the_history_once_and_saves_only_what_changed(
    new_memory: Callable[[], Memory], session_id: str, resource_id: str,
    first_arguments: Callable[[Any, str], list[Any]],
) -> None:
    asyncio.run(two_runs(MemkitSession(session_id, resource_id=resource_id, memory=new_memory())))
    memory = new_memory()
    saves = first_arguments(memory, "save_messages")
    reads = first_arguments(memory, "list_messages")
    model = ScriptedModel([
        [function_call("weather", {"city": "Porto"}, call_id="call_2", item_id="fc_2")],
        [assistant_message("Porto is sunny too.", item_id="msg_3")],
    ])

    asyncio.run(Runner.run(Agent(name="Planner", model=model, tools=[weather]), "And Porto?",
                           session=MemkitSession(session_id, resource_id=resource_id, memory=memory)))

    # get_items reads the history, which tells the session its last turn: appending reads nothing.
    assert len(reads) == 1
    # Each add_items writes the v2 messages it changed: the prompt, then the answer as it grows.
    assert [[m["id"] for m in saved] for saved in saves][0] == [f"{session_id}:6:0"]
    assert {m["id"] for saved in saves[1:] for m in saved} == {f"{session_id}:6:1"}
    assert all(len(saved) == 1 for saved in saves)
