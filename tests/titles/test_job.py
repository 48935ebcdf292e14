"""The generate_title job and the handler registry, run directly (no queue) on each store."""

from __future__ import annotations

import re
import threading
from typing import Any, Callable

import pytest

from memkit.config import MemoryConfig
from memkit.errors import PermanentJobError, RetryableError
from memkit.memory.jobs import handle_job
from memkit.memory.ports import AgentPorts
from memkit.memory import Memory
from memkit.runtime import Runtime
from memkit.storage.factory import create_memory_storage
from memkit.titles.rules import TITLE_MAX_CHARS

from tests.support.openai_stub import OpenAIStub

from tests.support.jobs import message, seed_thread, stored_title, title_job, wait_for

INSTRUCTIONS = "Title this conversation in five words."


@pytest.fixture
def runtime(storage_url: str, openai: OpenAIStub, runtimes: Callable[..., Runtime]) -> Runtime:
    return runtimes(
        storage_url,
        openai_base_url=openai.base_url,
        agents={
            "default": {"generateTitle": True},
            "openai": {"generateTitle": {"model": "openai/gpt-4o-mini", "instructions": INSTRUCTIONS}},
        },
    )


# ------------------------------------------------------------------ what the job reads and writes


def test_title_comes_from_the_first_user_message(runtime: Runtime) -> None:
    thread = seed_thread(
        runtime,
        ("assistant", "Welcome! How can I help?"),
        ("user", "Hi! Plan my Lisbon trip."),
        ("user", "Also add Porto."),
    )

    assert handle_job(title_job(thread), runtime) == "written"
    assert stored_title(runtime, thread) == "Plan my Lisbon trip"


@pytest.mark.parametrize("default_title", ["New Thread", ""])
def test_default_title_counts_as_untitled(runtime: Runtime, default_title: str) -> None:
    thread = seed_thread(runtime, ("user", "Lisbon plans"), title=default_title)

    assert handle_job(title_job(thread), runtime) == "written"
    assert stored_title(runtime, thread) == "Lisbon plans"


def test_configured_model_gets_the_instructions_and_the_first_message(runtime: Runtime, openai: OpenAIStub) -> None:
    thread = seed_thread(runtime, ("user", "I want to visit Lisbon in May"), ("user", "and Porto"))

    assert handle_job(title_job(thread, "openai"), runtime) == "written"

    [request] = openai.chat_requests()
    assert request["body"]["messages"] == [
        {"role": "system", "content": INSTRUCTIONS},
        {"role": "user", "content": "I want to visit Lisbon in May"},
    ]
    # The stand-in answers with the first words of the prompt.
    assert stored_title(runtime, thread) == "I want to visit Lisbon in"


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ('"Lisbon: a weekend plan"', "Lisbon a weekend plan"),
        ("“Lisbon weekend”", "Lisbon weekend"),
        ("<think>The user talks about Lisbon.\nShort title.</think>\nLisbon weekend", "Lisbon weekend"),
        ("<think>cut off before any answer", "Visit Lisbon in May"),
        ("", "Visit Lisbon in May"),
    ],
)
def test_model_answer_is_cleaned_or_replaced_by_the_extractive_title(
    runtime: Runtime, openai: OpenAIStub, answer: str, expected: str
) -> None:
    thread = seed_thread(runtime, ("user", "Visit Lisbon in May. Details follow."))
    openai.script({"content": answer})

    handle_job(title_job(thread, "openai"), runtime)

    assert stored_title(runtime, thread) == expected


def test_long_model_answer_is_stored_within_80_characters(runtime: Runtime, openai: OpenAIStub) -> None:
    thread = seed_thread(runtime, ("user", "Visit Lisbon"))
    openai.script({"content": " ".join(["Lisbon"] * 60)[:300]})

    handle_job(title_job(thread, "openai"), runtime)

    title = stored_title(runtime, thread)
    assert title is not None and 0 < len(title) <= TITLE_MAX_CHARS
    assert set(title.split()) == {"Lisbon"}


