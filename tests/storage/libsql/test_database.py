"""The libSQL file (``storage/libsql/database.py``, through the memory store that opens it):
versioned schema migrations, persistence across reopen, transactions, and staying correct under
the server's concurrency (a thread pool plus the in-process job worker sharing one connection,
and other processes on the file). docs/libsql.md says why it works this way."""

from __future__ import annotations

import subprocess
import sys
import threading
from contextlib import closing

import pytest

import memkit.storage.memory.libsql.store as libsql_module
from memkit.errors import ConfigurationError, MemkitError, NotFoundError
from memkit.storage.factory import create_memory_storage
from memkit.storage.libsql.database import Migration
from memkit.storage.memory.libsql.schema import MEMORY_DOMAIN, MEMORY_MIGRATIONS
from memkit.storage.memory.libsql.store import LibSQLStore
from tests.storage.libsql.support import (
    CURRENT_VERSION,
    WORKERS,
    WRITES_PER_WORKER,
    count_messages,
    make_message,
    make_thread,
    run_workers,
)
from tests.storage.memory.builders import at


# ---------------------------------------------------------------- schema and migrations


def test_first_open_creates_the_schema_at_the_current_version(file_store):
    # Given a brand-new file (the fixture), then the memory tables exist at the newest version
    assert file_store.database.schema_version(MEMORY_DOMAIN) == CURRENT_VERSION
    with file_store.database.connection() as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()}
    assert {"memkit_schema", "threads", "messages", "resources"} <= tables


def test_a_file_from_an_older_version_is_migrated_on_open_and_keeps_its_data(db_url, monkeypatch):
    # Given a file written by the current memkit, holding a thread and a message
    with closing(LibSQLStore(db_url)) as old:
        old.save_thread(make_thread())
        old.save_messages([make_message("m1")])

    # When a newer memkit, with one more migration, opens it
    upgrade = Migration(CURRENT_VERSION + 1, (
        "ALTER TABLE threads ADD COLUMN archived_at TEXT",
        "CREATE INDEX threads_by_archived ON threads (archived_at)",
    ))
    monkeypatch.setattr(libsql_module, "MEMORY_MIGRATIONS", (*MEMORY_MIGRATIONS, upgrade))
    with closing(LibSQLStore(db_url)) as new:
        # Then the file is at the new version, the new column exists and the data survived
        assert new.database.schema_version(MEMORY_DOMAIN) == CURRENT_VERSION + 1
        with new.database.connection() as conn:
            columns = {row[1] for row in conn.execute("PRAGMA table_info(threads)").fetchall()}
        assert "archived_at" in columns
        assert new.get_thread("thread-1").title == make_thread().title
        assert [m.id for m in new.list_messages_by_id(["m1"])] == ["m1"]


def test_a_failing_migration_leaves_the_file_at_the_previous_version(db_url, monkeypatch):
    with closing(LibSQLStore(db_url)):
        pass
    broken = Migration(CURRENT_VERSION + 1, (
        "CREATE TABLE half_done (id TEXT)",
        "ALTER TABLE no_such_table ADD COLUMN x TEXT",
    ))
    monkeypatch.setattr(libsql_module, "MEMORY_MIGRATIONS", (*MEMORY_MIGRATIONS, broken))

    with pytest.raises(ConfigurationError, match="no_such_table"):
        LibSQLStore(db_url)

    monkeypatch.undo()
    with closing(LibSQLStore(db_url)) as store:
        assert store.database.schema_version(MEMORY_DOMAIN) == CURRENT_VERSION
        with store.database.connection() as conn:
            half_done = conn.execute("SELECT name FROM sqlite_master WHERE name = 'half_done'").fetchall()
        assert half_done == []


def test_a_file_newer_than_this_memkit_is_refused(db_url):
    with closing(LibSQLStore(db_url)) as store, store.database.transaction() as conn:
        conn.execute("UPDATE memkit_schema SET version = 99 WHERE domain = ?", (MEMORY_DOMAIN,))

    with pytest.raises(ConfigurationError, match="schema version 99"):
        LibSQLStore(db_url)


def test_other_domains_register_their_own_migrations_on_the_same_file(file_store):
    workflows = (Migration(1, ("CREATE TABLE workflow_snapshots (run_id TEXT PRIMARY KEY, snapshot TEXT)",)),)

    assert file_store.database.migrate("workflows", workflows) == 1
    assert file_store.database.migrate("workflows", workflows) == 1  # a second run is a no-op
    assert file_store.database.schema_version("workflows") == 1
    assert file_store.database.schema_version(MEMORY_DOMAIN) == CURRENT_VERSION
    with file_store.database.transaction() as conn:
        conn.execute("INSERT INTO workflow_snapshots VALUES (?, ?)", ("run-1", "{}"))


def test_migrations_out_of_order_are_a_configuration_error(file_store):
    with pytest.raises(ConfigurationError, match="numbered"):
        file_store.database.migrate("scores", [Migration(2, ("SELECT 1",)), Migration(1, ("SELECT 1",))])


# ---------------------------------------------------------------- persistence and URLs


