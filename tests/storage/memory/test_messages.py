"""Messages: round trip, pagination, filters, ordering, include windows, saves, updates, deletes."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from memkit.errors import NotFoundError, OwnershipError, PayloadTooLargeError, ValidationError
from memkit.models import (
    ListMessagesByResourceInput,
    ListMessagesInput,
    Message,
    MessagePage,
    MessageUpdate,
    Thread,
    format_ts,
    parse_model,
)
from memkit.storage.memory.base import MemoryStorage

from tests.storage.memory.builders import (
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
    save_in_batches,
    text_content,
    unique_id,
    wire,
)


def list_messages(store: MemoryStorage, thread_id: str | list[str], **kwargs: Any) -> MessagePage:
    return store.list_messages(ListMessagesInput.build(thread_id=thread_id, **kwargs))


def list_by_resource(store: MemoryStorage, resource_id: str, **kwargs: Any) -> MessagePage:
    return store.list_messages_by_resource_id(ListMessagesByResourceInput.build(resource_id=resource_id, **kwargs))


def stored(store: MemoryStorage, message: Message) -> Message:
    [found] = store.list_messages_by_id([message.id])
    return found


def include(message: Message, *, before: int = 0, after: int = 0, with_thread: bool = False) -> dict[str, Any]:
    item: dict[str, Any] = {"id": message.id, "withPreviousMessages": before, "withNextMessages": after}
    if with_thread:
        item["threadId"] = message.thread_id
    return item


@pytest.fixture
def thread(memory_store):
    return create_thread(memory_store)


@pytest.fixture
def ten_messages(memory_store, thread):
    """m0..m9, one millisecond apart, saved to ``thread``."""
    return memory_store.save_messages(make_messages(thread, 10))


# ---------------------------------------------------------------- round trip


EVERY_KIND_OF_CONTENT = {
    "format": 2,
    "parts": [
        {"type": "step-start"},
        {"type": "text", "text": 'Hello "quoted" 🧠 {"not": "parsed"}'},
        {"type": "reasoning", "reasoning": "because", "details": [{"type": "text", "text": "why"}]},
        {
            "type": "tool-invocation",
            "toolInvocation": {
                "state": "result",
                "toolCallId": "call-1",
                "toolName": "weather",
                "args": {"city": "Paris"},
                "result": {"tempC": 21.5, "ok": True, "tags": None},
            },
        },
        {"type": "source", "source": {"sourceType": "url", "id": "s1", "url": "https://example.com/a?b=c"}},
        {"type": "file", "mimeType": "image/png", "data": "iVBORw0KGgo="},
        {"type": "data-progress", "data": {"percent": 50, "stage": "fetch"}},
    ],
    "content": "Hello",
    "toolInvocations": [{"state": "result", "toolCallId": "call-1", "toolName": "weather", "args": {}, "result": 1}],
    "reasoning": "because",
    "annotations": [{"kind": "note", "value": [1, 2]}],
    "experimental_attachments": [{"name": "a.png", "contentType": "image/png", "url": "data:image/png;base64,AA=="}],
    "metadata": {"source": "conformance", "nested": {"depth": [1, 2, 3]}},
    "providerMetadata": {"openai": {"cachedTokens": 12}},
    "unknownFieldFromTheFuture": {"keeps": ["its", {"shape": True}], "number": 7},
}


def test_message_round_trips_every_field_and_unknown_content_exactly(memory_store, thread):
    # Given a message using every part type, every optional content field and an unknown one
    message = make_message(thread, role="assistant", created_at=at(86_399_999), content=EVERY_KIND_OF_CONTENT)

    # When it is saved and read back by id and by listing
    returned = memory_store.save_messages([message])
    by_id = stored(memory_store, message)
    [listed] = list_messages(memory_store, thread.id).messages

    # Then all three are byte-for-byte the message that was written
    assert wire(returned) == [message.to_wire()]
    assert wire(by_id) == message.to_wire()
    assert wire(listed) == message.to_wire()
    assert by_id.to_wire()["createdAt"] == "2024-01-01T23:59:59.999Z"
    assert by_id.to_wire()["content"] == EVERY_KIND_OF_CONTENT
    assert by_id.type == "v2"


def test_timestamps_before_year_1000_round_trip_and_sort_first(memory_store, thread):
    # Given a message dated in year 999 next to one from this suite's 2024
    ancient = make_message(thread, created_at=datetime(999, 12, 31, 23, 59, 59, 999000, tzinfo=timezone.utc))
    recent = make_message(thread, created_at=at(0))
    memory_store.save_messages([recent, ancient])

    # When the thread is listed
    listed = list_messages(memory_store, thread.id).messages

    # Then the date keeps its four-digit year and orders before the later message
    assert ids(listed) == [ancient.id, recent.id]
    assert listed[0].to_wire()["createdAt"] == "0999-12-31T23:59:59.999Z"


def test_message_content_is_not_double_encoded(memory_store, thread):
    message = make_message(thread, content=text_content('{"looks": "like json"}', metadata={"a": {"b": 1}}))
    memory_store.save_messages([message])

    content = stored(memory_store, message).to_wire()["content"]

    assert isinstance(content, dict)
    assert isinstance(content["metadata"], dict)
    assert content["parts"][0]["text"] == '{"looks": "like json"}'


def test_save_messages_returns_the_saved_messages_in_input_order(memory_store, thread):
    # Input order deliberately differs from createdAt order.
    messages = [make_message(thread, created_at=at(ms)) for ms in (30, 10, 20)]

    returned = memory_store.save_messages(messages)

    assert wire(returned) == wire(messages)


# ---------------------------------------------------------------- pagination


def test_five_messages_at_per_page_two_come_as_pages_of_2_2_1(memory_store, thread):
    messages = memory_store.save_messages(make_messages(thread, 5))

    pages = [list_messages(memory_store, thread.id, page=n, per_page=2) for n in range(3)]

    assert [ids(p.messages) for p in pages] == [ids(messages[0:2]), ids(messages[2:4]), ids(messages[4:5])]
    assert [p.has_more for p in pages] == [True, True, False]
    assert [(p.total, p.page, p.per_page) for p in pages] == [(5, 0, 2), (5, 1, 2), (5, 2, 2)]


def test_per_page_false_returns_all_55_messages(memory_store, thread):
    messages = memory_store.save_messages(make_messages(thread, 55))

    page = list_messages(memory_store, thread.id, per_page=False)

    assert ids(page.messages) == ids(messages)
    assert (page.total, page.page, page.has_more) == (55, 0, False)
    assert page.per_page is False


def test_per_page_zero_returns_no_messages_but_the_total(memory_store, thread):
    memory_store.save_messages(make_messages(thread, 6))

    page = list_messages(memory_store, thread.id, per_page=0)

    assert (page.messages, page.total, page.per_page) == ([], 6, 0)


def test_omitted_or_negative_message_per_page_falls_back_to_40(memory_store, thread):
    messages = memory_store.save_messages(make_messages(thread, 45))

    for per_page in (None, -1, -40):
        page = list_messages(memory_store, thread.id, per_page=per_page)

        assert ids(page.messages) == ids(messages[:40]), per_page
        assert (page.total, page.per_page, page.has_more) == (45, 40, True), per_page


def test_message_page_past_the_end_is_empty_but_keeps_the_total(memory_store, thread):
    memory_store.save_messages(make_messages(thread, 3))

    page = list_messages(memory_store, thread.id, page=3, per_page=2)

    assert (page.messages, page.total, page.has_more) == ([], 3, False)


def test_listing_a_thread_without_messages_is_empty(memory_store, thread):
    page = list_messages(memory_store, thread.id)

    assert (page.messages, page.total, page.has_more) == ([], 0, False)


# ---------------------------------------------------------------- ordering


def test_messages_default_to_created_at_ascending(memory_store, thread):
    # Saved out of order, so the store has to sort rather than replay insertion order.
    messages = [make_message(thread, created_at=at(ms)) for ms in (20, 0, 30, 10)]
    memory_store.save_messages(messages)

    page = list_messages(memory_store, thread.id)

    assert ids(page.messages) == [messages[1].id, messages[3].id, messages[0].id, messages[2].id]


def test_messages_can_be_listed_descending(memory_store, thread):
    messages = [make_message(thread, created_at=at(ms)) for ms in (20, 0, 30, 10)]
    memory_store.save_messages(messages)

    page = list_messages(memory_store, thread.id, order_by={"field": "createdAt", "direction": "DESC"})

    assert ids(page.messages) == [messages[2].id, messages[0].id, messages[3].id, messages[1].id]


@pytest.mark.parametrize("direction", ["ASC", "DESC"])
def test_message_order_is_total_and_stable_across_pages_even_on_ties(memory_store, thread, direction):
    # Given ten messages, most sharing a createdAt with others, with random ids
    messages = [make_message(thread, created_at=at(ms)) for ms in (0, 0, 0, 0, 1, 1, 2, 2, 2, 3)]
    memory_store.save_messages(messages)
    order_by = {"field": "createdAt", "direction": direction}

    # When paging three at a time, and listing everything at once
    paged = [list_messages(memory_store, thread.id, page=n, per_page=3, order_by=order_by) for n in range(4)]
    everything = list_messages(memory_store, thread.id, per_page=False, order_by=order_by)

    # Then both give one total order: createdAt in the asked direction, ties by id
    concatenated = [m.id for p in paged for m in p.messages]
    assert [len(p.messages) for p in paged] == [3, 3, 3, 1]
    assert concatenated in acceptable_orders(messages, "created_at", direction)
    assert ids(everything.messages) == concatenated


def test_listing_several_threads_merges_them_in_created_at_order(memory_store, thread):
    other = create_thread(memory_store, thread.resource_id)
    mine = [make_message(thread, created_at=at(ms)) for ms in (0, 2, 4)]
    theirs = [make_message(other, created_at=at(ms)) for ms in (1, 3)]
    memory_store.save_messages(mine + theirs)

    page = list_messages(memory_store, [thread.id, other.id], per_page=False)

    assert ids(page.messages) == [mine[0].id, theirs[0].id, mine[1].id, theirs[1].id, mine[2].id]
    assert page.total == 5


# ---------------------------------------------------------------- filters


def test_resource_filter_keeps_only_that_resources_messages_in_the_thread(memory_store, thread):
    # Messages in one thread may be attributed to other resources.
    guest = new_resource_id()
    owners = [make_message(thread, created_at=at(ms)) for ms in (0, 2, 4)]
    guests = [make_message(thread, created_at=at(ms), resource_id=guest) for ms in (1, 3)]
    memory_store.save_messages(owners + guests)

    page = list_messages(memory_store, thread.id, resource_id=thread.resource_id, per_page=2)

    assert ids(page.messages) == ids(owners[:2])
    assert (page.total, page.has_more) == (3, True)


def test_listing_without_resource_id_returns_every_resources_messages(memory_store, thread):
    guest = new_resource_id()
    messages = [
        make_message(thread, created_at=at(0)),
        make_message(thread, created_at=at(1), resource_id=guest),
    ]
    memory_store.save_messages(messages)

    page = list_messages(memory_store, thread.id)

    assert (ids(page.messages), page.total) == (ids(messages), 2)


def test_listing_another_resources_thread_raises_the_exact_ownership_error(memory_store, thread):
    memory_store.save_messages([make_message(thread)])
    intruder = new_resource_id()

    with pytest.raises(OwnershipError) as raised:
        list_messages(memory_store, thread.id, resource_id=intruder)

    assert str(raised.value) == ownership_error_text(thread.id, thread.resource_id, intruder)


DATE_RANGE_CASES = {
    # name: (dateRange, indices of the messages at 0, 1, 2, 3 and 1000 ms expected)
    "inclusive-both": ({"start": at(1), "end": at(3)}, [1, 2, 3]),
    "start-exclusive": ({"start": at(1), "end": at(3), "startExclusive": True}, [2, 3]),
    "end-exclusive": ({"start": at(1), "end": at(3), "endExclusive": True}, [1, 2]),
    "both-exclusive": ({"start": at(1), "end": at(3), "startExclusive": True, "endExclusive": True}, [2]),
    "start-only": ({"start": at(3)}, [3, 4]),
    "end-only": ({"end": at(0)}, [0]),
    "end-only-exclusive": ({"end": at(1), "endExclusive": True}, [0]),
    "empty-window": ({"start": at(1), "end": at(1), "startExclusive": True}, []),
}


@pytest.mark.parametrize("date_range, expected", DATE_RANGE_CASES.values(), ids=DATE_RANGE_CASES.keys())
def test_date_range_bounds_are_exact_to_the_millisecond(memory_store, thread, date_range, expected):
    messages = [make_message(thread, created_at=at(ms)) for ms in (0, 1, 2, 3, 1000)]
    memory_store.save_messages(messages)
    # On the wire dates arrive as ISO strings with milliseconds.
    wire_range = {k: format_ts(v) if k in ("start", "end") else v for k, v in date_range.items()}

    page = list_messages(memory_store, thread.id, filter={"dateRange": wire_range})

    assert ids(page.messages) == [messages[i].id for i in expected]
    assert page.total == len(expected)


@pytest.mark.parametrize(
    "roles, expected",
    [(["assistant"], [1, 3]), (["user", "system"], [0, 2, 4]), (["signal"], [5]), (["system"], [4])],
    ids=["assistant", "user-and-system", "signal", "system"],
)
def test_role_filter_keeps_only_those_roles(memory_store, thread, roles, expected):
    messages = [
        make_message(thread, role=role, created_at=at(ms))
        for ms, role in enumerate(["user", "assistant", "user", "assistant", "system", "signal"])
    ]
    memory_store.save_messages(messages)

    page = list_messages(memory_store, thread.id, filter={"roles": roles})

    assert ids(page.messages) == [messages[i].id for i in expected]
    assert page.total == len(expected)


def test_date_range_and_role_filters_combine(memory_store, thread):
    messages = [
        make_message(thread, role=role, created_at=at(ms))
        for ms, role in enumerate(["user", "assistant", "user", "assistant", "user"])
    ]
    memory_store.save_messages(messages)

    page = list_messages(
        memory_store,
        thread.id,
        filter={"roles": ["user"], "dateRange": {"start": format_ts(at(1)), "end": format_ts(at(3))}},
    )

    assert (ids(page.messages), page.total) == ([messages[2].id], 1)


# ---------------------------------------------------------------- include windows


def test_include_adds_the_previous_messages(memory_store, thread, ten_messages):
    m = ten_messages

    page = list_messages(memory_store, thread.id, per_page=0, include=[include(m[5], before=2)])

    assert ids(page.messages) == ids(m[3:6])


def test_include_adds_the_next_messages(memory_store, thread, ten_messages):
    m = ten_messages

    page = list_messages(memory_store, thread.id, per_page=0, include=[include(m[5], after=3)])

    assert ids(page.messages) == ids(m[5:9])


def test_include_adds_both_sides_and_stops_at_the_thread_edges(memory_store, thread, ten_messages):
    m = ten_messages

    middle = list_messages(memory_store, thread.id, per_page=0, include=[include(m[4], before=1, after=1)])
    first = list_messages(memory_store, thread.id, per_page=0, include=[include(m[1], before=5, after=1)])
    last = list_messages(memory_store, thread.id, per_page=0, include=[include(m[8], before=1, after=5)])
    alone = list_messages(memory_store, thread.id, per_page=0, include=[include(m[6])])

    assert ids(middle.messages) == ids(m[3:6])
    assert ids(first.messages) == ids(m[0:3])
    assert ids(last.messages) == ids(m[7:10])
    assert ids(alone.messages) == [m[6].id]


def test_include_window_follows_the_listing_order_when_timestamps_tie(memory_store, thread):
    # Given eight messages saved in one batch with the same createdAt, as a fast client may do
    messages = [make_message(thread, created_at=at(0)) for _ in range(8)]
    memory_store.save_messages(messages)
    chronological = list_messages(memory_store, thread.id, per_page=False).messages
    assert ids(chronological) in acceptable_orders(messages, "created_at", "ASC")
    target = chronological[4]

    # When including the fifth one with two neighbours on each side
    page = list_messages(memory_store, thread.id, per_page=0, include=[include(target, before=2, after=2)])

    # Then its neighbours are the ones next to it in the store's own total order
    assert ids(page.messages) == ids(chronological[2:7])


def test_per_page_zero_still_applies_includes_and_reports_the_total(memory_store, thread, ten_messages):
    page = list_messages(memory_store, thread.id, per_page=0, include=[include(ten_messages[2], after=1)])

    assert ids(page.messages) == ids(ten_messages[2:4])
    assert page.total == 10


def test_includes_merge_with_the_page_in_page_order(memory_store, thread, ten_messages):
    m = ten_messages
    newest_first = {"field": "createdAt", "direction": "DESC"}

    # Given the newest two as the page, plus a window around m3 and one overlapping the page
    page = list_messages(
        memory_store,
        thread.id,
        per_page=2,
        order_by=newest_first,
        include=[include(m[3], before=1, after=1), include(m[8], before=1)],
    )

    # Then everything comes once, ordered like the page (newest first)
    assert ids(page.messages) == [m[9].id, m[8].id, m[7].id, m[4].id, m[3].id, m[2].id]
    assert (page.total, page.has_more) == (10, True)


def test_include_reaches_into_another_thread_of_the_same_resource(memory_store, thread):
    other = create_thread(memory_store, thread.resource_id)
    mine = memory_store.save_messages(make_messages(thread, 3, start_ms=0))
    theirs = memory_store.save_messages(make_messages(other, 5, start_ms=100))

    for with_thread in (False, True):
        page = list_messages(
            memory_store,
            thread.id,
            resource_id=thread.resource_id,
            per_page=False,
            include=[include(theirs[2], before=1, after=1, with_thread=with_thread)],
        )

        # The window is taken in the included message's own thread, not the listed one.
        assert ids(page.messages) == ids(mine) + ids(theirs[1:4])
        assert page.total == 3


def test_overlapping_includes_are_deduplicated(memory_store, thread, ten_messages):
    m = ten_messages

    page = list_messages(
        memory_store,
        thread.id,
        per_page=2,
        include=[include(m[3], after=3), include(m[5], before=2, after=1), include(m[1], after=1)],
    )

    assert ids(page.messages) == ids(m[0:7])


def test_unknown_include_id_is_ignored(memory_store, thread, ten_messages):
    page = list_messages(
        memory_store,
        thread.id,
        per_page=2,
        include=[{"id": unique_id("msg-missing"), "withPreviousMessages": 2, "withNextMessages": 2}],
    )

    assert ids(page.messages) == ids(ten_messages[0:2])
    assert page.total == 10


def test_include_never_crosses_resources(memory_store, thread):
    # Given a thread of another resource
    stranger_thread = create_thread(memory_store)
    memory_store.save_messages(make_messages(thread, 2))
    strangers = memory_store.save_messages(make_messages(stranger_thread, 3))

    for with_thread in (False, True):
        # When this resource lists its thread and includes the stranger's middle message
        page = list_messages(
            memory_store,
            thread.id,
            resource_id=thread.resource_id,
            per_page=0,
            include=[include(strangers[1], before=1, after=1, with_thread=with_thread)],
        )

        # Then nothing of the stranger comes back (and asking is not an error)
        assert page.messages == []
        assert page.total == 2


def save_attributed(store: MemoryStorage, thread: Thread, attributions: list[str | None]) -> list[Message]:
    """One message per millisecond, attributed to the thread's owner (None) or to the given resource."""
    messages = [make_message(thread, created_at=at(ms), resource_id=who) for ms, who in enumerate(attributions)]
    store.save_messages(messages)
    return messages


