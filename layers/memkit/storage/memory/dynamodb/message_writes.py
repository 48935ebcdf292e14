"""Writing messages on DynamoDB: saves, updates and deletes, each planned as item changes and
committed in transactions that also move the touched threads' counters and timestamps.

A save first tries the fast path: its pointer conditions prove every id new, so one
TransactWriteItems per 49 messages writes them with no read. A condition that fails
(re-saves, moves, foreign attribution, a missing thread) falls back to reading the pointers and
threads and planning exactly what is needed (``_save_with_reads``). Transactions are all or
nothing; a write of more messages than one transaction holds is split, and only a service
failure or a concurrent delete between two transactions can split it (then the call raises).
Request counts: ``docs/dynamodb.md``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from memkit.errors import ConflictError, NotFoundError
from memkit.models import Message, MessageUpdate, utc_now, validate_id
from memkit.storage.dynamodb.errors import is_condition_failure
from memkit.storage.dynamodb.requests import MAX_TRANSACTION_ACTIONS, MAX_TRANSACTION_BYTES, backoff
from memkit.storage.memory.base import MessageLocation, SaveReceipt, UpdateReceipt
from memkit.storage.memory.dynamodb.access import MAX_PLAN_ATTEMPTS, MemoryPart, check_tenant
from memkit.storage.memory.dynamodb.items import message_item, pointer_item
from memkit.storage.memory.dynamodb.keys import POINTER_SK, THREAD_SK, pointer_pk, thread_pk, thread_updated_sort_key
from memkit.storage.memory.rules import apply_message_update, check_tenant_attribution

# Two actions per message (message + pointer) plus one thread update fit in 100 actions.
MESSAGES_PER_TRANSACTION = 49

# ====================================================================== write planning
# Plain classes with __slots__, not dataclasses: they are defined on every cold start, where a
# dataclass costs about half a millisecond of generated code, and only write paths use them.


class _StalePlan(Exception):
    """A conditional write found the state it was planned against changed: re-read, re-plan."""


class _ThreadEffect:
    """What one message write does to one thread."""

    __slots__ = ("thread_id", "count", "foreign", "newest")

    def __init__(self, thread_id: str, count: int = 0, foreign: int = 0, newest: datetime | None = None):
        self.thread_id = thread_id
        self.count = count
        self.foreign = foreign
        self.newest = newest


_UNKNOWN: Any = object()


class _ThreadGuard:
    """What a transaction may assume about a thread it updates.

    ``owner``: add ``resourceId = owner`` to the condition (the fast path's proof that its
    messages are not foreign). ``updated_at`` / ``last_message_at``: the values read, or
    ``_UNKNOWN``; an unknown timestamp is always set, under a never-backwards condition, and a
    known one only when the new value is later (DynamoDB has no max())."""

    __slots__ = ("owner", "updated_at", "last_message_at")

    def __init__(self, owner: str | None = None, updated_at: Any = _UNKNOWN, last_message_at: Any = _UNKNOWN):
        self.owner = owner
        self.updated_at = updated_at
        self.last_message_at = last_message_at

    @classmethod
    def read(cls, thread: Any) -> _ThreadGuard:
        return cls(updated_at=thread.updated_at, last_message_at=thread.last_message_at)


def _later(new: datetime, known: Any) -> bool:
    return known is _UNKNOWN or known is None or new > known


class _MessageChange:
    """The item writes of one message, planned against a known (or assumed) state."""

    __slots__ = (
        "message_id", "put_message", "delete_message_key", "put_pointer",
        "delete_pointer", "pointer_condition", "effects", "size",
    )

    def __init__(
        self,
        message_id: str,
        put_message: Any = None,
        delete_message_key: tuple[str, str] | None = None,
        put_pointer: Any = None,
        delete_pointer: bool = False,
        pointer_condition: Condition | None = None,
        effects: list[_ThreadEffect] | None = None,
        size: int = 0,
    ):
        self.message_id = message_id
        self.put_message = put_message
        self.delete_message_key = delete_message_key
        self.put_pointer = put_pointer
        self.delete_pointer = delete_pointer
        self.pointer_condition = pointer_condition
        self.effects: list[_ThreadEffect] = [] if effects is None else effects
        self.size = size

    @property
    def action_count(self) -> int:
        return sum(
            (
                self.put_message is not None,
                self.delete_message_key is not None,
                self.put_pointer is not None,
                self.delete_pointer,
            )
        )


def _chunk_changes(changes: Sequence[_MessageChange]) -> list[list[_MessageChange]]:
    """Split into transactions: ≤49 messages, ≤100 actions (thread updates included), ≤4 MB."""
    chunks: list[list[_MessageChange]] = []
    current: list[_MessageChange] = []
    actions = size = 0
    threads: set[str] = set()
    for change in changes:
        new_threads = {effect.thread_id for effect in change.effects} - threads
        fits = (
            len(current) < MESSAGES_PER_TRANSACTION
            and actions + change.action_count + len(threads) + len(new_threads) <= MAX_TRANSACTION_ACTIONS
            and size + change.size <= MAX_TRANSACTION_BYTES
        )
        if current and not fits:
            chunks.append(current)
            current, actions, size, threads = [], 0, 0, set()
            new_threads = {effect.thread_id for effect in change.effects}
        current.append(change)
        actions += change.action_count
        size += change.size
        threads |= new_threads
    if current:
        chunks.append(current)
    return chunks


def _merge_effects(changes: Iterable[_MessageChange]) -> dict[str, _ThreadEffect]:
    merged: dict[str, _ThreadEffect] = {}
    for change in changes:
        for effect in change.effects:
            total = merged.setdefault(effect.thread_id, _ThreadEffect(effect.thread_id))
            total.count += effect.count
            total.foreign += effect.foreign
            if effect.newest is not None and (total.newest is None or effect.newest > total.newest):
                total.newest = effect.newest
    return merged


# ====================================================================== the writes


class MessageWrites(MemoryPart):
    def save_messages_with_receipt(self, messages: Sequence[Message], *, tenant: str | None = None) -> SaveReceipt:
        """The fast path's pointer conditions prove its ids new; the read path knows the rest.
        With a tenant the fast path needs no extra condition: every message is the tenant's, so
        each thread's owner condition already requires the tenant's thread."""
        if not messages:
            return SaveReceipt(messages=[], previous={})
        check_tenant_attribution(messages, tenant)
        # Validate everything before the first write: a bad message must leave nothing behind.
        latest = {message.id: message for message in messages}
        sized = {message_id: message_item(self.items, message) for message_id, message in latest.items()}
        now = utc_now()

        owners: dict[str, set[str]] = {}
        for message in latest.values():
            owners.setdefault(message.thread_id, set()).add(message.resource_id)
        if any(len(resources) > 1 for resources in owners.values()):
            # Mixed attribution in one thread: the fast path cannot prove which are foreign.
            previous = self._save_with_reads(list(latest.values()), now, tenant=tenant)
            return SaveReceipt(messages=list(messages), bumped_at=now, previous=previous)

        guards = {thread_id: _ThreadGuard(owner=next(iter(resources))) for thread_id, resources in owners.items()}
        pointer_model = self.items.pointer
        changes = []
        for message in latest.values():
            item, size = sized[message.id]
            changes.append(
                _MessageChange(
                    message_id=message.id,
                    put_message=item,
                    put_pointer=pointer_item(self.items, message, foreign=False),
                    pointer_condition=pointer_model.pk.does_not_exist(),
                    effects=[_ThreadEffect(message.thread_id, count=1, newest=message.created_at)],
                    size=size + 512,
                )
            )
        chunks = _chunk_changes(changes)
        if tenant is not None and len(chunks) > 1:
            # A later transaction refusing another tenant's id would leave the earlier ones
            # written: check the ids that exist before the first write.
            self.table.check_pointers_for_tenant(self.table.get_pointers(latest), tenant)
        # A multi-transaction save checks every thread in its first transaction, so a missing
        # thread fails the save before anything is written.
        first_threads = set(_merge_effects(chunks[0]))
        other_threads = [thread_id for thread_id in guards if thread_id not in first_threads]
        first_actions = sum(change.action_count for change in chunks[0]) + len(first_threads)
        if first_actions + len(other_threads) > MAX_TRANSACTION_ACTIONS:
            missing = set(other_threads) - set(self.table.get_threads(other_threads))
            if missing:
                raise NotFoundError(f"Thread with id {sorted(missing)[0]} not found")
            other_threads = []
        previous: dict[str, MessageLocation] = {}
        for position, chunk in enumerate(chunks):
            checks = other_threads if position == 0 else []
            try:
                self._commit_changes(chunk, guards, now, thread_checks=checks)
            except _StalePlan:
                # Re-saves, moves, foreign attribution, a backdated lastMessageAt or a missing
                # thread: read the pointers and threads, then write exactly what is needed.
                if checks:
                    missing = set(checks) - set(self.table.get_threads(checks))
                    if missing:
                        raise NotFoundError(f"Thread with id {sorted(missing)[0]} not found") from None
                previous.update(
                    self._save_with_reads([latest[change.message_id] for change in chunk], now, tenant=tenant)
                )
        return SaveReceipt(messages=list(messages), bumped_at=now, previous=previous)

    def _save_with_reads(
        self, messages: Sequence[Message], now: datetime, *, tenant: str | None = None
    ) -> dict[str, MessageLocation]:
        """Save after reading the messages' pointers and threads; retried if the state moves.
        Returns where each id that already existed was before its transaction committed."""
        previous: dict[str, MessageLocation] = {}
        committed: set[str] = set()
        target_thread_ids = {message.thread_id for message in messages}
        for attempt in range(MAX_PLAN_ATTEMPTS):
            found = self.table.get_items(message_ids=[message.id for message in messages], thread_ids=target_thread_ids)
            pointers, threads = found.pointers, found.threads
            # Only a move needs the thread it leaves, which the pointer read has just named.
            if left_threads := {p.thread_id for p in pointers.values()} - target_thread_ids:
                threads |= self.table.get_threads(left_threads)
            for message in messages:
                if message.thread_id not in threads:
                    raise NotFoundError(f"Thread with id {message.thread_id} not found")
            check_tenant(tenant, {m.thread_id for m in messages}, pointers, threads)
            changes = [self._planned_save(message, pointers.get(message.id), threads) for message in messages]
            guards = {thread_id: _ThreadGuard.read(item) for thread_id, item in threads.items()}
            try:
                for chunk in _chunk_changes(changes):
                    self._commit_changes(chunk, guards, now)
                    # A retry re-plans chunks that already landed; their "before" is this one.
                    for change in chunk:
                        if change.message_id not in committed:
                            committed.add(change.message_id)
                            if (pointer := pointers.get(change.message_id)) is not None:
                                previous[change.message_id] = MessageLocation(pointer.thread_id, pointer.resource_id)
                return previous
            except _StalePlan:
                backoff(attempt)
        raise ConflictError("Messages kept changing while they were being saved; retry")

    def _planned_save(self, message: Message, pointer: Any | None, threads: dict[str, Any]) -> _MessageChange:
        item, size = message_item(self.items, message)
        foreign = message.resource_id != threads[message.thread_id].resource_id
        change = _MessageChange(
            message_id=message.id,
            put_message=item,
            put_pointer=pointer_item(self.items, message, foreign=foreign),
            size=size + 512,
        )
        pointer_model = self.items.pointer
        if pointer is None:
            change.pointer_condition = pointer_model.pk.does_not_exist()
            change.effects.append(
                _ThreadEffect(message.thread_id, count=1, foreign=int(foreign), newest=message.created_at)
            )
            return change
        change.pointer_condition = (pointer_model.thread_id == pointer.thread_id) & (
            pointer_model.message_sk == pointer.message_sk
        )
        old_key = (thread_pk(pointer.thread_id), pointer.message_sk)
        if old_key != (item.pk, item.sk):
            change.delete_message_key = old_key
        if pointer.thread_id == message.thread_id:
            change.effects.append(
                _ThreadEffect(message.thread_id, foreign=int(foreign) - int(pointer.foreign), newest=message.created_at)
            )
        else:
            if pointer.thread_id in threads:
                change.effects.append(_ThreadEffect(pointer.thread_id, count=-1, foreign=-int(pointer.foreign)))
            change.effects.append(
                _ThreadEffect(message.thread_id, count=1, foreign=int(foreign), newest=message.created_at)
            )
        return change

    def _commit_changes(
        self,
        changes: Sequence[_MessageChange],
        guards: dict[str, _ThreadGuard],
        now: datetime,
        *,
        thread_checks: Sequence[str] = (),
    ) -> None:
        """One TransactWriteItems: the items of ``changes`` plus one update per touched thread
        (counts, updatedAt, lastMessageAt never backwards). Raises ``_StalePlan`` when a
        condition shows the state differs from what was planned."""
        models = self.items
        thread_model = models.thread
        effects = _merge_effects(changes)

        def fill(transaction: TransactWrite) -> None:
            for change in changes:
                if change.delete_message_key is not None:
                    transaction.delete(models.message(*change.delete_message_key))
                if change.put_message is not None:
                    transaction.save(change.put_message)
                if change.put_pointer is not None:
                    transaction.save(change.put_pointer, condition=change.pointer_condition)
                elif change.delete_pointer:
                    transaction.delete(
                        models.pointer(pointer_pk(change.message_id), POINTER_SK), condition=change.pointer_condition
                    )
            for thread_id, effect in effects.items():
                actions, condition = self._thread_bump(effect, guards.get(thread_id, _ThreadGuard()), now)
                transaction.update(thread_model(thread_pk(thread_id), THREAD_SK), actions=actions, condition=condition)
            for thread_id in thread_checks:
                transaction.condition_check(
                    thread_model, thread_pk(thread_id), THREAD_SK, condition=thread_model.pk.exists()
                )

        try:
            self.requests.transact(fill)
        except TransactWriteError as error:
            if is_condition_failure(error):
                raise _StalePlan() from error
            raise

    def _thread_bump(self, effect: _ThreadEffect, guard: _ThreadGuard, now: datetime) -> tuple[list[Action], Condition]:
        thread_model = self.items.thread
        actions: list[Action] = []
        condition = thread_model.pk.exists()
        if _later(now, guard.updated_at):
            actions += [
                thread_model.updated_at.set(now),
                thread_model.gsi2_sk.set(thread_updated_sort_key(now, effect.thread_id)),
            ]
            condition &= thread_model.updated_at <= now
        if effect.count:
            actions.append(thread_model.message_count.add(effect.count))
        if effect.foreign:
            actions.append(thread_model.foreign_message_count.add(effect.foreign))
        if guard.owner is not None:
            condition &= thread_model.resource_id == guard.owner
        newest = effect.newest
        if newest is not None and _later(newest, guard.last_message_at):
            actions.append(thread_model.last_message_at.set(newest))
            condition &= thread_model.last_message_at.does_not_exist() | (thread_model.last_message_at <= newest)
        if not actions:
            # Nothing moves forward (a back-dated update of a thread touched in the future):
            # still require the thread, as a no-op write.
            actions.append(thread_model.message_count.add(0))
        return actions, condition

    def update_messages_with_receipt(
        self, updates: Sequence[MessageUpdate], *, tenant: str | None = None
    ) -> UpdateReceipt:
        if not updates:
            return UpdateReceipt([], {})
        for update in updates:
            validate_id(update.id, "message id")
        for attempt in range(MAX_PLAN_ATTEMPTS):
            pointers = self.table.get_pointers(update.id for update in updates)
            # Every thread an update touches is known now (where each message is, where it moves
            # to), so the threads come in the same BatchGetItem as the messages.
            thread_ids = {pointer.thread_id for pointer in pointers.values()}
            thread_ids |= {u.thread_id for u in updates if u.thread_id is not None and u.id in pointers}
            found = self.table.get_items(pointers=pointers.values(), thread_ids=thread_ids)
            current = {message.id: message for message in found.messages}
            threads = found.threads
            updated: dict[str, Message] = {}
            for update in updates:
                base = updated.get(update.id) or current.get(update.id)
                if base is not None:
                    updated[update.id] = apply_message_update(base, update)
            if not updated:
                return UpdateReceipt([], {})
            for message in updated.values():
                if message.thread_id not in threads:
                    raise NotFoundError(f"Thread with id {message.thread_id} not found")
            check_tenant(tenant, {m.thread_id for m in updated.values()}, pointers, threads)
            check_tenant_attribution(list(updated.values()), tenant)
            now = utc_now()
            changes = [
                self._planned_save(message, pointers[message_id], threads) for message_id, message in updated.items()
            ]
            # An update without a move still bumps its thread's updatedAt.
            guards = {thread_id: _ThreadGuard.read(item) for thread_id, item in threads.items()}
            try:
                for chunk in _chunk_changes(changes):
                    self._commit_changes(chunk, guards, now)
            except _StalePlan:
                backoff(attempt)
                continue
            previous = {
                message_id: MessageLocation(current[message_id].thread_id, current[message_id].resource_id)
                for message_id in updated
            }
            return UpdateReceipt(list(updated.values()), previous)
        raise ConflictError("Messages kept changing while they were being updated; retry")

    def delete_messages(self, message_ids: Sequence[str], *, tenant: str | None = None) -> dict[str, MessageLocation]:
        ids = [message_id for message_id in dict.fromkeys(message_ids) if isinstance(message_id, str) and message_id]
        if not ids:
            return {}
        pointer_model = self.items.pointer
        known_threads: dict[str, Any] | None = None
        guards: dict[str, _ThreadGuard] = {}
        for attempt in range(MAX_PLAN_ATTEMPTS):
            pointers = self.table.get_pointers(ids)
            if not pointers:
                return {}
            if tenant is not None:
                self.table.check_pointers_for_tenant(pointers, tenant)
            if attempt > 0:
                # A condition failed: learn which threads still exist before planning again.
                known_threads = self.table.get_threads({p.thread_id for p in pointers.values()})
                guards = {thread_id: _ThreadGuard.read(item) for thread_id, item in known_threads.items()}
            changes = []
            for message_id, pointer in pointers.items():
                change = _MessageChange(
                    message_id=message_id,
                    delete_message_key=(thread_pk(pointer.thread_id), pointer.message_sk),
                    delete_pointer=True,
                    pointer_condition=(pointer_model.thread_id == pointer.thread_id)
                    & (pointer_model.message_sk == pointer.message_sk),
                    size=256,
                )
                if known_threads is None or pointer.thread_id in known_threads:
                    change.effects.append(_ThreadEffect(pointer.thread_id, count=-1, foreign=-int(pointer.foreign)))
                changes.append(change)
            try:
                for chunk in _chunk_changes(changes):
                    self._commit_changes(chunk, guards, utc_now())
                return {
                    message_id: MessageLocation(pointer.thread_id, pointer.resource_id)
                    for message_id, pointer in pointers.items()
                }
            except _StalePlan:
                backoff(attempt)
        raise ConflictError("Messages kept changing while they were being deleted; retry")
