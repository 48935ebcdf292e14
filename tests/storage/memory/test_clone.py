"""Thread clone: the new thread, its copied messages, the subsets, and its two errors (docs/memory-model.md)."""

from __future__ import annotations

import pytest

from memkit.errors import ConflictError, NotFoundError
from memkit.models import CloneThreadInput, ListMessagesInput, parse_ts

from tests.storage.memory.builders import at, create_thread, ids, make_messages, new_resource_id, now, unique_id, wire


@pytest.fixture
def source(memory_store):
    return create_thread(memory_store, title="Trip planning", metadata={"topic": "travel"})


@pytest.fixture
def source_messages(memory_store, source):
    """Six messages 10 ms apart, alternating user/assistant."""
    return memory_store.save_messages(make_messages(source, 6, step_ms=10))


def clone(store, source_thread_id, **fields):
    return store.clone_thread(CloneThreadInput.model_validate({"source_thread_id": source_thread_id, **fields}))


def listed(store, thread_id, **kwargs):
    return store.list_messages(ListMessagesInput.build(thread_id=thread_id, per_page=False, **kwargs)).messages


def assert_copies(copies, originals, *, thread_id, resource_id):
    """Copies keep role, content, createdAt and order, under new ids in the new thread."""
    assert len(copies) == len(originals)
    assert not set(ids(copies)) & set(ids(originals))
    for copy, original in zip(copies, originals, strict=True):
        assert (copy.thread_id, copy.resource_id) == (thread_id, resource_id)
        assert (copy.role, copy.created_at, copy.type) == (original.role, original.created_at, original.type)
        assert copy.to_wire()["content"] == original.to_wire()["content"]


def test_clone_copies_the_thread_and_all_messages_under_new_ids(memory_store, source, source_messages):
    started = now()

    result = clone(memory_store, source.id)

    # The new thread: fresh id, same owner, "Clone of" title, clone provenance in metadata
    thread = result.thread
    assert thread.id != source.id
    assert thread.resource_id == source.resource_id
    assert thread.title == "Clone of Trip planning"
    provenance = thread.metadata["clone"]
    assert provenance["sourceThreadId"] == source.id
    assert provenance["lastMessageId"] == source_messages[-1].id
    assert parse_ts(provenance["clonedAt"]) >= started
    assert thread.created_at >= started
    # Its messages: every source message, copied in order
    assert_copies(result.cloned_messages, source_messages, thread_id=thread.id, resource_id=source.resource_id)
    # And what was returned is what is stored
    assert wire(memory_store.get_thread(thread.id)) == wire(thread)
    assert wire(listed(memory_store, thread.id)) == wire(result.cloned_messages)


def test_clone_leaves_the_source_thread_untouched(memory_store, source, source_messages):
    before = memory_store.get_thread(source.id)

    clone(memory_store, source.id)

    assert wire(memory_store.get_thread(source.id)) == wire(before)
    assert wire(listed(memory_store, source.id)) == wire(source_messages)


def test_clone_takes_the_given_id_resource_title_and_metadata(memory_store, source, source_messages):
    new_id = unique_id("thr-clone")
    new_owner = new_resource_id()

    result = clone(
        memory_store,
        source.id,
        new_thread_id=new_id,
        resource_id=new_owner,
        title="My branch",
        metadata={"branch": "b", "depth": 1},
    )

    thread = result.thread
    assert (thread.id, thread.resource_id, thread.title) == (new_id, new_owner, "My branch")
    # Whether the source's own metadata carries over is not fixed by the memory model; the given keys must.
    assert (thread.metadata["branch"], thread.metadata["depth"]) == ("b", 1)
    assert thread.metadata["clone"]["sourceThreadId"] == source.id
    # The copies belong to the new owner, so the owner can read them and the old one cannot see the thread
    assert_copies(result.cloned_messages, source_messages, thread_id=new_id, resource_id=new_owner)
    assert ids(listed(memory_store, new_id, resource_id=new_owner)) == ids(result.cloned_messages)
    assert memory_store.get_thread(new_id, resource_id=new_owner) is not None


