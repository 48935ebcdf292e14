"""Vectors for semantic recall in the same libSQL file as the embedded store.

Selected by ``MEMKIT_VECTOR_URL=file:<path>`` (or ``:memory:``), normally the same file as
``MEMKIT_STORAGE_URL``. The table lives beside the memory tables and uses the file's one locked
connection (``LibSQLDatabase.connection()``/``transaction()``, ``storage/libsql/database.py``), so
the two never fight over the file's write lock. Its schema is the ``vectors`` domain of the
file's migrations.

Layout: ``memkit_vectors`` has one row per message chunk, ``id = <messageId>#<chunk>``, the
resource and thread as columns (the partition Pinecone gets from namespaces and metadata),
and the embedding in libSQL's native ``F32_BLOB(dimension)`` type, with a DiskANN index
(``libsql_vector_idx``, cosine). ``memkit_vector_settings`` records the dimension and the
embedder that made the vectors; a process configured with another is refused, and
``memkit.vector.libsql_reindex`` (``python -m memkit reindex``) moves the table to it.

Querying. ``vector_top_k`` searches the ANN index of the whole table, so a resource's nearest
neighbours have to be filtered out of the global ones, over-fetching until enough are found.
An exact scan (``vector_distance_cos`` over the resource's rows, found through the
``(resource_id, thread_id)`` index) needs no filtering and is exact. Measured on this machine
(256 dimensions, local-embedder vectors, one table of 18,000 rows across four users; median of
one query):

=================  ===========  ==========================================
rows of the user   exact scan   ANN (``vector_top_k`` + filter)
=================  ===========  ==========================================
1,000              0.8 ms       13 ms (two over-fetch rounds; 31/40 of the exact top-4)
2,000              2.1 ms       5.7 ms
5,000              5.9 ms       3.4 ms
10,000             11.6 ms      3.5 ms (40/40 of the exact top-4)
=================  ===========  ==========================================

So a query scans exactly when the resource (or thread) holds at most ``exact_scan_limit``
(5,000) rows — most users, with exact results — and uses the ANN index, with over-fetching
that grows 4x per round, beyond that.

Index tuning. With libSQL's default ANN settings an insert cost ~5 ms at 3,000 rows and ~11 ms
at 10,000 (the graph update dominates). ``max_neighbors=24`` with ``float8``-compressed
neighbours brings that to ~1 ms on random vectors (~97% recall@10 against exact) and ~3 ms on
local-embedder vectors at 10,000 rows: bulk indexing runs at ~300 messages/s (``make bench``),
one agent turn (two messages) costs a few milliseconds.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from typing import Any

from memkit.errors import ConfigurationError
from memkit.storage.libsql.database import LibSQLDatabase, Migration
from memkit.storage.libsql.sql import id_list
from memkit.vector.base import VectorHit, VectorRecord, VectorStore

VECTOR_DOMAIN = "vectors"
ANN_INDEX = "memkit_vectors_ann"
ANN_OPTIONS = "'metric=cosine', 'max_neighbors=24', 'compress_neighbors=float8'"
# Resources (or threads) up to this many chunks are searched exactly; see the module docstring.
EXACT_SCAN_LIMIT = 5_000
# The ANN path first asks for this many global neighbours per wanted hit, then 4x more each
# round, until the resource has enough or the whole table was covered.
ANN_FIRST_OVERFETCH = 8
ANN_GROWTH = 4


VECTOR_TABLE = "memkit_vectors"
# The table's indexes; a re-index (memkit.vector.libsql_reindex) builds them again on the table
# it swaps in.
VECTOR_INDEX_SQL = (
    f"CREATE INDEX memkit_vectors_by_resource ON {VECTOR_TABLE} (resource_id, thread_id)",
    f"CREATE INDEX memkit_vectors_by_message ON {VECTOR_TABLE} (message_id, chunk)",
    f"CREATE INDEX {ANN_INDEX} ON {VECTOR_TABLE} (libsql_vector_idx(embedding, {ANN_OPTIONS}))",
)


def create_vector_table_sql(table: str, dimension: int) -> str:
    return f"""CREATE TABLE {table} (
                    id          TEXT PRIMARY KEY,
                    resource_id TEXT NOT NULL,
                    thread_id   TEXT NOT NULL,
                    message_id  TEXT NOT NULL,
                    chunk       INTEGER NOT NULL,
                    role        TEXT NOT NULL,
                    created_at  TEXT NOT NULL,
                    embedding   F32_BLOB({int(dimension)}) NOT NULL
                )"""


def vector_migrations(dimension: int) -> tuple[Migration, ...]:
    """The ``vectors`` domain's schema. The dimension is part of the column type, so it is fixed
    when the table is created and recorded in ``memkit_vector_settings``, with the embedder's
    name, to be checked by every process that opens the file."""
    return (
        Migration(
            1,
            (
                create_vector_table_sql(VECTOR_TABLE, dimension),
                *VECTOR_INDEX_SQL,
                "CREATE TABLE memkit_vector_settings (dimension INTEGER NOT NULL)",
                f"INSERT INTO memkit_vector_settings (dimension) VALUES ({int(dimension)})",
            ),
        ),
        # Which embedder made the vectors: two models of one dimension (lexical and Titan at
        # 256) must not share an index either. Tables from before this step have NULL, and
        # the first embedder of their dimension to open them is recorded.
        Migration(2, ("ALTER TABLE memkit_vector_settings ADD COLUMN embedder TEXT",)),
    )


REINDEX_COMMAND = "python -m memkit reindex"


SELECT_SETTINGS_SQL = "SELECT dimension, embedder FROM memkit_vector_settings"
CLAIM_EMBEDDER_SQL = "UPDATE memkit_vector_settings SET embedder = ? WHERE embedder IS NULL"
UPSERT_VECTOR_SQL = """
INSERT INTO memkit_vectors (id, resource_id, thread_id, message_id, chunk, role, created_at, embedding)
VALUES (?, ?, ?, ?, ?, ?, ?, vector32(?))
ON CONFLICT(id) DO UPDATE SET
    resource_id = excluded.resource_id,
    thread_id = excluded.thread_id,
    role = excluded.role,
    created_at = excluded.created_at,
    embedding = excluded.embedding"""
TRIM_MESSAGE_SQL = "DELETE FROM memkit_vectors WHERE resource_id = ? AND message_id = ? AND chunk >= ?"
DELETE_MESSAGES_SQL = (
    "DELETE FROM memkit_vectors WHERE resource_id = ? AND message_id IN (SELECT value FROM json_each(?))"
)
DELETE_THREADS_SQL = (
    "DELETE FROM memkit_vectors WHERE resource_id = ? AND thread_id IN (SELECT value FROM json_each(?))"
)
DELETE_RESOURCE_SQL = "DELETE FROM memkit_vectors WHERE resource_id = ?"
HIT_COLUMNS = "v.message_id, v.thread_id, v.chunk, v.role, v.created_at"
EXACT_QUERY_SQL = (
    f"SELECT {HIT_COLUMNS}, vector_distance_cos(v.embedding, vector32(?)) AS distance "
    "FROM memkit_vectors AS v WHERE {where} ORDER BY distance LIMIT ?"
)
ANN_QUERY_SQL = (
    f"SELECT {HIT_COLUMNS}, vector_distance_cos(v.embedding, vector32(?)) AS distance "
    f"FROM vector_top_k('{ANN_INDEX}', vector32(?), ?) AS t JOIN memkit_vectors AS v ON v.rowid = t.id "
    "WHERE {where} ORDER BY distance LIMIT ?"
)
COUNT_SQL = "SELECT count(*) FROM memkit_vectors AS v WHERE {where}"
COUNT_ALL_SQL = "SELECT count(*) FROM memkit_vectors"


class LibSQLVector(VectorStore):
    name = "libsql"

    def __init__(
        self,
        database: LibSQLDatabase,
        dimension: int,
        *,
        embedder: str | None = None,
        exact_scan_limit: int = EXACT_SCAN_LIMIT,
        owns_database: bool = False,
    ):
        """``embedder`` names the embedder whose vectors this process writes and queries with
        (``memkit.embedders.factory.embedder_name``); the table's must be the same. None skips
        that check (tests and tools handing in vectors of their own)."""
        self.database = database
        self._owns_database = owns_database
        self._dimension = dimension
        self._pack = struct.Struct(f"<{dimension}f").pack
        self.exact_scan_limit = exact_scan_limit
        database.migrate(VECTOR_DOMAIN, vector_migrations(dimension))
        with database.connection() as conn:
            stored_dimension, stored_embedder = conn.execute(SELECT_SETTINGS_SQL).fetchone()
        if stored_dimension == dimension and stored_embedder is None and embedder is not None:
            with database.transaction() as conn:
                conn.execute(CLAIM_EMBEDDER_SQL, (embedder,))
                # Another process may have claimed it first: what the table says is what counts.
                stored_dimension, stored_embedder = conn.execute(SELECT_SETTINGS_SQL).fetchone()
        check_index(database.path, stored_dimension, stored_embedder, dimension, embedder)
        self.embedder = stored_embedder

    def dimension(self) -> int:
        return self._dimension

    # ------------------------------------------------------------ writes

    def upsert(self, resource_id: str, records: Sequence[VectorRecord]) -> None:
        if not records:
            return
        rows = [
            (
                record.id,
                resource_id,
                record.thread_id,
                record.message_id,
                record.chunk,
                record.role,
                record.created_at,
                self._blob(record.values),
            )
            for record in records
        ]
        with self.database.transaction() as conn:
            conn.executemany(UPSERT_VECTOR_SQL, rows)

    def trim_messages(self, resource_id: str, chunk_counts: Mapping[str, int]) -> None:
        if not chunk_counts:
            return
        rows = [(resource_id, message_id, count) for message_id, count in chunk_counts.items()]
        with self.database.transaction() as conn:
            conn.executemany(TRIM_MESSAGE_SQL, rows)

    def delete_messages(self, resource_id: str, message_ids: Sequence[str]) -> None:
        if message_ids:
            with self.database.transaction() as conn:
                conn.execute(DELETE_MESSAGES_SQL, (resource_id, id_list(message_ids)))

    def delete_threads(self, resource_id: str, thread_ids: Sequence[str]) -> None:
        if thread_ids:
            with self.database.transaction() as conn:
                conn.execute(DELETE_THREADS_SQL, (resource_id, id_list(thread_ids)))

    def delete_resource(self, resource_id: str) -> None:
        with self.database.transaction() as conn:
            conn.execute(DELETE_RESOURCE_SQL, (resource_id,))

    # ------------------------------------------------------------ reads

    def _query_chunks(
        self, resource_id: str, vector: Sequence[float], limit: int, thread_id: str | None
    ) -> list[VectorHit]:
        where = "v.resource_id = ?" + (" AND v.thread_id = ?" if thread_id is not None else "")
        params: list[Any] = [resource_id] + ([thread_id] if thread_id is not None else [])
        blob = self._blob(vector)
        with self.database.connection() as conn:
            rows_in_scope = conn.execute(COUNT_SQL.format(where=where), params).fetchone()[0]
            if rows_in_scope == 0:
                return []
            if rows_in_scope <= self.exact_scan_limit:
                rows = conn.execute(EXACT_QUERY_SQL.format(where=where), (blob, *params, limit)).fetchall()
            else:
                rows = self._ann_rows(conn, where, params, blob, limit)
        return [_hit(row) for row in rows]

    def count(self, resource_id: str | None = None) -> int:
        """How many chunks are stored (for one resource); for tests and the benchmark."""
        with self.database.connection() as conn:
            if resource_id is None:
                return conn.execute(COUNT_ALL_SQL).fetchone()[0]
            return conn.execute(COUNT_SQL.format(where="v.resource_id = ?"), (resource_id,)).fetchone()[0]

    def _ann_rows(self, conn: Any, where: str, params: list[Any], blob: bytes, limit: int) -> list[Any]:
        total = conn.execute(COUNT_ALL_SQL).fetchone()[0]
        fetch = limit * ANN_FIRST_OVERFETCH
        sql = ANN_QUERY_SQL.format(where=where)
        while True:
            rows = conn.execute(sql, (blob, blob, min(fetch, total), *params, limit)).fetchall()
            if len(rows) >= limit or fetch >= total:
                return rows
            fetch *= ANN_GROWTH

    def _blob(self, values: Sequence[float]) -> bytes:
        if len(values) != self._dimension:
            raise ConfigurationError(
                f"a vector of dimension {len(values)} does not fit the libSQL vector table of dimension "
                f"{self._dimension}"
            )
        return self._pack(*values)

    def close(self) -> None:
        # A database handed in is shared with the memory domain, and its opener closes it.
        if self._owns_database:
            self.database.close()


def check_index(
    path: str, stored_dimension: int, stored_embedder: str | None, dimension: int, embedder: str | None
) -> None:
    """Refuse an index made by another embedder, or of another dimension, naming the command
    that rebuilds it: mixing vectors of two models would make every score meaningless."""
    if stored_dimension == dimension and (embedder is None or stored_embedder in (None, embedder)):
        return
    made_by = stored_embedder or "an embedder it did not record"
    configured = f"the configured embedder (MEMKIT_EMBEDDER) is {embedder}" if embedder else "this process uses another"
    raise ConfigurationError(
        f"the vectors in {path} were made by {made_by} ({stored_dimension} dimensions), but "
        f"{configured} ({dimension} dimensions); re-index them with the new embedder: "
        f"`{REINDEX_COMMAND}` (or `make reindex`), or set MEMKIT_EMBEDDER back"
    )


def _hit(row: Sequence[Any]) -> VectorHit:
    message_id, thread_id, chunk, role, created_at, distance = row
    return VectorHit(
        message_id=message_id,
        thread_id=thread_id,
        chunk=int(chunk),
        # vector_distance_cos is 1 - cosine similarity; hits carry the similarity, like Pinecone.
        score=1.0 - float(distance),
        role=role,
        created_at=created_at,
    )
