"""The embedded default memory store: threads, messages and resources in one libSQL file.

Selected by ``file:<path>`` (``file:./memkit.db`` is the default), ``libsql:<path>`` or
``:memory:`` (tests). No server, no network: the local API server and the in-process job
worker share one ``LibSQLStore``.

Concurrency. libSQL connections on one file from several threads fail with ``database is
locked`` even in WAL mode (local-services.md), so a process holds ONE connection per file,
shared by all threads (and by every store opened on that file) and guarded by a re-entrant
lock. Writes run in ``BEGIN IMMEDIATE`` ... ``COMMIT``
(the write lock is taken up front, so two writers never deadlock upgrading a read lock);
anything that fails inside rolls back and re-raises. File databases use WAL plus
``busy_timeout``, so another process on the same file (a second server, a CLI) waits for the
lock instead of failing at once; if it still times out the caller gets ``RetryableError``.

Schema. Each *domain* (``memory`` here; workflows, scores and traces later) owns an ordered
list of ``Migration``s; the ``memkit_schema`` table records the version each domain reached.
``LibSQLStore.migrate(domain, migrations)`` applies whatever is pending, so a module that
adds tables to the same file ships its own list and calls ``migrate`` when it opens. A
released migration is never edited: change the schema by appending a new version.

Layout and access patterns (all ordering ties break by id, in the same direction):

=========================================  ==============================================
access pattern                             served by
=========================================  ==============================================
a thread's messages, paged, by createdAt   ``messages_by_thread (thread_id, created_at, id)``
include windows (N before / after)         same index, row-value range ``(created_at, id)``
a resource's messages across threads       ``messages_by_resource (resource_id, created_at, id)``
a resource's threads by createdAt          ``threads_by_resource_created (resource_id, created_at, id)``
a resource's threads by updatedAt          ``threads_by_resource_updated (resource_id, updated_at, id)``
all threads (no resourceId)                table scan + sort (embedded: small, admin-only)
=========================================  ==============================================

Timestamps are stored as ``format_ts()`` strings (fixed width, so text order is time order
and values round-trip exactly); JSON columns hold compact JSON decoded on read.

``connection()``, ``snapshot()`` and ``transaction()`` hand the locked connection to adapters
that share the file, such as the libSQL vector store for semantic recall.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import libsql
from pydantic import BaseModel

from memkit.errors import (
    ConfigurationError,
    ConflictError,
    MemkitError,
    NotFoundError,
    OwnershipError,
    RetryableError,
    ValidationError,
)
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
    deep_merge,
    format_ts,
    page_meta,
    parse_model,
    utc_now,
    validate_id,
    validate_metadata_keys,
)
from memkit.storage.base import (
    DEFAULT_TITLES,
    UNSET,
    DeletedResource,
    DeletedThread,
    MemoryStorage,
    MessageLocation,
    SaveReceipt,
    WORKING_MEMORY_METADATA_KEY,
    UpdateReceipt,
    check_tenant_attribution,
    clone_message,
    clone_thread_record,
    foreign_message_error,
    validate_task_name,
)
from memkit.storage.common import dumps as _dumps
from memkit.storage.libsql_support import count_and_page, id_list

# How long a writer waits for another process's write lock before giving up.
BUSY_TIMEOUT_MS = 5000

# ---------------------------------------------------------------- migrations


@dataclass(frozen=True)
class Migration:
    """One schema step of a domain. ``statements`` run in order inside one transaction."""

    version: int
    statements: tuple[str, ...]


SCHEMA_TABLE_SQL = """
CREATE TABLE IF NOT EXISTS memkit_schema (
    domain      TEXT PRIMARY KEY,
    version     INTEGER NOT NULL,
    migrated_at TEXT NOT NULL
)"""
SELECT_SCHEMA_VERSION_SQL = "SELECT version FROM memkit_schema WHERE domain = ?"
RECORD_SCHEMA_VERSION_SQL = """
INSERT INTO memkit_schema (domain, version, migrated_at) VALUES (?, ?, ?)
ON CONFLICT(domain) DO UPDATE SET version = excluded.version, migrated_at = excluded.migrated_at"""

MEMORY_DOMAIN = "memory"
MEMORY_MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        (
            """CREATE TABLE threads (
                id              TEXT PRIMARY KEY,
                resource_id     TEXT NOT NULL,
                title           TEXT,
                metadata        TEXT,
                created_at      TEXT NOT NULL,
                updated_at      TEXT NOT NULL,
                last_message_at TEXT,
                task_claims     TEXT
            )""",
            "CREATE INDEX threads_by_resource_created ON threads (resource_id, created_at, id)",
            "CREATE INDEX threads_by_resource_updated ON threads (resource_id, updated_at, id)",
            """CREATE TABLE messages (
                id          TEXT PRIMARY KEY,
                thread_id   TEXT NOT NULL,
                resource_id TEXT NOT NULL,
                role        TEXT NOT NULL,
                type        TEXT NOT NULL,
                content     TEXT NOT NULL,
                created_at  TEXT NOT NULL
            )""",
            "CREATE INDEX messages_by_thread ON messages (thread_id, created_at, id)",
            "CREATE INDEX messages_by_resource ON messages (resource_id, created_at, id)",
            """CREATE TABLE resources (
                id             TEXT PRIMARY KEY,
                working_memory TEXT,
                metadata       TEXT,
                created_at     TEXT NOT NULL,
                updated_at     TEXT NOT NULL
            )""",
        ),
    ),
)

# ---------------------------------------------------------------- SQL: threads

THREAD_COLUMNS = "id, resource_id, title, metadata, created_at, updated_at, last_message_at"
SELECT_THREAD_SQL = f"SELECT {THREAD_COLUMNS} FROM threads WHERE id = ?"
SELECT_THREAD_OWNERS_SQL = "SELECT id, resource_id FROM threads WHERE id IN (SELECT value FROM json_each(?))"
# Overwrites what the caller gives; last_message_at and task_claims are derived state a plain
# save must not reset.
UPSERT_THREAD_SQL = f"""
INSERT INTO threads ({THREAD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT(id) DO UPDATE SET
    title = excluded.title,
    metadata = excluded.metadata,
    created_at = excluded.created_at,
    updated_at = excluded.updated_at,
    last_message_at = coalesce(excluded.last_message_at, threads.last_message_at)"""
INSERT_THREAD_SQL = f"INSERT INTO threads ({THREAD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
SET_TITLE_IF_UNTITLED_SQL = (
    "UPDATE threads SET title = ?, updated_at = max(updated_at, ?) "
    f"WHERE id = ? AND (title IS NULL OR title IN ({', '.join('?' for _ in DEFAULT_TITLES)}))"
)
CLAIM_THREAD_TASK_SQL = """
UPDATE threads SET task_claims = json_set(coalesce(task_claims, '{}'), ?, ?)
WHERE id = ? AND json_type(coalesce(task_claims, '{}'), ?) IS NULL"""
RELEASE_THREAD_TASK_SQL = "UPDATE threads SET task_claims = json_remove(task_claims, ?) WHERE id = ?"
BUMP_THREAD_SQL = "UPDATE threads SET updated_at = max(updated_at, ?) WHERE id = ?"
# max(), so neither timestamp ever goes backwards (a back-dated import must not rewind them).
BUMP_THREAD_WITH_MESSAGE_SQL = """
UPDATE threads SET updated_at = max(updated_at, ?), last_message_at = max(coalesce(last_message_at, ''), ?)
WHERE id = ?"""
SELECT_THREAD_MESSAGE_RESOURCES_SQL = "SELECT DISTINCT resource_id FROM messages WHERE thread_id = ?"
DELETE_THREAD_MESSAGES_SQL = "DELETE FROM messages WHERE thread_id = ?"
DELETE_THREAD_SQL = "DELETE FROM threads WHERE id = ?"

# ---------------------------------------------------------------- SQL: messages

MESSAGE_COLUMNS = "id, thread_id, resource_id, role, type, content, created_at"
SELECT_MESSAGE_SQL = f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ?"
SELECT_MESSAGES_BY_IDS_SQL = (
    f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE id IN (SELECT value FROM json_each(?)) "
    "ORDER BY created_at ASC, id ASC"
)
# With the owner of each message's thread, which tenant-bound writes check.
SELECT_MESSAGE_LOCATIONS_SQL = """
SELECT m.id, m.thread_id, m.resource_id, t.resource_id
FROM messages m LEFT JOIN threads t ON t.id = m.thread_id
WHERE m.id IN (SELECT value FROM json_each(?))
"""
UPSERT_MESSAGE_SQL = f"""
INSERT INTO messages ({MESSAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT(id) DO UPDATE SET
    thread_id = excluded.thread_id,
    resource_id = excluded.resource_id,
    role = excluded.role,
    type = excluded.type,
    content = excluded.content,
    created_at = excluded.created_at"""
DELETE_MESSAGES_SQL = "DELETE FROM messages WHERE id IN (SELECT value FROM json_each(?))"
# Include windows: the neighbours of (created_at, id) in one thread, nearest first.
SELECT_PREVIOUS_MESSAGES_SQL = (
    f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE thread_id = ? AND (created_at, id) < (?, ?) {{resource}}"
    "ORDER BY created_at DESC, id DESC LIMIT ?"
)
SELECT_NEXT_MESSAGES_SQL = (
    f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE thread_id = ? AND (created_at, id) > (?, ?) {{resource}}"
    "ORDER BY created_at ASC, id ASC LIMIT ?"
)

# ---------------------------------------------------------------- SQL: resources

RESOURCE_COLUMNS = "id, working_memory, metadata, created_at, updated_at"
SELECT_RESOURCE_SQL = f"SELECT {RESOURCE_COLUMNS} FROM resources WHERE id = ?"
UPSERT_RESOURCE_SQL = f"""
INSERT INTO resources ({RESOURCE_COLUMNS}) VALUES (?, ?, ?, ?, ?)
ON CONFLICT(id) DO UPDATE SET
    working_memory = excluded.working_memory,
    metadata = excluded.metadata,
    created_at = excluded.created_at,
    updated_at = excluded.updated_at"""
# One statement, so concurrent updates (even from another process) cannot lose each other's
# keys. {working_memory} and {metadata} are filled with the existing value or its replacement.
MERGE_RESOURCE_SQL = f"""
INSERT INTO resources ({RESOURCE_COLUMNS}) VALUES (?, ?, ?, ?, ?)
ON CONFLICT(id) DO UPDATE SET
    working_memory = {{working_memory}},
    metadata = {{metadata}},
    updated_at = max(resources.updated_at, excluded.updated_at)
RETURNING {RESOURCE_COLUMNS}"""
SELECT_RESOURCE_THREAD_IDS_SQL = "SELECT id FROM threads WHERE resource_id = ? ORDER BY id"
SELECT_RESOURCE_MESSAGE_RESOURCES_SQL = (
    "SELECT DISTINCT resource_id FROM messages WHERE thread_id IN (SELECT id FROM threads WHERE resource_id = ?)"
)
DELETE_RESOURCE_MESSAGES_SQL = "DELETE FROM messages WHERE thread_id IN (SELECT id FROM threads WHERE resource_id = ?)"
DELETE_RESOURCE_THREADS_SQL = "DELETE FROM threads WHERE resource_id = ?"
DELETE_RESOURCE_SQL = "DELETE FROM resources WHERE id = ?"

# Whitelists: ORDER BY columns and directions cannot be bound as parameters.
THREAD_ORDER_COLUMNS = {"createdAt": "created_at", "updatedAt": "updated_at"}
DIRECTIONS = {"ASC": "ASC", "DESC": "DESC"}


# ---------------------------------------------------------------- small helpers


def _dumps_or_none(value: Any) -> str | None:
    return None if value is None else _dumps(value)


def _loads_or_none(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _ts_or_none(value: datetime | None) -> str | None:
    return None if value is None else format_ts(value)


def _equals_or_in(column: str, values: Sequence[str]) -> tuple[str, list[Any]]:
    # A single value keeps ``column = ?`` so the index also delivers rows in order.
    if len(values) == 1:
        return f"{column} = ?", [values[0]]
    return f"{column} IN (SELECT value FROM json_each(?))", [id_list(values)]


def _json_object_set(column: str, patch: dict[str, Any]) -> tuple[str, list[Any]]:
    """SQL that sets each top-level key of ``patch`` in the JSON object ``column`` (a shallow
    merge done by the database, not read-modify-write). Keys are validated identifiers."""
    pairs = ", ".join("?, json(?)" for _ in patch)
    params: list[Any] = []
    for key, value in patch.items():
        params += [f"$.{key}", _dumps(value)]
    return f"json_set(coalesce({column}, '{{}}'), {pairs})", params


def _is_lock_error(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "database is locked" in text or "database is busy" in text


@contextmanager
def _top_level_transaction(conn: Any, begin: str) -> Iterator[None]:
    try:
        conn.execute(begin)
        yield
        conn.execute("COMMIT")
    except BaseException as exc:
        # SQLite may already have rolled back on its own (e.g. disk full); then there is
        # nothing to undo and ROLLBACK would fail with a misleading error.
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        if isinstance(exc, ValueError) and _is_lock_error(exc):
            raise RetryableError(f"the libSQL database is locked by another writer: {exc}") from exc
        raise


def _as_message(item: Any) -> Message:
    """Validate again even if ``item`` is a Message: ``model_construct`` skips validation, and
    all-or-nothing saves need every message checked before the first write."""
    data = item.model_dump() if isinstance(item, BaseModel) else item
    return parse_model(Message, data, what="message")


def _resolve_path(url: str) -> str:
    """``:memory:``, ``file:<path>``, ``file:///abs``, ``libsql:<path>`` → what libsql opens."""
    if url in (":memory:", "file::memory:", "libsql::memory:"):
        return ":memory:"
    for prefix in ("file:", "libsql:"):
        if url.startswith(prefix):
            path = url[len(prefix) :]
            break
    else:
        path = url
    if path.startswith("//") and not path.startswith("///"):
        raise ConfigurationError(
            f"{url!r} names a remote libSQL server; LibSQLStore opens local files only "
            "(use file:<path>, or dynamodb://<table> for a shared store)"
        )
    if path.startswith("///"):
        path = path[2:]
    if not path:
        raise ConfigurationError(f"storage URL {url!r} has no file path")
    return path


# ---------------------------------------------------------------- row mapping


def _thread_from_row(row: Sequence[Any]) -> Thread:
    id_, resource_id, title, metadata, created_at, updated_at, last_message_at = row
    return Thread.model_validate(
        {
            "id": id_,
            "resource_id": resource_id,
            "title": title,
            "metadata": _loads_or_none(metadata),
            "created_at": created_at,
            "updated_at": updated_at,
            "last_message_at": last_message_at,
        }
    )


def _thread_params(thread: Thread) -> tuple[Any, ...]:
    return (
        thread.id,
        thread.resource_id,
        thread.title,
        _dumps_or_none(thread.metadata),
        format_ts(thread.created_at),
        format_ts(thread.updated_at),
        _ts_or_none(thread.last_message_at),
    )


def _message_from_row(row: Sequence[Any]) -> Message:
    id_, thread_id, resource_id, role, type_, content, created_at = row
    return Message.model_validate(
        {
            "id": id_,
            "thread_id": thread_id,
            "resource_id": resource_id,
            "role": role,
            "type": type_,
            "content": json.loads(content),
            "created_at": created_at,
        }
    )


def _message_params(message: Message) -> tuple[Any, ...]:
    return (
        message.id,
        message.thread_id,
        message.resource_id,
        message.role,
        message.type,
        _dumps(message.content.model_dump(mode="json")),
        format_ts(message.created_at),
    )


def _resource_from_row(row: Sequence[Any]) -> Resource:
    id_, working_memory, metadata, created_at, updated_at = row
    return Resource.model_validate(
        {
            "id": id_,
            "working_memory": working_memory,
            "metadata": _loads_or_none(metadata),
            "created_at": created_at,
            "updated_at": updated_at,
        }
    )


def _message_sort_key(message: Message) -> tuple[datetime, str]:
    return (message.created_at, message.id)


# ---------------------------------------------------------------- connections


class _Database:
    """One connection to one database plus the re-entrant lock that serialises its use.

    Shared by every ``LibSQLStore`` of the process that opens the same file: the driver holds
    the GIL while SQLite waits on a busy lock, so two connections in one process deadlock each
    other until ``busy_timeout`` expires (seen: ``database is locked`` after 5 s). Separate
    processes are fine; they wait on the file lock, not on each other's GIL.
    """

    def __init__(self, path: str):
        self.path = path
        self.lock = threading.RLock()
        self.users = 0
        self.savepoint_depth = 0
        self.conn: Any = self._connect(path)

    @staticmethod
    def _connect(path: str) -> Any:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: no implicit transactions; every write is an explicit
        # BEGIN IMMEDIATE. _check_same_thread=False: the lock, not the driver, serialises use.
        conn = libsql.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000, _check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if path != ":memory:":
            conn.execute("PRAGMA journal_mode = WAL")
            # Safe with WAL (no corruption on power loss; at worst the last commits are lost).
            conn.execute("PRAGMA synchronous = NORMAL")
        return conn


_open_files: dict[str, _Database] = {}
_open_files_lock = threading.Lock()


def _acquire_database(path: str) -> _Database:
    if path == ":memory:":
        database = _Database(path)  # every :memory: connection is its own database
        database.users = 1
        return database
    key = os.path.realpath(path)
    with _open_files_lock:
        database = _open_files.get(key)
        if database is None:
            database = _open_files[key] = _Database(path)
        database.users += 1
        return database


def _release_database(database: _Database) -> None:
    with _open_files_lock:
        database.users -= 1
        if database.users > 0:
            return
        if database.path != ":memory:":
            del _open_files[os.path.realpath(database.path)]
    with database.lock:
        database.conn.close()


# ---------------------------------------------------------------- the store


class LibSQLStore(MemoryStorage):
    """``MemoryStorage`` on one libSQL file (or ``:memory:``), safe to share across threads.
    Stores opened on the same file within a process share one connection."""

    name = "libsql"

    def __init__(self, url: str = "file:./memkit.db"):
        self.url = url
        self.path = _resolve_path(url)
        self._database: _Database | None = _acquire_database(self.path)
        try:
            self.migrate(MEMORY_DOMAIN, MEMORY_MIGRATIONS)
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------ connection and transactions

    @contextmanager
    def connection(self) -> Iterator[Any]:
        """The store's connection, held under its lock for the ``with`` block.

        For adapters sharing the file (e.g. ``LibSQLVector``): reads may run directly; wrap
        writes in ``transaction()`` instead of issuing BEGIN yourself; never close it. The lock
        is re-entrant, so calling store methods inside the block is fine.
        """
        database = self._database
        if database is None:
            raise MemkitError(f"LibSQLStore({self.url!r}) is closed")
        with database.lock:
            yield database.conn

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """The locked connection inside ``BEGIN IMMEDIATE`` ... ``COMMIT``; any exception rolls
        back and propagates. Nested inside another transaction on this connection it becomes a
        SAVEPOINT, so an inner failure undoes only the inner work (if the caller handles it)."""
        with self.connection() as conn:
            if conn.in_transaction:
                with self._savepoint(conn):
                    yield conn
            else:
                with _top_level_transaction(conn, "BEGIN IMMEDIATE"):
                    yield conn

    @contextmanager
    def snapshot(self) -> Iterator[Any]:
        """The locked connection in a read transaction (``BEGIN`` ... ``COMMIT``), for reads that
        must agree with each other, such as a count and its page, even if another process writes
        to the file in between. Inside a transaction already, it is that transaction."""
        with self.connection() as conn:
            if conn.in_transaction:
                yield conn
            else:
                with _top_level_transaction(conn, "BEGIN"):
                    yield conn

    @contextmanager
    def _savepoint(self, conn: Any) -> Iterator[None]:
        database = self._database
        assert database is not None  # connection() checked it and holds the lock
        database.savepoint_depth += 1
        name = f"memkit_sp{database.savepoint_depth}"
        try:
            conn.execute(f"SAVEPOINT {name}")
            try:
                yield
            except BaseException:
                conn.execute(f"ROLLBACK TO {name}")
                conn.execute(f"RELEASE {name}")
                raise
            conn.execute(f"RELEASE {name}")
        finally:
            database.savepoint_depth -= 1

    def close(self) -> None:
        database, self._database = self._database, None
        if database is not None:
            _release_database(database)

    # ------------------------------------------------------------ schema

    def migrate(self, domain: str, migrations: Sequence[Migration]) -> int:
        """Apply ``domain``'s pending migrations, each in its own transaction; returns the
        version reached. Safe against another process migrating the same file at once: the
        version is re-read under the write lock before each step."""
        _check_migration_order(domain, migrations)
        with self.connection() as conn:
            conn.execute(SCHEMA_TABLE_SQL)
        current = self.schema_version(domain)
        if current > len(migrations):
            raise ConfigurationError(
                f"the {domain!r} tables in {self.path} are at schema version {current}, newer than "
                f"this memkit knows ({len(migrations)}); upgrade memkit"
            )
        for migration in migrations[current:]:
            with self.transaction() as conn:
                if self._schema_version(conn, domain) < migration.version:
                    self._apply_migration(conn, domain, migration)
        return self.schema_version(domain)

    def _apply_migration(self, conn: Any, domain: str, migration: Migration) -> None:
        for statement in migration.statements:
            try:
                conn.execute(statement)
            except ValueError as exc:  # the driver's error type for any SQL failure
                if _is_lock_error(exc):
                    raise
                raise ConfigurationError(
                    f"migration {migration.version} of the {domain!r} schema failed on {self.path}: {exc}"
                ) from exc
        conn.execute(RECORD_SCHEMA_VERSION_SQL, (domain, migration.version, format_ts(utc_now())))

    def schema_version(self, domain: str = MEMORY_DOMAIN) -> int:
        with self.connection() as conn:
            return self._schema_version(conn, domain)

    @staticmethod
    def _schema_version(conn: Any, domain: str) -> int:
        row = conn.execute(SELECT_SCHEMA_VERSION_SQL, (domain,)).fetchone()
        return 0 if row is None else int(row[0])

    # ------------------------------------------------------------ threads

    def get_thread(self, thread_id: str, resource_id: str | None = None) -> Thread | None:
        with self.connection() as conn:
            thread = self._get_thread(conn, thread_id)
        if thread is not None and resource_id is not None:
            _check_owner(thread_id, thread.resource_id, resource_id)
        return thread

    def save_thread(self, thread: Thread) -> Thread:
        thread = parse_model(Thread, thread.model_dump(), what="thread")
        with self.transaction() as conn:
            existing = self._get_thread(conn, thread.id)
            if existing is not None:
                _check_owner(thread.id, existing.resource_id, thread.resource_id)
            conn.execute(UPSERT_THREAD_SQL, _thread_params(thread))
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
            merged_sql, merged_params = _json_object_set("metadata", metadata)
            assignments.append(f"metadata = {merged_sql}")
            params += merged_params
        with self.transaction() as conn:
            existing = self._require_thread(conn, thread_id)
            if resource_id is not None:
                _check_owner(thread_id, existing.resource_id, resource_id)
            conn.execute(f"UPDATE threads SET {', '.join(assignments)} WHERE id = ?", (*params, thread_id))
            return self._require_thread(conn, thread_id)

    def set_title_if_untitled(self, thread_id: str, title: str) -> bool:
        params = (title, format_ts(utc_now()), thread_id, *sorted(DEFAULT_TITLES))
        with self.transaction() as conn:
            return conn.execute(SET_TITLE_IF_UNTITLED_SQL, params).rowcount > 0

    def claim_thread_task(self, thread_id: str, task: str) -> bool:
        validate_task_name(task)
        path = f"$.{task}"
        with self.transaction() as conn:
            cursor = conn.execute(CLAIM_THREAD_TASK_SQL, (path, format_ts(utc_now()), thread_id, path))
            return cursor.rowcount > 0

    def release_thread_task(self, thread_id: str, task: str) -> None:
        validate_task_name(task)
        with self.transaction() as conn:
            conn.execute(RELEASE_THREAD_TASK_SQL, (f"$.{task}", thread_id))

    def delete_thread(self, thread_id: str, resource_id: str | None = None) -> DeletedThread | None:
        with self.transaction() as conn:
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
        with self.snapshot() as conn:
            total, rows = count_and_page(
                conn, "threads", THREAD_COLUMNS, where, params, order_by=order, page=query.page, per_page=query.per_page
            )
        threads = [_thread_from_row(row) for row in rows]
        return ThreadPage(threads=threads, **page_meta(total, query.page, query.per_page, len(threads)))

    # ------------------------------------------------------------ messages

    def save_messages(self, messages: Sequence[Message], *, tenant: str | None = None) -> list[Message]:
        return self.save_messages_with_receipt(messages, tenant=tenant).messages

    def save_messages_with_receipt(self, messages: Sequence[Message], *, tenant: str | None = None) -> SaveReceipt:
        validated = [_as_message(message) for message in messages]
        if not validated:
            return SaveReceipt(messages=[], previous={})
        check_tenant_attribution(validated, tenant)
        bumped_at = utc_now()
        now = format_ts(bumped_at)
        with self.transaction() as conn:
            self._require_threads(conn, {m.thread_id for m in validated}, tenant=tenant)
            previous = self._message_locations(conn, [m.id for m in validated], tenant=tenant)
            target = {m.id: m.thread_id for m in validated}
            moved_from = {where.thread_id for message_id, where in previous.items() if where.thread_id != target[message_id]}
            conn.executemany(UPSERT_MESSAGE_SQL, [_message_params(m) for m in validated])
            self._bump_threads_with_messages(conn, validated, now)
            for thread_id in sorted(moved_from):
                conn.execute(BUMP_THREAD_SQL, (now, thread_id))
        return SaveReceipt(messages=validated, bumped_at=bumped_at, previous=previous)

    def list_messages(self, query: ListMessagesInput) -> MessagePage:
        with self.snapshot() as conn:
            if query.resource_id is not None:
                self._check_thread_owners(conn, query.thread_ids, query.resource_id)
            thread_clause, thread_params = _equals_or_in("thread_id", query.thread_ids)
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
        with self.connection() as conn:
            rows = conn.execute(SELECT_MESSAGES_BY_IDS_SQL, (id_list(message_ids),)).fetchall()
        return [_message_from_row(row) for row in rows]

    def list_messages_by_resource_id(self, query: ListMessagesByResourceInput) -> MessagePage:
        where, params = _message_filters([], [], query.resource_id, query.filter)
        with self.snapshot() as conn:
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
        with self.transaction() as conn:
            if tenant is not None:
                self._message_locations(conn, [update.id for update in updates], tenant=tenant)
            for update in updates:
                row = conn.execute(SELECT_MESSAGE_SQL, (update.id,)).fetchone()
                if row is None:
                    continue
                before = _message_from_row(row)
                # An id updated twice: where it was before the first of them.
                previous.setdefault(before.id, MessageLocation(before.thread_id, before.resource_id))
                after = _apply_message_update(before, update)
                check_tenant_attribution([after], tenant)
                if after.thread_id != before.thread_id:
                    self._require_threads(conn, {after.thread_id}, tenant=tenant)
                    conn.execute(BUMP_THREAD_SQL, (now, before.thread_id))
                conn.execute(UPSERT_MESSAGE_SQL, _message_params(after))
                conn.execute(BUMP_THREAD_WITH_MESSAGE_SQL, (now, format_ts(after.created_at), after.thread_id))
                updated.append(after)
        return UpdateReceipt(updated, previous)

    def delete_messages(self, message_ids: Sequence[str], *, tenant: str | None = None) -> dict[str, MessageLocation]:
        if not message_ids:
            return {}
        now = format_ts(utc_now())
        with self.transaction() as conn:
            deleted = self._message_locations(conn, message_ids, tenant=tenant)
            conn.execute(DELETE_MESSAGES_SQL, (id_list(message_ids),))
            for thread_id in sorted({location.thread_id for location in deleted.values()}):
                conn.execute(BUMP_THREAD_SQL, (now, thread_id))
        return deleted

    # ------------------------------------------------------------ resources

    def get_resource(self, resource_id: str) -> Resource | None:
        with self.connection() as conn:
            row = conn.execute(SELECT_RESOURCE_SQL, (resource_id,)).fetchone()
        return None if row is None else _resource_from_row(row)

    def save_resource(self, resource: Resource) -> Resource:
        resource = parse_model(Resource, resource.model_dump(), what="resource")
        params = (
            resource.id,
            resource.working_memory,
            _dumps_or_none(resource.metadata),
            format_ts(resource.created_at),
            format_ts(resource.updated_at),
        )
        with self.transaction() as conn:
            conn.execute(UPSERT_RESOURCE_SQL, params)
            return _resource_from_row(conn.execute(SELECT_RESOURCE_SQL, (resource.id,)).fetchone())

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
            _dumps_or_none(metadata),
            now,
            now,
        )
        with self.transaction() as conn:
            row = conn.execute(sql, (*insert_params, *merge_params)).fetchone()
        return _resource_from_row(row)

    def modify_resource_working_memory(self, resource_id: str, modify: Callable[[str | None], str]) -> Resource:
        # BEGIN IMMEDIATE holds the write lock from the read on: no other writer comes between.
        validate_id(resource_id, "resourceId")
        now = format_ts(utc_now())
        sql, merge_params = _merge_resource_sql(True, None)
        with self.transaction() as conn:
            row = conn.execute(SELECT_RESOURCE_SQL, (resource_id,)).fetchone()
            value = modify(None if row is None else _resource_from_row(row).working_memory)
            row = conn.execute(sql, (resource_id, value, None, now, now, *merge_params)).fetchone()
        return _resource_from_row(row)

    def modify_thread_working_memory(
        self, thread_id: str, modify: Callable[[Any], str], *, resource_id: str | None = None
    ) -> Thread:
        with self.transaction() as conn:
            existing = self._require_thread(conn, thread_id)
            if resource_id is not None:
                _check_owner(thread_id, existing.resource_id, resource_id)
            value = modify((existing.metadata or {}).get(WORKING_MEMORY_METADATA_KEY))
            merged_sql, merged_params = _json_object_set("metadata", {WORKING_MEMORY_METADATA_KEY: value})
            conn.execute(
                f"UPDATE threads SET updated_at = max(updated_at, ?), metadata = {merged_sql} WHERE id = ?",
                (format_ts(utc_now()), *merged_params, thread_id),
            )
            return self._require_thread(conn, thread_id)

    def delete_resource(self, resource_id: str) -> DeletedResource:
        with self.transaction() as conn:
            thread_ids = [row[0] for row in conn.execute(SELECT_RESOURCE_THREAD_IDS_SQL, (resource_id,)).fetchall()]
            message_resources = frozenset(
                row[0] for row in conn.execute(SELECT_RESOURCE_MESSAGE_RESOURCES_SQL, (resource_id,)).fetchall()
            )
            conn.execute(DELETE_RESOURCE_MESSAGES_SQL, (resource_id,))
            conn.execute(DELETE_RESOURCE_THREADS_SQL, (resource_id,))
            conn.execute(DELETE_RESOURCE_SQL, (resource_id,))
        return DeletedResource(thread_ids, message_resources)

    # ------------------------------------------------------------ clone

    def clone_thread(self, request: CloneThreadInput) -> CloneThreadResult:
        now = utc_now()
        new_thread_id = request.new_thread_id or str(uuid.uuid4())
        with self.transaction() as conn:
            source = self._get_thread(conn, request.source_thread_id)
            if source is None:
                raise NotFoundError(f"Source thread with id {request.source_thread_id} not found")
            if self._get_thread(conn, new_thread_id) is not None:
                raise ConflictError(f"Thread with id {new_thread_id} already exists")
            originals = _select_clone_sources(conn, request)
            thread = clone_thread_record(source, request, new_thread_id, originals, now)
            copies = [clone_message(m, thread, request.resource_id) for m in originals]
            conn.execute(INSERT_THREAD_SQL, _thread_params(thread))
            conn.executemany(UPSERT_MESSAGE_SQL, [_message_params(m) for m in copies])
        return CloneThreadResult(thread=thread, cloned_messages=copies)

    # ------------------------------------------------------------ private: threads

    @staticmethod
    def _get_thread(conn: Any, thread_id: str) -> Thread | None:
        row = conn.execute(SELECT_THREAD_SQL, (thread_id,)).fetchone()
        return None if row is None else _thread_from_row(row)

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

    # ------------------------------------------------------------ private: include windows

    @staticmethod
    def _include_window(conn: Any, item: IncludeItem, resource_id: str | None) -> list[Message]:
        """The target and its neighbours in the target's own thread; nothing if the target is
        unknown, not in ``item.thread_id``, or (with ``resource_id``) another resource's."""
        row = conn.execute(SELECT_MESSAGE_SQL, (item.id,)).fetchone()
        if row is None:
            return []
        target = _message_from_row(row)
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
            window += [_message_from_row(r) for r in rows]
        return window


# ---------------------------------------------------------------- module-level helpers


def _check_migration_order(domain: str, migrations: Sequence[Migration]) -> None:
    versions = [m.version for m in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise ConfigurationError(
            f"migrations of domain {domain!r} must be numbered 1, 2, 3, ... in order; got {versions}"
        )


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
        params += [f"$.{key}", _dumps(value)]
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
    return total, [_message_from_row(row) for row in rows]


def _dedupe_and_sort(messages: Iterable[Message], *, descending: bool) -> list[Message]:
    unique = {message.id: message for message in messages}
    return sorted(unique.values(), key=_message_sort_key, reverse=descending)


def _apply_message_update(message: Message, update: MessageUpdate) -> Message:
    """``content.metadata`` deep-merges; every other given field replaces."""
    data = message.model_dump()
    for field in ("thread_id", "resource_id", "role", "type", "created_at"):
        if field in update.model_fields_set and getattr(update, field) is not None:
            data[field] = getattr(update, field)
    if update.content is not None:
        patch = update.content
        content = data["content"]
        content.update(patch.model_extra or {})
        if "metadata" in patch.model_fields_set:
            # An explicit null replaces, as inside any deep merge (and as Mastra does).
            existing = content.get("metadata")
            content["metadata"] = (
                None
                if patch.metadata is None
                else deep_merge(existing if isinstance(existing, dict) else {}, patch.metadata)
            )
    return parse_model(Message, data, what="message update")


def _merge_resource_sql(set_working_memory: bool, metadata: dict[str, Any] | None) -> tuple[str, list[Any]]:
    working_memory = "excluded.working_memory" if set_working_memory else "resources.working_memory"
    if metadata:
        metadata_sql, params = _json_object_set("resources.metadata", metadata)
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
    return [_message_from_row(row) for row in reversed(rows)]