def test_clone_message_limit_keeps_the_most_recent_messages(memory_store, source, source_messages):
    result = clone(memory_store, source.id, options={"message_limit": 2})

    assert_copies(
        result.cloned_messages, source_messages[-2:], thread_id=result.thread.id, resource_id=source.resource_id
    )
    assert result.thread.metadata["clone"]["lastMessageId"] == source_messages[-1].id
    assert len(listed(memory_store, result.thread.id)) == 2


def test_clone_date_filter_keeps_messages_within_inclusive_bounds(memory_store, source, source_messages):
    # Messages sit at 0, 10, 20, 30, 40, 50 ms; both bounds land exactly on messages.
    result = clone(memory_store, source.id, options={"message_filter": {"start_date": at(10), "end_date": at(30)}})

    assert_copies(
        result.cloned_messages, source_messages[1:4], thread_id=result.thread.id, resource_id=source.resource_id
    )
    assert result.thread.metadata["clone"]["lastMessageId"] == source_messages[3].id


def test_clone_id_filter_keeps_only_those_messages_in_order(memory_store, source, source_messages):
    wanted = [source_messages[4].id, source_messages[1].id, unique_id("msg-missing")]

    result = clone(memory_store, source.id, options={"message_filter": {"message_ids": wanted}})

    assert_copies(
        result.cloned_messages,
        [source_messages[1], source_messages[4]],
        thread_id=result.thread.id,
        resource_id=source.resource_id,
    )


def test_clone_applies_the_limit_after_the_filter(memory_store, source, source_messages):
    chosen = [source_messages[i].id for i in (0, 2, 3, 5)]

    result = clone(memory_store, source.id, options={"message_limit": 2, "message_filter": {"message_ids": chosen}})

    assert ids(listed(memory_store, result.thread.id)) == ids(result.cloned_messages)
    assert_copies(
        result.cloned_messages,
        [source_messages[3], source_messages[5]],
        thread_id=result.thread.id,
        resource_id=source.resource_id,
    )


def test_clone_of_a_thread_without_messages_has_no_last_message_id(memory_store, source):
    result = clone(memory_store, source.id)

    assert result.cloned_messages == []
    assert result.thread.metadata["clone"]["sourceThreadId"] == source.id
    assert result.thread.metadata["clone"].get("lastMessageId") is None
    assert listed(memory_store, result.thread.id) == []


def test_clone_of_an_untitled_thread_does_not_invent_a_title_from_none(memory_store):
    untitled = create_thread(memory_store, title=None)

    result = clone(memory_store, untitled.id)

    assert "None" not in (result.thread.title or "")


def test_clone_of_a_missing_source_raises_not_found_and_creates_nothing(memory_store):
    missing = unique_id("thr-missing")
    new_id = unique_id("thr-clone")

    with pytest.raises(NotFoundError) as raised:
        clone(memory_store, missing, new_thread_id=new_id)

    assert str(raised.value) == f"Source thread with id {missing} not found"
    assert memory_store.get_thread(new_id) is None


def test_clone_onto_an_existing_thread_id_raises_and_changes_nothing(memory_store, source, source_messages):
    # Given a thread already using the id the clone asks for
    taken = create_thread(memory_store, source.resource_id, title="Already here")

    with pytest.raises(ConflictError) as raised:
        clone(memory_store, source.id, new_thread_id=taken.id)

    # Then the error names it and the existing thread gained nothing
    assert str(raised.value) == f"Thread with id {taken.id} already exists"
    assert wire(memory_store.get_thread(taken.id)) == wire(taken)
    assert listed(memory_store, taken.id) == []


def test_clone_of_a_clone_points_at_its_direct_source(memory_store, source, source_messages):
    first = clone(memory_store, source.id).thread

    second = clone(memory_store, first.id)

    assert second.thread.metadata["clone"]["sourceThreadId"] == first.id
    assert second.thread.title == f"Clone of {first.title}"
    assert len(second.cloned_messages) == len(source_messages)
