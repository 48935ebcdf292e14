"""Moving a libSQL vector table from one embedder to another: the table records its embedder,
refuses another, and ``python -m memkit reindex`` re-embeds it (resumably) so recall works again;
and the embedded default, with no configuration, recalls by meaning."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import memkit.vector.libsql_reindex as libsql_reindex
from memkit.config import AgentRegistry, MemoryConfig
from memkit.embedders.lexical import LexicalEmbedder
from memkit.embedders.local import LocalEmbedder
from memkit.errors import ConfigurationError
from memkit.memory import Memory
from memkit.runtime import Runtime
from memkit.settings import Settings
from memkit.storage.memory.libsql.store import LibSQLStore
from memkit.vector.libsql import VECTOR_DOMAIN, LibSQLVector
from memkit.vector.libsql_reindex import reindex

from tests.memory.conftest import RECALL, Corpus, load_corpus, text_message

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCAL = LocalEmbedder.name


@pytest.fixture
def database(tmp_path: Path) -> str:
    return f"file:{tmp_path / 'memkit.db'}"


@pytest.fixture
def lexical_file(database: str) -> Iterator[tuple[LibSQLStore, Corpus]]:
    """A file whose messages were indexed by the lexical embedder, as before this release."""
    store = LibSQLStore(database)
    vector = LibSQLVector(store.database, 256, embedder="lexical")
    memory = Memory(store, config={"semanticRecall": RECALL}, vector=vector, embedder=LexicalEmbedder(256), indexing="sync")
    corpus = load_corpus(memory)
    yield store, corpus
    store.close()


def vector_ids(store: LibSQLStore) -> list[str]:
    with store.database.connection() as conn:
        return [row[0] for row in conn.execute("SELECT id FROM memkit_vectors ORDER BY id").fetchall()]


class FailingAfter:
    """An embedder that fails on its ``calls``-th call, as a crash or Ctrl-C would interrupt a run."""

    def __init__(self, embedder: Any, calls: int):
        self.embedder, self.calls, self.texts = embedder, calls, 0
        self.dimension, self.name = embedder.dimension, embedder.name

    def embed(self, texts: list[str]) -> list[list[float]]:
        self.calls -= 1
        if self.calls == 0:
            raise KeyboardInterrupt
        self.texts += len(texts)
        return self.embedder.embed(texts)


def test_reindex_moves_the_vectors_to_the_local_model_and_recall_works_again(lexical_file: tuple[LibSQLStore, Corpus]) -> None:
    store, corpus = lexical_file
    before = vector_ids(store)
    # Given the file opened with the local model: refused
    with pytest.raises(ConfigurationError, match="python -m memkit reindex"):
        LibSQLVector(store.database, 384, embedder=LOCAL)

    # When it is re-indexed
    report = reindex(store.database, [store], LocalEmbedder(), embedder_name=LOCAL)

    # Then every message has its vectors again, made by the local model
    assert report.previous == ("lexical", 256)
    assert (report.embedder, report.dimension, report.skipped, report.resumed_at) == (LOCAL, 384, 0, 0)
    assert report.messages == len({vid.split("#")[0] for vid in before})
    assert vector_ids(store) == before
    vector = LibSQLVector(store.database, 384, embedder=LOCAL)
    with pytest.raises(ConfigurationError, match="made by local/all-MiniLM-L6-v2 \\(384 dimensions\\)"):
        LibSQLVector(store.database, 256, embedder="lexical")
    with store.database.connection() as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master").fetchall()}
    assert "memkit_vectors_reindex" not in tables and "memkit_vector_reindex_state" not in tables
    assert {"memkit_vectors_ann", "memkit_vectors_by_resource", "memkit_vectors_by_message"} <= tables

    # And recall finds answers through the new vectors, the ANN index included
    memory = Memory(store, config={"semanticRecall": RECALL}, vector=vector, embedder=LocalEmbedder())
    probe = corpus.probes[0]
    [query] = LocalEmbedder().embed([probe["query"]])
    resource = corpus.resource(probe["resourceId"])
    assert probe["answer"] in {hit.message_id for hit in vector.query(resource, query, 4)}
    ann = LibSQLVector(store.database, 384, embedder=LOCAL, exact_scan_limit=0)
    assert probe["answer"] in {hit.message_id for hit in ann.query(resource, query, 4)}
    result = memory.recall(thread_id=probe["askedIn"], resource_id=resource, query=probe["query"])
    assert probe["answer"] in {m.id for group in result.other_threads for m in group["messages"]}


def test_an_interrupted_reindex_resumes_where_it_stopped(
    lexical_file: tuple[LibSQLStore, Corpus], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, _ = lexical_file
    before = vector_ids(store)
    messages = len({vid.split("#")[0] for vid in before})
    monkeypatch.setattr(libsql_reindex, "MESSAGES_PER_STEP", 10)
    # Given a run interrupted during its third step
    first = FailingAfter(LexicalEmbedder(128), calls=3)
    with pytest.raises(KeyboardInterrupt):
        reindex(store.database, [store], first, embedder_name="lexical-128")
    # Then the old table still serves as it was
    assert LibSQLVector(store.database, 256, embedder="lexical").count() == len(before)

    # When it runs again
    second = FailingAfter(LexicalEmbedder(128), calls=0)
    report = reindex(store.database, [store], second, embedder_name="lexical-128")

    # Then it embedded only what the first run had not committed
    assert report.resumed_at == 20
    assert report.messages == messages - 20
    assert first.texts + second.texts == len(before)
    assert vector_ids(store) == before
    assert LibSQLVector(store.database, 128, embedder="lexical-128").count() == len(before)


def test_an_interrupted_reindex_towards_another_embedder_starts_over(
    lexical_file: tuple[LibSQLStore, Corpus], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, _ = lexical_file
    monkeypatch.setattr(libsql_reindex, "MESSAGES_PER_STEP", 10)
    with pytest.raises(KeyboardInterrupt):
        reindex(store.database, [store], FailingAfter(LexicalEmbedder(128), calls=3), embedder_name="lexical-128")
    report = reindex(store.database, [store], LexicalEmbedder(64), embedder_name="lexical-64")
    assert report.resumed_at == 0
    assert LibSQLVector(store.database, 64, embedder="lexical-64").count() == len(vector_ids(store))


def test_reindexing_with_the_tables_own_embedder_does_nothing(lexical_file: tuple[LibSQLStore, Corpus]) -> None:
    store, _ = lexical_file
    before = vector_ids(store)
    report = reindex(store.database, [store], LexicalEmbedder(256), embedder_name="lexical")
    assert report.nothing_to_do and report.messages == 0
    assert vector_ids(store) == before
    with store.database.connection() as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()}
    assert not tables & {"memkit_vectors_reindex", "memkit_vector_reindex_state"}


def test_a_reindex_drops_the_vectors_of_messages_deleted_since(lexical_file: tuple[LibSQLStore, Corpus]) -> None:
    store, corpus = lexical_file
    # A message deleted from storage whose vectors were left behind (a lost delete job)
    store.delete_messages(["alice-pets:0"])
    assert any(vid.startswith("alice-pets:0#") for vid in vector_ids(store))
    report = reindex(store.database, [store], LexicalEmbedder(128), embedder_name="lexical-128")
    assert report.skipped == 1
    assert not any(vid.startswith("alice-pets:0#") for vid in vector_ids(store))


def test_a_table_from_before_embedders_were_recorded_is_claimed_by_the_first_of_its_dimension(database: str) -> None:
    # Given a vector table as the previous release left it: dimension recorded, embedder not
    store = LibSQLStore(database)
    LibSQLVector(store.database, 256)
    with store.database.transaction() as conn:
        conn.execute("ALTER TABLE memkit_vector_settings DROP COLUMN embedder")
        conn.execute("UPDATE memkit_schema SET version = 1 WHERE domain = ?", (VECTOR_DOMAIN,))
    # When the default local model opens it: refused, the dimension tells it is not its own
    with pytest.raises(ConfigurationError, match="made by an embedder it did not record \\(256 dimensions\\)"):
        LibSQLVector(store.database, 384, embedder=LOCAL)
    # When the lexical embedder (the old "local") opens it, it is recorded as its maker
    assert LibSQLVector(store.database, 256, embedder="lexical").embedder == "lexical"
    with pytest.raises(ConfigurationError, match="made by lexical"):
        LibSQLVector(store.database, 256, embedder="openai/text-embedding-3-small")
    store.close()


def run_cli(database: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("MEMKIT_")}
    environment.update({"MEMKIT_STORAGE_URL": database, **env})
    return subprocess.run(
        [sys.executable, "-m", "memkit", "reindex"], env=environment, capture_output=True, text=True, timeout=300, cwd=REPO_ROOT
    )


def test_the_reindex_command_rebuilds_the_storage_files_vectors_for_the_default_embedder(
    lexical_file: tuple[LibSQLStore, Corpus], database: str
) -> None:
    store, _ = lexical_file
    vectors, messages = len(vector_ids(store)), len({vid.split("#")[0] for vid in vector_ids(store)})
    # With no MEMKIT_EMBEDDER (the local model) and no MEMKIT_VECTOR_URL (the storage file)
    result = run_cli(database)
    assert result.returncode == 0, result.stderr
    assert "embedding [" in result.stderr and f"{messages:,}/{messages:,} messages 100%" in result.stderr
    assert (
        f"re-indexed {messages:,} messages ({vectors:,} vectors; 0 gone or without text)" in result.stderr
        and f"lexical (256 dimensions) -> {LOCAL} (384 dimensions)" in result.stderr
    )
    assert LibSQLVector(store.database, 384, embedder=LOCAL).count() == vectors
    again = run_cli(database)
    assert again.returncode == 0 and "nothing to do" in again.stderr


def test_the_reindex_command_refuses_a_pinecone_index(database: str) -> None:
    result = run_cli(database, MEMKIT_VECTOR_URL="pinecone://idx.svc.pinecone.io", PINECONE_API_KEY="k")
    assert result.returncode == 2
    assert "reindex rebuilds a libSQL vector table" in result.stderr and "Pinecone index has its dimension fixed" in result.stderr


def test_the_embedded_default_recalls_by_meaning(database: str) -> None:
    """``make run`` with no configuration: the local model indexes and recalls; a question that
    shares no word with its answer finds it."""
    top_one = {"topK": 1, "messageRange": 0, "scope": "resource"}
    registry = AgentRegistry({"default": MemoryConfig.model_validate({"lastMessages": 1, "semanticRecall": top_one})})
    runtime = Runtime(Settings(storage_url=database, vector_url=database, indexing="sync"), registry)
    try:
        memory = runtime.memory()
        assert memory.embedder is not None and memory.embedder.name == LOCAL
        memory.create_thread(resource_id="ana", thread_id="pets")
        memory.create_thread(resource_id="ana", thread_id="now")
        memory.save_messages(
            [
                text_message("m1", "pets", "ana", "We adopted a golden retriever puppy called Biscuit", at=1),
                text_message("m2", "pets", "ana", "My sister moved to Porto for her new job", at=2),
                text_message("m3", "pets", "ana", "The quarterly report is due on Friday", at=3),
                text_message("m4", "now", "ana", "hello again", at=4),
            ]
        )
        result = memory.recall(thread_id="now", resource_id="ana", query="what kind of dog do I have?")
        assert [m.id for group in result.other_threads for m in group["messages"]] == ["m1"]
    finally:
        runtime.close()
