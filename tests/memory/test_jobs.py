"""Indexing leaves the request path: a save enqueues one ``index_messages`` job per resource, a
delete one ``delete_vectors`` job, and the in-process queue's worker does the work."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from memkit.config import AgentRegistry, MemoryConfig
from memkit.jobs.base import JobQueue
from memkit.jobs.inprocess import InProcessQueue
from memkit.memory import Memory
from memkit.memory.jobs import handle_job
from memkit.memory.ports import AgentPorts
from memkit.runtime import Runtime
from memkit.settings import Settings
from memkit.vector.libsql import LibSQLVector

from tests.memory.conftest import DIMENSION, Backend, text_message, uid


class RecordingQueue(JobQueue):
    """Keeps what was enqueued, to look at the jobs before running them."""

    name = "recording"

    def __init__(self) -> None:
        self.jobs: list[dict[str, Any]] = []

    def enqueue(self, job: Mapping[str, Any]) -> None:
        self.jobs.append(dict(job))


class OneMemory:
    """The ``JobContext`` the worker gets: here every job belongs to one Memory (whose titles,
    with no title models, are extractive, as the deployment's default ``local`` model's are)."""

    def __init__(self, memory: Memory):
        self._memory = memory

    def agent(self, agent_id: str | None = None) -> AgentPorts:
        assert agent_id == self._memory.agent_id
        return self._memory.ports

    def title_model(self, spec: str | None) -> None:
        return None

    def run(self, job: Mapping[str, Any]) -> Any:
        """How the in-process queue runs a job here."""
        return handle_job(job, self)


def test_a_save_enqueues_one_index_job_per_resource_and_embeds_nothing_inline(
    backend: Backend, make_memory: Callable[..., Memory]
) -> None:
    queue = RecordingQueue()
    memory = make_memory(indexing="async", jobs=queue, agent_id="helper")
    owner, guest = uid("owner"), uid("guest")
    memory.create_thread(resource_id=owner, thread_id="t1")
    # Five messages in one save: four of the thread's owner, one attributed to a guest
    memory.save_messages(
        [text_message(f"m{n}", "t1", owner, f"Message number {n} about kayaks", at=n) for n in range(4)]
        + [text_message("g1", "t1", guest, "A guest's remark about kayaks", at=9)]
    )
    index_jobs = [job for job in queue.jobs if job["type"] == "index_messages"]
    assert index_jobs == [
        {"type": "index_messages", "v": 1, "agent_id": "helper", "resource_id": owner, "message_ids": ["m0", "m1", "m2", "m3"]},
        {"type": "index_messages", "v": 1, "agent_id": "helper", "resource_id": guest, "message_ids": ["g1"]},
    ]
    assert backend.stored_ids(owner) == []

    # When the worker runs the jobs, the vectors appear
    for job in index_jobs:
        handle_job(job, OneMemory(memory))
    assert backend.stored_ids(owner) == ["m0#0", "m1#0", "m2#0", "m3#0"]
    assert backend.stored_ids(guest) == ["g1#0"]

    # And running a job twice changes nothing (the queue delivers at least once)
    handle_job(index_jobs[0], OneMemory(memory))
    assert backend.stored_ids(owner) == ["m0#0", "m1#0", "m2#0", "m3#0"]


def test_deletes_enqueue_delete_vectors_jobs(backend: Backend, make_memory: Callable[..., Memory]) -> None:
    queue = RecordingQueue()
    memory = make_memory(indexing="async", jobs=queue)
    resource_id = uid("res")
    for thread_id in ("t1", "t2"):
        memory.create_thread(resource_id=resource_id, thread_id=thread_id)
    memory.save_messages(
        [text_message("a", "t1", resource_id, "alpha", at=1), text_message("b", "t2", resource_id, "beta", at=2)]
    )
    for job in list(queue.jobs):
        handle_job(job, OneMemory(memory))
    queue.jobs.clear()

    memory.delete_messages(["a", "not-there"])
    memory.delete_thread("t2", resource_id)
    memory.erase_resource(resource_id)

    assert queue.jobs == [
        {"type": "delete_vectors", "v": 1, "agent_id": "default", "resource_id": resource_id,
         "message_ids": ["a"], "thread_ids": None, "whole_resource": False},
        {"type": "delete_vectors", "v": 1, "agent_id": "default", "resource_id": resource_id,
         "message_ids": None, "thread_ids": ["t2"], "whole_resource": False},
        {"type": "delete_vectors", "v": 1, "agent_id": "default", "resource_id": resource_id,
         "message_ids": None, "thread_ids": None, "whole_resource": True},
    ]
    assert backend.stored_ids(resource_id) == ["a#0", "b#0"]  # nothing deleted inline
    handle_job(queue.jobs[0], OneMemory(memory))
    assert backend.stored_ids(resource_id) == ["b#0"]
    handle_job(queue.jobs[1], OneMemory(memory))
    assert backend.stored_ids(resource_id) == []


def test_the_in_process_queue_indexes_in_the_background(backend: Backend, make_memory: Callable[..., Memory]) -> None:
    memory = make_memory({"lastMessages": 0, "semanticRecall": {"topK": 1, "messageRange": 0}}, indexing="async")
    queue = InProcessQueue(OneMemory(memory).run)
    memory.jobs = queue
    resource_id = uid("res")
    memory.create_thread(resource_id=resource_id, thread_id="t1")
    memory.create_thread(resource_id=resource_id, thread_id="t2")
    memory.save_messages([text_message("m1", "t1", resource_id, "The wifi password is on the fridge", at=1)])
    try:
        assert queue.wait_idle(timeout=30)
        assert list(queue.dead_letters) == []
        result = memory.recall(thread_id="t2", resource_id=resource_id, query="wifi password")
        assert [m.id for group in result.other_threads for m in group["messages"]] == ["m1"]
    finally:
        queue.close()


def test_the_runtime_wires_recall_for_every_agent(tmp_path: Path) -> None:
    """Through ``Runtime`` as the server builds it: the recall agent indexes asynchronously; an
    agent without semanticRecall indexes nothing, but deleting through it still removes vectors."""
    database = f"file:{tmp_path / 'memkit.db'}"
    registry = AgentRegistry(
        {
            "default": MemoryConfig(),
            "recall": MemoryConfig.model_validate({"semanticRecall": {"topK": 2, "messageRange": 0}, "lastMessages": 0}),
        }
    )
    runtime = Runtime(Settings(storage_url=database, vector_url=database, embedder="lexical", embedding_dimension=DIMENSION), registry)
    try:
        recall, plain = runtime.memory("recall"), runtime.memory("default")
        resource_id = uid("res")
        for thread_id in ("t1", "t2", "t3"):
            recall.create_thread(resource_id=resource_id, thread_id=thread_id)
        recall.save_messages([text_message("r1", "t1", resource_id, "Grandma's birthday is on June 2nd", at=1)])
        plain.save_messages([text_message("p1", "t3", resource_id, "A message saved by the plain agent", at=2)])
        assert runtime.jobs.wait_idle(timeout=30)  # type: ignore[attr-defined]

        assert isinstance(runtime.vector, LibSQLVector)
        assert runtime.vector.count(resource_id) == 1  # p1 was not indexed
        result = recall.recall(thread_id="t2", resource_id=resource_id, query="when is grandma's birthday?")
        assert [m.id for group in result.other_threads for m in group["messages"]] == ["r1"]

        plain.delete_thread("t1", resource_id)
        assert runtime.jobs.wait_idle(timeout=30)  # type: ignore[attr-defined]
        assert runtime.vector.count(resource_id) == 0
    finally:
        runtime.close()


def test_a_huge_save_is_split_into_jobs_that_fit_a_queue_message(backend: Backend, make_memory: Callable[..., Memory]) -> None:
    """SQS messages hold 256 KB: an import of thousands of messages must not become one job."""
    from memkit.memory.follow_up import MAX_IDS_PER_JOB

    queue = RecordingQueue()
    memory = make_memory(indexing="async", jobs=queue)
    resource_id = uid("res")
    memory.create_thread(resource_id=resource_id, thread_id="t1")
    count = 2 * MAX_IDS_PER_JOB + 7
    memory.save_messages([text_message(f"m{n:05d}", "t1", resource_id, f"imported {n}", at=n) for n in range(count)])
    memory.delete_messages([f"m{n:05d}" for n in range(count)])

    sizes = [(job["type"], len(job["message_ids"])) for job in queue.jobs]
    assert sizes == [("index_messages", MAX_IDS_PER_JOB)] * 2 + [("index_messages", 7)] + [
        ("delete_vectors", MAX_IDS_PER_JOB)
    ] * 2 + [("delete_vectors", 7)]
    assert max(len(json.dumps(job)) for job in queue.jobs) < 256 * 1024
