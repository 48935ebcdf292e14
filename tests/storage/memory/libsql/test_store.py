"""The libSQL memory store's own cases beyond the conformance suite: resource merges under
concurrency, listings without a resource, empty values."""

from __future__ import annotations

import threading

from memkit.models import ListThreadsInput, Resource
from tests.storage.libsql.support import (
    WORKERS,
    WRITES_PER_WORKER,
    make_thread,
    run_workers,
)
from tests.storage.memory.builders import at


def test_concurrent_resource_updates_keep_every_key(file_store):
    start = threading.Barrier(WORKERS)

    def update_many(worker: int) -> None:
        start.wait()
        for index in range(WRITES_PER_WORKER // 4):
            file_store.update_resource("res-1", metadata={f"w{worker}_{index}": index})

    run_workers(update_many)

    metadata = file_store.get_resource("res-1").metadata
    assert len(metadata) == WORKERS * (WRITES_PER_WORKER // 4)


def test_list_threads_without_resource_lists_every_resource(file_store):
    file_store.save_thread(make_thread("t-a", "res-a"))
    file_store.save_thread(make_thread("t-b", "res-b"))

    page = file_store.list_threads(ListThreadsInput.build())

    assert {t.id for t in page.threads} == {"t-a", "t-b"} and page.total == 2


def test_saving_a_resource_round_trips_empty_values(file_store):
    resource = Resource(id="res-empty", working_memory="", metadata={}, created_at=at(0), updated_at=at(0))
    assert file_store.save_resource(resource).to_wire() == resource.to_wire()