def owner_includes(store: MemoryStorage, thread: Thread, *items: dict[str, Any]) -> MessagePage:
    """The thread listed for its owner, no page items, only the given includes."""
    return list_messages(store, thread.id, resource_id=thread.resource_id, per_page=0, include=list(items))


def test_include_skips_neighbours_attributed_to_another_resource(memory_store, thread):
    # Given a thread of ours where some messages are attributed to a guest resource
    guest = new_resource_id()
    messages = save_attributed(memory_store, thread, [None, guest, None, None, guest])

    # When listing for our resource with a window around message 2 and one targeting the guest's message
    window = owner_includes(memory_store, thread, include(messages[2], before=2, after=2))
    guest_target = owner_includes(memory_store, thread, include(messages[1]))

    # Then the guest's messages never appear
    assert ids(window.messages) == [messages[0].id, messages[2].id, messages[3].id]
    assert messages[1].id not in ids(guest_target.messages)


def test_include_window_counts_only_the_filtered_resources_neighbours(memory_store, thread):
    # Given our messages 0, 1, 4 with two guest messages (2, 3) between them
    guest = new_resource_id()
    messages = save_attributed(memory_store, thread, [None, None, guest, guest, None])

    # When listing for our resource with two previous messages around message 4
    page = owner_includes(memory_store, thread, include(messages[4], before=2))

    # Then the window skips the guests and still holds two of ours before the target
    assert ids(page.messages) == [messages[0].id, messages[1].id, messages[4].id]


