"""The in-process queue of the embedded default: background runs, retries, dead letters, bounds."""

from __future__ import annotations

from typing import Callable, Iterator

import pytest

from memkit.errors import RetryableError
from memkit.jobs.inprocess import InProcessQueue
from memkit.runtime import Runtime

from tests.support.openai_stub import OpenAIStub

from tests.support.jobs import message, seed_thread, stored_title, title_job, unique, wait_for


@pytest.fixture
def runtime(file_db: str, openai: OpenAIStub, runtimes: Callable[..., Runtime]) -> Runtime:
    return runtimes(
        file_db,
        jobs="inprocess",
        openai_base_url=openai.base_url,
        agents={"default": {"generateTitle": True}, "openai": {"generateTitle": {"model": "openai/gpt-4o-mini"}}},
    )


@pytest.fixture
def queue(runtime: Runtime) -> Iterator[InProcessQueue]:
    # Short backoff: the retry schedule is the same, only faster.
    queue = InProcessQueue(runtime.run_job, base_delay=0.01, max_delay=0.05)
    yield queue
    queue.close(drain=False, timeout=5)


def test_saving_messages_titles_the_thread_in_the_background(runtime: Runtime) -> None:
    memory = runtime.memory()
    thread = memory.create_thread(resource_id=unique("res"))

    memory.save_messages([message(thread.id, thread.resource_id, "Hey! Find me a quiet beach near Lisbon.")])

    assert wait_for(lambda: memory.require_thread(thread.id).title, what="the title") == "Find me a quiet beach near Lisbon"
    assert runtime.jobs.name == "inprocess"


def test_retryable_failure_is_retried_until_it_succeeds(runtime: Runtime, queue: InProcessQueue, openai: OpenAIStub) -> None:
    thread = seed_thread(runtime, ("user", "Visit Lisbon"))
    openai.script({"status": 429}, {"status": 503}, {"content": "After retries"})

    queue.enqueue(title_job(thread, "openai"))

    assert queue.wait_idle(5)
    assert stored_title(runtime, thread) == "After retries"
    assert len(openai.chat_requests()) == 3
    assert list(queue.dead_letters) == []


def test_job_failing_three_times_is_dead_lettered(runtime: Runtime, queue: InProcessQueue, openai: OpenAIStub) -> None:
    thread = seed_thread(runtime, ("user", "Visit Lisbon"))
    openai.script({"status": 500}, {"status": 500}, {"status": 500}, {"content": "never asked for"})
    job = title_job(thread, "openai")

    queue.enqueue(job)

    assert queue.wait_idle(5)
    [dead] = queue.dead_letters
    assert (dead.job, dead.attempts) == (job, 3)
    assert "RetryableError" in dead.reason and "500" in dead.reason
    assert len(openai.chat_requests()) == 3
    assert stored_title(runtime, thread) is None


def test_permanent_failure_is_dead_lettered_without_retrying(runtime: Runtime, queue: InProcessQueue, openai: OpenAIStub) -> None:
    thread = seed_thread(runtime, ("user", "Visit Lisbon"))
    openai.script({"status": 400, "message": "max_tokens is too large"})

    queue.enqueue(title_job(thread, "openai"))

    assert queue.wait_idle(5)
    [dead] = queue.dead_letters
    assert dead.attempts == 1 and "400: max_tokens is too large" in dead.reason
    assert len(openai.chat_requests()) == 1


def test_unknown_job_is_dead_lettered_not_dropped(queue: InProcessQueue) -> None:
    queue.enqueue({"type": "index_everything", "v": 9})

    assert queue.wait_idle(5)
    [dead] = queue.dead_letters
    assert dead.job == {"type": "index_everything", "v": 9}
    assert "unknown job type 'index_everything' version 9" in dead.reason


def test_full_queue_refuses_new_jobs_instead_of_growing(runtime: Runtime, openai: OpenAIStub) -> None:
    queue = InProcessQueue(runtime.run_job, max_pending=2)
    first, second, third = (seed_thread(runtime, ("user", f"Visit city {n}")) for n in range(3))
    openai.script({"delay": 1, "content": "Slow title"})
    try:
        # Given a worker busy with one job and one more waiting
        queue.enqueue(title_job(first, "openai"))
        wait_for(openai.chat_requests, timeout=5, what="the worker to be busy with the first job")
        queue.enqueue(title_job(second, "openai"))

        # When a third arrives, it is refused with a retryable error
        with pytest.raises(RetryableError, match="full"):
            queue.enqueue(title_job(third, "openai"))

        # Then the admitted jobs still finish
        assert queue.wait_idle(10)
        assert stored_title(runtime, first) == "Slow title"
        assert stored_title(runtime, second) == "Visit city 1"
        assert stored_title(runtime, third) is None
    finally:
        queue.close(timeout=5)


def test_close_with_drain_finishes_the_queued_jobs(runtime: Runtime) -> None:
    queue = InProcessQueue(runtime.run_job)
    threads = [seed_thread(runtime, ("user", f"Visit city {n}")) for n in range(5)]
    for thread in threads:
        queue.enqueue(title_job(thread))

    queue.close(drain=True, timeout=10)

    assert [stored_title(runtime, t) for t in threads] == [f"Visit city {n}" for n in range(5)]
    assert list(queue.dead_letters) == []


def test_close_without_drain_dead_letters_what_did_not_run(runtime: Runtime, openai: OpenAIStub) -> None:
    queue = InProcessQueue(runtime.run_job)
    running, waiting = seed_thread(runtime, ("user", "Visit Lisbon")), seed_thread(runtime, ("user", "Visit Porto"))
    openai.script({"delay": 0.5, "content": "Slow title"})
    queue.enqueue(title_job(running, "openai"))
    wait_for(openai.chat_requests, timeout=5, what="the worker to be busy")
    queue.enqueue(title_job(waiting, "openai"))

    queue.close(drain=False, timeout=5)

    [dead] = queue.dead_letters
    assert dead.job["thread_id"] == waiting.id and "closed before the job ran" in dead.reason
    assert stored_title(runtime, running) == "Slow title"
    with pytest.raises(RetryableError, match="shutting down"):
        queue.enqueue(title_job(waiting))




def test_concurrent_first_requests_share_one_queue_that_close_drains(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from memkit.jobs import factory

    askers_count = 7
    built: list[object] = []
    real_create = factory.create_job_queue
    first_build_started = threading.Event()
    # Trips only if every asker gets inside the factory while the first build is still running,
    # which the lock forbids; with the lock the first builder gives up waiting and finishes.
    all_building = threading.Barrier(askers_count + 1)

    def slow_create(*args: object, **kwargs: object) -> object:
        first_build_started.set()
        try:
            all_building.wait(timeout=0.5)
        except threading.BrokenBarrierError:
            pass
        queue = real_create(*args, **kwargs)
        built.append(queue)
        return queue

    monkeypatch.setattr(factory, "create_job_queue", slow_create)
    seen: list[object] = []
    first = threading.Thread(target=lambda: seen.append(runtime.jobs))
    first.start()
    assert first_build_started.wait(timeout=5)
    askers = [threading.Thread(target=lambda: seen.append(runtime.jobs)) for _ in range(askers_count)]
    for asker in askers:
        asker.start()
    for asker in [first, *askers]:
        asker.join(timeout=10)

    assert len(built) == 1
    assert len(seen) == askers_count + 1 and all(queue is built[0] for queue in seen)
