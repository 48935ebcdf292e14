"""Re-index a libSQL vector table with another embedder (``python -m memkit reindex``).

A libSQL vector table holds the vectors of one embedder, at one dimension (recorded in
``memkit_vector_settings``; ``LibSQLVector`` refuses any other). Changing ``MEMKIT_EMBEDDER``
therefore means re-embedding what the table holds. This module does it:

1. The messages to embed are the ones the table has vectors for (each ``(resource, message)``
   once): the same set, so a message that no agent indexed stays unindexed. Their current text
   is read through the memory stores (every store the agents use); a message deleted since is
   skipped, and its old vectors go with the old table.
2. They are embedded in steps of ``MESSAGES_PER_STEP`` into a staging table of the new
   dimension. Each step's vectors and the position reached are committed in one transaction,
   so an interrupted run (Ctrl-C, a crash) resumes where it stopped; a run for another embedder
   starts the staging over.
3. Once every message is done, one transaction swaps the staging table in for the old one,
   builds its indexes (the DiskANN index is built here, over all rows at once) and records the
   new embedder and dimension. Until then the old table is untouched, and if this step is
   interrupted, the next run only repeats it.

The table must not be written meanwhile: stop the server (``make run``) first. (One started with
the new embedder refuses to open the old table anyway; one still running with the old embedder
would index new messages into the table being replaced, and they would be lost.)
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from memkit.models import format_ts
from memkit.memory.chunking import chunk_text, indexable_text
from memkit.vector.base import vector_id
from memkit.vector.libsql import (
    ANN_INDEX,
    SELECT_SETTINGS_SQL,
    VECTOR_DOMAIN,
    VECTOR_INDEX_SQL,
    VECTOR_TABLE,
    create_vector_table_sql,
    vector_migrations,
)

if TYPE_CHECKING:
    from memkit.embedders.base import Embedder
    from memkit.storage.libsql.database import LibSQLDatabase
    from memkit.storage.memory.base import MemoryStorage

STAGING_TABLE = "memkit_vectors_reindex"
STATE_TABLE = "memkit_vector_reindex_state"
# Messages per step: what an interruption can lose, and what one embedding call gets (the
# embedder batches further by length).
MESSAGES_PER_STEP = 128

CREATE_STATE_SQL = f"""CREATE TABLE {STATE_TABLE} (
    embedder        TEXT NOT NULL,
    dimension       INTEGER NOT NULL,
    cursor_resource TEXT NOT NULL,
    cursor_message  TEXT NOT NULL,
    done            INTEGER NOT NULL
)"""
SELECT_STATE_SQL = f"SELECT embedder, dimension, cursor_resource, cursor_message, done FROM {STATE_TABLE}"
# Keys are compared as (resource, message) pairs; '' sorts before every id (ids are never empty).
SELECT_KEYS_SQL = (
    f"SELECT DISTINCT resource_id, message_id FROM {VECTOR_TABLE} "
    "WHERE (resource_id, message_id) > (?, ?) ORDER BY resource_id, message_id"
)
COUNT_KEYS_SQL = f"SELECT count(*) FROM (SELECT DISTINCT resource_id, message_id FROM {VECTOR_TABLE})"
INSERT_STAGED_SQL = f"""INSERT OR REPLACE INTO {STAGING_TABLE}
    (id, resource_id, thread_id, message_id, chunk, role, created_at, embedding)
    VALUES (?, ?, ?, ?, ?, ?, ?, vector32(?))"""
ADVANCE_SQL = f"UPDATE {STATE_TABLE} SET cursor_resource = ?, cursor_message = ?, done = ?"

# progress(phase, done, total): phase "embedding" (messages) or "indexing" (0 of 1, then 1 of 1).
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class ReindexReport:
    embedder: str
    dimension: int
    previous: tuple[str | None, int]  # the table's embedder and dimension before
    messages: int  # messages embedded by this run
    skipped: int  # messages gone from storage, or without text any more
    chunks: int
    resumed_at: int  # messages done by earlier, interrupted runs
    seconds: float
    nothing_to_do: bool = False


def reindex(
    database: "LibSQLDatabase",
    storages: Sequence["MemoryStorage"],
    embedder: "Embedder",
    *,
    embedder_name: str,
    progress: Progress | None = None,
) -> ReindexReport:
    """Re-embed the vectors in ``database``'s libSQL file with ``embedder`` (module docstring).
    ``storages`` hold the messages; ``embedder_name`` is what the table records."""
    started = time.perf_counter()
    dimension = embedder.dimension
    report = progress or (lambda phase, done, total: None)
    # Creates the tables on a file that has none (for the new embedder; nothing to embed then).
    database.migrate(VECTOR_DOMAIN, vector_migrations(dimension))
    with database.transaction() as conn:
        stored_dimension, stored_embedder = conn.execute(SELECT_SETTINGS_SQL).fetchone()
        state = _state(conn)
        if state is not None and (state[0], state[1]) != (embedder_name, dimension):
            # An interrupted run towards another embedder: its work is of no use to this one.
            _drop_staging(conn)
            state = None
        if state is None and (stored_embedder, stored_dimension) == (embedder_name, dimension):
            return ReindexReport(
                embedder_name, dimension, (stored_embedder, stored_dimension), 0, 0, 0, 0,
                time.perf_counter() - started, nothing_to_do=True,
            )
        if state is None:
            conn.execute(CREATE_STATE_SQL)
            conn.execute(create_vector_table_sql(STAGING_TABLE, dimension))
            conn.execute(f"INSERT INTO {STATE_TABLE} VALUES (?, ?, '', '', 0)", (embedder_name, dimension))
            state = (embedder_name, dimension, "", "", 0)
        total = conn.execute(COUNT_KEYS_SQL).fetchone()[0]
        keys = conn.execute(SELECT_KEYS_SQL, (state[2], state[3])).fetchall()
    resumed_at = done = int(state[4])
    pack = struct.Struct(f"<{dimension}f").pack
    embedded = skipped = chunks = 0
    report("embedding", done, total)
    for start in range(0, len(keys), MESSAGES_PER_STEP):
        step = [(str(resource), str(message)) for resource, message in keys[start : start + MESSAGES_PER_STEP]]
        rows, found = _embed_step(step, storages, embedder, pack)
        with database.transaction() as conn:
            conn.executemany(INSERT_STAGED_SQL, rows)
            done += len(step)
            conn.execute(ADVANCE_SQL, (*step[-1], done))
        embedded += found
        skipped += len(step) - found
        chunks += len(rows)
        report("embedding", done, total)
    report("indexing", 0, 1)
    with database.transaction() as conn:
        conn.execute(f"DROP INDEX IF EXISTS {ANN_INDEX}")
        conn.execute(f"DROP TABLE {VECTOR_TABLE}")
        conn.execute(f"ALTER TABLE {STAGING_TABLE} RENAME TO {VECTOR_TABLE}")
        for statement in VECTOR_INDEX_SQL:
            conn.execute(statement)
        conn.execute("UPDATE memkit_vector_settings SET dimension = ?, embedder = ?", (dimension, embedder_name))
        conn.execute(f"DROP TABLE {STATE_TABLE}")
    report("indexing", 1, 1)
    return ReindexReport(
        embedder_name, dimension, (stored_embedder, stored_dimension), embedded, skipped, chunks,
        resumed_at, time.perf_counter() - started,
    )


def _state(conn: Any) -> tuple[Any, ...] | None:
    """The unfinished run's (embedder, dimension, cursor resource, cursor message, done), if any."""
    if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (STATE_TABLE,)).fetchone() is None:
        return None
    return conn.execute(SELECT_STATE_SQL).fetchone()


