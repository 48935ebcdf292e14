"""Long threads: reads stay complete and exact past any backend page size (DynamoDB's 1 MB query pages).

Each case builds its thread once and checks several reads, because writing a thousand messages
is the expensive part.
"""

from __future__ import annotations

import pytest

from memkit.models import ListMessagesByResourceInput, ListMessagesInput

from tests.storage.memory.builders import create_thread, ids, make_messages, save_in_batches, wire

pytestmark = pytest.mark.slow

NEWEST_FIRST = {"field": "createdAt", "direction": "DESC"}


def window(message, before=0, after=0):
    return {"id": message.id, "withPreviousMessages": before, "withNextMessages": after}


def test_thousand_message_thread_pages_totals_and_includes_are_exact(memory_store):
    # Given a thread of 1,050 messages written the way a client would, in batches
    thread = create_thread(memory_store)
    m = make_messages(thread, 1_050)
    save_in_batches(memory_store, m, batch_size=100)

    def page(**kwargs):
        return memory_store.list_messages(ListMessagesInput.build(thread_id=thread.id, **kwargs))

    # Then the total is exact without reading a page
    assert page(per_page=0).total == 1_050

    # And the last-N window (newest first, as the recent-messages read does) is exact
    last_ten = page(per_page=10, order_by=NEWEST_FIRST)
    assert ids(last_ten.messages) == ids(reversed(m[-10:]))
    assert (last_ten.total, last_ten.has_more) == (1_050, True)

    # And the last page in ascending order, a deep page and the page past the end are exact
    last_page = page(page=26)  # default 40 per page: 26 * 40 = 1,040, so 10 remain
    assert ids(last_page.messages) == ids(m[1_040:])
    assert (last_page.total, last_page.per_page, last_page.has_more) == (1_050, 40, False)
    deep = page(page=50, per_page=20)
    assert (ids(deep.messages), deep.has_more) == (ids(m[1_000:1_020]), True)
    assert page(page=27).messages == []

    # And everything at once is everything, in order
    assert ids(page(per_page=False).messages) == ids(m)

    # And include windows far from the page are exact at both thread edges and in the middle
    windows = page(per_page=0, include=[window(m[500], 5, 5), window(m[3], before=10), window(m[1_047], after=10)])
    assert ids(windows.messages) == ids(m[0:4] + m[495:506] + m[1_047:])
    with_recent = page(per_page=10, order_by=NEWEST_FIRST, include=[window(m[100], 2, 2)])
    assert ids(with_recent.messages) == ids(reversed(m[-10:])) + ids(reversed(m[98:103]))

    # And the resource-wide listing sees all of them too
    by_resource = memory_store.list_messages_by_resource_id(
        ListMessagesByResourceInput.build(resource_id=thread.resource_id, per_page=25, page=41)
    )
    assert (ids(by_resource.messages), by_resource.total, by_resource.has_more) == (ids(m[1_025:]), 1_050, False)


def test_thread_of_300_messages_of_8_kb_reads_completely_and_exactly(memory_store):
    # Given 300 messages of 8 KB each: 2.4 MB, well past one 1 MB backend page
    thread = create_thread(memory_store)
    m = make_messages(thread, 300, text_size=8 * 1024)
    save_in_batches(memory_store, m, batch_size=25)

    def page(**kwargs):
        return memory_store.list_messages(ListMessagesInput.build(thread_id=thread.id, **kwargs))

    # Then a full read returns every message whole
    everything = page(per_page=False)
    assert everything.total == 300
    assert wire(everything.messages) == wire(m)

    # And the last-N window, the last ascending page and the totals are exact
    last_five = page(per_page=5, order_by=NEWEST_FIRST)
    assert (wire(last_five.messages), last_five.total) == (wire(list(reversed(m[-5:]))), 300)
    last_page = page(page=7)  # 7 * 40 = 280, so 20 remain
    assert (ids(last_page.messages), last_page.total, last_page.has_more) == (ids(m[280:]), 300, False)
    assert page(per_page=0).total == 300

    # And include windows come back whole, including across the middle of the thread
    windows = page(per_page=0, include=[window(m[150], 3, 3), window(m[299], before=1)])
    assert wire(windows.messages) == wire(m[147:154] + m[298:])

    # And the resource-wide listing agrees
    by_resource = memory_store.list_messages_by_resource_id(
        ListMessagesByResourceInput.build(resource_id=thread.resource_id, per_page=0)
    )
    assert by_resource.total == 300
