"""The DynamoDB request budgets of docs/dynamodb.md, counted on DynamoDB Local.

Request counts and items read are deterministic, so each budget is an exact assertion on what
``RequestCounter`` saw, next to a check that the answer itself is right (a cheap wrong answer
must not pass). The last section checks the counters the budgets rely on for ``total`` against
a plain model of the data after a random mix of writes.
"""

from __future__ import annotations

import math
import random
import threading
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from memkit.errors import NotFoundError, RetryableError, ValidationError
from memkit.models import (
    CloneThreadInput,
    ListMessagesInput,
    ListThreadsInput,
    Message,
    MessageUpdate,
    Thread,
)
from bench.instruments import RequestCounter
from memkit.storage.memory.dynamodb.store import DynamoDBStore
from memkit.storage.dynamodb.table import TTL_ATTRIBUTE, _create_table_if_missing, table_definition

pytestmark = pytest.mark.dynamodb

TABLE = "memkit-budgets"
BASE_TIME = datetime(2024, 1, 1, tzinfo=timezone.utc)
NEWEST_FIRST = {"field": "createdAt", "direction": "DESC"}


def at(ms: int) -> datetime:
    return BASE_TIME + timedelta(milliseconds=ms)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="module")
def store(dynamodb_endpoint: str) -> Iterator[DynamoDBStore]:
    store = DynamoDBStore(TABLE, create_table=True)
    yield store
    store.close()


def new_thread(store: DynamoDBStore, resource_id: str | None = None, *, created_ms: int = 0, **fields) -> Thread:
    thread = Thread(
        id=unique("thr"),
        resource_id=resource_id or unique("res"),
        title=fields.pop("title", "budget thread"),
        created_at=at(created_ms),
        updated_at=at(created_ms),
        **fields,
    )
    return store.save_thread(thread)


def messages_for(
    thread: Thread, count: int, *, start_ms: int = 0, text_size: int = 20, resource_id: str | None = None
) -> list[Message]:
    prefix = unique("msg")
    return [
        Message(
            id=f"{prefix}-{index:05d}",
            thread_id=thread.id,
            resource_id=resource_id or thread.resource_id,
            role="user" if index % 2 == 0 else "assistant",
            created_at=at(start_ms + index),
            content={"format": 2, "parts": [{"type": "text", "text": f"{index:05d} ".ljust(text_size, "x")}]},
        )
        for index in range(count)
    ]


def save_all(store: DynamoDBStore, messages: list[Message], batch: int = 100) -> None:
    for start in range(0, len(messages), batch):
        store.save_messages(messages[start : start + batch])


def ids(items) -> list[str]:
    return [item.id for item in items]


def counted(store: DynamoDBStore, call):
    with RequestCounter(store) as counter:
        result = call()
    assert counter.count("Scan") == 0, "no Scan in a request path"
    return result, counter


@pytest.fixture(scope="module")
def long_thread(store: DynamoDBStore) -> tuple[Thread, list[Message]]:
    thread = new_thread(store)
    messages = messages_for(thread, 1_000)
    save_all(store, messages)
    return thread, messages


# ====================================================================== schema


