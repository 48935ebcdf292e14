"""The embedded memory store: threads, messages and resources in one libSQL file.

Selected by ``file:<path>`` (``file:./memkit.db`` is the default), ``libsql:<path>`` or
``:memory:`` (tests). No server, no network: the local API server and the in-process job
worker share one ``LibSQLStore``. The file, its one connection, transactions and migrations are
``storage/libsql/database.py``'s; the tables, SQL and row mapping are ``schema.py``'s.
Every write runs in one transaction, so a failed write leaves nothing behind.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from pydantic import BaseModel

from memkit.errors import ConflictError, NotFoundError, OwnershipError, ValidationError
from memkit.models import (
    CloneThreadInput,
    CloneThreadResult,
    DateRange,
    IncludeItem,
    ListMessagesByResourceInput,
    ListMessagesInput,
    ListThreadsInput,
    Message,
    MessageFilter,
    MessagePage,
    MessageUpdate,
    Resource,
    Thread,
    ThreadPage,
    format_ts,
    page_meta,
    parse_model,
    utc_now,
    validate_id,
    validate_metadata_keys,
)
from memkit.storage.common import dumps
from memkit.storage.libsql.database import LibSQLDatabase, open_database
from memkit.storage.libsql.sql import count_and_page, dumps_or_none, equals_or_in, id_list, json_object_set
from memkit.storage.memory.base import (
    DEFAULT_TITLES,
    UNSET,
    WORKING_MEMORY_METADATA_KEY,
    DeletedResource,
    DeletedThread,
    MemoryStorage,
    MessageLocation,
    SaveReceipt,
    UpdateReceipt,
)
from memkit.storage.memory.libsql.schema import (
    BUMP_THREAD_SQL,
    BUMP_THREAD_WITH_MESSAGE_SQL,
    CLAIM_THREAD_TASK_SQL,
    DELETE_MESSAGES_SQL,
    DELETE_RESOURCE_MESSAGES_SQL,
    DELETE_RESOURCE_SQL,
    DELETE_RESOURCE_THREADS_SQL,
    DELETE_THREAD_MESSAGES_SQL,
    DELETE_THREAD_SQL,
    DIRECTIONS,
    INSERT_THREAD_SQL,
    MEMORY_DOMAIN,
    MEMORY_MIGRATIONS,
    MERGE_RESOURCE_SQL,
    MESSAGE_COLUMNS,
    RELEASE_THREAD_TASK_SQL,
    SELECT_MESSAGES_BY_IDS_SQL,
    SELECT_MESSAGE_LOCATIONS_SQL,
    SELECT_MESSAGE_SQL,
    SELECT_NEXT_MESSAGES_SQL,
    SELECT_PREVIOUS_MESSAGES_SQL,
    SELECT_RESOURCE_MESSAGE_RESOURCES_SQL,
    SELECT_RESOURCE_SQL,
    SELECT_RESOURCE_THREAD_IDS_SQL,
    SELECT_THREAD_MESSAGE_RESOURCES_SQL,
    SELECT_THREAD_OWNERS_SQL,
    SELECT_THREAD_SQL,
    SET_TITLE_IF_UNTITLED_SQL,
    THREAD_COLUMNS,
    THREAD_ORDER_COLUMNS,
    UPSERT_MESSAGE_SQL,
    UPSERT_RESOURCE_SQL,
    UPSERT_THREAD_SQL,
    message_from_row,
    message_params,
    message_sort_key,
    resource_from_row,
    thread_from_row,
    thread_params,
)
from memkit.storage.memory.rules import (
    apply_message_update,
    check_tenant_attribution,
    clone_message,
    clone_thread_record,
    foreign_message_error,
    validate_task_name,
)


def _as_message(item: Any) -> Message:
    """Validate again even if ``item`` is a Message: ``model_construct`` skips validation, and
    all-or-nothing saves need every message checked before the first write."""
    data = item.model_dump() if isinstance(item, BaseModel) else item
    return parse_model(Message, data, what="message")


class LibSQLStore(MemoryStorage):
    """``MemoryStorage`` on one libSQL file (or ``:memory:``), safe to share across threads.
    Stores opened on the same file within a process share one connection."""

    name = "libsql"

    def __init__(self, url: str = "file:./memkit.db"):
        self.url = url
        self.database: LibSQLDatabase = open_database(url)
        self.path = self.database.path
        try:
            self.database.migrate(MEMORY_DOMAIN, MEMORY_MIGRATIONS)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        self.database.close()

    def get_thread(self, thread_id: str, resource_id: str | None = None) -> Thread | None:
        with self.database.connection() as conn:
            thread = self._get_thread(conn, thread_id)
        if thread is not None and resource_id is not None:
            _check_owner(thread_id, thread.resource_id, resource_id)
        return thread

    def save_thread(self, thread: Thread) -> Thread:
        thread = parse_model(Thread, thread.model_dump(), what="thread")
        with self.database.transaction() as conn:
            existing = self._get_thread(conn, thread.id)
            if existing is not None:
                _check_owner(thread.id, existing.resource_id, thread.resource_id)
            conn.execute(UPSERT_THREAD_SQL, thread_params(thread))
            return self._require_thread(conn, thread.id)

    def update_thread(
        self,
        thread_id: str,
        *,
        title: str | None = UNSET,
        metadata: dict[str, Any] | None = None,
        resource_id: str | None = None,
    ) -> Thread:
        validate_metadata_keys(metadata)
        assignments = ["updated_at = max(updated_at, ?)"]
        params: list[Any] = [format_ts(utc_now())]
        if title is not UNSET:
            assignments.append("title = ?")
            params.append(title)
        if metadata:
            merged_sql, merged_params = json_object_set("metadata", metadata)
            assignments.append(f"metadata = {merged_sql}")
            params += merged_params
        with self.database.transaction() as conn:
            existing = self._require_thread(conn, thread_id)
            if resource_id is not None:
                _check_owner(thread_id, existing.resource_id, resource_id)
            conn.execute(f"UPDATE threads SET {', '.join(assignments)} WHERE id = ?", (*params, thread_id))
            return self._require_thread(conn, thread_id)

    def set_title_if_untitled(self, thread_id: str, title: str) -> bool:
        params = (title, format_ts(utc_now()), thread_id, *sorted(DEFAULT_TITLES))
        with self.database.transaction() as conn:
            return conn.execute(SET_TITLE_IF_UNTITLED_SQL, params).rowcount > 0

    def claim_thread_task(self, thread_id: str, task: str) -> bool:
        validate_task_name(task)
        path = f"$.{task}"
        with self.database.transaction() as conn:
            cursor = conn.execute(CLAIM_THREAD_TASK_SQL, (path, format_ts(utc_now()), thread_id, path))
            return cursor.rowcount > 0

    def release_thread_task(self, thread_id: str, task: str) -> None:
        validate_task_name(task)
        with self.database.transaction() as conn:
            conn.execute(RELEASE_THREAD_TASK_SQL, (f"$.{task}", thread_id))

    def delete_thread(self, thread_id: str, resource_id: str | None = None) -> DeletedThread | None:
        with self.database.transaction() as conn:
            existing = self._get_thread(conn, thread_id)
            if existing is None:
                return None
            if resource_id is not None:
                _check_owner(thread_id, existing.resource_id, resource_id)
            rows = conn.execute(SELECT_THREAD_MESSAGE_RESOURCES_SQL, (thread_id,)).fetchall()
            conn.execute(DELETE_THREAD_MESSAGES_SQL, (thread_id,))
            conn.execute(DELETE_THREAD_SQL, (thread_id,))
        return DeletedThread(thread=existing, message_resources=frozenset(row[0] for row in rows))

    def list_threads(self, query: ListThreadsInput) -> ThreadPage:
        where, params = _thread_filters(query)
        column = THREAD_ORDER_COLUMNS[query.order_by.field]
        direction = DIRECTIONS[query.order_by.direction]
        order = f"{column} {direction}, id {direction}"
        with self.database.snapshot() as conn:
            total, rows = count_and_page(
                conn, "threads", THREAD_COLUMNS, where, params, order_by=order, page=query.page, per_page=query.per_page
            )
        threads = [thread_from_row(row) for row in rows]
        return ThreadPage(threads=threads, **page_meta(total, query.page, query.per_page, len(threads)))

    def save_messages(self, messages: Sequence[Message], *, tenant: str | None = None) -> list[Message]:
        return self.save_messages_with_receipt(messages, tenant=tenant).messages

    def save_messages_with_receipt(self, messages: Sequence[Message], *, tenant: str | None = None) -> SaveReceipt:
        validated = [_as_message(message) for message in messages]
        if not validated:
            return SaveReceipt(messages=[], previous={})
        check_tenant_attribution(validated, tenant)
        bumped_at = utc_now()
        now = format_ts(bumped_at)
        with self.database.transaction() as conn:
            self._require_threads(conn, {m.thread_id for m in validated}, tenant=tenant)
            previous = self._message_locations(conn, [m.id for m in validated], tenant=tenant)
            target = {m.id: m.thread_id for m in validated}
            moved_from = {where.thread_id for message_id, where in previous.items() if where.thread_id != target[message_id]}
            conn.executemany(UPSERT_MESSAGE_SQL, [message_params(m) for m in validated])
            self._bump_threads_with_messages(conn, validated, now)
            for thread_id in sorted(moved_from):
                conn.execute(BUMP_THREAD_SQL, (now, thread_id))
        return SaveReceipt(messages=validated, bumped_at=bumped_at, previous=previous)

    def list_messages(self, query: ListMessagesInput) -> MessagePage:
        with self.database.snapshot() as conn:
            if query.resource_id is not None:
                self._check_thread_owners(conn, query.thread_ids, query.resource_id)
            thread_clause, thread_params = equals_or_in("thread_id", query.thread_ids)
            where, params = _message_filters([thread_clause], thread_params, query.resource_id, query.filter)
            total, page = _message_page(conn, where, params, query)
            included = [
                message
                for item in query.include
                for message in self._include_window(conn, item, query.resource_id)
            ]
        merged = _dedupe_and_sort(page + included, descending=query.order_by.direction == "DESC")
        return MessagePage(messages=merged, **page_meta(total, query.page, query.per_page, len(page)))

    def list_messages_by_id(self, message_ids: Sequence[str]) -> list[Message]:
        if not message_ids:
            return []
        with self.database.connection() as conn:
            rows = conn.execute(SELECT_MESSAGES_BY_IDS_SQL, (id_list(message_ids),)).fetchall()
        return [message_from_row(row) for row in rows]

    def list_messages_by_resource_id(self, query: ListMessagesByResourceInput) -> MessagePage:
        where, params = _message_filters([], [], query.resource_id, query.filter)
        with self.database.snapshot() as conn:
            total, page = _message_page(conn, where, params, query)
        return MessagePage(messages=page, **page_meta(total, query.page, query.per_page, len(page)))

    def update_messages(self, updates: Sequence[MessageUpdate], *, tenant: str | None = None) -> list[Message]:
        return self.update_messages_with_receipt(updates, tenant=tenant).messages

    def update_messages_with_receipt(
        self, updates: Sequence[MessageUpdate], *, tenant: str | None = None
    ) -> UpdateReceipt:
        now = format_ts(utc_now())
        updated: list[Message] = []
        previous: dict[str, MessageLocation] = {}
        with self.database.transaction() as conn:
            if tenant is not None:
                self._message_locations(conn, [update.id for update in updates], tenant=tenant)
            for update in updates:
                row = conn.execute(SELECT_MESSAGE_SQL, (update.id,)).fetchone()
                if row is None:
                    continue
                before = message_from_row(row)
                # An id updated twice: where it was before the first of them.
                previous.setdefault(before.id, MessageLocation(before.thread_id, before.resource_id))
                after = apply_message_update(before, update)
                check_tenant_attribution([after], tenant)
                if after.thread_id != before.thread_id:
                    self._require_threads(conn, {after.thread_id}, tenant=tenant)
                    conn.execute(BUMP_THREAD_SQL, (now, before.thread_id))
                conn.execute(UPSERT_MESSAGE_SQL, message_params(after))
                conn.execute(BUMP_THREAD_WITH_MESSAGE_SQL, (now, format_ts(after.created_at), after.thread_id))
                updated.append(after)
        return UpdateReceipt(updated, previous)

    def delete_messages(self, message_ids: Sequence[str], *, tenant: str | None = None) -> dict[str, MessageLocation]:
        if not message_ids:
            return {}
        now = format_ts(utc_now())
        with self.database.transaction() as conn:
            deleted = self._message_locations(conn, message_ids, tenant=tenant)
            conn.execute(DELETE_MESSAGES_SQL, (id_list(message_ids),))
            for thread_id in sorted({location.thread_id for location in deleted.values()}):
                conn.execute(BUMP_THREAD_SQL, (now, thread_id))
        return deleted

    def get_resource(self, resource_id: str) -> Resource | None:
        with self.database.connection() as conn:
            row = conn.execute(SELECT_RESOURCE_SQL, (resource_id,)).fetchone()
        return None if row is None else resource_from_row(row)

    def save_resource(self, resource: Resource) -> Resource:
        resource = parse_model(Resource, resource.model_dump(), what="resource")
        params = (
            resource.id,
            resource.working_memory,
            dumps_or_none(resource.metadata),
            format_ts(resource.created_at),
            format_ts(resource.updated_at),
        )
        with self.database.transaction() as conn:
            conn.execute(UPSERT_RESOURCE_SQL, params)
            return resource_from_row(conn.execute(SELECT_RESOURCE_SQL, (resource.id,)).fetchone())

    def update_resource(
        self,
        resource_id: str,
        *,
        working_memory: str | None = UNSET,
        metadata: dict[str, Any] | None = None,
    ) -> Resource:
        validate_id(resource_id, "resourceId")
        validate_metadata_keys(metadata)
        if working_memory is not UNSET and working_memory is not None and not isinstance(working_memory, str):
            raise ValidationError("workingMemory must be a string", field="workingMemory")
        now = format_ts(utc_now())
        sql, merge_params = _merge_resource_sql(working_memory is not UNSET, metadata)
        insert_params = (
            resource_id,
            None if working_memory is UNSET else working_memory,
            dumps_or_none(metadata),
            now,
            now,
        )
        with self.database.transaction() as conn:
            row = conn.execute(sql, (*insert_params, *merge_params)).fetchone()
        return resource_from_row(row)

    def modify_resource_working_memory(self, resource_id: str, modify: Callable[[str | None], str]) -> Resource:
        # BEGIN IMMEDIATE holds the write lock from the read on: no other writer comes between.
        validate_id(resource_id, "resourceId")
        now = format_ts(utc_now())
        sql, merge_params = _merge_resource_sql(True, None)
        with self.database.transaction() as conn:
            row = conn.execute(SELECT_RESOURCE_SQL, (resource_id,)).fetchone()
            value = modify(None if row is None else resource_from_row(row).working_memory)
            row = conn.execute(sql, (resource_id, value, None, now, now, *merge_params)).fetchone()
        return resource_from_row(row)

    def modify_thread_working_memory(
        self, thread_id: str, modify: Callable[[Any], str], *, resource_id: str | None = None
    ) -> Thread:
        with self.database.transaction() as conn:
            existing = self._require_thread(conn, thread_id)
            if resource_id is not None:
                _check_owner(thread_id, existing.resource_id, resource_id)
            value = modify((existing.metadata or {}).get(WORKING_MEMORY_METADATA_KEY))
            merged_sql, merged_params = json_object_set("metadata", {WORKING_MEMORY_METADATA_KEY: value})
            conn.execute(
                f"UPDATE threads SET updated_at = max(updated_at, ?), metadata = {merged_sql} WHERE id = ?",
                (format_ts(utc_now()), *merged_params, thread_id),
            )
            return self._require_thread(conn, thread_id)

    def delete_resource(self, resource_id: str) -> DeletedResource:
        with self.database.transaction() as conn:
            thread_ids = [row[0] for row in conn.execute(SELECT_RESOURCE_THREAD_IDS_SQL, (resource_id,)).fetchall()]
            message_resources = frozenset(
                row[0] for row in conn.execute(SELECT_RESOURCE_MESSAGE_RESOURCES_SQL, (resource_id,)).fetchall()
            )
            conn.execute(DELETE_RESOURCE_MESSAGES_SQL, (resource_id,))
            conn.execute(DELETE_RESOURCE_THREADS_SQL, (resource_id,))
            conn.execute(DELETE_RESOURCE_SQL, (resource_id,))
        return DeletedResource(thread_ids, message_resources)

    def clone_thread(self, request: CloneThreadInput) -> CloneThreadResult:
        now = utc_now()
        new_thread_id = request.new_thread_id or str(uuid.uuid4())
        with self.database.transaction() as conn:
            source = self._get_thread(conn, request.source_thread_id)
            if source is None:
                raise NotFoundError(f"Source thread with id {request.source_thread_id} not found")
            if self._get_thread(conn, new_thread_id) is not None:
                raise ConflictError(f"Thread with id {new_thread_id} already exists")
            originals = _select_clone_sources(conn, request)
            thread = clone_thread_record(source, request, new_thread_id, originals, now)
            copies = [clone_message(m, thread, request.resource_id) for m in originals]
            conn.execute(INSERT_THREAD_SQL, thread_params(thread))
            conn.executemany(UPSERT_MESSAGE_SQL, [message_params(m) for m in copies])
        return CloneThreadResult(thread=thread, cloned_messages=copies)

    @staticmethod
    def _get_thread(conn: Any, thread_id: str) -> Thread | None:
        row = conn.execute(SELECT_THREAD_SQL, (thread_id,)).fetchone()
        return None if row is None else thread_from_row(row)

    def _require_thread(self, conn: Any, thread_id: str) -> Thread:
        thread = self._get_thread(conn, thread_id)
        if thread is None:
            raise NotFoundError(f"Thread with id {thread_id} not found")
        return thread

    @staticmethod
    def _require_threads(conn: Any, thread_ids: set[str], *, tenant: str | None = None) -> None:
        """Every thread exists (``NotFoundError``) and, with a tenant, is the tenant's."""
        owners = dict(conn.execute(SELECT_THREAD_OWNERS_SQL, (id_list(thread_ids),)).fetchall())
        missing = sorted(thread_ids - owners.keys())
        if missing:
            raise NotFoundError(f"Thread with id {missing[0]} not found")
        if tenant is not None:
            for thread_id in sorted(thread_ids):
                _check_owner(thread_id, owners[thread_id], tenant)

    @staticmethod
    def _check_thread_owners(conn: Any, thread_ids: Sequence[str], resource_id: str) -> None:
        for thread_id, owner in conn.execute(SELECT_THREAD_OWNERS_SQL, (id_list(thread_ids),)).fetchall():
            _check_owner(thread_id, owner, resource_id)

    @staticmethod
    def _message_locations(
        conn: Any, message_ids: Iterable[str], *, tenant: str | None = None
    ) -> dict[str, MessageLocation]:
        """Where ``message_ids`` live now (ids not yet saved are absent). With a tenant, one of
        them in a thread the tenant does not own is refused (read in the caller's transaction,
        so the answer holds for its writes)."""
        rows = conn.execute(SELECT_MESSAGE_LOCATIONS_SQL, (id_list(dict.fromkeys(message_ids)),)).fetchall()
        if tenant is not None:
            for message_id, _thread_id, _resource_id, thread_owner in sorted(rows):
                if thread_owner != tenant:
                    raise foreign_message_error(message_id)
        return {row[0]: MessageLocation(row[1], row[2]) for row in rows}

    @staticmethod
    def _bump_threads_with_messages(conn: Any, messages: Sequence[Message], now: str) -> None:
        newest: dict[str, str] = {}
        for message in messages:
            created = format_ts(message.created_at)
            newest[message.thread_id] = max(newest.get(message.thread_id, created), created)
        for thread_id, last_message_at in sorted(newest.items()):
            conn.execute(BUMP_THREAD_WITH_MESSAGE_SQL, (now, last_message_at, thread_id))

    @staticmethod
    def _include_window(conn: Any, item: IncludeItem, resource_id: str | None) -> list[Message]:
        """The target and its neighbours in the target's own thread; nothing if the target is
        unknown, not in ``item.thread_id``, or (with ``resource_id``) another resource's."""
        row = conn.execute(SELECT_MESSAGE_SQL, (item.id,)).fetchone()
        if row is None:
            return []
        target = message_from_row(row)
        if item.thread_id is not None and item.thread_id != target.thread_id:
            return []
        if resource_id is not None and target.resource_id != resource_id:
            return []
        resource_clause = "AND resource_id = ? " if resource_id is not None else ""
        resource_params = [resource_id] if resource_id is not None else []
        window = [target]
        for template, count in (
            (SELECT_PREVIOUS_MESSAGES_SQL, item.with_previous_messages),
            (SELECT_NEXT_MESSAGES_SQL, item.with_next_messages),
        ):
            if count <= 0:
                continue
            params = (target.thread_id, format_ts(target.created_at), target.id, *resource_params, count)
            rows = conn.execute(template.format(resource=resource_clause), params).fetchall()
            window += [message_from_row(r) for r in rows]
        return window