def test_include_of_another_resources_message_brings_none_of_its_neighbours(memory_store, thread):
    messages = save_attributed(memory_store, thread, [None, new_resource_id(), None])

    page = owner_includes(memory_store, thread, include(messages[1], before=1, after=1))

    assert page.messages == []


def test_include_naming_a_thread_the_message_is_not_in_is_ignored(memory_store, thread):
    other = create_thread(memory_store, thread.resource_id)
    [theirs] = memory_store.save_messages(make_messages(other, 1))

    page = list_messages(
        memory_store,
        thread.id,
        per_page=0,
        include=[{"id": theirs.id, "threadId": thread.id, "withPreviousMessages": 1}],
    )

    assert page.messages == []


# ---------------------------------------------------------------- saving


def test_save_messages_is_all_or_nothing(memory_store, thread):
    # Given a thread with one message
    existing = memory_store.save_messages([make_message(thread, text="original", created_at=at(0))])[0]
    before = memory_store.get_thread(thread.id)
    batch = [
        make_message(thread, created_at=at(1)),
        make_message(thread, message_id=existing.id, text="rewritten", created_at=at(0)),
        # The last message names a thread that does not exist: the whole batch must fail.
        make_message(make_thread(thread.resource_id)),
    ]

    with pytest.raises(NotFoundError):
        memory_store.save_messages(batch)

    # Then nothing of the batch was written, not even the re-save or the thread bump
    assert memory_store.list_messages_by_id(ids(batch[::2])) == []
    assert wire(stored(memory_store, existing)) == wire(existing)
    assert list_messages(memory_store, thread.id).total == 1
    assert wire(memory_store.get_thread(thread.id)) == wire(before)


