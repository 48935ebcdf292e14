"""When the vector store is down: writes still succeed, indexing is retried through the queue and
then dead-lettered, recall fails open with a visible warning, search fails loudly. A store or
embedder that does not fit the configuration is a ConfigurationError, never a silent fallback."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.local import stack
from memkit.embedders.lexical import LexicalEmbedder
from memkit.errors import ConfigurationError, RetryableError
from memkit.jobs.inprocess import InProcessQueue
from memkit.memory import Memory
from memkit.memory.search import search_memory
from memkit.storage.memory.libsql.store import LibSQLStore
from memkit.vector.libsql import LibSQLVector
from memkit.vector.pinecone import PineconeVector

from tests.memory.conftest import DIMENSION, RECALL, text_message, uid
from tests.memory.test_jobs import OneMemory, RecordingQueue


def unreachable_pinecone(dimension: int = DIMENSION) -> PineconeVector:
    """A Pinecone index host where nothing listens. Each call fails after the SDK's own
    retries (about 1-2 s), so the tests keep the number of calls small."""
    return PineconeVector(f"http://127.0.0.1:{stack.free_port()}", "local", dimension)


@pytest.fixture
def store() -> Iterator[LibSQLStore]:
    store = LibSQLStore(":memory:")
    yield store
    store.close()


@pytest.fixture
def down_memory(store: LibSQLStore) -> Iterator[tuple[Memory, InProcessQueue]]:
    """A Memory whose vector store is down, with the in-process queue (two attempts per job)."""
    memory = Memory(
        store,
        config={"lastMessages": 5, "semanticRecall": RECALL},
        vector=unreachable_pinecone(),
        embedder=LexicalEmbedder(DIMENSION),
        indexing="async",
    )
    queue = InProcessQueue(OneMemory(memory).run, max_attempts=2, base_delay=0.01)
    memory.jobs = queue
    yield memory, queue
    queue.close(drain=False)


@pytest.fixture
def down_memory_without_worker(store: LibSQLStore) -> Memory:
    """The same, with jobs only recorded: recall and search meet the outage, nothing else does."""
    return Memory(
        store,
        config={"lastMessages": 5, "semanticRecall": RECALL},
        vector=unreachable_pinecone(),
        embedder=LexicalEmbedder(DIMENSION),
        jobs=RecordingQueue(),
        indexing="async",
    )


def test_with_the_vector_store_down_saves_succeed_and_indexing_is_retried_then_dead_lettered(
    down_memory: tuple[Memory, InProcessQueue],
) -> None:
    memory, queue = down_memory
    resource_id = uid("res")
    memory.create_thread(resource_id=resource_id, thread_id="t1")

    saved = memory.save_messages([text_message("m1", "t1", resource_id, "Remember the milk", at=1)])

    assert [m.id for m in saved] == ["m1"]
    assert [m.id for m in memory.list_messages(thread_id="t1").messages] == ["m1"]
    assert queue.wait_idle(timeout=30)
    [dead] = list(queue.dead_letters)
    assert dead.job["type"] == "index_messages" and dead.job["message_ids"] == ["m1"]
    assert dead.attempts == 2
    assert "RetryableError" in dead.reason and "Pinecone" in dead.reason


def test_with_the_vector_store_down_deletes_succeed_and_the_vector_cleanup_is_dead_lettered(
    down_memory: tuple[Memory, InProcessQueue],
) -> None:
    memory, queue = down_memory
    resource_id = uid("res")
    memory.create_thread(resource_id=resource_id, thread_id="t1")
    memory.delete_thread("t1", resource_id)
    assert memory.get_thread("t1") is None
    assert queue.wait_idle(timeout=30)
    assert [(d.job["type"], d.job["thread_ids"], d.attempts) for d in queue.dead_letters] == [("delete_vectors", ["t1"], 2)]


def test_recall_fails_open_with_a_warning_when_the_vector_store_is_down(
    down_memory_without_worker: Memory, caplog: pytest.LogCaptureFixture
) -> None:
    memory = down_memory_without_worker
    resource_id = uid("res")
    memory.create_thread(resource_id=resource_id, thread_id="t1")
    memory.save_messages([text_message(f"m{n}", "t1", resource_id, f"Message {n}", at=n) for n in range(3)])

    with caplog.at_level(logging.WARNING, logger="memkit.recall"):
        result = memory.recall(thread_id="t1", resource_id=resource_id)

    # The recent window still comes back; the warning says recall was skipped and why
    assert [m.id for m in result.messages] == ["m0", "m1", "m2"]
    assert result.other_threads == []
    assert result.recall_warning is not None
    assert "semantic recall failed" in result.recall_warning and "Pinecone" in result.recall_warning
    assert result.to_wire()["recallWarning"] == result.recall_warning
    assert any("semantic recall failed" in record.getMessage() for record in caplog.records)


def test_search_fails_loudly_when_the_vector_store_is_down(down_memory_without_worker: Memory) -> None:
    with pytest.raises(RetryableError, match="memory search is unavailable.*Pinecone"):
        search_memory(down_memory_without_worker.ports, search_query="milk", resource_id=uid("res"))


def test_a_failed_inline_indexing_does_not_fail_the_save_and_goes_to_the_queue(store: LibSQLStore) -> None:
    memory = Memory(
        store,
        config={"semanticRecall": RECALL},
        vector=unreachable_pinecone(),
        embedder=LexicalEmbedder(DIMENSION),
        indexing="sync",
    )
    queue = InProcessQueue(OneMemory(memory).run, max_attempts=1)
    memory.jobs = queue
    try:
        resource_id = uid("res")
        memory.create_thread(resource_id=resource_id, thread_id="t1")
        memory.save_messages([text_message("m1", "t1", resource_id, "Sync indexing, store down", at=1)])
        assert memory.list_messages_by_id(["m1"])
        assert queue.wait_idle(timeout=30)
        assert [(d.job["type"], d.job["message_ids"]) for d in queue.dead_letters] == [("index_messages", ["m1"])]
    finally:
        queue.close()


def test_without_a_queue_a_failed_indexing_is_logged_and_the_save_succeeds(
    store: LibSQLStore, caplog: pytest.LogCaptureFixture
) -> None:
    memory = Memory(store, config={"semanticRecall": RECALL}, vector=unreachable_pinecone(), embedder=LexicalEmbedder(DIMENSION))
    resource_id = uid("res")
    memory.create_thread(resource_id=resource_id, thread_id="t1")
    with caplog.at_level(logging.ERROR, logger="memkit.recall"):
        memory.save_messages([text_message("m1", "t1", resource_id, "No queue at all", at=1)])
    assert memory.list_messages_by_id(["m1"])
    assert any("index_messages" in record.getMessage() and resource_id in record.getMessage() for record in caplog.records)


# ---------------------------------------------------------------- configuration mismatches


def test_a_pinecone_index_of_another_dimension_is_a_configuration_error(pinecone_host: str, store: LibSQLStore) -> None:
    vector = PineconeVector(pinecone_host, "local", 512)  # the stand-in's index has 256
    with pytest.raises(ConfigurationError, match="dimension 256.*MEMKIT_EMBEDDING_DIMENSION is 512"):
        vector.query(uid("res"), [0.1] * 512, 4)
    # and recall does not hide it behind a warning: a broken deployment must be loud
    memory = Memory(store, config={"semanticRecall": RECALL}, vector=vector, embedder=LexicalEmbedder(512))
    memory.create_thread(resource_id="r1", thread_id="t1")
    with pytest.raises(ConfigurationError):
        memory.recall(thread_id="t1", resource_id="r1", query="anything")


def test_a_pinecone_index_with_another_metric_is_a_configuration_error() -> None:
    with stack.start_pinecone(dimension=DIMENSION, metric="euclidean") as euclidean:
        vector = PineconeVector(euclidean.url, "local", DIMENSION)
        with pytest.raises(ConfigurationError, match="euclidean metric; memkit needs cosine"):
            vector.upsert("r1", [])


def test_a_libsql_vector_table_of_another_embedder_is_a_configuration_error_naming_the_reindex_command(tmp_path: Path) -> None:
    # Given a file whose vectors the lexical embedder made
    store = LibSQLStore(f"file:{tmp_path}/memkit.db")
    LibSQLVector(store.database, 256, embedder="lexical")
    # When a process configured with the local model opens it, it is refused with the way out
    with pytest.raises(
        ConfigurationError,
        match=r"made by lexical \(256 dimensions\), but the configured embedder \(MEMKIT_EMBEDDER\) is "
        r"local/all-MiniLM-L6-v2 \(384 dimensions\); re-index them with the new embedder: `python -m memkit reindex`",
    ):
        LibSQLVector(store.database, 384, embedder="local/all-MiniLM-L6-v2")
    # And another model of the same dimension is refused too: its scores would mean nothing
    with pytest.raises(ConfigurationError, match=r"made by lexical \(256 dimensions\).* is openai/text-embedding-3-small \(256"):
        LibSQLVector(store.database, 256, embedder="openai/text-embedding-3-small")
    store.close()


def test_an_embedder_of_the_wrong_dimension_is_a_configuration_error(store: LibSQLStore) -> None:
    vector = LibSQLVector(store.database, DIMENSION)
    memory = Memory(store, config={"semanticRecall": RECALL}, vector=vector, embedder=LexicalEmbedder(128))
    memory.create_thread(resource_id="r1", thread_id="t1")
    with pytest.raises(ConfigurationError):
        memory.recall(thread_id="t1", resource_id="r1", query="anything")