# ---------------------------------------------------------------- module-level helpers


def _check_owner(thread_id: str, owner: str, queried: str) -> None:
    if owner != queried:
        raise OwnershipError(thread_id, owner, queried)


def _thread_filters(query: ListThreadsInput) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if query.resource_id is not None:
        clauses.append("resource_id = ?")
        params.append(query.resource_id)
    # JSON text equality (``->`` yields minified JSON): "1" the string never matches 1 the number.
    for key, value in (query.metadata or {}).items():
        clauses.append("(metadata -> ?) = json(?)")
        params += [f"$.{key}", dumps(value)]
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def _message_filters(
    clauses: list[str], params: list[Any], resource_id: str | None, message_filter: MessageFilter
) -> tuple[str, list[Any]]:
    clauses, params = list(clauses), list(params)
    if resource_id is not None:
        clauses.append("resource_id = ?")
        params.append(resource_id)
    if message_filter.date_range is not None:
        _date_range_clauses(message_filter.date_range, clauses, params)
    if message_filter.roles:
        clauses.append("role IN (SELECT value FROM json_each(?))")
        params.append(json.dumps(message_filter.roles))
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def _date_range_clauses(date_range: DateRange, clauses: list[str], params: list[Any]) -> None:
    if date_range.start is not None:
        clauses.append("created_at > ?" if date_range.start_exclusive else "created_at >= ?")
        params.append(format_ts(date_range.start))
    if date_range.end is not None:
        clauses.append("created_at < ?" if date_range.end_exclusive else "created_at <= ?")
        params.append(format_ts(date_range.end))