def test_saving_to_a_missing_thread_raises_not_found_and_writes_nothing(memory_store):
    ghost_thread = make_thread()
    message = make_message(ghost_thread)

    with pytest.raises(NotFoundError):
        memory_store.save_messages([message])

    assert memory_store.list_messages_by_id([message.id]) == []
    assert memory_store.get_thread(ghost_thread.id) is None


def test_save_messages_with_an_empty_list_is_a_no_op(memory_store, thread):
    assert memory_store.save_messages([]) == []
    assert wire(memory_store.get_thread(thread.id)) == wire(thread)


def test_resaving_a_message_updates_it_in_place(memory_store, thread):
    original = memory_store.save_messages([make_message(thread, text="draft", created_at=at(0))])[0]
    revised = make_message(thread, message_id=original.id, role="assistant", text="final", created_at=at(0))

    memory_store.save_messages([revised])

    assert wire(stored(memory_store, original)) == wire(revised)
    page = list_messages(memory_store, thread.id)
    assert (ids(page.messages), page.total) == ([original.id], 1)


def test_resaving_a_message_under_another_thread_moves_it(memory_store, thread):
    destination = create_thread(memory_store, thread.resource_id)
    original = memory_store.save_messages([make_message(thread, created_at=at(0))])[0]
    moved = make_message(destination, message_id=original.id, created_at=at(0))

    memory_store.save_messages([moved])

    assert list_messages(memory_store, thread.id).total == 0
    assert ids(list_messages(memory_store, destination.id).messages) == [original.id]
    assert wire(memory_store.list_messages_by_id([original.id])) == [moved.to_wire()]


