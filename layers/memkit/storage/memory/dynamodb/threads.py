"""Threads on DynamoDB: get, save (create or overwrite), update, titles and task claims, delete
(the thread item, then a sweep of its partition) and a resource's thread listings with the
thread counter's total. Keys: ``keys.py``; request counts: ``docs/dynamodb.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pynamodb.exceptions import DoesNotExist, PynamoDBException, TransactWriteError
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from memkit.errors import ConflictError, NotFoundError, ValidationError
from memkit.models import ListThreadsInput, Thread, ThreadPage, page_meta, utc_now, validate_id, validate_metadata_keys
from memkit.storage.dynamodb.errors import is_condition_failure, response_code
from memkit.storage.dynamodb.paging import page_from_nearer_end, query_limit
from memkit.storage.dynamodb.requests import backoff
from memkit.storage.dynamodb.table import set_or_remove
from memkit.storage.memory.base import DEFAULT_TITLES, UNSET, WORKING_MEMORY_METADATA_KEY, DeletedThread
from memkit.storage.memory.dynamodb.access import MAX_PLAN_ATTEMPTS, MemoryPart, check_owner
from memkit.storage.memory.dynamodb.items import thread_from_item, thread_item
from memkit.storage.memory.dynamodb.keys import (
    COUNTER_INDEX_SK,
    CREATED_ORDER_PREFIX,
    MESSAGE_SK_PREFIX,
    POINTER_SK,
    THREAD_COUNTER_SK,
    THREAD_SK,
    UPDATED_ORDER_PREFIX,
    message_id_from_sk,
    pointer_pk,
    resource_pk,
    resource_threads_partition,
    thread_pk,
    thread_updated_sort_key,
)
from memkit.storage.memory.rules import validate_task_name

# A metadata key a thread does not have: never equal to any filter value.
_ABSENT: Any = object()


class Threads(MemoryPart):
    def get_thread(self, thread_id: str, resource_id: str | None = None) -> Thread | None:
        item = self.table.get_thread_item(validate_id(thread_id, "threadId"))
        if item is None:
            return None
        check_owner(thread_id, item.resource_id, resource_id)
        return thread_from_item(item)

    def save_thread(self, thread: Thread) -> Thread:
        item = thread_item(self.items, thread)
        for attempt in range(MAX_PLAN_ATTEMPTS):
            existing = self.create_thread(item, thread.resource_id)
            if existing is None:
                return thread
            check_owner(thread.id, existing.resource_id, thread.resource_id)
            if self._overwrite_thread(item, thread):
                return thread
            backoff(attempt)
        raise ConflictError(f"Thread {thread.id} kept changing while it was being saved; retry")

    def create_thread(self, item: Any, resource_id: str) -> Any | None:
        """Put a new thread and count it, in one transaction. Returns None when created, or the
        thread item already stored under that id (nothing written)."""
        models = self.items

        def fill(transaction: TransactWrite) -> None:
            transaction.save(item, condition=models.thread.pk.does_not_exist(), return_values="ALL_OLD")
            transaction.update(
                models.thread_counter(resource_pk(resource_id), THREAD_COUNTER_SK),
                actions=self._counter_actions(resource_id, +1),
            )

        try:
            self.requests.transact(fill)
            return None
        except TransactWriteError as error:
            if not is_condition_failure(error):
                raise
            for reason in error.cancellation_reasons:
                if reason is not None and reason.raw_item:
                    return models.thread.from_raw_data(reason.raw_item)
            # Cancelled without the old item (a conflicting transaction): read it.
            return self.table.get_thread_item(item.pk[len("THREAD#") :]) or self.create_thread(item, resource_id)

    def _counter_actions(self, resource_id: str, delta: int) -> list[Action]:
        counter = self.items.thread_counter
        partition = resource_threads_partition(resource_id)
        return [
            counter.thread_count.add(delta),
            counter.entity.set(counter),
            counter.gsi1_pk.set(partition),
            counter.gsi1_sk.set(COUNTER_INDEX_SK),
            counter.gsi2_pk.set(partition),
            counter.gsi2_sk.set(COUNTER_INDEX_SK),
        ]

    def _overwrite_thread(self, item: Any, thread: Thread) -> bool:
        """Overwrite an existing thread's own fields, keeping its counters. False if it vanished
        meanwhile (the caller then creates it)."""
        thread_model = self.items.thread
        actions: list[Action] = [
            set_or_remove(thread_model.title, thread.title),
            set_or_remove(thread_model.metadata, thread.metadata),
            thread_model.created_at.set(thread.created_at),
            thread_model.updated_at.set(thread.updated_at),
            thread_model.gsi1_sk.set(item.gsi1_sk),
            thread_model.gsi2_sk.set(item.gsi2_sk),
        ]
        if thread.last_message_at is not None:
            actions.append(thread_model.last_message_at.set(thread.last_message_at))
        try:
            thread_model(item.pk, THREAD_SK).update(
                actions=actions,
                condition=thread_model.pk.exists() & (thread_model.resource_id == thread.resource_id),
            )
            return True
        except PynamoDBException as error:
            if not is_condition_failure(error):
                raise
        current = self.table.get_thread_item(thread.id)
        if current is not None:
            check_owner(thread.id, current.resource_id, thread.resource_id)
        return False

    def update_thread(
        self,
        thread_id: str,
        *,
        title: str | None = UNSET,
        metadata: dict[str, Any] | None = None,
        resource_id: str | None = None,
    ) -> Thread:
        validate_metadata_keys(metadata)
        merge = None if metadata is None else lambda current: {**(current or {}), **metadata}
        return self._update_thread(thread_id, title=title, merge_metadata=merge, resource_id=resource_id)

    def modify_thread_working_memory(
        self, thread_id: str, modify: Callable[[Any], str], *, resource_id: str | None = None
    ) -> Thread:
        def merge(current: dict[str, Any] | None) -> dict[str, Any]:
            current = current or {}
            return {**current, WORKING_MEMORY_METADATA_KEY: modify(current.get(WORKING_MEMORY_METADATA_KEY))}

        return self._update_thread(thread_id, title=UNSET, merge_metadata=merge, resource_id=resource_id)

    def _update_thread(
        self,
        thread_id: str,
        *,
        title: str | None,
        merge_metadata: Callable[[dict[str, Any] | None], dict[str, Any]] | None,
        resource_id: str | None,
    ) -> Thread:
        """Read, then write conditionally on what was read; ``merge_metadata`` maps the stored
        metadata to the new one and is called again after a concurrent change."""
        validate_id(thread_id, "threadId")
        thread_model = self.items.thread
        for attempt in range(MAX_PLAN_ATTEMPTS):
            current = self.table.get_thread_item(thread_id)
            if current is None:
                raise NotFoundError(f"Thread with id {thread_id} not found")
            check_owner(thread_id, current.resource_id, resource_id)
            now = max(utc_now(), current.updated_at)
            actions: list[Action] = [
                thread_model.updated_at.set(now),
                thread_model.gsi2_sk.set(thread_updated_sort_key(now, thread_id)),
            ]
            if title is not UNSET:
                actions.append(set_or_remove(thread_model.title, title))
            condition = thread_model.pk.exists() & (thread_model.updated_at <= now)
            if merge_metadata is not None:
                merged = merge_metadata(current.metadata)
                actions.append(thread_model.metadata.set(merged))
                # Optimistic concurrency on the metadata text: a concurrent merge makes this
                # write fail and re-read, so no update loses another's keys.
                if current.metadata is None:
                    condition &= thread_model.metadata.does_not_exist()
                else:
                    condition &= thread_model.metadata == current.metadata
                # Size check only: a merge must not grow the thread past the item limit.
                thread_item(self.items, thread_from_item(current).model_copy(update={"metadata": merged}))
            updated = thread_model(thread_pk(thread_id), THREAD_SK)
            try:
                updated.update(actions=actions, condition=condition)
                return thread_from_item(updated)
            except PynamoDBException as error:
                if not is_condition_failure(error):
                    raise
            backoff(attempt)
        raise ConflictError(f"Thread {thread_id} kept changing while it was being updated; retry")

    def set_title_if_untitled(self, thread_id: str, title: str) -> bool:
        thread_model = self.items.thread
        item = thread_model(thread_pk(validate_id(thread_id, "threadId")), THREAD_SK)
        untitled = thread_model.pk.exists() & (
            thread_model.title.does_not_exist() | thread_model.title.is_in(*sorted(DEFAULT_TITLES))
        )
        now = utc_now()
        bump = [thread_model.updated_at.set(now), thread_model.gsi2_sk.set(thread_updated_sort_key(now, thread_id))]
        # updatedAt never goes backwards and DynamoDB has no max(): the usual write bumps it; only
        # when that fails is a second write tried, for a thread whose updatedAt is ahead of us.
        attempts = [
            (bump, untitled & (thread_model.updated_at <= now)),
            ([], untitled & (thread_model.updated_at > now)),
        ]
        for extra_actions, condition in attempts:
            try:
                item.update(actions=[thread_model.title.set(title), *extra_actions], condition=condition)
                return True
            except PynamoDBException as error:
                if response_code(error) != "ConditionalCheckFailedException":
                    raise
        return False

    def claim_thread_task(self, thread_id: str, task: str) -> bool:
        validate_task_name(task)
        thread_model = self.items.thread
        try:
            thread_model(thread_pk(validate_id(thread_id, "threadId")), THREAD_SK).update(
                actions=[thread_model.claimed_tasks.add({task})],
                condition=thread_model.pk.exists() & ~thread_model.claimed_tasks.contains(task),
            )
            return True
        except PynamoDBException as error:
            if response_code(error) == "ConditionalCheckFailedException":
                return False
            raise

    def release_thread_task(self, thread_id: str, task: str) -> None:
        validate_task_name(task)
        thread_model = self.items.thread
        try:
            thread_model(thread_pk(validate_id(thread_id, "threadId")), THREAD_SK).update(
                actions=[thread_model.claimed_tasks.delete({task})],
                condition=thread_model.pk.exists(),
            )
        except PynamoDBException as error:
            # A thread deleted meanwhile has nothing left to release.
            if response_code(error) != "ConditionalCheckFailedException":
                raise

    def delete_thread(self, thread_id: str, resource_id: str | None = None) -> DeletedThread | None:
        validate_id(thread_id, "threadId")
        current = self.table.get_thread_item(thread_id)
        if current is not None:
            check_owner(thread_id, current.resource_id, resource_id)
            self.delete_thread_item(current)
        # Always sweep, so a delete interrupted after the thread item went is finished by a retry.
        message_resources = self.sweep_thread_messages(thread_id)
        if current is None:
            return None
        return DeletedThread(thread=thread_from_item(current), message_resources=message_resources)

    def delete_thread_item(self, item: Any, *, count: bool = True) -> None:
        """Delete a thread item already read, before its messages are swept: from then on no
        save can add messages to it (saves require the thread), so the sweep is complete.

        ``count`` decrements the resource's thread counter in the same transaction. A resource
        delete passes False: it deletes the counter itself, so one DeleteItem is enough."""
        models = self.items
        thread = models.thread(item.pk, THREAD_SK)
        if not count:
            thread.delete()
            return
        try:
            self.requests.transact(
                lambda transaction: (
                    transaction.delete(thread, condition=models.thread.pk.exists()),
                    transaction.update(
                        models.thread_counter(resource_pk(item.resource_id), THREAD_COUNTER_SK),
                        actions=self._counter_actions(item.resource_id, -1),
                    ),
                )
            )
        except TransactWriteError as error:
            # Deleted concurrently: the other delete owns the counter; the sweep still runs.
            if not is_condition_failure(error):
                raise

    def sweep_thread_messages(self, thread_id: str) -> frozenset[str]:
        """Delete every message left in the thread's partition, and their id pointers; return
        the resources those messages were attributed to (projected by the key query itself)."""
        models = self.items
        swept = list(
            models.message.query(
                thread_pk(thread_id),
                models.item.sk.startswith(MESSAGE_SK_PREFIX),
                consistent_read=True,
                attributes_to_get=["PK", "SK", "resourceId"],
            )
        )
        keys = [(item.pk, item.sk) for item in swept]
        deletes = keys + [(pointer_pk(message_id_from_sk(sk)), POINTER_SK) for _, sk in keys]
        self.requests.batch_delete(deletes)
        return frozenset(item.resource_id for item in swept)

    def list_threads(self, query: ListThreadsInput) -> ThreadPage:
        if query.resource_id is None:
            raise ValidationError(
                "resourceId is required to list threads on DynamoDB (no table scans)", field="resourceId"
            )
        resource_id = query.resource_id
        forward = query.order_by.direction == "ASC"
        by_created = query.order_by.field == "createdAt"
        index = self.items.item.gsi1 if by_created else self.items.item.gsi2
        sort_attribute = self.items.item.gsi1_sk if by_created else self.items.item.gsi2_sk
        thread_keys = sort_attribute.startswith(CREATED_ORDER_PREFIX if by_created else UPDATED_ORDER_PREFIX)
        partition = resource_threads_partition(resource_id)
        page, per_page = query.page, query.per_page

        def fetch(forward_: bool, limit: int | None) -> list[Thread]:
            items = index.query(partition, thread_keys, scan_index_forward=forward_, limit=query_limit(limit))
            return [thread_from_item(item) for item in items]

        if query.metadata:
            # Metadata lives in a JSON attribute: filter the resource's threads in code.
            wanted = query.metadata
            threads = [
                thread
                for thread in fetch(forward, None)
                if all((thread.metadata or {}).get(key, _ABSENT) == value for key, value in wanted.items())
            ]
            return self._thread_page(threads, len(threads), page, per_page)
        if per_page is None:
            threads = fetch(forward, None)
            return self._thread_page(threads, len(threads), page, per_page)
        if per_page == 0:
            return self._thread_page([], self._thread_count(resource_id), page, per_page, sliced=True)
        if page == 0 and not forward and per_page > 0:
            # One Query: the counter sorts last, so descending it comes first with the total.
            items = list(index.query(partition, scan_index_forward=False, limit=query_limit(per_page + 1)))
            total = None
            if items and isinstance(items[0], self.items.thread_counter):
                total = int(items.pop(0).thread_count)
            threads = [
                thread_from_item(item) for item in items[:per_page] if isinstance(item, self.items.thread)
            ]
            return self._thread_page(threads, len(threads) if total is None else total, page, per_page, sliced=True)
        if page == 0:
            total, threads = self.requests.parallel([lambda: self._thread_count(resource_id), lambda: fetch(forward, per_page)])
            return self._thread_page(threads, total, page, per_page, sliced=True)
        total = self._thread_count(resource_id)
        threads = page_from_nearer_end(fetch, total, page * per_page, per_page, forward)
        return self._thread_page(threads, total, page, per_page, sliced=True)

    def _thread_count(self, resource_id: str) -> int:
        try:
            counter = self.items.thread_counter.get(resource_pk(resource_id), THREAD_COUNTER_SK, consistent_read=True)
        except DoesNotExist:
            return 0
        return int(counter.thread_count)

    @staticmethod
    def _thread_page(
        threads: list[Thread], total: int, page: int, per_page: int | None, *, sliced: bool = False
    ) -> ThreadPage:
        if per_page is not None and not sliced:
            threads = threads[page * per_page : page * per_page + per_page]
        return ThreadPage(threads=threads, **page_meta(total, page, per_page, len(threads)))