def _message_page(
    conn: Any, where: str, params: list[Any], query: ListMessagesInput | ListMessagesByResourceInput
) -> tuple[int, list[Message]]:
    """Messages have no updatedAt, so every message ordering is by createdAt (then id)."""
    direction = DIRECTIONS[query.order_by.direction]
    order = f"created_at {direction}, id {direction}"
    total, rows = count_and_page(
        conn, "messages", MESSAGE_COLUMNS, where, params, order_by=order, page=query.page, per_page=query.per_page
    )
    return total, [message_from_row(row) for row in rows]


def _dedupe_and_sort(messages: Iterable[Message], *, descending: bool) -> list[Message]:
    unique = {message.id: message for message in messages}
    return sorted(unique.values(), key=message_sort_key, reverse=descending)


def _merge_resource_sql(set_working_memory: bool, metadata: dict[str, Any] | None) -> tuple[str, list[Any]]:
    working_memory = "excluded.working_memory" if set_working_memory else "resources.working_memory"
    if metadata:
        metadata_sql, params = json_object_set("resources.metadata", metadata)
    else:
        metadata_sql, params = "resources.metadata", []
    return MERGE_RESOURCE_SQL.format(working_memory=working_memory, metadata=metadata_sql), params


def _select_clone_sources(conn: Any, request: CloneThreadInput) -> list[Message]:
    """The source messages to copy, oldest first: filters, then the last ``messageLimit``
    (a limit of 0 or none copies everything, as in Mastra)."""
    clauses = ["thread_id = ?"]
    params: list[Any] = [request.source_thread_id]
    options = request.options
    message_filter = options.message_filter if options else None
    if message_filter is not None:
        if message_filter.start_date is not None:
            clauses.append("created_at >= ?")
            params.append(format_ts(message_filter.start_date))
        if message_filter.end_date is not None:
            clauses.append("created_at <= ?")
            params.append(format_ts(message_filter.end_date))
        if message_filter.message_ids:
            clauses.append("id IN (SELECT value FROM json_each(?))")
            params.append(id_list(message_filter.message_ids))
    sql = f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE {' AND '.join(clauses)} ORDER BY created_at DESC, id DESC"
    limit = options.message_limit if options else None
    if limit:
        sql += " LIMIT ?"
        params.append(limit)
    rows = conn.execute(sql, params).fetchall()
    return [message_from_row(row) for row in reversed(rows)]
