"""Tenant-bound writes: a caller acting for one resource can touch only that resource's threads.

Message ids are global, so without the ``tenant`` guard a save of another tenant's id into the
caller's own thread would move that message (and its content) into the caller's thread. Every
case checks that the refusal wrote nothing: the victim's thread and message are as they were.
"""

from __future__ import annotations

import pytest

from memkit.errors import ForbiddenError, OwnershipError
from memkit.models import ListMessagesInput, Message, MessageUpdate
from memkit.storage.memory.base import MemoryStorage

from tests.storage.memory.builders import at, create_thread, ids, make_message, make_messages, new_resource_id, wire


def thread_messages(store: MemoryStorage, thread_id: str) -> list[Message]:
    return store.list_messages(ListMessagesInput.build(thread_id=thread_id, per_page=False)).messages


@pytest.fixture
def victim(memory_store: MemoryStorage):
    """Alice's thread with two messages, as stored before any attack."""
    thread = create_thread(memory_store, new_resource_id())
    messages = make_messages(thread, 2)
    memory_store.save_messages(messages)
    return thread, messages, wire(thread_messages(memory_store, thread.id))


@pytest.fixture
def attacker(memory_store: MemoryStorage):
    return create_thread(memory_store, new_resource_id())


def assert_untouched(store: MemoryStorage, victim) -> None:
    thread, _messages, before = victim
    assert wire(thread_messages(store, thread.id)) == before


def test_save_of_another_tenants_message_id_is_refused_and_moves_nothing(memory_store, victim, attacker):
    _, messages, _ = victim
    takeover = make_message(attacker, message_id=messages[0].id, text="mine now", created_at=at(50))

    with pytest.raises(ForbiddenError) as refused:
        memory_store.save_messages([takeover], tenant=attacker.resource_id)

    assert messages[0].id in str(refused.value)
    assert messages[0].resource_id not in str(refused.value)
    assert_untouched(memory_store, victim)
    assert thread_messages(memory_store, attacker.id) == []


def test_refused_save_writes_none_of_its_other_messages(memory_store, victim, attacker):
    _, messages, _ = victim
    own = make_message(attacker, text="an honest message", created_at=at(10))
    takeover = make_message(attacker, message_id=messages[1].id, text="mine now", created_at=at(11))

    with pytest.raises(ForbiddenError):
        memory_store.save_messages([own, takeover], tenant=attacker.resource_id)

    assert thread_messages(memory_store, attacker.id) == []
    assert_untouched(memory_store, victim)


def test_refused_save_spanning_several_transactions_writes_nothing(memory_store, victim, attacker):
    # 120 messages is more than one DynamoDB transaction holds; the foreign id comes last.
    _, messages, _ = victim
    own = make_messages(attacker, 119, start_ms=100)
    takeover = make_message(attacker, message_id=messages[0].id, text="mine now", created_at=at(900))

    with pytest.raises(ForbiddenError):
        memory_store.save_messages([*own, takeover], tenant=attacker.resource_id)

    assert thread_messages(memory_store, attacker.id) == []
    assert_untouched(memory_store, victim)


def test_save_into_another_tenants_thread_is_refused(memory_store, victim, attacker):
    thread, _, _ = victim
    intruder = make_message(thread, resource_id=attacker.resource_id, text="planted", created_at=at(60))

    with pytest.raises(OwnershipError):
        memory_store.save_messages([intruder], tenant=attacker.resource_id)

    assert_untouched(memory_store, victim)


def test_save_attributed_to_another_resource_is_refused(memory_store, attacker):
    forged = make_message(attacker, resource_id=new_resource_id(), text="forged author")

    with pytest.raises(ForbiddenError):
        memory_store.save_messages([forged], tenant=attacker.resource_id)

    assert thread_messages(memory_store, attacker.id) == []


