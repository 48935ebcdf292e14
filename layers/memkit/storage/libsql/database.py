"""One libSQL file, shared by every domain that keeps its tables there (memory, workflows,
scores, observability) and by the libSQL vector store: its connection, transactions and
per-domain migrations. ``docs/libsql.md`` describes the layout and why it works this way.

Concurrency. libSQL connections on one file from several threads of one process fail with
``database is locked`` even in WAL mode: the driver holds the GIL while SQLite waits on a busy
lock, so two connections in one process wait on each other until ``busy_timeout`` expires. A
process therefore holds ONE connection per file, shared by all threads and by every
``LibSQLDatabase`` opened on that file, guarded by a re-entrant lock. Writes run in
``BEGIN IMMEDIATE`` ... ``COMMIT`` (the write lock is taken up front, so two writers never
deadlock upgrading a read lock); anything that fails inside rolls back and re-raises. File
databases use WAL plus ``busy_timeout``, so another process on the same file (a second server,
a CLI) waits for the lock instead of failing at once; if it still times out the caller gets
``RetryableError``.

Schema. Each *domain* owns an ordered list of ``Migration``s; the ``memkit_schema`` table
records the version each domain reached, and ``migrate(domain, migrations)`` applies whatever is
pending, so a module that adds tables to the file ships its own list and calls ``migrate`` when
it opens. A released migration is never edited: change the schema by appending a new version.

``connection()``, ``snapshot()`` and ``transaction()`` hand out the locked connection.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memkit.errors import ConfigurationError, MemkitError, RetryableError
from memkit.models import format_ts, utc_now

# How long a writer waits for another process's write lock before giving up.
BUSY_TIMEOUT_MS = 5000


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


def resolve_path(url: str) -> str:
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


class _SharedConnection:
    """One connection to one database plus the re-entrant lock that serialises its use.

    Shared by every ``LibSQLDatabase`` of the process that opens the same file: the driver holds
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
        import libsql  # the driver: only a process that opens a file needs it

        # isolation_level=None: no implicit transactions; every write is an explicit
        # BEGIN IMMEDIATE. _check_same_thread=False: the lock, not the driver, serialises use.
        conn = libsql.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000, _check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if path != ":memory:":
            conn.execute("PRAGMA journal_mode = WAL")
            # Safe with WAL (no corruption on power loss; at worst the last commits are lost).
            conn.execute("PRAGMA synchronous = NORMAL")
        return conn


_open_files: dict[str, _SharedConnection] = {}
_open_files_lock = threading.Lock()


def _acquire_database(path: str) -> _SharedConnection:
    if path == ":memory:":
        database = _SharedConnection(path)  # every :memory: connection is its own database
        database.users = 1
        return database
    key = os.path.realpath(path)
    with _open_files_lock:
        database = _open_files.get(key)
        if database is None:
            database = _open_files[key] = _SharedConnection(path)
        database.users += 1
        return database


def _release_database(database: _SharedConnection) -> None:
    with _open_files_lock:
        database.users -= 1
        if database.users > 0:
            return
        if database.path != ":memory:":
            del _open_files[os.path.realpath(database.path)]
    with database.lock:
        database.conn.close()


class LibSQLDatabase:
    """A handle on one libSQL file (or ``:memory:``), safe to share across threads. Handles on
    the same file within a process share one connection; ``close`` releases this handle's."""

    def __init__(self, url: str):
        self.url = url
        self.path = resolve_path(url)
        self._shared: _SharedConnection | None = _acquire_database(self.path)

    @contextmanager
    def connection(self) -> Iterator[Any]:
        """The file's connection, held under its lock for the ``with`` block.

        Reads may run directly; wrap writes in ``transaction()`` instead of issuing BEGIN
        yourself; never close it. The lock is re-entrant, so calling an adapter's methods inside
        the block is fine.
        """
        database = self._shared
        if database is None:
            raise MemkitError(f"the libSQL database {self.url!r} is closed")
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
        database = self._shared
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
        database, self._shared = self._shared, None
        if database is not None:
            _release_database(database)

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

    def schema_version(self, domain: str) -> int:
        with self.connection() as conn:
            return self._schema_version(conn, domain)

    @staticmethod
    def _schema_version(conn: Any, domain: str) -> int:
        row = conn.execute(SELECT_SCHEMA_VERSION_SQL, (domain,)).fetchone()
        return 0 if row is None else int(row[0])


def open_database(url: str) -> LibSQLDatabase:
    """A handle on the file ``url`` names (``file:<path>``, ``libsql:<path>``, ``:memory:``)."""
    return LibSQLDatabase(url)


def _check_migration_order(domain: str, migrations: Sequence[Migration]) -> None:
    versions = [m.version for m in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise ConfigurationError(
            f"migrations of domain {domain!r} must be numbered 1, 2, 3, ... in order; got {versions}"
        )
