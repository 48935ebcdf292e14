"""Schema working memory merges atomically: concurrent patches of different keys all land, and
a patch follows Mastra's merge (objects merge, ``null`` deletes, arrays replace)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from memkit import Memory
from memkit.storage.memory.base import MemoryStorage
from tests.storage.memory.builders import create_thread, new_resource_id
from tests.storage.memory.conftest import BACKENDS


@pytest.fixture(params=[pytest.param(name, id=name, marks=spec.marks) for name, spec in BACKENDS.items()])
def memory_store(request: pytest.FixtureRequest) -> Iterator[MemoryStorage]:
    """Each store of the memory conformance suite (``tests/storage/memory/conftest.py``)."""
    store = BACKENDS[request.param].open(request)
    yield store
    store.close()


SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}, "prefs": {"type": "object"}}}
WRITERS = 20


def schema_memory(store: MemoryStorage, scope: str) -> Memory:
    return Memory(store, config={"workingMemory": {"enabled": True, "scope": scope, "schema": SCHEMA}})


def stored(memory: Memory, thread_id: str, resource_id: str) -> dict:
    raw = memory.get_working_memory(thread_id=thread_id, resource_id=resource_id).working_memory
    return json.loads(raw) if raw else {}


@pytest.mark.parametrize("scope", ["resource", "thread"])
def test_concurrent_patches_of_different_keys_all_land(memory_store: MemoryStorage, scope: str) -> None:
    resource_id = new_resource_id()
    thread = create_thread(memory_store, resource_id)
    memory = schema_memory(memory_store, scope)

    def patch(index: int) -> None:
        memory.update_working_memory(
            thread_id=thread.id, resource_id=resource_id, working_memory={f"key{index}": index}
        )

    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        list(pool.map(patch, range(WRITERS)))

    assert stored(memory, thread.id, resource_id) == {f"key{index}": index for index in range(WRITERS)}


@pytest.mark.parametrize("scope", ["resource", "thread"])
def test_a_patch_merges_objects_deletes_nulls_and_replaces_arrays(memory_store: MemoryStorage, scope: str) -> None:
    resource_id = new_resource_id()
    thread = create_thread(memory_store, resource_id)
    memory = schema_memory(memory_store, scope)
    memory.update_working_memory(
        thread_id=thread.id,
        resource_id=resource_id,
        working_memory={"name": "Ada", "city": "Lisbon", "prefs": {"tea": True, "diet": "veg"}, "pets": ["Rex", "Tom"]},
    )

    memory.update_working_memory(
        thread_id=thread.id,
        resource_id=resource_id,
        working_memory=json.dumps({"city": None, "prefs": {"diet": None, "coffee": False}, "pets": ["Rex"]}),
    )

    assert stored(memory, thread.id, resource_id) == {"name": "Ada", "prefs": {"tea": True, "coffee": False}, "pets": ["Rex"]}