# ------------------------------------------------------------------ idempotence and races


def test_duplicate_delivery_leaves_one_title_and_calls_the_model_once(runtime: Runtime, openai: OpenAIStub) -> None:
    thread = seed_thread(runtime, ("user", "Visit Lisbon"))
    openai.script({"content": "First answer"}, {"content": "Second answer"})
    job = title_job(thread, "openai")

    assert handle_job(job, runtime) == "written"
    assert handle_job(job, runtime) == "already_titled"

    assert stored_title(runtime, thread) == "First answer"
    assert len(openai.chat_requests()) == 1


def test_user_title_is_never_replaced(runtime: Runtime, openai: OpenAIStub) -> None:
    thread = seed_thread(runtime, ("user", "Visit Lisbon"), title="My own title")

    assert handle_job(title_job(thread, "openai"), runtime) == "already_titled"
    assert stored_title(runtime, thread) == "My own title"
    assert openai.chat_requests() == []


def test_user_rename_while_the_model_answers_wins(runtime: Runtime, openai: OpenAIStub) -> None:
    # Given a model that takes a moment to answer
    thread = seed_thread(runtime, ("user", "Visit Lisbon"))
    openai.script({"delay": 1, "content": "Model title"})
    outcome: list[Any] = []
    worker = threading.Thread(target=lambda: outcome.append(handle_job(title_job(thread, "openai"), runtime)))

    # When the user renames the thread after the job has read it, before the model answers
    worker.start()
    wait_for(openai.chat_requests, timeout=5, what="the title request to reach the model")
    runtime.memory().update_thread(thread.id, title="Renamed by the user")
    worker.join(timeout=10)

    # Then the rename stays and the job still succeeds
    assert outcome == ["kept_user_title"]
    assert stored_title(runtime, thread) == "Renamed by the user"


@pytest.mark.parametrize(
    ("texts", "delete", "expected"),
    [
        ([("assistant", "Welcome! How can I help?")], False, "no_user_message"),
        ([], False, "no_user_message"),
        ([("user", "Visit Lisbon")], True, "thread_missing"),
    ],
)
def test_job_with_nothing_to_do_succeeds_without_a_title(
    runtime: Runtime, texts: list[tuple[str, str]], delete: bool, expected: str
) -> None:
    thread = seed_thread(runtime, *texts)
    if delete:
        runtime.memory().storage.delete_thread(thread.id)

    assert handle_job(title_job(thread), runtime) == expected
    if not delete:
        assert stored_title(runtime, thread) is None


def test_job_for_an_agent_whose_titles_were_switched_off_does_nothing(
    storage_url: str, runtimes: Callable[..., Runtime]
) -> None:
    runtime = runtimes(storage_url, agents={"default": {"generateTitle": False}})
    thread = seed_thread(runtime, ("user", "Visit Lisbon"))

    assert handle_job(title_job(thread), runtime) == "disabled"
    assert stored_title(runtime, thread) is None


# ------------------------------------------------------------------ failures


def test_provider_throttling_is_retryable_and_leaves_the_thread_untitled(runtime: Runtime, openai: OpenAIStub) -> None:
    thread = seed_thread(runtime, ("user", "Visit Lisbon"))
    openai.script({"status": 429})

    with pytest.raises(RetryableError):
        handle_job(title_job(thread, "openai"), runtime)
    assert stored_title(runtime, thread) is None


def test_provider_auth_failure_is_permanent(runtime: Runtime, openai: OpenAIStub) -> None:
    thread = seed_thread(runtime, ("user", "Visit Lisbon"))
    openai.script({"status": 401, "message": "Incorrect API key provided"})

    with pytest.raises(PermanentJobError, match="401: Incorrect API key provided"):
        handle_job(title_job(thread, "openai"), runtime)