def test_created_table_matches_table_definition(store: DynamoDBStore):
    # Given the table the store created on first use
    client = store.botocore_client
    described = client.describe_table(TableName=TABLE)["Table"]
    wanted = table_definition(TABLE)

    # Then keys, attribute types, indexes and billing are exactly the definition
    assert described["KeySchema"] == wanted["KeySchema"]
    assert sorted(described["AttributeDefinitions"], key=lambda a: a["AttributeName"]) == sorted(
        wanted["AttributeDefinitions"], key=lambda a: a["AttributeName"]
    )
    indexes = {
        index["IndexName"]: (index["KeySchema"], index["Projection"]) for index in described["GlobalSecondaryIndexes"]
    }
    assert indexes == {
        index["IndexName"]: (index["KeySchema"], index["Projection"]) for index in wanted["GlobalSecondaryIndexes"]
    }
    assert described["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"

    # And TTL is on the ttl attribute
    ttl = client.describe_time_to_live(TableName=TABLE)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", TTL_ATTRIBUTE)


def test_creating_the_table_again_is_a_no_op(store: DynamoDBStore):
    # Given a table holding a thread
    thread = new_thread(store)
    client = store.botocore_client
    created = client.describe_table(TableName=TABLE)["Table"]["CreationDateTime"]

    # When another container asks for the same table (the per-process memo of tables already
    # ensured is bypassed: a new container does not have it)
    _create_table_if_missing(client, TABLE)
    DynamoDBStore(TABLE, create_table=True).close()

    # Then the table was neither recreated nor emptied
    assert client.describe_table(TableName=TABLE)["Table"]["CreationDateTime"] == created
    assert store.get_thread(thread.id) == thread


# ====================================================================== reads


def test_get_thread_with_ownership_check_is_one_get_item(store: DynamoDBStore):
    # Given a thread
    thread = new_thread(store)

    # When it is read with its owner
    found, counter = counted(store, lambda: store.get_thread(thread.id, thread.resource_id))

    # Then one GetItem served it
    assert found == thread
    assert counter.operations() == ["GetItem"]


@pytest.mark.parametrize("n", [1, 10, 40])
def test_last_n_messages_of_a_thousand_message_thread_is_one_query_reading_n_plus_one_items(store, long_thread, n):
    thread, messages = long_thread

    # When the newest N are read with the ownership check (how recall reads the recent window)
    page, counter = counted(
        store,
        lambda: store.list_messages(
            ListMessagesInput.build(
                thread_id=thread.id, resource_id=thread.resource_id, per_page=n, order_by=NEWEST_FIRST
            )
        ),
    )

    # Then one Query read the thread item plus N messages, whatever the thread's length
    assert counter.operations() == ["Query"]
    assert counter.items_read == n + 1
    # And the answer is exact, total included
    assert ids(page.messages) == ids(reversed(messages[-n:]))
    assert (page.total, page.has_more) == (1_000, True)


def test_deep_pages_read_from_the_nearer_end(store, long_thread):
    thread, messages = long_thread

    # When a page near the end of the ascending order is asked for
    page, counter = counted(
        store, lambda: store.list_messages(ListMessagesInput.build(thread_id=thread.id, page=95, per_page=10))
    )

    # Then the thread item gives the total and the query reads only from the far end
    assert ids(page.messages) == ids(messages[950:960])
    assert counter.operations() == ["GetItem", "Query"]
    assert counter.items_read == 1 + 50


def test_a_deep_page_spanning_several_1mb_query_pages_reads_only_what_it_needs(store):
    # Given 600 messages of 4 KB: 2.4 MB, so reading to the middle crosses DynamoDB's 1 MB pages
    thread = new_thread(store)
    messages = messages_for(thread, 600, text_size=4_000)
    save_all(store, messages, batch=40)

    # When the middle page is read
    page, counter = counted(
        store, lambda: store.list_messages(ListMessagesInput.build(thread_id=thread.id, page=29, per_page=10))
    )

    # Then it is right, and the queries read the 300 items up to its end and no more (pynamodb
    # alone would ask every 1 MB page for the full 300 and read far past the page)
    assert ids(page.messages) == ids(messages[290:300])
    assert counter.count("Query") >= 2, "the read must cross a 1 MB page for this test to mean anything"
    assert counter.items_read == 1 + 300


@pytest.mark.parametrize("order_field", ["createdAt", "updatedAt"])
def test_a_page_of_a_resource_threads_is_one_query_reading_per_page_plus_one(store, order_field):
    # Given a resource with 12 threads, created and updated in a known order
    resource_id = unique("res")
    threads = [new_thread(store, resource_id, created_ms=index) for index in range(12)]

    # When the first page is listed newest first (the default order)
    page, counter = counted(
        store,
        lambda: store.list_threads(
            ListThreadsInput.build(
                resource_id=resource_id, per_page=5, order_by={"field": order_field, "direction": "DESC"}
            )
        ),
    )

    # Then one Query read the counter (the total) and the page
    assert counter.operations() == ["Query"]
    assert counter.items_read <= 5 + 1
    assert ids(page.threads) == ids(reversed(threads[-5:]))
    assert (page.total, page.has_more) == (12, True)

    # And ascending adds at most one GetItem, for the count
    ascending, counter = counted(
        store,
        lambda: store.list_threads(
            ListThreadsInput.build(
                resource_id=resource_id, per_page=5, order_by={"field": order_field, "direction": "ASC"}
            )
        ),
    )
    assert sorted(counter.operations()) == ["GetItem", "Query"]
    assert counter.items_read <= 5 + 1
    assert ids(ascending.threads) == ids(threads[:5])
    assert ascending.total == 12


def test_listing_threads_without_a_resource_is_refused_not_scanned(store):
    with pytest.raises(ValidationError, match="resourceId is required"):
        counted(store, lambda: store.list_threads(ListThreadsInput.build()))


def test_include_windows_are_one_lookup_then_parallel_queries_of_window_size(store, long_thread):
    thread, messages = long_thread
    targets = [(messages[100], 2, 3), (messages[500], 4, 0), (messages[998], 1, 5)]

    # When k=3 include windows are read next to an empty page
    page, counter = counted(
        store,
        lambda: store.list_messages(
            ListMessagesInput.build(
                thread_id=thread.id,
                per_page=0,
                include=[
                    {"id": m.id, "withPreviousMessages": before, "withNextMessages": after}
                    for m, before, after in targets
                ],
            )
        ),
    )

    # Then one BatchGetItem found the targets and at most 2k queries read the windows
    operations = counter.operations()
    assert operations.count("BatchGetItem") == 1
    assert operations.count("Query") <= 2 * len(targets)
    # Each query reads at most its side of the window plus one (the target, or the thread item)
    widest = max(max(before, after) for _, before, after in targets)
    assert all(call.items_read <= widest + 1 for call in counter.calls if call.operation == "Query")
    assert ids(page.messages) == ids(messages[98:104] + messages[496:501] + messages[997:1_000])


def test_reads_are_complete_past_one_megabyte(store):
    # Given 300 messages of 8 KB (2.4 MB: three DynamoDB query pages)
    thread = new_thread(store)
    messages = messages_for(thread, 300, text_size=8 * 1024)
    save_all(store, messages, batch=50)

    # Then the last 20 and the total are exact
    last = store.list_messages(ListMessagesInput.build(thread_id=thread.id, per_page=20, order_by=NEWEST_FIRST))
    assert ids(last.messages) == ids(reversed(messages[-20:]))
    assert last.total == 300

    # And reading everything follows every page to the end
    everything, counter = counted(
        store, lambda: store.list_messages(ListMessagesInput.build(thread_id=thread.id, per_page=False))
    )
    assert ids(everything.messages) == ids(messages)
    assert everything.total == 300
    assert counter.count("Query") >= 3


# ====================================================================== writes


@pytest.mark.parametrize("n", [2, 25, 49, 50, 100, 200])
def test_saving_n_messages_takes_at_most_n_over_25_plus_one_requests(store, n):
    thread = new_thread(store)
    messages = messages_for(thread, n)

    _, counter = counted(store, lambda: store.save_messages(messages))

    budget = math.ceil(n / 25) + 1
    assert counter.count() <= budget
    # One transaction per 49 messages (message + pointer each, plus the thread's bump)
    assert counter.operations() == ["TransactWriteItems"] * math.ceil(n / 49)
    saved = store.list_messages(ListMessagesInput.build(thread_id=thread.id, per_page=False))
    assert (ids(saved.messages), saved.total) == (ids(messages), n)


def test_saving_two_messages_is_exactly_one_request(store):
    thread = new_thread(store)
    _, counter = counted(store, lambda: store.save_messages(messages_for(thread, 2)))
    assert counter.operations() == ["TransactWriteItems"]


def test_a_multi_transaction_save_into_a_missing_thread_writes_nothing(store):
    # Given 60 messages (two transactions), the last of which names a thread that does not exist
    thread = new_thread(store)
    messages = messages_for(thread, 59)
    ghost = Thread(id=unique("thr"), resource_id=thread.resource_id, created_at=at(0), updated_at=at(0))
    messages += messages_for(ghost, 1, start_ms=100)

    # When they are saved, the save fails naming the thread
    with pytest.raises(NotFoundError, match=ghost.id):
        store.save_messages(messages)

    # Then not even the first transaction's messages were written
    assert store.list_messages(ListMessagesInput.build(thread_id=thread.id, per_page=0)).total == 0
    assert store.list_messages_by_id(ids(messages)) == []


@pytest.mark.parametrize("n", [10, 100, 1000])
def test_deleting_a_thread_costs_at_most_n_over_25_writes_plus_key_queries(store, n):
    # Given a thread with n messages
    thread = new_thread(store)
    messages = messages_for(thread, n)
    save_all(store, messages)

    # When it is deleted
    _, counter = counted(store, lambda: store.delete_thread(thread.id, thread.resource_id))

    # Then: one GetItem (owner), one transaction (thread + resource counter), the key query,
    # and delete transactions of 100 for the messages and their id pointers (2n deletes):
    # ⌈n/50⌉, inside the budget of ⌈n/25⌉ writes plus the key queries (docs/dynamodb.md)
    operations = counter.operations()
    sweeps = math.ceil(2 * n / 100)
    assert sweeps <= math.ceil(n / 25)
    assert "BatchWriteItem" not in operations
    assert operations.count("GetItem") == 1
    assert operations.count("TransactWriteItems") == 1 + sweeps
    assert operations.count("Query") == 1
    assert len(operations) == sweeps + 3
    # And nothing is left behind
    assert store.get_thread(thread.id) is None
    assert store.list_messages_by_id(ids(messages)) == []
    assert store.list_messages(ListMessagesInput.build(thread_id=thread.id, per_page=False)).messages == []


def test_deleting_a_resource_deletes_each_thread_from_its_listing_without_rereading_it(store):
    # Given a resource with three threads of 3, 60 and 0 messages (60: two sweep transactions)
    resource_id = unique("res")
    store.update_resource(resource_id, working_memory="# User")
    threads = [new_thread(store, resource_id, created_ms=index) for index in range(3)]
    messages = {thread.id: messages_for(thread, count) for thread, count in zip(threads, [3, 60, 0])}
    for thread_messages in messages.values():
        save_all(store, thread_messages)

    # When the resource is deleted
    deleted, counter = counted(store, lambda: store.delete_resource(resource_id))

    # Then the GSI1 listing supplies the thread items: no GetItem per thread, and one DeleteItem
    # each instead of a transaction with a counter that is deleted at the end anyway. Each thread
    # goes before its sweep (key Query, then delete transactions of 100 keys; none when empty).
    assert counter.count("GetItem") == 0
    assert counter.operations() == [
        "Query",
        *["DeleteItem", "Query", "TransactWriteItems"],
        *["DeleteItem", "Query", "TransactWriteItems", "TransactWriteItems"],
        *["DeleteItem", "Query"],
        "TransactWriteItems",
    ]
    # And everything of the resource is gone, threads listed oldest first
    assert deleted.thread_ids == ids(threads)
    assert store.get_resource(resource_id) is None
    assert [store.get_thread(thread.id) for thread in threads] == [None, None, None]
    assert store.list_messages_by_id([m.id for thread_messages in messages.values() for m in thread_messages]) == []
    assert store.list_threads(ListThreadsInput.build(resource_id=resource_id, per_page=1)).total == 0


def test_resource_updates_are_one_update_item_each(store):
    resource_id = unique("res")

    _, counter = counted(store, lambda: store.update_resource(resource_id, working_memory="# User\n- likes tea"))
    assert counter.operations() == ["UpdateItem"]

    updated, counter = counted(store, lambda: store.update_resource(resource_id, metadata={"plan": "pro"}))
    assert counter.operations() == ["UpdateItem"]
    assert (updated.working_memory, updated.metadata) == ("# User\n- likes tea", {"plan": "pro"})


def test_concurrent_metadata_merges_of_different_keys_all_survive(store):
    # Given 8 writers merging one key each into the same resource at the same time
    resource_id = unique("res")
    start = threading.Barrier(8)

    def merge(index: int) -> None:
        start.wait()
        store.update_resource(resource_id, metadata={f"key_{index}": index})

    workers = [threading.Thread(target=merge, args=(index,)) for index in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    # Then every key is there
    assert store.get_resource(resource_id).metadata == {f"key_{index}": index for index in range(8)}


# ====================================================================== the counters behind `total`


def test_thread_counters_stay_exact_through_moves_updates_and_deletes(store):
    """messageCount, foreignMessageCount and the resource's thread counter against a plain model."""
    rng = random.Random(20240101)
    owner = unique("res")
    stranger = unique("res")
    threads = [new_thread(store, owner, created_ms=index) for index in range(3)]
    # The model: message id -> (thread id, resource id, createdAt ms)
    model: dict[str, tuple[str, str, int]] = {}
    clock = 0
    # Sequential ids under one unique prefix: the scenario the seed picks is the same every run.
    id_prefix = unique("m")
    next_number = iter(range(1_000_000))

    def new_id() -> str:
        return f"{id_prefix}-{next(next_number):05d}"

    def message(message_id: str, thread_id: str, resource_id: str, ms: int) -> Message:
        return Message(
            id=message_id,
            thread_id=thread_id,
            resource_id=resource_id,
            role="user",
            created_at=at(ms),
            content={"format": 2, "parts": [{"type": "text", "text": message_id}]},
        )

    for step in range(80):
        action = rng.choice(["save", "save", "resave", "move", "update", "delete"])
        known = sorted(model)
        if action == "save" or not known:
            batch = {}
            for _ in range(rng.randint(1, 4)):
                clock += 1
                batch[new_id()] = (rng.choice(threads).id, rng.choice([owner, owner, stranger]), clock)
            store.save_messages([message(message_id, *fields) for message_id, fields in batch.items()])
            model.update(batch)
        elif action in ("resave", "move"):
            message_id = rng.choice(known)
            thread_id, resource_id, ms = model[message_id]
            if action == "move":
                thread_id = rng.choice(threads).id
                resource_id = rng.choice([owner, stranger])
            ms = ms if rng.random() < 0.5 else rng.randint(0, clock)
            store.save_messages([message(message_id, thread_id, resource_id, ms)])
            model[message_id] = (thread_id, resource_id, ms)
        elif action == "update":
            message_id = rng.choice(known)
            thread_id = rng.choice(threads).id
            resource_id = rng.choice([owner, stranger])
            store.update_messages([MessageUpdate(id=message_id, thread_id=thread_id, resource_id=resource_id)])
            model[message_id] = (thread_id, resource_id, model[message_id][2])
        else:
            doomed = rng.sample(known, k=min(len(known), rng.randint(1, 3)))
            store.delete_messages(doomed + [new_id()])
            for message_id in doomed:
                del model[message_id]

        # Then every total matches the model: all messages, and the owner's view (resource filter)
        for thread in threads:
            in_thread = sorted((ms, mid) for mid, (tid, _, ms) in model.items() if tid == thread.id)
            owned = sorted((ms, mid) for mid, (tid, rid, ms) in model.items() if tid == thread.id and rid == owner)
            everyone = store.list_messages(ListMessagesInput.build(thread_id=thread.id, per_page=0))
            assert everyone.total == len(in_thread), f"step {step} ({action})"
            for per_page in (3, False):
                mine = store.list_messages(
                    ListMessagesInput.build(
                        thread_id=thread.id, resource_id=owner, per_page=per_page, order_by=NEWEST_FIRST
                    )
                )
                assert mine.total == len(owned), f"step {step} ({action})"
                expected = [mid for _, mid in reversed(owned)]
                assert ids(mine.messages) == (expected if per_page is False else expected[:3])

    # And once the other resource's messages are gone, the owner's recent window is the single
    # Query again (the foreign count came back to 0, not just "high enough to stay correct")
    store.delete_messages([mid for mid, (_, rid, _) in model.items() if rid == stranger])
    for thread in threads:
        page, counter = counted(
            store,
            lambda thread=thread: store.list_messages(
                ListMessagesInput.build(thread_id=thread.id, resource_id=owner, per_page=3, order_by=NEWEST_FIRST)
            ),
        )
        assert counter.operations() == ["Query"]
        assert page.total == sum(1 for tid, rid, _ in model.values() if tid == thread.id and rid == owner)

    # And the resource's thread counter follows creates and deletes
    store.delete_thread(threads[0].id)
    listing = store.list_threads(ListThreadsInput.build(resource_id=owner, per_page=1))
    assert listing.total == 2


@pytest.mark.parametrize("n", [0, 5, 60])
def test_a_clone_reads_its_source_in_one_query_and_reads_nothing_back(store, n):
    # Given a thread of n messages (60: the copies take two transactions)
    source = new_thread(store, title="Trip")
    originals = messages_for(source, n)
    save_all(store, originals)

    # When it is cloned
    result, counter = counted(store, lambda: store.clone_thread(CloneThreadInput(source_thread_id=source.id)))

    # Then one Query read the source thread with its messages, one transaction created the clone,
    # one per 49 copies saved them, and no GetItem read the source or the clone
    assert counter.operations() == ["Query", "TransactWriteItems"] + ["TransactWriteItems"] * math.ceil(n / 49)
    # And the returned thread is the stored one, down to updatedAt and lastMessageAt
    assert store.get_thread(result.thread.id) == result.thread
    assert result.thread.title == "Clone of Trip"
    assert result.thread.last_message_at == (originals[-1].created_at if originals else None)
    stored = store.list_messages(ListMessagesInput.build(thread_id=result.thread.id, per_page=False))
    assert stored.messages == result.cloned_messages
    assert stored.total == n


def test_a_clone_of_messages_by_several_resources_stays_exact(store):
    # Given a thread holding messages of its owner and of another resource
    source = new_thread(store)
    save_all(store, messages_for(source, 3) + messages_for(source, 2, start_ms=10, resource_id=unique("res")))

    # When it is cloned without a new owner (the copies keep their authors)
    result, counter = counted(store, lambda: store.clone_thread(CloneThreadInput(source_thread_id=source.id)))

    # Then the mixed save reads the copies' pointers and the clone in one BatchGetItem
    assert counter.operations() == ["Query", "TransactWriteItems", "BatchGetItem", "TransactWriteItems"]
    assert store.get_thread(result.thread.id) == result.thread
    assert store.load_thread_window(result.thread.id, 10).foreign == 2


def test_an_update_reads_pointers_then_messages_and_threads_in_one_batch(store):
    # Given two threads, the first holding three messages
    here = new_thread(store)
    there = new_thread(store, here.resource_id)
    messages = messages_for(here, 3)
    save_all(store, messages)

    # When one message is edited in place and another is moved to the second thread
    updates = [
        MessageUpdate(id=messages[0].id, content={"parts": [{"type": "text", "text": "edited"}]}),
        MessageUpdate(id=messages[1].id, thread_id=there.id),
    ]
    updated, counter = counted(store, lambda: store.update_messages(updates))

    # Then the pointers name every thread involved, so the messages and both threads come in
    # the second BatchGetItem, and one transaction writes it all
    assert counter.operations() == ["BatchGetItem", "BatchGetItem", "TransactWriteItems"]
    assert ids(updated) == ids(messages[:2])
    assert store.list_messages_by_id([messages[0].id])[0].content.parts == [{"type": "text", "text": "edited"}]
    in_here = store.list_messages(ListMessagesInput.build(thread_id=here.id, per_page=False))
    in_there = store.list_messages(ListMessagesInput.build(thread_id=there.id, per_page=False))
    assert (ids(in_here.messages), in_here.total) == ([messages[0].id, messages[2].id], 2)
    assert (ids(in_there.messages), in_there.total) == ([messages[1].id], 1)


def test_a_re_save_in_the_same_thread_reads_pointers_and_thread_in_one_batch(store):
    # Given a thread with three messages
    thread = new_thread(store)
    messages = messages_for(thread, 3)
    save_all(store, messages)
    edited = Message.model_validate(
        {**messages[1].model_dump(), "content": {"format": 2, "parts": [{"type": "text", "text": "again"}]}}
    )

    # When one of them is saved again
    _, counter = counted(store, lambda: store.save_messages([edited]))

    # Then the fast transaction is cancelled (the id exists), one BatchGetItem reads the pointer
    # and the thread together, and the precise transaction writes it
    assert counter.operations() == ["TransactWriteItems", "BatchGetItem", "TransactWriteItems"]
    stored = store.list_messages(ListMessagesInput.build(thread_id=thread.id, per_page=False))
    assert (ids(stored.messages), stored.total) == (ids(messages), 3)
    assert stored.messages[1].content.parts == [{"type": "text", "text": "again"}]


def test_a_re_save_that_moves_also_reads_the_thread_it_leaves(store):
    # Given a message in one thread, and a second thread
    here = new_thread(store)
    there = new_thread(store, here.resource_id)
    message = messages_for(here, 1)[0]
    save_all(store, [message])

    # When it is saved into the second thread
    _, counter = counted(store, lambda: store.save_messages([message.model_copy(update={"thread_id": there.id})]))

    # Then the thread it leaves, named only by its pointer, is read after the first batch
    assert counter.operations() == ["TransactWriteItems", "BatchGetItem", "BatchGetItem", "TransactWriteItems"]
    total = {
        thread.id: store.list_messages(ListMessagesInput.build(thread_id=thread.id, per_page=0)).total
        for thread in (here, there)
    }
    assert total == {here.id: 0, there.id: 1}


def test_a_clone_whose_messages_cannot_be_saved_leaves_no_thread(store: DynamoDBStore, monkeypatch):
    # Given a thread to clone, and a service failure while the copies are written
    source = new_thread(store)
    save_all(store, messages_for(source, 5))
    clone_id = unique("clone")

    def failing_save(messages):
        raise RetryableError("DynamoDB is busy, retry later")

    monkeypatch.setattr(store.writes, "save_messages_with_receipt", failing_save)

    # When the clone is attempted
    with pytest.raises(RetryableError):
        store.clone_thread(CloneThreadInput(source_thread_id=source.id, new_thread_id=clone_id))

    # Then nothing of it remains, and the same clone can be retried
    monkeypatch.undo()
    assert store.get_thread(clone_id) is None
    result = store.clone_thread(CloneThreadInput(source_thread_id=source.id, new_thread_id=clone_id))
    assert len(result.cloned_messages) == 5


def test_deleting_messages_through_memory_looks_the_ids_up_once(store: DynamoDBStore):
    # Given a thread with messages, behind the agent-facing Memory
    from memkit.memory import Memory

    memory = Memory(store)
    thread = new_thread(store)
    messages = messages_for(thread, 10)
    save_all(store, messages)

    # When three of them and an unknown id are deleted
    deleted, counter = counted(store, lambda: memory.delete_messages(ids(messages[:3]) + [unique("missing")]))

    # Then one BatchGetItem of the id pointers finds them, and one transaction deletes them
    assert deleted == 3
    assert counter.operations() == ["BatchGetItem", "TransactWriteItems"]


def test_erasing_a_resource_through_memory_makes_only_the_stores_own_requests(store: DynamoDBStore):
    # Given a resource with two threads, one holding a message attributed to a guest, behind a
    # Memory whose vector store records what it is asked to forget
    from unittest.mock import call, create_autospec

    from memkit.memory import Memory
    from memkit.vector.base import VectorStore

    vector = create_autospec(VectorStore, instance=True)
    memory = Memory(store, vector=vector)
    resource_id, guest = unique("res"), unique("guest")
    threads = [new_thread(store, resource_id, created_ms=index) for index in range(2)]
    save_all(store, messages_for(threads[0], 2) + messages_for(threads[1], 1, start_ms=10, resource_id=guest))

    # When the resource is erased
    erased, counter = counted(store, lambda: memory.erase_resource(resource_id))

    # Then only the store's delete ran: the GSI1 listing, then per thread its DeleteItem, key
    # Query and delete transaction, then the resource items (no listing or counting before it)
    assert counter.operations() == [
        "Query",
        *["DeleteItem", "Query", "TransactWriteItems"] * 2,
        "TransactWriteItems",
    ]
    assert erased == ids(threads)
    # And the owner's namespace is dropped whole, the guest's loses the vectors of these threads
    assert vector.delete_resource.call_args_list == [call(resource_id)]
    assert vector.delete_threads.call_args_list == [call(guest, ids(threads))]


def test_deleting_a_thread_through_memory_makes_only_the_stores_own_requests(store: DynamoDBStore):
    # Given a thread holding its owner's messages and one attributed to another resource, behind
    # a Memory whose vector store records what it is asked to forget
    from unittest.mock import call, create_autospec

    from memkit.memory import Memory
    from memkit.vector.base import VectorStore

    vector = create_autospec(VectorStore, instance=True)
    memory = Memory(store, vector=vector)
    thread = new_thread(store)
    attributed_to = unique("res")
    save_all(store, messages_for(thread, 3) + messages_for(thread, 1, start_ms=10, resource_id=attributed_to))

    # When the thread is deleted
    _, counter = counted(store, lambda: memory.delete_thread(thread.id, thread.resource_id))

    # Then only the store's delete ran: GetItem (owner), the thread + counter transaction, the
    # key Query (which also names the messages' resources) and one transaction for the 8 keys
    assert counter.operations() == ["GetItem", "TransactWriteItems", "Query", "TransactWriteItems"]
    # And both resources' vectors of the thread are forgotten, the owner's first
    assert vector.delete_threads.call_args_list == [
        call(thread.resource_id, [thread.id]),
        call(attributed_to, [thread.id]),
    ]
    assert store.get_thread(thread.id) is None
