"""Reading messages on DynamoDB: pages of a thread (served from ``messageCount`` and read from
the nearer end), filtered pages, include windows, lookups by id through the pointers, and a
resource's messages through ``GSI1``. Request counts: ``docs/dynamodb.md``.
"""

from __future__ import annotations

import functools
import heapq
import itertools
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from pynamodb.expressions.condition import Condition

from memkit.models import (
    IncludeItem,
    ListMessagesByResourceInput,
    ListMessagesInput,
    Message,
    MessagePage,
    page_meta,
    validate_id,
)
from memkit.storage.dynamodb.paging import page_from_nearer_end, query_limit, read_exactly
from memkit.storage.memory.base import ThreadWindow
from memkit.storage.memory.dynamodb.access import MemoryPart, check_owner
from memkit.storage.memory.dynamodb.items import message_from_item, message_order, thread_from_item
from memkit.storage.memory.dynamodb.keys import (
    MESSAGE_SK_PREFIX,
    RESOURCE_MESSAGE_PREFIX,
    THREAD_SK,
    resource_messages_partition,
    thread_pk,
    timestamp_key_range,
)


class MessageReads(MemoryPart):
    def _messages_query(
        self,
        thread_id: str,
        key_range: tuple[str, str],
        *,
        forward: bool,
        limit: int | None,
        filter_condition: Condition | None = None,
    ) -> list[Message]:
        models = self.items
        items = models.message.query(
            thread_pk(thread_id),
            models.message.sk.between(*key_range),
            filter_condition=filter_condition,
            scan_index_forward=forward,
            limit=query_limit(limit),
            consistent_read=True,
        )
        return [message_from_item(item) for item in read_exactly(items, limit)]

    def thread_and_messages(
        self, thread_id: str, *, forward: bool, limit: int | None
    ) -> tuple[Any | None, list[Message]]:
        """One Query over ``MSG#`` .. ``THREAD``: descending, the thread item comes first."""
        models = self.items
        thread = None
        messages = []
        items = models.item.query(
            thread_pk(thread_id),
            models.item.sk.between(MESSAGE_SK_PREFIX, THREAD_SK),
            scan_index_forward=forward,
            limit=query_limit(limit),
            consistent_read=True,
        )
        for item in read_exactly(items, limit):
            if isinstance(item, models.thread):
                thread = item
            else:
                messages.append(message_from_item(item))
        return thread, messages

    def load_thread_window(self, thread_id: str, limit: int) -> ThreadWindow:
        """One Query: the thread item (with its counters) and the newest ``limit`` messages."""
        thread, messages = self.thread_and_messages(validate_id(thread_id, "threadId"), forward=False, limit=limit + 1)
        if thread is None:
            return ThreadWindow(thread=None, messages=[], total=0, foreign=0)
        return ThreadWindow(
            thread=thread_from_item(thread),
            messages=messages,
            total=int(thread.message_count),
            foreign=int(thread.foreign_message_count),
        )

    def list_messages(self, query: ListMessagesInput) -> MessagePage:
        forward = query.order_by.direction == "ASC"
        thread_ids = list(dict.fromkeys(query.thread_ids))
        filtered = query.filter.date_range is not None or bool(query.filter.roles)
        result: tuple[list[Message], int] | None = None
        if len(thread_ids) == 1 and not filtered:
            result = self._unfiltered_thread_page(thread_ids[0], query, forward)
        if result is None:
            result = self._filtered_page(thread_ids, query, forward)
        page_messages, total = result
        messages = page_messages
        if query.include:
            seen = {message.id for message in page_messages}
            extra = [m for m in self._include_windows(query.include, query.resource_id) if m.id not in seen]
            if extra:
                messages = sorted(
                    {m.id: m for m in page_messages + extra}.values(), key=message_order, reverse=not forward
                )
        return MessagePage(messages=messages, **page_meta(total, query.page, query.per_page, len(page_messages)))

    def _unfiltered_thread_page(
        self, thread_id: str, query: ListMessagesInput, forward: bool
    ) -> tuple[list[Message], int] | None:
        """Pages served from ``messageCount``; None when the resource filter has real work to
        do (the thread holds messages of other resources)."""
        resource_id = query.resource_id
        page, per_page = query.page, query.per_page
        everything = (MESSAGE_SK_PREFIX, "MSG$")

        def needs_resource_filter(thread: Any) -> bool:
            return resource_id is not None and int(thread.foreign_message_count) > 0

        if per_page is None:
            thread, messages = self.thread_and_messages(thread_id, forward=forward, limit=None)
            if thread is None:
                return [], 0
            check_owner(thread_id, thread.resource_id, resource_id)
            if needs_resource_filter(thread):
                messages = [message for message in messages if message.resource_id == resource_id]
            return messages, len(messages)
        if page == 0 and not forward and per_page > 0:
            thread, messages = self.thread_and_messages(thread_id, forward=False, limit=per_page + 1)
            if thread is None:
                return [], 0
            check_owner(thread_id, thread.resource_id, resource_id)
            if needs_resource_filter(thread):
                return None
            return messages, int(thread.message_count)
        if page == 0 and per_page > 0:
            thread, first = self.requests.parallel(
                [
                    lambda: self.table.get_thread_item(thread_id),
                    lambda: self._messages_query(thread_id, everything, forward=forward, limit=per_page),
                ]
            )
            if thread is None:
                return [], 0
            check_owner(thread_id, thread.resource_id, resource_id)
            if needs_resource_filter(thread):
                return None
            return first, int(thread.message_count)
        thread = self.table.get_thread_item(thread_id)
        if thread is None:
            return [], 0
        check_owner(thread_id, thread.resource_id, resource_id)
        if needs_resource_filter(thread):
            return None
        total = int(thread.message_count)

        def fetch(forward_: bool, limit: int | None) -> list[Message]:
            return self._messages_query(thread_id, everything, forward=forward_, limit=limit)

        return page_from_nearer_end(fetch, total, page * per_page, per_page, forward), total

    def _filtered_page(
        self, thread_ids: list[str], query: ListMessagesInput, forward: bool
    ) -> tuple[list[Message], int]:
        """Date ranges, roles, several threads, or a resource filter over a thread with foreign
        messages. Totals come from COUNT queries over the selected range (which read it)."""
        resource_id = query.resource_id
        threads = self.table.get_threads(thread_ids)
        present = [thread_id for thread_id in thread_ids if thread_id in threads]
        for thread_id in present:
            check_owner(thread_id, threads[thread_id].resource_id, resource_id)
        key_range = timestamp_key_range(MESSAGE_SK_PREFIX, query.filter.date_range)
        if key_range is None or not present:
            return [], 0
        message_model = self.items.message

        def filter_for(thread: Any) -> Condition | None:
            condition = None
            if query.filter.roles:
                condition = message_model.role.is_in(*query.filter.roles)
            if resource_id is not None and int(thread.foreign_message_count) > 0:
                by_resource = message_model.resource_id == resource_id
                condition = by_resource if condition is None else condition & by_resource
            return condition

        def thread_total(thread_id: str) -> int:
            thread = threads[thread_id]
            condition = filter_for(thread)
            if condition is None and query.filter.date_range is None:
                return int(thread.message_count)
            return message_model.count(
                thread_pk(thread_id),
                message_model.sk.between(*key_range),
                filter_condition=condition,
                consistent_read=True,
            )

        def fetcher(thread_id: str) -> Callable[[bool, int | None], list[Message]]:
            condition = filter_for(threads[thread_id])
            return lambda forward_, limit: self._messages_query(
                thread_id, key_range, forward=forward_, limit=limit, filter_condition=condition
            )

        total = sum(self.requests.parallel([functools.partial(thread_total, thread_id) for thread_id in present]))
        page, per_page = query.page, query.per_page
        if per_page == 0:
            return [], total
        if len(present) == 1:
            fetch = fetcher(present[0])
            if per_page is None:
                return fetch(forward, None), total
            return page_from_nearer_end(fetch, total, page * per_page, per_page, forward), total
        # Several threads: each contributes at most the first offset+perPage of its own order.
        limit = None if per_page is None else page * per_page + per_page
        per_thread = self.requests.parallel([functools.partial(fetcher(t), forward, limit) for t in present])
        merged = list(heapq.merge(*per_thread, key=message_order, reverse=not forward))
        if per_page is None:
            return merged, total
        return merged[page * per_page : page * per_page + per_page], total

    def _include_windows(self, includes: Sequence[IncludeItem], resource_id: str | None) -> list[Message]:
        """1 BatchGetItem for the targets' pointers, then per target one Query before (target
        included, ≤ prev+1 items) and one after (≤ next items), all in parallel. With a
        resource filter, messages of other resources in the thread are read past as well."""
        pointers = self.table.get_pointers(include.id for include in includes)
        # With a resource filter the neighbours are counted among that resource's messages
        # only, so a window skips over (not stops at) messages attributed to someone else.
        # pynamodb keeps paging until ``limit`` items pass the filter.
        same_resource = None if resource_id is None else self.items.message.resource_id == resource_id
        reads: list[Callable[[], list[Message]]] = []
        for include in includes:
            pointer = pointers.get(include.id)
            if pointer is None:
                continue
            # A target outside the named thread, or another resource's, contributes nothing
            # (not even its neighbours).
            if include.thread_id is not None and include.thread_id != pointer.thread_id:
                continue
            if resource_id is not None and pointer.resource_id != resource_id:
                continue
            reads.append(
                functools.partial(
                    self._messages_query,
                    pointer.thread_id,
                    (MESSAGE_SK_PREFIX, pointer.message_sk),
                    forward=False,
                    limit=query_limit(include.with_previous_messages + 1),
                    filter_condition=same_resource,
                )
            )
            if include.with_next_messages > 0:
                reads.append(
                    functools.partial(self._messages_after, pointer, include.with_next_messages, same_resource)
                )
        return list(itertools.chain.from_iterable(self.requests.parallel(reads)))

    def _messages_after(self, pointer: Any, count: int, filter_condition: Condition | None = None) -> list[Message]:
        models = self.items
        items = models.item.query(
            thread_pk(pointer.thread_id),
            models.item.sk > pointer.message_sk,
            filter_condition=filter_condition,
            scan_index_forward=True,
            limit=query_limit(count),
            consistent_read=True,
        )
        # The thread item sorts after the messages; it can only end the window.
        return [message_from_item(item) for item in items if isinstance(item, models.message)]

    def list_messages_by_id(self, message_ids: Sequence[str]) -> list[Message]:
        ids = [message_id for message_id in dict.fromkeys(message_ids) if isinstance(message_id, str) and message_id]
        if not ids:
            return []
        pointers = self.table.get_pointers(ids)
        return sorted(self._messages_for_pointers(pointers.values()), key=message_order)

    def _messages_for_pointers(self, pointers: Iterable[Any]) -> list[Message]:
        return self.table.get_items(pointers=pointers).messages

    def list_messages_by_resource_id(self, query: ListMessagesByResourceInput) -> MessagePage:
        models = self.items
        forward = query.order_by.direction == "ASC"
        key_range = timestamp_key_range(RESOURCE_MESSAGE_PREFIX, query.filter.date_range)
        if key_range is None:
            return MessagePage(messages=[], **page_meta(0, query.page, query.per_page, 0))
        partition = resource_messages_partition(query.resource_id)
        range_condition = models.item.gsi1_sk.between(*key_range)
        role_filter = models.pointer.role.is_in(*query.filter.roles) if query.filter.roles else None

        def fetch(forward_: bool, limit: int | None) -> list[Any]:
            return list(
                models.pointer.gsi1.query(
                    partition, range_condition, filter_condition=role_filter, scan_index_forward=forward_, limit=query_limit(limit)
                )
            )

        page, per_page = query.page, query.per_page
        if per_page is None:
            pointers = fetch(forward, None)
            total = len(pointers)
        else:
            # The pointer index holds ~200-byte items, so counting reads ~40 per 4 KB unit.
            total = models.pointer.gsi1.count(partition, range_condition, filter_condition=role_filter)
            pointers = page_from_nearer_end(fetch, total, page * per_page, per_page, forward) if per_page else []
        messages = sorted(self._messages_for_pointers(pointers), key=message_order, reverse=not forward)
        return MessagePage(messages=messages, **page_meta(total, page, per_page, len(messages)))