class AgentRenamedItsModel:
    """The worker's context after the agent's title model was changed to one this deployment
    cannot build, while the job waited in the queue (a runtime refuses such a config when it
    starts: tests/test_composition.py)."""

    def __init__(self, runtime: Runtime, model: str):
        self._runtime = runtime
        self._config = MemoryConfig.model_validate({"generateTitle": {"model": model}})

    def agent(self, agent_id: str | None) -> AgentPorts:
        return self._runtime.agent(agent_id)._replace(config=self._config)

    def title_model(self, spec: str | None) -> Any:
        return self._runtime.title_model(spec)


def test_unsupported_model_is_permanent(storage_url: str, runtimes: Callable[..., Runtime]) -> None:
    runtime = runtimes(storage_url, agents={"default": {"generateTitle": True}})
    thread = seed_thread(runtime, ("user", "Visit Lisbon"))

    with pytest.raises(PermanentJobError, match="unsupported model 'mistral/large'"):
        handle_job(title_job(thread), AgentRenamedItsModel(runtime, "mistral/large"))


@pytest.mark.parametrize(
    ("job", "reason"),
    [
        ({"type": "send_email", "v": 1}, "unknown job type 'send_email' version 1"),
        ({"type": "generate_title", "v": 2, "agent_id": "default", "thread_id": "t", "resource_id": "r"}, "version 2"),
        ({"type": "generate_title", "v": True, "agent_id": "default", "thread_id": "t", "resource_id": "r"}, "version True"),
        ({"v": 1}, "unknown job type None"),
        ({"type": ["generate_title"], "v": 1}, "unknown job type ['generate_title']"),
        ({"type": "generate_title", "v": 1, "agent_id": "default"}, "malformed generate_title v1 job: thread_id"),
        ({"type": "generate_title", "v": 1, "agent_id": "default", "thread_id": "t", "resource_id": "r", "x": 1}, "malformed"),
        (["generate_title"], "must be a JSON object"),
    ],
)
def test_unknown_or_malformed_jobs_are_permanent(runtime: Runtime, job: Any, reason: str) -> None:
    with pytest.raises(PermanentJobError, match=re.escape(reason)):
        handle_job(job, runtime)


def test_job_for_an_unknown_agent_is_permanent(runtime: Runtime) -> None:
    thread = seed_thread(runtime, ("user", "Visit Lisbon"))

    with pytest.raises(PermanentJobError, match="Agent with id gone not found"):
        handle_job(title_job(thread, "gone"), runtime)


# ------------------------------------------------------------------ a Memory without a queue


def test_memory_without_a_queue_titles_the_thread_during_the_save(tmp_path) -> None:
    store = create_memory_storage(f"file:{tmp_path / 'inline.db'}")
    memory = Memory(store, config={"generateTitle": True})
    thread = memory.create_thread(resource_id="res-inline")

    memory.save_messages([message(thread.id, "res-inline", "Hello! Book a table in Lisbon tonight.")])

    assert memory.require_thread(thread.id).title == "Book a table in Lisbon tonight"
    store.close()


def test_an_inline_title_that_fails_is_retried_by_the_next_save(tmp_path, monkeypatch) -> None:
    from memkit.memory import jobs as handlers

    store = create_memory_storage(f"file:{tmp_path / 'inline-retry.db'}")
    memory = Memory(store, config={"generateTitle": True})
    thread = memory.create_thread(resource_id="res-inline")
    real_handle_job = handlers.handle_job
    attempts: list[str] = []

    def throttled_once(job, context):
        attempts.append(job["type"])
        if len(attempts) == 1:
            raise RetryableError("model throttled")
        return real_handle_job(job, context)

    monkeypatch.setattr(handlers, "handle_job", throttled_once)

    memory.save_messages([message(thread.id, "res-inline", "Hello! Book a table in Lisbon tonight.")])
    assert memory.require_thread(thread.id).title is None

    memory.save_messages([message(thread.id, "res-inline", "For two, please.", offset_ms=10)])
    assert attempts == ["generate_title", "generate_title"]
    assert memory.require_thread(thread.id).title == "Book a table in Lisbon tonight"
    store.close()