def test_oversized_message_fails_cleanly_where_the_backend_has_an_item_limit(backend, memory_store, thread):
    # Given a batch with a small message and one of more than 400 KB
    small = make_message(thread, created_at=at(0))
    huge = make_message(thread, text="h" * (410 * 1024), created_at=at(1))

    if backend.max_item_bytes is not None:
        # Then a backend with a hard item limit refuses the batch and writes none of it
        with pytest.raises(PayloadTooLargeError):
            memory_store.save_messages([small, huge])
        assert memory_store.list_messages_by_id([small.id, huge.id]) == []
        assert list_messages(memory_store, thread.id).total == 0
    else:
        # Otherwise the message is stored whole, not truncated
        memory_store.save_messages([small, huge])
        assert wire(memory_store.list_messages_by_id([small.id, huge.id])) == wire([small, huge])


# ---------------------------------------------------------------- lookups by id and by resource


def test_list_messages_by_id_sorts_by_created_at_across_threads_and_skips_unknown_ids(memory_store, thread):
    other = create_thread(memory_store, thread.resource_id)
    a = make_message(thread, created_at=at(30))
    b = make_message(other, created_at=at(10))
    c = make_message(thread, created_at=at(20))
    memory_store.save_messages([a, b, c])

    found = memory_store.list_messages_by_id([a.id, unique_id("msg-missing"), c.id, b.id])

    assert wire(found) == wire([b, c, a])