def _drop_staging(conn: Any) -> None:
    conn.execute(f"DROP TABLE IF EXISTS {STAGING_TABLE}")
    conn.execute(f"DROP TABLE IF EXISTS {STATE_TABLE}")


def _embed_step(
    step: list[tuple[str, str]], storages: Sequence["MemoryStorage"], embedder: "Embedder", pack: Callable[..., bytes]
) -> tuple[list[tuple[Any, ...]], int]:
    """The staged rows for one step's messages, and how many of them were found with text."""
    wanted = {message_id: resource_id for resource_id, message_id in step}
    messages = {}
    for storage in storages:
        missing = [message_id for message_id in wanted if message_id not in messages]
        if not missing:
            break
        for message in storage.list_messages_by_id(missing):
            # A message moved to another resource since is indexed there, not under this key.
            if message.resource_id == wanted[message.id]:
                messages[message.id] = message
    pieces = [
        (message, number, text)
        for message in messages.values()
        for number, text in enumerate(chunk_text(indexable_text(message)))
    ]
    vectors = embedder.embed([text for _, _, text in pieces]) if pieces else []
    rows = [
        (
            vector_id(message.id, number),
            message.resource_id,
            message.thread_id,
            message.id,
            number,
            message.role,
            format_ts(message.created_at),
            pack(*values),
        )
        for (message, number, _), values in zip(pieces, vectors, strict=True)
    ]
    return rows, len({message.id for message, _, _ in pieces})