def test_tenant_may_resave_and_move_its_own_messages(memory_store):
    owner = new_resource_id()
    first, second = create_thread(memory_store, owner), create_thread(memory_store, owner)
    [message] = memory_store.save_messages([make_message(first, text="draft")], tenant=owner)

    edited = make_message(first, message_id=message.id, text="edited", created_at=message.created_at)
    memory_store.save_messages([edited], tenant=owner)
    moved = make_message(second, message_id=message.id, text="moved", created_at=message.created_at)
    memory_store.save_messages([moved], tenant=owner)

    assert thread_messages(memory_store, first.id) == []
    assert ids(thread_messages(memory_store, second.id)) == [message.id]
    assert thread_messages(memory_store, second.id)[0].text() == "moved"


def test_update_of_another_tenants_message_is_refused(memory_store, victim, attacker):
    _, messages, _ = victim
    update = MessageUpdate(id=messages[0].id, content={"parts": [{"type": "text", "text": "defaced"}]})

    with pytest.raises(ForbiddenError) as refused:
        memory_store.update_messages([update], tenant=attacker.resource_id)

    assert messages[0].resource_id not in str(refused.value)
    assert_untouched(memory_store, victim)


def test_update_moving_another_tenants_message_into_own_thread_is_refused(memory_store, victim, attacker):
    _, messages, _ = victim

    with pytest.raises(ForbiddenError):
        memory_store.update_messages(
            [MessageUpdate(id=messages[1].id, thread_id=attacker.id)], tenant=attacker.resource_id
        )

    assert_untouched(memory_store, victim)
    assert thread_messages(memory_store, attacker.id) == []


def test_update_moving_own_message_into_another_tenants_thread_is_refused(memory_store, victim, attacker):
    thread, _, _ = victim
    [own] = memory_store.save_messages([make_message(attacker, text="mine")], tenant=attacker.resource_id)

    with pytest.raises(OwnershipError):
        memory_store.update_messages([MessageUpdate(id=own.id, thread_id=thread.id)], tenant=attacker.resource_id)

    assert_untouched(memory_store, victim)
    assert ids(thread_messages(memory_store, attacker.id)) == [own.id]


def test_delete_naming_another_tenants_message_deletes_nothing(memory_store, victim, attacker):
    _, messages, _ = victim
    [own] = memory_store.save_messages([make_message(attacker, text="mine")], tenant=attacker.resource_id)

    with pytest.raises(ForbiddenError):
        memory_store.delete_messages([own.id, messages[0].id], tenant=attacker.resource_id)

    assert_untouched(memory_store, victim)
    assert ids(thread_messages(memory_store, attacker.id)) == [own.id]


def test_message_of_another_resource_in_the_tenants_thread_is_the_tenants_to_delete(memory_store, attacker):
    # A trusted backend may attribute a message in the tenant's thread to someone else; the
    # thread's owner decides, as for every other write to the thread.
    guest = make_message(attacker, resource_id=new_resource_id(), text="a guest's message")
    memory_store.save_messages([guest])

    deleted = memory_store.delete_messages([guest.id], tenant=attacker.resource_id)

    assert list(deleted) == [guest.id]
    assert thread_messages(memory_store, attacker.id) == []


def test_tenant_message_in_another_resources_thread_is_not_the_tenants(memory_store, victim, attacker):
    # The converse: the tenant's own message, placed by a trusted backend in Alice's thread.
    thread, _, _ = victim
    placed = make_message(thread, resource_id=attacker.resource_id, text="said in alice's thread", created_at=at(70))
    memory_store.save_messages([placed])

    with pytest.raises(ForbiddenError):
        memory_store.delete_messages([placed.id], tenant=attacker.resource_id)

    assert placed.id in ids(thread_messages(memory_store, thread.id))


def test_trusted_callers_keep_mastras_move_semantics(memory_store, victim, attacker):
    # Without a tenant (api-key backends, the library, the ops function) a save moves an id.
    _, messages, _ = victim
    moved = make_message(attacker, message_id=messages[0].id, text="moved by the backend", created_at=at(80))

    memory_store.save_messages([moved])

    assert ids(thread_messages(memory_store, attacker.id)) == [messages[0].id]