def test_list_messages_by_id_with_no_ids_is_empty(memory_store):
    assert memory_store.list_messages_by_id([]) == []


def test_list_messages_by_resource_id_spans_its_threads_and_nothing_else(memory_store, thread):
    second = create_thread(memory_store, thread.resource_id)
    stranger = create_thread(memory_store)
    first_msgs = [make_message(thread, created_at=at(ms)) for ms in (0, 2, 4)]
    second_msgs = [make_message(second, created_at=at(ms)) for ms in (1, 3)]
    memory_store.save_messages(first_msgs + second_msgs)
    memory_store.save_messages([make_message(stranger, created_at=at(ms)) for ms in (0, 5)])
    interleaved = [first_msgs[0], second_msgs[0], first_msgs[1], second_msgs[1], first_msgs[2]]

    everything = list_by_resource(memory_store, thread.resource_id, per_page=False)
    second_page = list_by_resource(memory_store, thread.resource_id, page=1, per_page=2)
    newest_first = list_by_resource(
        memory_store, thread.resource_id, per_page=3, order_by={"field": "createdAt", "direction": "DESC"}
    )

    assert wire(everything.messages) == wire(interleaved)
    assert (everything.total, everything.per_page, everything.has_more) == (5, False, False)
    assert (ids(second_page.messages), second_page.total, second_page.has_more) == (ids(interleaved[2:4]), 5, True)
    assert ids(newest_first.messages) == ids(interleaved[::-1][:3])


def test_list_messages_by_resource_id_applies_role_and_date_filters(memory_store, thread):
    second = create_thread(memory_store, thread.resource_id)
    messages = [
        make_message(thread, role="user", created_at=at(0)),
        make_message(second, role="assistant", created_at=at(1)),
        make_message(thread, role="user", created_at=at(2)),
        make_message(second, role="user", created_at=at(3)),
    ]
    memory_store.save_messages(messages)

    users = list_by_resource(memory_store, thread.resource_id, filter={"roles": ["user"]})
    window = list_by_resource(
        memory_store,
        thread.resource_id,
        filter={"dateRange": {"start": format_ts(at(1)), "end": format_ts(at(3)), "endExclusive": True}},
    )

    assert (ids(users.messages), users.total) == ([messages[0].id, messages[2].id, messages[3].id], 3)
    assert (ids(window.messages), window.total) == ([messages[1].id, messages[2].id], 2)


def test_list_messages_by_resource_id_of_an_unknown_resource_is_empty(memory_store):
    page = list_by_resource(memory_store, new_resource_id())

    assert (page.messages, page.total, page.has_more) == ([], 0, False)


# ---------------------------------------------------------------- updates


def test_update_messages_changes_the_role_and_nothing_else(memory_store, thread):
    original = memory_store.save_messages([make_message(thread, role="user")])[0]

    [updated] = memory_store.update_messages([MessageUpdate(id=original.id, role="assistant")])

    expected = original.model_copy(update={"role": "assistant"}).to_wire()
    assert wire(updated) == expected
    assert wire(stored(memory_store, original)) == expected


def test_update_messages_deep_merges_content_metadata_and_keeps_the_rest(memory_store, thread):
    original = memory_store.save_messages(
        [
            make_message(
                thread,
                content=text_content(
                    "keep my text",
                    content="keep my legacy text",
                    metadata={"kept": 1, "nested": {"a": 1, "inner": {"x": 1}}, "replaced": [1, 2]},
                ),
            )
        ]
    )[0]

    memory_store.update_messages(
        [
            parse_model(
                MessageUpdate,
                {
                    "id": original.id,
                    "content": {"metadata": {"nested": {"inner": {"y": 2}, "b": 2}, "replaced": [3], "added": True}},
                },
            )
        ]
    )

    content = stored(memory_store, original).to_wire()["content"]
    assert content["metadata"] == {
        "kept": 1,
        "nested": {"a": 1, "inner": {"x": 1, "y": 2}, "b": 2},
        "replaced": [3],
        "added": True,
    }
    assert content["parts"] == [{"type": "text", "text": "keep my text"}]
    assert content["content"] == "keep my legacy text"


def test_update_messages_with_null_content_metadata_clears_it_and_keeps_the_rest(memory_store, thread):
    original = memory_store.save_messages([make_message(thread, content=text_content("keep", metadata={"k": 1}))])[0]

    memory_store.update_messages([parse_model(MessageUpdate, {"id": original.id, "content": {"metadata": None}})])

    content = stored(memory_store, original).to_wire()["content"]
    assert content["metadata"] is None
    assert content["parts"] == [{"type": "text", "text": "keep"}]


