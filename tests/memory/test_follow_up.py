"""Indexing after a save is follow-up work: when the job cannot be queued, the save still
stands, the failure is logged and counted, and the messages are indexed in the request instead."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from memkit.errors import RetryableError
from memkit.jobs.inprocess import InProcessQueue
from memkit.memory import Memory

from tests.memory.conftest import Backend, text_message, uid
from tests.memory.test_jobs import OneMemory


def test_a_save_whose_index_job_cannot_be_queued_is_indexed_in_the_request(
    backend: Backend, make_memory: Callable[..., Memory]
) -> None:
    # Given an agent that indexes through a queue, and a queue that refuses jobs (shut down)
    memory = make_memory(indexing="async")
    queue = InProcessQueue(OneMemory(memory).run)
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


def test_a_delete_whose_vector_cleanup_cannot_be_queued_cleans_in_the_request(
    backend: Backend, make_memory: Callable[..., Memory]
) -> None:
    # Given indexed messages, then a queue that refuses jobs
    memory = make_memory(indexing="sync")
    owner = uid("owner")
    memory.create_thread(resource_id=owner, thread_id="t1")
    memory.save_messages([text_message(f"m{n}", "t1", owner, f"Kayaking on day {n}", at=n) for n in range(3)])
    assert backend.stored_ids(owner) == ["m0#0", "m1#0", "m2#0"]
    memory.indexing = "async"
    queue = InProcessQueue(OneMemory(memory).run)
    queue.close()
    memory.jobs = queue

    # When a message and then the thread are deleted
    assert memory.delete_messages(["m0"]) == 1
    memory.delete_thread("t1")

    # Then both deletes stand, the failed enqueues are counted, and the vectors are gone anyway
    assert memory.follow_up_failures["vector cleanup"] == 2
    assert backend.stored_ids(owner) == []


def test_an_erasure_whose_vectors_stay_fails_so_that_it_is_retried(
    backend: Backend, make_memory: Callable[..., Memory]
) -> None:
    memory = make_memory(indexing="sync")
    owner = uid("owner")
    memory.create_thread(resource_id=owner, thread_id="t1")
    memory.save_messages([text_message("m0", "t1", owner, "Kayaking", at=0)])
    memory.indexing = "async"
    queue = InProcessQueue(OneMemory(memory).run)
    queue.close()
    memory.jobs = queue
    healthy_vector = memory.vector
    memory.vector = BrokenVector(healthy_vector)

    with pytest.raises(RetryableError, match="erase it again"):
        memory.erase_resource(owner)

    # The store's part is done; erasing again with the vector store back finishes the vectors.
    memory.vector = healthy_vector
    assert memory.erase_resource(owner) == []
    assert backend.stored_ids(owner) == []


class BrokenVector:
    """A vector store whose deletes fail (an outage), reads pass through."""

    def __init__(self, inner: object):
        self._inner = inner

    def __getattr__(self, name: str) -> object:
        if name.startswith("delete"):
            def refuse(*_: object, **__: object) -> None:
                raise ConnectionError("vector store unreachable")

            return refuse
        return getattr(self._inner, name)
