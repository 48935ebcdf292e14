"""What every part of the DynamoDB memory store shares: the table with the memory item classes
and the table's requests (``MemoryTable``), the single-item and batch reads the parts make,
and the ownership and tenant checks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from pynamodb.exceptions import DoesNotExist

from memkit.errors import OwnershipError
from memkit.models import Message
from memkit.storage.dynamodb.requests import TableRequests
from memkit.storage.dynamodb.table import TableModels
from memkit.storage.memory.dynamodb.items import MemoryItems, memory_items, message_from_item
from memkit.storage.memory.dynamodb.keys import POINTER_SK, THREAD_SK, pointer_pk, thread_pk
from memkit.storage.memory.rules import foreign_message_error

# How often a write planned against what it read re-reads and re-plans after losing a race.
MAX_PLAN_ATTEMPTS = 8


class FoundItems(NamedTuple):
    """What one ``MemoryTable.get_items`` read found, split by type (keys that do not exist are absent)."""

    #: id pointer items by message id
    pointers: dict[str, Any]
    messages: list[Message]
    #: thread items by thread id
    threads: dict[str, Any]


def check_owner(thread_id: str, owner: str, resource_id: str | None) -> None:
    if resource_id is not None and owner != resource_id:
        raise OwnershipError(thread_id, owner, resource_id)


def check_tenant(
    tenant: str | None, target_thread_ids: set[str], pointers: Mapping[str, Any], threads: Mapping[str, Any]
) -> None:
    """A tenant-bound write may touch only the tenant's threads: those it writes into
    (``OwnershipError``) and those its existing messages live in now (``ForbiddenError``).
    The plan's transaction pins each pointer's thread, and a thread never changes owner, so
    what is checked here still holds when the write commits."""
    if tenant is None:
        return
    for message_id, pointer in sorted(pointers.items()):
        thread = threads.get(pointer.thread_id)
        if thread is not None:
            owner = thread.resource_id
        else:
            # Not read: the pointer of a message attributed to its thread's owner names it.
            owner = None if pointer.foreign else pointer.resource_id
        if owner != tenant:
            raise foreign_message_error(message_id)
    for thread_id in sorted(target_thread_ids):
        check_owner(thread_id, threads[thread_id].resource_id, tenant)


class MemoryTable:
    """The memory domain on one table: its item classes and the table's requests (one pool per
    store), with the reads and checks the parts share."""

    def __init__(self, models: TableModels, *, max_workers: int = 8):
        self.models = models
        self.table_name = models.table_name
        self.items: MemoryItems = memory_items(models)
        self.requests = TableRequests(models, max_workers=max_workers)

    def close(self) -> None:
        self.requests.close()

    def check_pointers_for_tenant(self, pointers: Mapping[str, Any], tenant: str) -> None:
        """``check_tenant`` for messages alone: only the threads of messages foreign to their
        thread need reading (the others' pointers name the owner)."""
        foreign_threads = {p.thread_id for p in pointers.values() if p.foreign}
        check_tenant(tenant, set(), pointers, self.get_threads(foreign_threads) if foreign_threads else {})

    def get_thread_item(self, thread_id: str) -> Any | None:
        try:
            return self.items.thread.get(thread_pk(thread_id), THREAD_SK, consistent_read=True)
        except DoesNotExist:
            return None

    def get_items(
        self,
        *,
        message_ids: Iterable[str] = (),
        pointers: Iterable[Any] = (),
        thread_ids: Iterable[str] = (),
    ) -> FoundItems:
        """One BatchGetItem (per 100 keys) for whatever a plan needs that is already known: the id
        pointers of ``message_ids``, the messages ``pointers`` point at, the threads ``thread_ids``."""
        keys = [(pointer_pk(message_id), POINTER_SK) for message_id in message_ids]
        keys += [(thread_pk(pointer.thread_id), pointer.message_sk) for pointer in pointers]
        keys += [(thread_pk(thread_id), THREAD_SK) for thread_id in thread_ids]
        models = self.items
        found = FoundItems(pointers={}, messages=[], threads={})
        for item in self.requests.batch_get(keys):
            if isinstance(item, models.pointer):
                found.pointers[item.pk[len("MSGID#") :]] = item
            elif isinstance(item, models.message):
                found.messages.append(message_from_item(item))
            elif isinstance(item, models.thread):
                found.threads[item.pk[len("THREAD#") :]] = item
        return found

    def get_threads(self, thread_ids: Iterable[str]) -> dict[str, Any]:
        return self.get_items(thread_ids=thread_ids).threads

    def get_pointers(self, message_ids: Iterable[str]) -> dict[str, Any]:
        return self.get_items(message_ids=message_ids).pointers


class MemoryPart:
    """A part of the store: each owns one group of the port's methods (``store.py`` composes them)."""

    def __init__(self, table: MemoryTable):
        self.table = table
        self.items = table.items
        self.requests = table.requests