def test_update_messages_merges_content_metadata_into_an_object_when_the_stored_one_is_not(memory_store, thread):
    # Given a message saved with content.metadata that is not an object (content keeps what it is given)
    original = memory_store.save_messages([make_message(thread, content=text_content("keep", metadata="a note"))])[0]

    # When an update merges keys into it
    [updated] = memory_store.update_messages(
        [parse_model(MessageUpdate, {"id": original.id, "content": {"metadata": {"k": 1}}})]
    )

    # Then the keys land in an object of their own, on every store alike
    assert stored(memory_store, original).to_wire()["content"]["metadata"] == {"k": 1}
    assert wire(updated) == wire(stored(memory_store, original))


def test_update_messages_replaces_given_parts_and_content_text(memory_store, thread):
    original = memory_store.save_messages(
        [make_message(thread, content=text_content("old", content="old legacy", metadata={"kept": True}))]
    )[0]
    new_parts = [{"type": "text", "text": "new"}, {"type": "data-note", "data": {"n": 1}}]

    [updated] = memory_store.update_messages(
        [parse_model(MessageUpdate, {"id": original.id, "content": {"parts": new_parts, "content": "new legacy"}})]
    )

    content = stored(memory_store, original).to_wire()["content"]
    assert content["parts"] == new_parts
    assert content["content"] == "new legacy"
    assert content["metadata"] == {"kept": True}
    assert wire(updated) == wire(stored(memory_store, original))


def test_update_messages_moves_a_message_between_threads_and_bumps_both(memory_store, thread):
    destination = create_thread(memory_store, thread.resource_id)
    message = memory_store.save_messages([make_message(thread, created_at=at(0))])[0]
    # Reset both threads to an old updatedAt so a bump is visible.
    memory_store.save_thread(memory_store.get_thread(thread.id).model_copy(update={"updated_at": at(0)}))
    memory_store.save_thread(memory_store.get_thread(destination.id).model_copy(update={"updated_at": at(0)}))
    started = now()

    [moved] = memory_store.update_messages([MessageUpdate(id=message.id, thread_id=destination.id)])

    assert moved.thread_id == destination.id
    assert list_messages(memory_store, thread.id).total == 0
    assert ids(list_messages(memory_store, destination.id).messages) == [message.id]
    assert memory_store.get_thread(thread.id).updated_at >= started
    assert memory_store.get_thread(destination.id).updated_at >= started


def test_update_messages_with_receipt_reports_where_each_message_was(memory_store, thread):
    # Given a message that will move, one of a guest that stays, in the same thread
    destination = create_thread(memory_store, thread.resource_id)
    guest = new_resource_id()
    moving = make_message(thread, created_at=at(0))
    staying = make_message(thread, resource_id=guest, created_at=at(1))
    memory_store.save_messages([moving, staying])

    # When one moves and the other changes role, next to an unknown id
    receipt = memory_store.update_messages_with_receipt(
        [
            MessageUpdate(id=moving.id, thread_id=destination.id),
            MessageUpdate(id=staying.id, role="assistant"),
            MessageUpdate(id=unique_id("msg-missing"), role="assistant"),
        ]
    )

    # Then the receipt names where each updated message was, and what update_messages returns
    assert receipt.previous == {moving.id: (thread.id, thread.resource_id), staying.id: (thread.id, guest)}
    assert sorted((m.id, m.thread_id, m.role) for m in receipt.messages) == sorted(
        [(moving.id, destination.id, moving.role), (staying.id, thread.id, "assistant")]
    )
    assert ids(list_messages(memory_store, destination.id).messages) == [moving.id]


def test_update_messages_ignores_unknown_ids(memory_store, thread):
    known = memory_store.save_messages([make_message(thread, role="user")])[0]

    updated = memory_store.update_messages(
        [MessageUpdate(id=unique_id("msg-missing"), role="assistant"), MessageUpdate(id=known.id, role="system")]
    )

    assert ids(updated) == [known.id]
    assert stored(memory_store, known).role == "system"


# ---------------------------------------------------------------- deletes


def test_bulk_delete_of_50_of_100_with_unknown_ids_removes_exactly_those(memory_store, thread):
    # Given 100 messages
    messages = make_messages(thread, 100)
    save_in_batches(memory_store, messages)
    doomed = messages[::2]
    survivors = messages[1::2]
    unknown = [unique_id("msg-missing") for _ in range(10)]

    # When every other one is deleted, mixed with ids that never existed
    memory_store.delete_messages(ids(doomed[:25]) + unknown + ids(doomed[25:]))

    # Then exactly the other fifty remain
    page = list_messages(memory_store, thread.id, per_page=False)
    assert (ids(page.messages), page.total) == (ids(survivors), 50)
    assert memory_store.list_messages_by_id(ids(doomed)) == []


