"""Threads: shape and round trip, ownership, listing, ordering, pagination, updates, deletes."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from memkit.errors import NotFoundError, OwnershipError, ValidationError
from memkit.models import ListMessagesByResourceInput, ListMessagesInput, ListThreadsInput, Thread, ThreadPage
from memkit.storage.memory.base import DEFAULT_TITLES, MemoryStorage

from tests.storage.memory.builders import (
    INVALID_METADATA_KEYS,
    acceptable_orders,
    at,
    create_thread,
    ids,
    make_message,
    make_messages,
    make_thread,
    new_resource_id,
    now,
    ownership_error_text,
    unique_id,
    wire,
)


def list_threads(store: MemoryStorage, **kwargs: Any) -> ThreadPage:
    return store.list_threads(ListThreadsInput.build(**kwargs))


def listed_thread(store: MemoryStorage, thread: Thread) -> Thread:
    page = list_threads(store, resource_id=thread.resource_id, per_page=False)
    [match] = [t for t in page.threads if t.id == thread.id]
    return match


# ---------------------------------------------------------------- create and get


def test_saved_thread_reads_back_with_identical_fields_and_millisecond_timestamps(memory_store):
    # Given a thread whose timestamps sit on millisecond edges
    thread = make_thread(
        title="Round trip",
        metadata={"topic": "dates"},
        created_at=at(61_001),
        updated_at=at(86_399_999),
    )

    # When it is saved and read back
    saved = memory_store.save_thread(thread)
    fetched = memory_store.get_thread(thread.id)

    # Then every field, timestamps included, is exactly what was written
    assert wire(saved) == wire(thread)
    assert wire(fetched) == wire(thread)
    assert fetched.to_wire()["createdAt"] == "2024-01-01T00:01:01.001Z"
    assert fetched.to_wire()["updatedAt"] == "2024-01-01T23:59:59.999Z"


def test_get_unknown_thread_returns_none(memory_store):
    assert memory_store.get_thread(unique_id("thr-missing")) is None


def test_get_thread_with_its_owner_resource_id_returns_it(memory_store):
    thread = create_thread(memory_store)

    assert wire(memory_store.get_thread(thread.id, resource_id=thread.resource_id)) == wire(thread)


def test_get_thread_with_another_resource_id_raises_the_exact_ownership_error(memory_store):
    thread = create_thread(memory_store)
    intruder = new_resource_id()

    with pytest.raises(OwnershipError) as raised:
        memory_store.get_thread(thread.id, resource_id=intruder)

    assert str(raised.value) == ownership_error_text(thread.id, thread.resource_id, intruder)


def test_saving_an_existing_thread_under_another_resource_raises_and_keeps_the_owner(memory_store):
    thread = create_thread(memory_store, title="Original")
    intruder = new_resource_id()

    with pytest.raises(OwnershipError) as raised:
        memory_store.save_thread(make_thread(intruder, thread_id=thread.id, title="Hijacked"))

    assert str(raised.value) == ownership_error_text(thread.id, thread.resource_id, intruder)
    assert wire(memory_store.get_thread(thread.id)) == wire(thread)


def test_saving_an_existing_thread_of_the_same_owner_overwrites_it(memory_store):
    thread = create_thread(memory_store, title="First", metadata={"version": "1"})
    replacement = make_thread(
        thread.resource_id,
        thread_id=thread.id,
        title="Second",
        metadata={"version": "2"},
        created_at=thread.created_at,
        updated_at=at(10_000),
    )

    memory_store.save_thread(replacement)

    assert wire(memory_store.get_thread(thread.id)) == wire(replacement)


def test_close_can_be_called_twice(memory_store):
    memory_store.close()
    memory_store.close()


# ---------------------------------------------------------------- listing


def test_list_threads_by_resource_returns_only_its_threads_newest_first(memory_store):
    # Given three threads of one resource and two of another
    resource_id = new_resource_id()
    mine = [create_thread(memory_store, resource_id, created_at=at(ms)) for ms in (10, 30, 20)]
    for ms in (15, 25):
        create_thread(memory_store, created_at=at(ms))

    # When listing with the resource's id and no other options
    page = list_threads(memory_store, resource_id=resource_id)

    # Then only its threads come back, in the default order createdAt DESC
    assert ids(page.threads) == [mine[1].id, mine[2].id, mine[0].id]
    assert (page.total, page.page, page.per_page, page.has_more) == (3, 0, 100, False)


def test_list_threads_of_a_resource_without_threads_is_empty(memory_store):
    page = list_threads(memory_store, resource_id=new_resource_id())

    assert (page.threads, page.total, page.has_more) == ([], 0, False)


def test_list_threads_without_resource_id_lists_all_or_is_refused(backend, memory_store):
    threads = [create_thread(memory_store) for _ in range(3)]
    query = ListThreadsInput.build(per_page=False)

    if backend.lists_threads_without_resource:
        page = memory_store.list_threads(query)
        assert {t.id for t in threads} <= set(ids(page.threads))
        assert page.total == len(page.threads)
    else:
        # A backend that would have to scan the whole table refuses instead.
        with pytest.raises(ValidationError):
            memory_store.list_threads(query)


def test_metadata_filter_ands_its_keys_and_stays_within_the_resource(memory_store):
    resource_id = new_resource_id()
    red_tier2 = create_thread(memory_store, resource_id, metadata={"team": "red", "tier": 2}, created_at=at(4))
    red_tier3 = create_thread(memory_store, resource_id, metadata={"team": "red", "tier": 3}, created_at=at(3))
    red_only = create_thread(memory_store, resource_id, metadata={"team": "red"}, created_at=at(2))
    create_thread(memory_store, resource_id, metadata={"team": "blue", "tier": 2}, created_at=at(1))
    create_thread(memory_store, resource_id, metadata=None, created_at=at(0))
    # Same metadata under another resource: must never leak into this resource's listing.
    create_thread(memory_store, metadata={"team": "red", "tier": 2})

    both = list_threads(memory_store, resource_id=resource_id, metadata={"team": "red", "tier": 2})
    team_only = list_threads(memory_store, resource_id=resource_id, metadata={"team": "red"})
    nobody = list_threads(memory_store, resource_id=resource_id, metadata={"team": "green"})

    assert (ids(both.threads), both.total) == ([red_tier2.id], 1)
    assert (ids(team_only.threads), team_only.total) == ([red_tier2.id, red_tier3.id, red_only.id], 3)
    assert (nobody.threads, nobody.total) == ([], 0)


# ---------------------------------------------------------------- pagination


def test_seventeen_threads_at_per_page_seven_come_as_pages_of_7_7_3(memory_store):
    resource_id = new_resource_id()
    threads = [create_thread(memory_store, resource_id, created_at=at(ms)) for ms in range(17)]

    pages = [list_threads(memory_store, resource_id=resource_id, page=n, per_page=7) for n in range(3)]

    assert [len(p.threads) for p in pages] == [7, 7, 3]
    assert [p.has_more for p in pages] == [True, True, False]
    assert [(p.total, p.page, p.per_page) for p in pages] == [(17, 0, 7), (17, 1, 7), (17, 2, 7)]
    listed = [t.id for p in pages for t in p.threads]
    assert listed == [t.id for t in reversed(threads)]


def test_thread_page_past_the_end_is_empty_but_keeps_the_total(memory_store):
    resource_id = new_resource_id()
    for ms in range(3):
        create_thread(memory_store, resource_id, created_at=at(ms))

    page = list_threads(memory_store, resource_id=resource_id, page=4, per_page=2)

    assert (page.threads, page.total, page.has_more) == ([], 3, False)


def test_thread_per_page_false_returns_everything_on_page_zero(memory_store):
    resource_id = new_resource_id()
    threads = [create_thread(memory_store, resource_id, created_at=at(ms)) for ms in range(12)]

    page = list_threads(memory_store, resource_id=resource_id, per_page=False)

    assert ids(page.threads) == [t.id for t in reversed(threads)]
    assert (page.total, page.page, page.per_page, page.has_more) == (12, 0, False, False)
    assert page.per_page is False


def test_thread_per_page_zero_returns_no_threads_but_the_total(memory_store):
    resource_id = new_resource_id()
    for ms in range(4):
        create_thread(memory_store, resource_id, created_at=at(ms))

    page = list_threads(memory_store, resource_id=resource_id, per_page=0)

    assert (page.threads, page.total, page.per_page) == ([], 4, 0)


def test_omitted_or_negative_thread_per_page_falls_back_to_100(memory_store):
    resource_id = new_resource_id()
    for ms in range(101):
        create_thread(memory_store, resource_id, created_at=at(ms))

    # One data set for the three spellings: 101 thread writes are the slow part on a remote store.
    for per_page in (None, -1, -50):
        page = list_threads(memory_store, resource_id=resource_id, per_page=per_page)

        assert (len(page.threads), page.total, page.per_page, page.has_more) == (100, 101, 100, True), per_page


# ---------------------------------------------------------------- ordering


@pytest.mark.parametrize("direction", ["ASC", "DESC"])
@pytest.mark.parametrize("field", ["createdAt", "updatedAt"])
def test_thread_order_is_total_and_stable_across_pages_even_on_ties(memory_store, field, direction):
    # Given threads whose createdAt and updatedAt both repeat, with ids in random order
    resource_id = new_resource_id()
    created_slots = [0, 0, 0, 5, 5, 9, 9, 9, 9, 12, 3, 3]
    updated_slots = [70, 20, 20, 20, 80, 80, 10, 10, 40, 40, 40, 60]
    threads = [
        create_thread(memory_store, resource_id, created_at=at(c), updated_at=at(u))
        for c, u in zip(created_slots, updated_slots, strict=True)
    ]
    order_by = {"field": field, "direction": direction}

    # When paging through them five at a time, and listing them all at once
    paged = [
        list_threads(memory_store, resource_id=resource_id, page=n, per_page=5, order_by=order_by) for n in range(3)
    ]
    everything = list_threads(memory_store, resource_id=resource_id, per_page=False, order_by=order_by)

    # Then both give the same total order: timestamps in the asked direction, ties by id
    attribute = "created_at" if field == "createdAt" else "updated_at"
    concatenated = [t.id for p in paged for t in p.threads]
    assert [len(p.threads) for p in paged] == [5, 5, 2]
    assert concatenated in acceptable_orders(threads, attribute, direction)
    assert ids(everything.threads) == concatenated


def test_thread_order_field_alone_means_descending(memory_store):
    resource_id = new_resource_id()
    threads = [create_thread(memory_store, resource_id, created_at=at(0), updated_at=at(ms)) for ms in (300, 100, 200)]

    page = list_threads(memory_store, resource_id=resource_id, order_by={"field": "updatedAt"})

    assert ids(page.threads) == [threads[0].id, threads[2].id, threads[1].id]


# ---------------------------------------------------------------- updates


def test_update_thread_sets_title_merges_metadata_and_reads_identically_everywhere(memory_store):
    # Given a thread with two metadata keys
    thread = create_thread(memory_store, title="Before", metadata={"kept": "a", "changed": "b"})
    started = now()

    # When its title changes and metadata is merged
    updated = memory_store.update_thread(thread.id, title="After", metadata={"changed": "B", "added": "c"})

    # Then keys merge, createdAt stays, updatedAt moves to the time of the update
    assert updated.title == "After"
    assert updated.metadata == {"kept": "a", "changed": "B", "added": "c"}
    assert updated.created_at == thread.created_at
    assert updated.updated_at >= started
    assert updated.resource_id == thread.resource_id
    # And get, list and the update's own result agree to the millisecond
    assert wire(memory_store.get_thread(thread.id)) == wire(updated)
    assert wire(listed_thread(memory_store, thread)) == wire(updated)


def test_update_thread_without_title_keeps_the_title(memory_store):
    thread = create_thread(memory_store, title="Keep me")

    updated = memory_store.update_thread(thread.id, metadata={"k": "v"})

    assert updated.title == "Keep me"
    assert memory_store.get_thread(thread.id).title == "Keep me"


def test_update_thread_with_none_title_clears_it(memory_store):
    thread = create_thread(memory_store, title="Clear me")

    memory_store.update_thread(thread.id, title=None)

    assert memory_store.get_thread(thread.id).title is None


def test_update_unknown_thread_raises_not_found(memory_store):
    with pytest.raises(NotFoundError):
        memory_store.update_thread(unique_id("thr-missing"), title="x")


def test_update_thread_with_another_resource_id_raises_and_changes_nothing(memory_store):
    thread = create_thread(memory_store, title="Mine", metadata={"k": "v"})
    intruder = new_resource_id()

    with pytest.raises(OwnershipError) as raised:
        memory_store.update_thread(thread.id, title="Theirs", metadata={"k": "x"}, resource_id=intruder)

    assert str(raised.value) == ownership_error_text(thread.id, thread.resource_id, intruder)
    assert wire(memory_store.get_thread(thread.id)) == wire(thread)


def test_update_thread_with_its_owner_resource_id_never_moves_it(memory_store):
    thread = create_thread(memory_store)

    updated = memory_store.update_thread(thread.id, title="Checked", resource_id=thread.resource_id)

    assert updated.resource_id == thread.resource_id
    assert ids(list_threads(memory_store, resource_id=thread.resource_id).threads) == [thread.id]


def test_five_concurrent_thread_updates_keep_every_metadata_key(memory_store):
    # Given a thread with one metadata key
    thread = create_thread(memory_store, metadata={"original": True})
    writers = 5
    start_together = threading.Barrier(writers)

    def write_one_key(index: int) -> Thread:
        start_together.wait(timeout=30)
        return memory_store.update_thread(thread.id, metadata={f"writer{index}": index})

    # When five updates, each setting its own key, race each other
    with ThreadPoolExecutor(max_workers=writers) as pool:
        results = [future.result(timeout=60) for future in [pool.submit(write_one_key, i) for i in range(writers)]]

    # Then no update lost another's key
    assert len(results) == writers
    expected = {"original": True, **{f"writer{i}": i for i in range(writers)}}
    assert memory_store.get_thread(thread.id).metadata == expected


# ---------------------------------------------------------------- content fidelity


def test_thread_metadata_round_trips_as_json_not_double_encoded(memory_store):
    metadata = {
        "nested": {"list": [1, 2.5, {"deep": None}], "flag": False},
        "looksLikeJson": '{"a": 1}',
        "integer": 42,
        "fraction": 0.125,
        "emptyObject": {},
        "emptyList": [],
    }
    thread = create_thread(memory_store, metadata=metadata)

    fetched = memory_store.get_thread(thread.id)

    assert fetched.to_wire()["metadata"] == metadata
    assert isinstance(fetched.metadata["nested"], dict)
    assert fetched.metadata["looksLikeJson"] == '{"a": 1}'
    assert type(fetched.metadata["integer"]) is int
    assert type(fetched.metadata["fraction"]) is float
    assert wire(listed_thread(memory_store, thread)) == wire(fetched)


def test_large_metadata_round_trips(memory_store):
    # About 60 KB: well past any inline-value shortcut, well under a 400 KB item.
    metadata = {f"key_{i:03d}": f"{i:03d}-" + "v" * 290 for i in range(200)}
    metadata["nested"] = {"rows": [{"index": i, "label": f"row {i}"} for i in range(100)]}
    thread = create_thread(memory_store, metadata=metadata)

    assert memory_store.get_thread(thread.id).to_wire()["metadata"] == metadata
    assert listed_thread(memory_store, thread).to_wire()["metadata"] == metadata


@pytest.mark.parametrize(
    "title",
    [
        "Emoji 🧠🚀 and accents: déjà vu",
        "Double \"quotes\" and 'single' quotes",
        'Backslash \\ and JSON-ish {"a": [1]} and %s %d',
        "Line\nbreak\tand tab",
        "中文标题 😀",
    ],
    ids=["emoji", "quotes", "backslash-json", "whitespace", "cjk"],
)
def test_titles_with_emoji_and_quotes_round_trip(memory_store, title):
    thread = create_thread(memory_store, title=title)

    assert memory_store.get_thread(thread.id).title == title
    assert listed_thread(memory_store, thread).title == title


# ---------------------------------------------------------------- deletes and message side effects


def test_delete_thread_removes_the_thread_and_all_its_messages(memory_store):
    # Given a thread with messages and a sibling thread of the same resource
    thread = create_thread(memory_store)
    sibling = create_thread(memory_store, thread.resource_id)
    doomed = memory_store.save_messages(make_messages(thread, 3))
    survivor = memory_store.save_messages([make_message(sibling)])

    # When the thread is deleted
    memory_store.delete_thread(thread.id)

    # Then it and its messages are gone, and the sibling's message is not
    assert memory_store.get_thread(thread.id) is None
    assert ids(memory_store.list_messages_by_id(ids(doomed + survivor))) == ids(survivor)
    by_resource = memory_store.list_messages_by_resource_id(
        ListMessagesByResourceInput.build(resource_id=thread.resource_id, per_page=False)
    )
    assert ids(by_resource.messages) == ids(survivor)
    # And a new thread under the same id starts empty (no orphaned messages resurface)
    memory_store.save_thread(make_thread(thread.resource_id, thread_id=thread.id))
    reborn = memory_store.list_messages(ListMessagesInput.build(thread_id=thread.id, per_page=False))
    assert (reborn.messages, reborn.total) == ([], 0)


def test_delete_unknown_thread_is_a_no_op_returning_none(memory_store):
    assert memory_store.delete_thread(unique_id("thr-missing")) is None


def test_delete_thread_reports_the_thread_and_the_resources_of_its_messages(memory_store):
    # Given a thread with messages of its owner and one attributed to another resource
    thread = create_thread(memory_store)
    attributed_to = new_resource_id()
    memory_store.save_messages(make_messages(thread, 2) + [make_message(thread, resource_id=attributed_to)])
    stored = memory_store.get_thread(thread.id)

    # When it is deleted
    deleted = memory_store.delete_thread(thread.id, resource_id=thread.resource_id)

    # Then the store reports the thread as it was and every resource its messages belonged to
    assert deleted is not None
    assert deleted.thread == stored
    assert deleted.message_resources == frozenset({thread.resource_id, attributed_to})


def test_delete_thread_without_messages_reports_no_message_resources(memory_store):
    thread = create_thread(memory_store)

    deleted = memory_store.delete_thread(thread.id)

    assert deleted is not None
    assert (deleted.thread.id, deleted.message_resources) == (thread.id, frozenset())


def test_delete_thread_with_another_resource_id_raises_and_keeps_everything(memory_store):
    thread = create_thread(memory_store)
    messages = memory_store.save_messages(make_messages(thread, 2))
    intruder = new_resource_id()

    with pytest.raises(OwnershipError) as raised:
        memory_store.delete_thread(thread.id, resource_id=intruder)

    assert str(raised.value) == ownership_error_text(thread.id, thread.resource_id, intruder)
    assert memory_store.get_thread(thread.id) is not None
    assert ids(memory_store.list_messages_by_id(ids(messages))) == ids(messages)


def test_saving_a_message_bumps_updated_at_and_sets_last_message_at(memory_store):
    # Given a thread last updated long ago
    thread = create_thread(memory_store, created_at=at(0), updated_at=at(0))
    started = now()

    # When a message is saved to it
    memory_store.save_messages([make_message(thread, created_at=at(5_000))])

    # Then updatedAt moves to the time of the save and lastMessageAt is the message's createdAt
    after = memory_store.get_thread(thread.id)
    assert after.updated_at >= started
    assert after.created_at == thread.created_at
    assert after.last_message_at == at(5_000)
    assert wire(listed_thread(memory_store, thread)) == wire(after)


def test_last_message_at_never_goes_backwards(memory_store):
    thread = create_thread(memory_store)
    memory_store.save_messages([make_message(thread, created_at=at(5_000))])

    # An older message arriving late must not rewind lastMessageAt...
    memory_store.save_messages([make_message(thread, created_at=at(1_000))])
    assert memory_store.get_thread(thread.id).last_message_at == at(5_000)

    # ...while a newer one advances it.
    memory_store.save_messages([make_message(thread, created_at=at(9_000))])
    assert memory_store.get_thread(thread.id).last_message_at == at(9_000)


# ---------------------------------------------------------------- title generation support


@pytest.mark.parametrize("title", [None, *sorted(DEFAULT_TITLES)], ids=repr)
def test_set_title_if_untitled_replaces_a_missing_or_default_title(memory_store, title):
    thread = create_thread(memory_store, title=title)

    assert memory_store.set_title_if_untitled(thread.id, "Generated title") is True
    assert memory_store.get_thread(thread.id).title == "Generated title"


def test_set_title_if_untitled_keeps_a_title_the_user_set(memory_store):
    thread = create_thread(memory_store, title="Chosen by the user")

    assert memory_store.set_title_if_untitled(thread.id, "Generated title") is False
    assert memory_store.get_thread(thread.id).title == "Chosen by the user"


def test_set_title_if_untitled_on_a_missing_thread_returns_false(memory_store):
    missing = unique_id("thr-missing")

    assert memory_store.set_title_if_untitled(missing, "Generated title") is False
    assert memory_store.get_thread(missing) is None


def test_claim_thread_task_succeeds_once_even_after_thread_updates(memory_store):
    thread = create_thread(memory_store)

    first = memory_store.claim_thread_task(thread.id, "title")
    memory_store.update_thread(thread.id, title="Renamed", metadata={"k": "v"})
    second = memory_store.claim_thread_task(thread.id, "title")

    assert (first, second) == (True, False)


@pytest.mark.parametrize("task", ["bad-name", "title.x", "", "1st"])
def test_a_task_name_that_is_not_an_identifier_is_refused_and_claims_nothing(memory_store, task):
    thread = create_thread(memory_store)

    with pytest.raises(ValidationError, match="task name"):
        memory_store.claim_thread_task(thread.id, task)
    with pytest.raises(ValidationError, match="task name"):
        memory_store.release_thread_task(thread.id, task)
    assert memory_store.claim_thread_task(thread.id, "title") is True


def test_claims_of_different_tasks_are_independent(memory_store):
    thread = create_thread(memory_store)

    assert memory_store.claim_thread_task(thread.id, "title") is True
    assert memory_store.claim_thread_task(thread.id, "summary") is True
    assert memory_store.claim_thread_task(thread.id, "summary") is False


def test_a_released_claim_can_be_claimed_again_and_other_claims_stay(memory_store):
    # Given two claimed tasks
    thread = create_thread(memory_store)
    memory_store.claim_thread_task(thread.id, "title")
    memory_store.claim_thread_task(thread.id, "summary")

    # When the title claim is released (its job could not be enqueued)
    memory_store.release_thread_task(thread.id, "title")

    # Then the title can be claimed once more, and the other claim still holds
    assert memory_store.claim_thread_task(thread.id, "title") is True
    assert memory_store.claim_thread_task(thread.id, "title") is False
    assert memory_store.claim_thread_task(thread.id, "summary") is False


def test_releasing_an_unclaimed_task_or_a_missing_thread_is_a_no_op(memory_store):
    thread = create_thread(memory_store)

    memory_store.release_thread_task(thread.id, "title")
    memory_store.release_thread_task(unique_id("thr-missing"), "title")

    assert memory_store.claim_thread_task(thread.id, "title") is True


def test_claim_thread_task_on_a_missing_thread_returns_false_and_creates_nothing(memory_store):
    missing = unique_id("thr-missing")

    assert memory_store.claim_thread_task(missing, "title") is False
    assert memory_store.get_thread(missing) is None


def test_claims_never_show_in_the_thread(memory_store):
    thread = create_thread(memory_store, metadata={"k": "v"})

    memory_store.claim_thread_task(thread.id, "title")

    assert wire(memory_store.get_thread(thread.id)) == wire(thread)
    assert wire(listed_thread(memory_store, thread)) == wire(thread)


def test_racing_claims_let_exactly_one_caller_win(memory_store):
    # Given eight callers (e.g. concurrent message saves) that all want to start the title job
    thread = create_thread(memory_store)
    callers = 8
    start_together = threading.Barrier(callers)

    def claim(_: int) -> bool:
        start_together.wait(timeout=30)
        return memory_store.claim_thread_task(thread.id, "title")

    with ThreadPoolExecutor(max_workers=callers) as pool:
        outcomes = list(pool.map(claim, range(callers), timeout=60))

    # Then exactly one of them got it
    assert sorted(outcomes) == [False] * (callers - 1) + [True]


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "thread_id",
    ["", "   ", "has space", "slash/inside", "question?mark", "x" * 256],
    ids=["empty", "blank", "space", "slash", "question-mark", "256-chars"],
)
def test_invalid_thread_id_is_rejected_and_nothing_is_written(memory_store, thread_id):
    resource_id = new_resource_id()

    with pytest.raises(ValidationError):
        memory_store.save_thread(make_thread(resource_id, thread_id=thread_id))

    assert list_threads(memory_store, resource_id=resource_id).total == 0


@pytest.mark.parametrize("key", INVALID_METADATA_KEYS.values(), ids=INVALID_METADATA_KEYS.keys())
def test_invalid_metadata_key_on_create_is_rejected_and_nothing_is_written(memory_store, key):
    resource_id = new_resource_id()

    with pytest.raises(ValidationError):
        memory_store.save_thread(make_thread(resource_id, metadata={"fine": 1, key: "bad"}))

    assert list_threads(memory_store, resource_id=resource_id).total == 0


@pytest.mark.parametrize("key", INVALID_METADATA_KEYS.values(), ids=INVALID_METADATA_KEYS.keys())
def test_invalid_metadata_key_on_update_is_rejected_and_the_thread_is_unchanged(memory_store, key):
    thread = create_thread(memory_store, title="Untouched", metadata={"k": "v"})

    # The valid parts of the same call (title, the "fine" key) must not be written either.
    with pytest.raises(ValidationError):
        memory_store.update_thread(thread.id, title="Changed", metadata={"fine": 1, key: "bad"})

    assert wire(memory_store.get_thread(thread.id)) == wire(thread)


@pytest.mark.parametrize("value", [float("nan"), float("inf")], ids=["nan", "infinity"])
def test_non_finite_metadata_value_is_rejected_and_nothing_is_written(memory_store, value):
    # JSON has no NaN or infinity: stored, the value would read back as something else.
    resource_id = new_resource_id()

    with pytest.raises(ValidationError):
        memory_store.save_thread(make_thread(resource_id, metadata={"score": value}))

    assert list_threads(memory_store, resource_id=resource_id).total == 0


def test_metadata_key_of_128_characters_is_accepted(memory_store):
    longest_key = "k" * 128
    thread = create_thread(memory_store, metadata={longest_key: "ok"})

    memory_store.update_thread(thread.id, metadata={"_underscore_start": 1})

    assert memory_store.get_thread(thread.id).metadata == {longest_key: "ok", "_underscore_start": 1}


@pytest.mark.parametrize(
    "arguments",
    [
        {"page": -1},
        {"page": 1, "per_page": False},
        {"page": "1"},
        {"per_page": "ten"},
        {"metadata": {"__proto__": "x"}},
        {"order_by": {"field": "title"}},
        {"order_by": {"direction": "SIDEWAYS"}},
        {"resource_id": "has space"},
    ],
    ids=[
        "page-minus-1",
        "per-page-false-page-1",
        "page-string",
        "per-page-string",
        "filter-key",
        "order-field",
        "order-direction",
        "resource-id",
    ],
)
def test_invalid_thread_listing_input_is_rejected(memory_store, arguments):
    with pytest.raises(ValidationError):
        list_threads(memory_store, **arguments)
