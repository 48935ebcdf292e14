"""What the libSQL tests share: a store on a file of the test's own, threads and messages to put
in it, and running writers in parallel threads."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from memkit.models import ListMessagesInput, Message, Thread
from memkit.storage.memory.libsql.schema import MEMORY_MIGRATIONS
from memkit.storage.memory.libsql.store import LibSQLStore
from tests.storage.memory.builders import at

CURRENT_VERSION = MEMORY_MIGRATIONS[-1].version


WORKERS = 4


WRITES_PER_WORKER = 100


def make_thread(thread_id: str = "thread-1", resource_id: str = "res-1") -> Thread:
    return Thread(id=thread_id, resource_id=resource_id, title="Trip 🏔️ \"plans\"", metadata={"topic": "ski"},
                  created_at=at(0), updated_at=at(0))


def make_message(message_id: str, thread_id: str = "thread-1", ms: int = 0, resource_id: str = "res-1") -> Message:
    return Message(id=message_id, thread_id=thread_id, resource_id=resource_id, role="user", created_at=at(ms),
                   content={"format": 2, "parts": [{"type": "text", "text": f"hello from {message_id}"}]})


def count_messages(store: LibSQLStore, thread_id: str) -> int:
    return store.list_messages(ListMessagesInput.build(thread_id=thread_id, per_page=0)).total


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"file:{tmp_path / 'memkit.db'}"


@pytest.fixture
def file_store(db_url: str) -> Iterator[LibSQLStore]:
    store = LibSQLStore(db_url)
    yield store
    store.close()


def run_workers(target) -> None:
    errors: list[BaseException] = []

    def guarded(worker: int) -> None:
        try:
            target(worker)
        except BaseException as exc:  # collected and re-raised in the test's thread below
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(worker,)) for worker in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a worker hung"
    if errors:
        raise errors[0]
