"""Two containers share one store and one Redis: after a write is acknowledged, no read from
either container returns the state before it. The races are staged with ``Interleaver`` hooks
that run the other container's request at the exact point where production could interleave."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from bench.cache import agent_turn, exchange, seed_conversation
from memkit.cache.base import request_scope
from memkit.cache.cached_store import CachedMemoryStorage
from memkit.cache.entries import ThreadEntry
from memkit.models import CloneThreadInput, MessageUpdate
from tests.cache.support import assert_fresh, container, dynamodb_behind_the_cache, expected_reads, newest, snapshot
from tests.storage.memory.builders import create_thread, ids, make_message, make_messages

pytestmark = pytest.mark.redis


def test_a_save_in_one_container_is_served_warm_and_fresh_by_the_other(seeded):
    containers, thread, _ = seeded
    a, b = containers.both()
    # Given both containers have the turn's reads cached
    assert_fresh(a, containers.truth, thread.id, thread.resource_id)
    assert_fresh(b, containers.truth, thread.id, thread.resource_id)
    # When A saves two messages
    a.save_messages(make_messages(thread, 2, start_ms=10_000))
    # Then B's next reads show them, from the cache (A's write went through, not just dropped)
    hits_before = b.stats["hits"]
    assert_fresh(b, containers.truth, thread.id, thread.resource_id)
    assert b.stats["hits"] > hits_before
    assert b.stats["misses"] == 0  # A's fills and A's write-through served everything B read


def test_a_fill_that_raced_a_write_is_not_kept(seeded):
    containers, thread, _ = seeded
    later = make_messages(thread, 2, start_ms=10_000)
    # Given A misses, reads the store, and B saves and is acknowledged before A fills the cache
    containers.a_store.after_next("load_thread_window", lambda: containers.b.save_messages(later))
    page = containers.a.list_messages(newest(thread.id))
    # Then A answered with what it read (its read began before B's write) ...
    assert not set(ids(later)) & set(ids(page.messages))
    # ... but did not keep it: every read from now on shows B's messages
    assert containers.a.stats["fill_rejected"] == 1
    assert_fresh(containers.a, containers.truth, thread.id, thread.resource_id)
    assert_fresh(containers.b, containers.truth, thread.id, thread.resource_id)


def test_concurrent_saves_to_one_thread_leave_the_store_state_in_the_cache(seeded):
    containers, thread, _ = seeded
    for cached in containers.both():
        assert_fresh(cached, containers.truth, thread.id, thread.resource_id)
    from_a = make_messages(thread, 2, start_ms=10_000)
    from_b = make_messages(thread, 2, start_ms=10_001)
    # Given B saves between A's store commit and A's cache step
    containers.a_store.after_next("save_messages_with_receipt", lambda: containers.b.save_messages(from_b))
    # When A's save completes
    containers.a.save_messages(from_a)
    # Then the cache holds neither writer's partial view: both see all four messages
    for cached in containers.both():
        assert_fresh(cached, containers.truth, thread.id, thread.resource_id)
    assert set(ids(from_a + from_b)) <= set(ids(containers.b.list_messages(newest(thread.id)).messages))


def test_a_delete_between_a_saves_commit_and_its_cache_step_is_not_undone(seeded):
    containers, thread, _ = seeded
    a, b = containers.both()
    assert_fresh(a, containers.truth, thread.id, thread.resource_id)
    [message] = make_messages(thread, 1, start_ms=20_000)

    def meanwhile() -> None:
        b.delete_messages([message.id])
        # B refills the cache with the state after the delete
        assert_fresh(b, containers.truth, thread.id, thread.resource_id)

    # Given B deletes A's new message before A's cache step runs
    containers.a_store.after_next("save_messages_with_receipt", meanwhile)
    a.save_messages([message])
    # Then A's late cache step does not bring the deleted message back
    for cached in containers.both():
        assert_fresh(cached, containers.truth, thread.id, thread.resource_id)
        assert message.id not in ids(cached.list_messages(newest(thread.id)).messages)


def test_thread_and_resource_writes_are_visible_to_the_other_container_at_once(seeded):
    containers, thread, _ = seeded
    a, b = containers.both()
    truth = containers.truth
    assert_fresh(b, truth, thread.id, thread.resource_id)
    a.update_thread(thread.id, title="Renamed", metadata={"topic": "trips"})
    assert_fresh(b, truth, thread.id, thread.resource_id)
    a.update_resource(thread.resource_id, working_memory="# User\n- name: Grace")
    assert b.get_resource(thread.resource_id).working_memory == "# User\n- name: Grace"
    a.update_resource(thread.resource_id, metadata={"plan": "pro"})
    assert_fresh(b, truth, thread.id, thread.resource_id)
    assert b.set_title_if_untitled(thread.id, "Generated") is False
    a.delete_thread(thread.id)
    assert b.get_thread(thread.id) is None
    assert_fresh(b, truth, thread.id, thread.resource_id)


def test_a_thread_cached_as_missing_appears_once_created_or_cloned(libsql_containers):
    containers = libsql_containers
    a, b = containers.both()
    source = create_thread(containers.truth)
    containers.truth.save_messages(make_messages(source, 3))
    new_id = f"{source.id}-clone"
    # Given B cached "no such thread" for both ids
    assert b.get_thread(new_id) is None
    assert b.get_thread(f"{source.id}-new") is None
    # When A clones into one and creates the other
    a.clone_thread(CloneThreadInput(source_thread_id=source.id, new_thread_id=new_id))
    created = a.save_thread(source.model_copy(update={"id": f"{source.id}-new"}))
    # Then B sees both
    assert_fresh(b, containers.truth, new_id, source.resource_id)
    assert_fresh(b, containers.truth, created.id, source.resource_id)


def test_moves_deletes_and_updates_reach_both_threads_in_the_other_container(libsql_containers):
    containers = libsql_containers
    a, b = containers.both()
    truth = containers.truth
    first = create_thread(truth)
    second = create_thread(truth, first.resource_id)
    messages = make_messages(first, 4)
    truth.save_messages(messages)
    for thread in (first, second):
        assert_fresh(b, truth, thread.id, thread.resource_id)
    writes = [
        # a re-save under another thread moves the message
        lambda: a.save_messages([messages[0].model_copy(update={"thread_id": second.id})]),
        lambda: a.update_messages([MessageUpdate(id=messages[1].id, thread_id=second.id)]),
        lambda: a.update_messages([MessageUpdate.model_validate({"id": messages[2].id, "content": {"metadata": {"x": 1}}})]),
        lambda: a.delete_messages([messages[3].id]),
    ]
    for write in writes:
        write()
        for thread in (first, second):
            assert_fresh(b, truth, thread.id, thread.resource_id)
            assert_fresh(a, truth, thread.id, thread.resource_id)


def test_a_message_from_another_resource_keeps_owner_listings_exact(seeded):
    containers, thread, _ = seeded
    a, b = containers.both()
    assert_fresh(b, containers.truth, thread.id, thread.resource_id)
    a.save_messages([make_message(thread, resource_id="someone-else", created_at=thread.created_at.replace(year=2030))])
    assert_fresh(b, containers.truth, thread.id, thread.resource_id)
    owner_page = b.list_messages(newest(thread.id, 5, thread.resource_id))
    assert owner_page.total == 30
    assert all(m.resource_id == thread.resource_id for m in owner_page.messages)


def test_a_request_scope_reads_once_and_sees_its_own_writes(seeded):
    containers, thread, _ = seeded
    a, b = containers.both()
    truth = containers.truth
    # Given B wrote before A's request began
    b.save_messages(make_messages(thread, 1, start_ms=5_000))
    with request_scope():
        # When A's request reads the turn, then saves
        before = snapshot(a, thread.id, thread.resource_id)
        assert before == snapshot(truth, thread.id, thread.resource_id)
        reply = make_messages(thread, 2, start_ms=6_000)
        a.save_messages(reply)
        # Then its later reads in the same request include its own write
        after = a.list_messages(newest(thread.id))
        assert after.to_wire() == truth.list_messages(newest(thread.id)).to_wire()
    assert_fresh(b, truth, thread.id, thread.resource_id)


def test_writes_that_fail_in_the_store_leave_nothing_stale(seeded):
    containers, thread, messages = seeded
    a, b = containers.both()
    assert_fresh(b, containers.truth, thread.id, thread.resource_id)
    missing = make_message(thread, created_at=thread.created_at).model_copy(update={"thread_id": "no-such-thread"})
    with pytest.raises(Exception, match="not found"):
        a.save_messages([make_messages(thread, 1, start_ms=7_000)[0], missing])
    assert not a.dirty  # nothing was written, so nothing else needs invalidating
    assert_fresh(b, containers.truth, thread.id, thread.resource_id)


def test_a_window_over_the_upstash_request_limit_is_cut_to_fit_and_reads_stay_exact(libsql_containers, redis_server):
    containers = libsql_containers
    a, b = containers.both()
    thread = create_thread(containers.truth)
    # 20 messages of 60 KB: a window of 1.2 MB, over one Upstash request
    containers.truth.save_messages(make_messages(thread, 25, text_size=60_000))
    assert_fresh(a, containers.truth, thread.id, thread.resource_id)
    # Then the entry holds a shorter window that fits, loaded from the store once
    assert a.stats["oversize"] == 1 and a.stats["misses"] == 2  # the thread and the resource
    stored = redis.Redis(port=redis_server.port, protocol=2, decode_responses=True).hget(a.thread_key(thread.id), "v")
    assert 0 < len(ThreadEntry.model_validate_json(stored).messages) < 20
    a.save_messages(make_messages(thread, 2, start_ms=10_000, text_size=60_000))
    assert_fresh(b, containers.truth, thread.id, thread.resource_id)
    assert b.stats["misses"] == 0


def test_a_save_that_also_moves_a_message_out_of_a_thread_leaves_that_thread_fresh(libsql_containers):
    containers = libsql_containers
    a, b = containers.both()
    truth = containers.truth
    first = create_thread(truth)
    second = create_thread(truth, first.resource_id)
    messages = make_messages(first, 4)
    truth.save_messages(messages)
    for thread in (first, second):
        assert_fresh(a, truth, thread.id, thread.resource_id)
    # When one save adds a message to the first thread and moves another out of it
    added = make_messages(first, 1, start_ms=9_000)[0]
    a.save_messages([added, messages[0].model_copy(update={"thread_id": second.id})])
    # Then neither container serves the moved message from the first thread
    for thread in (first, second):
        assert_fresh(a, truth, thread.id, thread.resource_id)
        assert_fresh(b, truth, thread.id, thread.resource_id)


@pytest.fixture
def budget_cached(dynamodb_endpoint: str, upstash_gateway) -> Iterator[CachedMemoryStorage]:
    store = dynamodb_behind_the_cache(upstash_gateway.url, upstash_gateway.token)
    yield store
    store.close()


@pytest.mark.dynamodb
def test_a_warm_turn_sees_a_save_made_by_another_container(budget_cached, upstash_gateway):
    cached = budget_cached
    truth = cached.inner
    other = container(truth, upstash_gateway.url, upstash_gateway.token, namespace=cached.namespace)
    thread = seed_conversation(truth)
    agent_turn(cached, thread.id, thread.resource_id, exchange(thread, 2))
    # Another container answers the user meanwhile
    elsewhere = exchange(thread, 2)
    other.save_messages(elsewhere)
    expected = expected_reads(truth, thread.id, thread.resource_id)
    read = agent_turn(cached, thread.id, thread.resource_id, exchange(thread, 2))
    assert [item.to_wire() for item in read] == expected
    assert {m.id for m in elsewhere} <= {m.id for m in read[1].messages}
    other.backend.close()  # not other.close(): the store is shared