def test_delete_messages_accepts_an_empty_list_and_unknown_ids(memory_store, thread):
    message = memory_store.save_messages([make_message(thread)])[0]

    assert memory_store.delete_messages([]) == {}
    assert memory_store.delete_messages([unique_id("msg-missing")]) == {}

    assert ids(memory_store.list_messages_by_id([message.id])) == [message.id]


def test_delete_messages_reports_where_each_deleted_message_lived(memory_store, thread):
    # Given a message of the owner and one attributed to a guest, in the same thread
    guest = new_resource_id()
    own = make_message(thread)
    guest_message = make_message(thread, resource_id=guest)
    memory_store.save_messages([own, guest_message])
    missing = unique_id("msg-missing")

    # When both and an unknown id are deleted
    deleted = memory_store.delete_messages([own.id, guest_message.id, missing])

    # Then the report names exactly the deleted ones, with their thread and resource
    assert deleted == {
        own.id: (thread.id, thread.resource_id),
        guest_message.id: (thread.id, guest),
    }


def test_delete_messages_bumps_the_affected_thread(memory_store, thread):
    message = memory_store.save_messages([make_message(thread)])[0]
    memory_store.save_thread(memory_store.get_thread(thread.id).model_copy(update={"updated_at": at(0)}))
    started = now()

    memory_store.delete_messages([message.id])

    assert memory_store.get_thread(thread.id).updated_at >= started


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize("thread_id", ["", "   ", []], ids=["empty", "blank", "no-threads"])
def test_empty_or_blank_thread_id_is_rejected_with_the_contract_text(memory_store, thread_id):
    with pytest.raises(ValidationError) as raised:
        list_messages(memory_store, thread_id)

    assert str(raised.value) == "threadId must be a non-empty string"


@pytest.mark.parametrize("thread_id", ["", "   ", None], ids=["empty", "blank", "missing"])
def test_message_with_empty_or_blank_thread_id_is_rejected_and_nothing_is_written(memory_store, thread, thread_id):
    message_id = unique_id("msg")
    wire_message = {
        "id": message_id,
        "threadId": thread_id,
        "resourceId": thread.resource_id,
        "role": "user",
        "createdAt": format_ts(at(0)),
        "content": text_content("hi"),
    }

    with pytest.raises(ValidationError) as raised:
        memory_store.save_messages([make_message(thread), parse_model(Message, wire_message)])

    assert str(raised.value) == "threadId must be a non-empty string"
    assert list_messages(memory_store, thread.id).total == 0


INVALID_MESSAGE_FIELDS = {
    "role": {"role": "robot"},
    "role-missing": {"role": None},
    "created-at": {"createdAt": "not a date"},
    "created-at-empty": {"createdAt": ""},
    "id-space": {"id": "has space"},
    "id-empty": {"id": ""},
    "id-too-long": {"id": "m" * 256},
    "resource-id-missing": {"resourceId": None},
    "part-without-type": {"content": {"format": 2, "parts": [{"text": "no type"}]}},
}


@pytest.mark.parametrize("override", INVALID_MESSAGE_FIELDS.values(), ids=INVALID_MESSAGE_FIELDS.keys())
def test_invalid_message_is_rejected_and_nothing_is_written(memory_store, thread, override):
    wire_message = {
        "id": unique_id("msg"),
        "threadId": thread.id,
        "resourceId": thread.resource_id,
        "role": "user",
        "createdAt": format_ts(at(0)),
        "content": text_content("hi"),
        **override,
    }

    with pytest.raises(ValidationError):
        memory_store.save_messages([make_message(thread), parse_model(Message, wire_message)])

    assert list_messages(memory_store, thread.id).total == 0


def test_invalid_role_in_an_update_is_rejected_and_the_message_is_unchanged(memory_store, thread):
    message = memory_store.save_messages([make_message(thread, role="user")])[0]

    with pytest.raises(ValidationError):
        memory_store.update_messages([parse_model(MessageUpdate, {"id": message.id, "role": "robot"})])

    assert wire(stored(memory_store, message)) == wire(message)


@pytest.mark.parametrize(
    "arguments",
    [
        {"page": -1},
        {"page": 1, "per_page": False},
        {"per_page": 2.5},
        {"order_by": {"field": "role"}},
        {"filter": {"roles": ["robot"]}},
        {"filter": {"dateRange": {"start": "yesterday"}}},
        {"include": [{"id": "m1", "withPreviousMessages": -1}]},
        {"resource_id": "has space"},
    ],
    ids=[
        "page-minus-1",
        "per-page-false-page-1",
        "per-page-float",
        "order-field",
        "role",
        "date",
        "include-negative",
        "resource-id",
    ],
)
def test_invalid_message_listing_input_is_rejected(memory_store, thread, arguments):
    with pytest.raises(ValidationError):
        list_messages(memory_store, thread.id, **arguments)


@pytest.mark.parametrize(
    "arguments", [{"page": -1}, {"page": 1, "per_page": False}], ids=["page-minus-1", "per-page-false-page-1"]
)
def test_invalid_resource_listing_pagination_is_rejected(memory_store, arguments):
    with pytest.raises(ValidationError):
        list_by_resource(memory_store, new_resource_id(), **arguments)
