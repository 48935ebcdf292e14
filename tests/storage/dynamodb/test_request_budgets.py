"""Every DynamoDB request budget, counted on DynamoDB Local (the one place they are asserted):
the memory store's per operation (docs/dynamodb.md), through ``Memory`` and behind the cache
(an agent turn's, docs/cache.md), and the other domains' (docs/domains.md).

Request counts and items read are deterministic, so each budget is an exact assertion on what
``bench.instruments.RequestCounter`` saw, next to a check that the answer itself is right (a
cheap wrong answer must not pass).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from memkit.errors import NotFoundError, ValidationError
from memkit.models import (
    CloneThreadInput,
    ListMessagesInput,
    ListThreadsInput,
    Message,
    MessageUpdate,
    Thread,
)
from bench.cache import TurnMeter, agent_turn, exchange, seed_conversation
from bench.instruments import RequestCounter
from memkit.cache.cached_store import CachedMemoryStorage
from memkit.storage.composite import CompositeStore
from memkit.storage.factory import create_store
from memkit.storage.memory.dynamodb.store import DynamoDBStore
from tests.cache.support import dynamodb_behind_the_cache, expected_reads, newest
from tests.storage.builders import at as domain_at
from tests.storage.builders import unique_id
from tests.storage.conftest import DYNAMODB_DOMAINS_URL
from tests.storage.dynamodb.support import (
    NEWEST_FIRST,
    at,
    counted,
    ids,
    messages_for,
    new_thread,
    open_budget_store,
    save_all,
    unique,
)

pytestmark = pytest.mark.dynamodb


@pytest.fixture(scope="module")
def store(dynamodb_endpoint: str) -> Iterator[DynamoDBStore]:
    yield from open_budget_store()


@pytest.fixture(scope="module")
def long_thread(store: DynamoDBStore) -> tuple[Thread, list[Message]]:
    thread = new_thread(store)
    messages = messages_for(thread, 1_000)
    save_all(store, messages)
    return thread, messages


# ====================================================================== schema


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


# ====================================================================== the counters behind `total`


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


# ====================================================================== the other domains
# The request counts docs/domains.md promises for the workflows, scores, observability and
# datasets adapters.


@pytest.fixture
def domains(dynamodb_endpoint: str) -> Iterator[CompositeStore]:
    """Every other domain on the table of the domain suites (``tests/storage/conftest.py``)."""
    opened = create_store(DYNAMODB_DOMAINS_URL)
    yield opened
    opened.close()


def operations(domains: CompositeStore, call: Callable[[], Any]) -> list[str]:
    with RequestCounter(domains.memory) as counter:  # the domains share the memory domains's client
        call()
    return counter.operations()


def operations_and_result(domains: CompositeStore, call: Callable[[], Any], expected: list[str]) -> Any:
    with RequestCounter(domains.memory) as counter:
        result = call()
    assert counter.operations() == expected
    return result


def test_workflow_requests(domains):
    workflows, workflow_name, run_id = domains.workflows, unique_id("wf"), unique_id("run")
    for index in range(5):
        workflows.persist_snapshot(workflow_name, f"{run_id}-{index}", {"status": "ok"}, created_at=domain_at(index))

    assert operations(domains, lambda: workflows.persist_snapshot(workflow_name, run_id, {})) == ["UpdateItem"]
    assert operations(domains, lambda: workflows.load_snapshot(workflow_name, run_id)) == ["GetItem"]
    assert operations(domains, lambda: workflows.get_run_by_id(run_id)) == ["Query"]
    assert operations(domains, lambda: workflows.list_runs(workflow_name, status="ok", page=1, per_page=2)) == [
        "Query",
        "Query",
    ]
    assert operations(domains, lambda: workflows.update_results(workflow_name, run_id, "step", 1)) == [
        "GetItem",
        "UpdateItem",
    ]


def test_score_requests(domains):
    scores, scorer_id = domains.scores, unique_id("scorer")
    score = {"scorerId": scorer_id, "runId": "r", "entityId": "e", "entityType": "AGENT", "score": 1, "source": "LIVE"}

    assert operations(domains, lambda: scores.save_score(score)) == ["TransactWriteItems"]
    assert operations(domains, lambda: scores.list_scores_by_scorer_id(scorer_id, source="LIVE")) == ["Query", "Query"]


def test_trace_requests(domains):
    observability, trace_id, entity_id = domains.observability, unique_id("trace"), unique_id("agent")
    root = {"traceId": trace_id, "spanId": "root", "name": "run", "spanType": "agent_run", "startedAt": domain_at(0)}
    observability.create_span({**root, "entityId": entity_id})  # registers the month once

    children = [{**root, "spanId": f"child-{index}", "parentSpanId": "root"} for index in range(30)]

    assert operations(domains, lambda: observability.batch_create_spans(children)) == ["BatchWriteItem"] * 2
    assert operations(domains, lambda: observability.update_span(trace_id, "root", {"output": 1})) == ["GetItem", "PutItem"]
    assert operations(domains, lambda: observability.get_trace(trace_id)) == ["Query"]
    assert operations(domains, lambda: observability.list_traces(entity_id=entity_id)) == ["Query", "Query"]
    assert operations(domains, lambda: observability.list_traces(start=domain_at(0), end=domain_at(0))) == ["Query", "Query", "Query"]
    assert operations(domains, lambda: observability.delete_traces([trace_id])) == ["Query"] + ["BatchWriteItem"] * 2


def test_dataset_requests(domains):
    datasets = domains.datasets
    dataset = operations_and_result(domains, lambda: datasets.create_dataset({"name": unique_id("set")}), ["PutItem"])
    assert operations(domains, lambda: datasets.update_dataset(dataset.id, {"description": "d"})) == ["UpdateItem"]
    assert operations(domains, lambda: datasets.list_datasets(name=dataset.name)) == ["Query", "Query"]

    # Item changes: read the dataset's version, then one transaction per version.
    item = operations_and_result(domains, lambda: datasets.add_item(dataset.id, {"input": "q"}), ["GetItem", "TransactWriteItems"])
    add_claimed = lambda: datasets.add_item(dataset.id, {"input": "c", "externalId": "row"})  # noqa: E731
    assert operations(domains, add_claimed) == ["GetItem", "BatchGetItem", "TransactWriteItems"]
    assert operations(domains, add_claimed) == ["GetItem", "BatchGetItem", "Query"]  # resolved: no write
    batch = [{"input": index} for index in range(150)]
    assert operations(domains, lambda: datasets.batch_insert_items(dataset.id, batch)) == ["GetItem"] + ["TransactWriteItems"] * 2
    update = lambda: datasets.update_item(dataset.id, item.id, {"groundTruth": "g"})  # noqa: E731
    assert operations(domains, update) == ["GetItem", "Query", "TransactWriteItems"]
    doomed = [found.id for found in datasets.list_items(dataset.id, per_page=3).items]
    assert operations(domains, lambda: datasets.batch_delete_items(dataset.id, doomed)) == ["GetItem"] + ["Query"] * 3 + ["TransactWriteItems"]

    # Item reads: keyed Queries on the dataset's partition; listings read the dataset record for the total.
    assert operations(domains, lambda: datasets.get_item(dataset.id, item.id)) == ["Query"]
    assert operations(domains, lambda: datasets.get_item(dataset.id, item.id, version=1)) == ["Query"]
    assert operations(domains, lambda: datasets.get_item_history(dataset.id, item.id)) == ["Query"]
    assert operations(domains, lambda: datasets.list_items(dataset.id, page=2, per_page=20)) == ["GetItem", "Query"]
    assert operations(domains, lambda: datasets.list_items(dataset.id, version=3, per_page=20)) == ["GetItem", "Query"]
    assert operations(domains, lambda: datasets.list_items(dataset.id, search="q", per_page=20)) == ["GetItem", "Query"]
    assert operations(domains, lambda: datasets.list_dataset_versions(dataset.id, page=1, per_page=2)) == ["GetItem", "Query"]

    # Experiments and results.
    experiment = operations_and_result(domains, lambda: datasets.create_experiment(dataset.id, {}), ["GetItem", "TransactWriteItems"])
    assert operations(domains, lambda: datasets.get_experiment(dataset.id, experiment.id)) == ["GetItem"]
    assert operations(domains, lambda: datasets.update_experiment(dataset.id, experiment.id, {"name": "n"})) == ["UpdateItem"]
    assert operations(domains, lambda: datasets.list_experiments(dataset.id)) == ["Query", "Query"]
    submit = lambda: datasets.add_experiment_result(dataset.id, experiment.id, {"itemId": item.id, "output": "o"})  # noqa: E731
    result = operations_and_result(domains, submit, ["BatchGetItem", "Query", "TransactWriteItems"])
    assert operations(domains, submit) == ["BatchGetItem", "Query", "TransactWriteItems"]
    assert operations(domains, lambda: datasets.get_experiment_result(dataset.id, experiment.id, result.id)) == ["BatchGetItem"]
    review = lambda: datasets.update_experiment_result(dataset.id, experiment.id, result.id, {"status": "reviewed"})  # noqa: E731
    assert operations(domains, review) == ["BatchGetItem", "UpdateItem"]
    assert operations(domains, lambda: datasets.list_experiment_results(dataset.id, experiment.id)) == ["GetItem", "Query", "Query"]
    assert operations(domains, lambda: datasets.finalize_experiment(dataset.id, experiment.id)) == ["GetItem", "Query", "UpdateItem"]

    # Purge: the item's revisions (scrubbed, then checked), then each experiment's results.
    assert operations(domains, lambda: datasets.purge_item(dataset.id, item.id)) == [
        "Query", "TransactWriteItems", "Query", "Query", "Query", "TransactWriteItems",
    ]
    assert operations(domains, lambda: datasets.delete_experiment(dataset.id, experiment.id)) == [
        "UpdateItem", "Query", "BatchWriteItem", "TransactWriteItems",
    ]
    # Flag, read the partition's keys, delete them 25 at a time, then the record.
    revisions = 2 + 150 + 1 + 3  # two adds, the batch, the update, three tombstones
    versions, claims = 6, 1
    batches = -(-(revisions + versions + claims) // 25)
    assert operations(domains, lambda: datasets.delete_dataset(dataset.id)) == [
        "UpdateItem", "Query", *["BatchWriteItem"] * batches, "DeleteItem",
    ]


# ====================================================================== an agent turn behind the cache
# The DynamoDB side of docs/cache.md's turn budget: warm 1 request (the save), cold at most 3.
# Its Upstash side is tests/cache/test_request_budgets.py's.


@pytest.fixture
def cached(dynamodb_endpoint: str, upstash_gateway) -> Iterator[CachedMemoryStorage]:
    store = dynamodb_behind_the_cache(upstash_gateway.url, upstash_gateway.token)
    yield store
    store.close()


@pytest.mark.redis
def test_agent_turns_behind_the_cache_stay_within_the_dynamodb_request_budget_and_read_the_truth(cached):
    truth = cached.inner
    meter = TurnMeter(truth, cached)
    thread = seed_conversation(truth)
    for turn_number in range(4):
        # Given what the store holds before the turn
        expected = expected_reads(truth, thread.id, thread.resource_id)
        reads: list[object] = []

        def turn() -> None:
            read = agent_turn(cached, thread.id, thread.resource_id, exchange(thread, 2))
            reads.extend(item.to_wire() for item in read)

        # When the agent runs a turn
        cost = meter.measure(turn)
        # Then it read exactly that, within budget
        assert reads == expected
        if turn_number == 0:
            assert cost["dynamodb"] <= 3, "cold turn"
        else:
            assert cost["dynamodb"] == 1, "warm turn: only the save"
    assert cached.stats["errors"] == 0


@pytest.mark.redis
def test_moving_a_message_costs_only_the_stores_own_requests_and_drops_the_source_thread(cached):
    # Given two threads of one resource, the first one's newest page cached
    truth = cached.inner
    source = seed_conversation(truth, history=4)
    destination = truth.save_thread(source.model_copy(update={"id": f"{source.id}-dest", "title": "Elsewhere"}))
    moved = cached.list_messages(newest(source.id)).messages[0]

    # When the newest message moves to the other thread through the cache
    counter = RequestCounter(truth, consumed_capacity=False)
    with counter:
        cached.update_messages([MessageUpdate(id=moved.id, thread_id=destination.id)])

    # Then the store's update alone ran (the id pointer, the message with both threads, the
    # transaction): the cache learned the source thread from the store instead of reading it
    assert counter.operations() == ["BatchGetItem", "BatchGetItem", "TransactWriteItems"]
    # And the cached page of the source no longer shows the message, the destination's does
    assert moved.id not in {m.id for m in cached.list_messages(newest(source.id)).messages}
    assert [m.id for m in cached.list_messages(newest(destination.id)).messages] == [moved.id]
    assert cached.stats["errors"] == 0
