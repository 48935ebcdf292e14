"""The memory domain's tables in the libSQL file: migrations, SQL and row mapping.

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
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from memkit.models import Message, Resource, Thread, format_ts
from memkit.storage.common import dumps
from memkit.storage.libsql.database import Migration
from memkit.storage.libsql.sql import dumps_or_none, loads_or_none, ts_or_none
from memkit.storage.memory.base import DEFAULT_TITLES

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
# ---------------------------------------------------------------- row mapping


def thread_from_row(row: Sequence[Any]) -> Thread:
    id_, resource_id, title, metadata, created_at, updated_at, last_message_at = row
    return Thread.model_validate(
        {
            "id": id_,
            "resource_id": resource_id,
            "title": title,
            "metadata": loads_or_none(metadata),
            "created_at": created_at,
            "updated_at": updated_at,
            "last_message_at": last_message_at,
        }
    )


def thread_params(thread: Thread) -> tuple[Any, ...]:
    return (
        thread.id,
        thread.resource_id,
        thread.title,
        dumps_or_none(thread.metadata),
        format_ts(thread.created_at),
        format_ts(thread.updated_at),
        ts_or_none(thread.last_message_at),
    )


def message_from_row(row: Sequence[Any]) -> Message:
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


def message_params(message: Message) -> tuple[Any, ...]:
    return (
        message.id,
        message.thread_id,
        message.resource_id,
        message.role,
        message.type,
        dumps(message.content.model_dump(mode="json")),
        format_ts(message.created_at),
    )


def resource_from_row(row: Sequence[Any]) -> Resource:
    id_, working_memory, metadata, created_at, updated_at = row
    return Resource.model_validate(
        {
            "id": id_,
            "working_memory": working_memory,
            "metadata": loads_or_none(metadata),
            "created_at": created_at,
            "updated_at": updated_at,
        }
    )


def message_sort_key(message: Message) -> tuple[datetime, str]:
    return (message.created_at, message.id)
