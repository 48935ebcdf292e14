"""Resources: round trip, upserting updates, merge rules, concurrency, erase."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from memkit.errors import ValidationError
from memkit.models import ListThreadsInput, Resource

from tests.storage.memory.builders import INVALID_METADATA_KEYS, at, create_thread, ids, make_message, make_messages, new_resource_id, now, wire


def make_resource(**fields) -> Resource:
    return Resource(
        **{
            "id": new_resource_id(),
            "working_memory": "# User Information\n- name: Ada",
            "metadata": {"plan": "pro"},
            "created_at": at(1_001),
            "updated_at": at(2_002),
            **fields,
        }
    )


def test_saved_resource_reads_back_exactly(memory_store):
    resource = make_resource()

    saved = memory_store.save_resource(resource)

    assert wire(saved) == wire(resource)
    assert wire(memory_store.get_resource(resource.id)) == wire(resource)


def test_get_unknown_resource_returns_none(memory_store):
    assert memory_store.get_resource(new_resource_id()) is None


def test_update_working_memory_only_keeps_the_metadata(memory_store):
    resource = memory_store.save_resource(make_resource())

    updated = memory_store.update_resource(resource.id, working_memory="# User\n- name: Grace")

    assert updated.working_memory == "# User\n- name: Grace"
    assert updated.metadata == {"plan": "pro"}
    assert wire(memory_store.get_resource(resource.id)) == wire(updated)


def test_update_metadata_only_merges_it_and_keeps_the_working_memory(memory_store):
    resource = memory_store.save_resource(make_resource(metadata={"plan": "pro", "locale": "en"}))

    updated = memory_store.update_resource(resource.id, metadata={"locale": "fr", "beta": True})

    assert updated.metadata == {"plan": "pro", "locale": "fr", "beta": True}
    assert updated.working_memory == resource.working_memory
    assert wire(memory_store.get_resource(resource.id)) == wire(updated)


def test_update_working_memory_and_metadata_together(memory_store):
    resource = memory_store.save_resource(make_resource())

    updated = memory_store.update_resource(resource.id, working_memory="both", metadata={"seen": 3})

    assert (updated.working_memory, updated.metadata) == ("both", {"plan": "pro", "seen": 3})
    assert wire(memory_store.get_resource(resource.id)) == wire(updated)


def test_update_of_a_missing_resource_creates_it(memory_store):
    resource_id = new_resource_id()
    started = now()

    created = memory_store.update_resource(resource_id, working_memory="fresh", metadata={"source": "upsert"})

    assert (created.id, created.working_memory, created.metadata) == (resource_id, "fresh", {"source": "upsert"})
    assert created.created_at >= started
    assert created.updated_at >= created.created_at
    assert wire(memory_store.get_resource(resource_id)) == wire(created)


def test_metadata_merge_is_shallow(memory_store):
    # The port merges top-level keys; a nested object given again replaces the old one whole.
    resource = memory_store.save_resource(make_resource(metadata={"prefs": {"theme": "dark", "size": 12}, "k": 1}))

    updated = memory_store.update_resource(resource.id, metadata={"prefs": {"theme": "light"}})

    assert updated.metadata == {"prefs": {"theme": "light"}, "k": 1}
    assert memory_store.get_resource(resource.id).metadata == updated.metadata


def test_nested_metadata_round_trips(memory_store):
    metadata = {
        "prefs": {"theme": "dark", "languages": ["en", "fr"], "limits": {"daily": 10, "ratio": 0.5}},
        "tags": [],
        "nothing": None,
        "looksLikeJson": '{"x": 1}',
    }

    resource = memory_store.save_resource(make_resource(metadata=metadata))

    fetched = memory_store.get_resource(resource.id)
    assert fetched.to_wire()["metadata"] == metadata
    assert type(fetched.metadata["prefs"]["limits"]["daily"]) is int


def test_empty_working_memory_is_kept_as_an_empty_string(memory_store):
    resource = memory_store.save_resource(make_resource())

    memory_store.update_resource(resource.id, working_memory="")

    assert memory_store.get_resource(resource.id).working_memory == ""


def test_none_working_memory_clears_it(memory_store):
    resource = memory_store.save_resource(make_resource())

    memory_store.update_resource(resource.id, working_memory=None)

    assert memory_store.get_resource(resource.id).working_memory is None


def test_null_metadata_values_are_stored_as_null(memory_store):
    resource = memory_store.save_resource(make_resource(metadata={"plan": "pro", "trial": "yes"}))

    memory_store.update_resource(resource.id, metadata={"trial": None})

    assert memory_store.get_resource(resource.id).to_wire()["metadata"] == {"plan": "pro", "trial": None}


def test_empty_metadata_update_keeps_existing_metadata(memory_store):
    resource = memory_store.save_resource(make_resource(metadata={"plan": "pro"}))

    memory_store.update_resource(resource.id, metadata={})

    assert memory_store.get_resource(resource.id).metadata == {"plan": "pro"}


def test_resource_without_working_memory_or_metadata_round_trips(memory_store):
    resource = memory_store.save_resource(make_resource(working_memory=None, metadata=None))

    assert wire(memory_store.get_resource(resource.id)) == wire(resource)


def test_ten_kb_working_memory_round_trips(memory_store):
    line = '- note: ünïcödé ✓ "quoted" {braces} \\ backslash\n'
    working_memory = "# User Information\n" + line * (12 * 1024 // len(line.encode()) + 1)
    assert len(working_memory.encode()) > 10 * 1024
    resource_id = new_resource_id()

    memory_store.update_resource(resource_id, working_memory=working_memory)

    assert memory_store.get_resource(resource_id).working_memory == working_memory


def test_updated_at_increases_with_each_update(memory_store):
    # Given a resource last updated long ago
    resource = memory_store.save_resource(make_resource())
    started = now()

    # When it is updated twice
    first = memory_store.update_resource(resource.id, metadata={"step": 1})
    second = memory_store.update_resource(resource.id, working_memory="later")

    # Then updatedAt moves forward each time and createdAt never moves
    assert first.updated_at >= started > resource.updated_at
    assert second.updated_at >= first.updated_at
    assert first.created_at == second.created_at == resource.created_at
    assert memory_store.get_resource(resource.id).updated_at == second.updated_at


@pytest.mark.parametrize("exists", [True, False], ids=["existing-resource", "new-resource"])
def test_three_concurrent_updates_keep_every_metadata_key(memory_store, exists):
    # Given a resource (or just an id, so the updates race to create it)
    resource_id = new_resource_id()
    if exists:
        memory_store.save_resource(make_resource(id=resource_id, metadata={"original": True}))
    writers = 3
    start_together = threading.Barrier(writers)

    def write_one_key(index: int) -> Resource:
        start_together.wait(timeout=30)
        return memory_store.update_resource(resource_id, metadata={f"writer{index}": index})

    # When three updates of different keys race each other
    with ThreadPoolExecutor(max_workers=writers) as pool:
        futures = [pool.submit(write_one_key, i) for i in range(writers)]
        results = [future.result(timeout=60) for future in futures]

    # Then every key survives
    assert len(results) == writers
    expected = {f"writer{i}": i for i in range(writers)}
    if exists:
        expected["original"] = True
    assert memory_store.get_resource(resource_id).metadata == expected


@pytest.mark.parametrize("key", INVALID_METADATA_KEYS.values(), ids=INVALID_METADATA_KEYS.keys())
def test_invalid_metadata_key_is_rejected_and_nothing_is_written(memory_store, key):
    # Given one resource that exists and one that does not yet
    existing = memory_store.save_resource(make_resource())
    missing_id = new_resource_id()

    # When either is updated with a bad key (alongside valid changes)
    for resource_id in (existing.id, missing_id):
        with pytest.raises(ValidationError):
            memory_store.update_resource(resource_id, working_memory="changed", metadata={"fine": 1, key: "x"})

    # Then neither write happened: no partial update, no upserted resource
    assert wire(memory_store.get_resource(existing.id)) == wire(existing)
    assert memory_store.get_resource(missing_id) is None


def test_delete_resource_erases_its_threads_and_messages_only(memory_store):
    # Given a resource with two threads of messages, one of them attributed to a guest, and a
    # neighbour resource
    resource = memory_store.save_resource(make_resource())
    threads = [create_thread(memory_store, resource.id) for _ in range(2)]
    messages = [m for t in threads for m in memory_store.save_messages(make_messages(t, 3))]
    guest = new_resource_id()
    messages += memory_store.save_messages([make_message(threads[1], resource_id=guest)])
    neighbour_thread = create_thread(memory_store)
    neighbour_messages = memory_store.save_messages(make_messages(neighbour_thread, 2))

    # When the resource is erased
    deleted = memory_store.delete_resource(resource.id)

    # Then it reports its threads and the resources of their messages, and the resource,
    # threads and messages are gone
    assert sorted(deleted.thread_ids) == sorted(ids(threads))
    assert deleted.message_resources == {resource.id, guest}
    assert memory_store.get_resource(resource.id) is None
    assert all(memory_store.get_thread(t.id) is None for t in threads)
    assert memory_store.list_threads(ListThreadsInput.build(resource_id=resource.id)).total == 0
    assert memory_store.list_messages_by_id(ids(messages)) == []
    # And the neighbour is untouched
    assert memory_store.get_thread(neighbour_thread.id) is not None
    assert ids(memory_store.list_messages_by_id(ids(neighbour_messages))) == ids(neighbour_messages)


def test_delete_resource_erases_threads_even_without_a_resource_record(memory_store):
    # Threads usually exist before (or without) any working memory, i.e. without a resource record.
    resource_id = new_resource_id()
    thread = create_thread(memory_store, resource_id)
    messages = memory_store.save_messages(make_messages(thread, 2))

    assert memory_store.delete_resource(resource_id) == ([thread.id], {resource_id})
    assert memory_store.get_thread(thread.id) is None
    assert memory_store.list_messages_by_id(ids(messages)) == []


def test_delete_unknown_resource_deletes_no_threads(memory_store):
    assert memory_store.delete_resource(new_resource_id()) == ([], frozenset())
