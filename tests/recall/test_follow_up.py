"""Indexing after a save is follow-up work: when the job cannot be queued, the save still
stands, the failure is logged and counted, and the messages are indexed in the request instead."""

from __future__ import annotations

from collections.abc import Callable

from memkit.jobs.inprocess import InProcessQueue
from memkit.memory import Memory

from tests.recall.conftest import Backend, text_message, uid
from tests.recall.test_jobs import OneMemory


def test_a_save_whose_index_job_cannot_be_queued_is_indexed_in_the_request(
    backend: Backend, make_memory: Callable[..., Memory]
) -> None:
    # Given an agent that indexes through a queue, and a queue that refuses jobs (shut down)
    memory = make_memory(indexing="async")
    queue = InProcessQueue(OneMemory(memory))
    queue.close()
    memory.jobs = queue
    owner = uid("owner")
    memory.create_thread(resource_id=owner, thread_id="t1")

    # When messages are saved
    saved = memory.save_messages([text_message(f"m{n}", "t1", owner, f"Kayaking on day {n}", at=n) for n in range(3)])

    # Then the save stands, the failed enqueue is counted, and the vectors exist anyway
    assert [m.id for m in saved] == ["m0", "m1", "m2"]
    assert memory.follow_up_failures["indexing"] == 1
    assert backend.stored_ids(owner) == ["m0#0", "m1#0", "m2#0"]