def test_everything_survives_close_and_reopen(db_url):
    with closing(LibSQLStore(db_url)) as store:
        thread = store.save_thread(make_thread())
        saved = store.save_messages([make_message("m1", ms=1), make_message("m2", ms=2)])
        resource = store.update_resource("res-1", working_memory="# User\n- likes 🎿", metadata={"plan": {"tier": 2}})
        thread = store.get_thread(thread.id)

    with closing(LibSQLStore(db_url)) as reopened:
        assert reopened.get_thread("thread-1").to_wire() == thread.to_wire()
        assert [m.to_wire() for m in reopened.list_messages_by_id(["m1", "m2"])] == [m.to_wire() for m in saved]
        assert reopened.get_resource("res-1").to_wire() == resource.to_wire()


def test_file_databases_use_wal(file_store):
    with file_store.database.connection() as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.parametrize("url", ["file:{path}", "libsql:{path}", "file://{path}"])
def test_file_urls_open_the_named_file(tmp_path, url):
    path = tmp_path / "nested" / "dir" / "store.db"
    with closing(create_memory_storage(url.format(path=path))) as store:
        store.save_thread(make_thread())
    assert path.exists()


def test_a_remote_libsql_url_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match="remote"):
        LibSQLStore("libsql://db.example.turso.io")


def test_a_closed_store_refuses_calls_and_closing_twice_is_fine(db_url):
    store = LibSQLStore(db_url)
    store.close()
    store.close()
    with pytest.raises(MemkitError, match="closed"):
        store.get_thread("thread-1")


# ---------------------------------------------------------------- transactions


def test_a_failing_transaction_writes_nothing(file_store):
    file_store.save_thread(make_thread())

    with pytest.raises(RuntimeError, match="boom"):
        with file_store.database.transaction():
            file_store.save_messages([make_message("m1")])
            raise RuntimeError("boom")

    assert count_messages(file_store, "thread-1") == 0


def test_a_failed_nested_transaction_rolls_back_only_its_own_work(file_store):
    file_store.save_thread(make_thread())

    with file_store.database.transaction():
        file_store.save_messages([make_message("m1")])
        with pytest.raises(NotFoundError):
            # save_messages opens a nested transaction (a savepoint) and fails inside it
            file_store.save_messages([make_message("m2"), make_message("m3", thread_id="missing-thread")])

    assert [m.id for m in file_store.list_messages_by_id(["m1", "m2", "m3"])] == ["m1"]


# ---------------------------------------------------------------- concurrency


def test_concurrent_saves_from_many_threads_lose_nothing(file_store):
    # Given threads of the API's pool all writing to one shared thread at once
    file_store.save_thread(make_thread())
    start = threading.Barrier(WORKERS)

    def save_many(worker: int) -> None:
        start.wait()
        for index in range(WRITES_PER_WORKER):
            file_store.save_messages([make_message(f"w{worker}-{index:03d}", ms=worker * 1000 + index)])

    run_workers(save_many)

    # Then every message is stored and the thread's lastMessageAt is the newest one
    assert count_messages(file_store, "thread-1") == WORKERS * WRITES_PER_WORKER
    newest = at((WORKERS - 1) * 1000 + WRITES_PER_WORKER - 1)
    assert file_store.get_thread("thread-1").last_message_at == newest


def test_two_stores_on_one_file_in_one_process_share_a_connection(db_url):
    # The API server and the job worker may each open the file; two connections in one process
    # would block each other until busy_timeout ("database is locked").
    with closing(LibSQLStore(db_url)) as api_store, closing(LibSQLStore(db_url)) as worker_store:
        api_store.save_thread(make_thread())
        stores = [api_store, worker_store] * (WORKERS // 2)
        start = threading.Barrier(WORKERS)

        def save_many(worker: int) -> None:
            start.wait()
            for index in range(WRITES_PER_WORKER):
                stores[worker].save_messages([make_message(f"w{worker}-{index:03d}", ms=index)])

        run_workers(save_many)
        assert count_messages(worker_store, "thread-1") == WORKERS * WRITES_PER_WORKER


def test_other_processes_writing_the_same_file_lose_nothing(db_url, file_store):
    # Given a second process (e.g. a CLI or another server) on the same file, writing at the same time
    file_store.save_thread(make_thread())
    file_store.save_thread(make_thread("thread-2"))
    script = (
        "import sys\n"
        "from memkit.storage.memory.libsql.store import LibSQLStore\n"
        "from memkit.models import Message\n"
        "store = LibSQLStore(sys.argv[1])\n"
        f"for i in range({WRITES_PER_WORKER}):\n"
        "    store.save_messages([Message(id=f'p-{i}', thread_id='thread-2', resource_id='res-1', role='user',\n"
        "                                 created_at='2024-01-01T00:00:00.000Z', content='hi')])\n"
        "    store.update_resource('res-1', metadata={f'p_{i}': i})\n"
    )
    other = subprocess.Popen([sys.executable, "-c", script, db_url])
    for index in range(WRITES_PER_WORKER):
        file_store.save_messages([make_message(f"local-{index}", ms=index)])
        file_store.update_resource("res-1", metadata={f"local_{index}": index})
    assert other.wait(timeout=60) == 0

    assert count_messages(file_store, "thread-1") == WRITES_PER_WORKER
    assert count_messages(file_store, "thread-2") == WRITES_PER_WORKER
    assert len(file_store.get_resource("res-1").metadata) == 2 * WRITES_PER_WORKER
