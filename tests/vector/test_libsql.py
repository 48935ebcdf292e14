"""``LibSQLVector`` specifics: its schema is a versioned domain of the store's file, and the ANN
path (used for big resources) returns the resource's own nearest rows even when they are a tiny
share of the table, by over-fetching from the global index."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from memkit.embedders.lexical import LexicalEmbedder
from memkit.storage.memory.libsql.store import LibSQLStore
from memkit.vector.base import VectorRecord
from memkit.vector.libsql import VECTOR_DOMAIN, LibSQLVector

DIMENSION = 64


@pytest.fixture
def store(tmp_path: Path) -> Iterator[LibSQLStore]:
    store = LibSQLStore(f"file:{tmp_path / 'memkit.db'}")
    yield store
    store.close()


def records(prefix: str, texts: list[str]) -> list[VectorRecord]:
    vectors = LexicalEmbedder(DIMENSION).embed(texts)
    return [
        VectorRecord(f"{prefix}{n}", 0, f"{prefix}thread", "user", "2025-01-01T00:00:00.000Z", vector)
        for n, vector in enumerate(vectors)
    ]


def test_vectors_live_in_the_stores_file_as_a_versioned_domain(store: LibSQLStore) -> None:
    LibSQLVector(store.database, DIMENSION)
    assert store.database.schema_version(VECTOR_DOMAIN) == 2
    with store.database.connection() as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()}
    assert {"memkit_vectors", "messages", "threads"} <= tables
    # reopening migrates nothing and keeps what was written
    LibSQLVector(store.database, DIMENSION).upsert("r1", records("m", ["hello there"]))
    assert LibSQLVector(store.database, DIMENSION).count("r1") == 1


def test_the_ann_path_finds_a_small_resources_rows_among_many(store: LibSQLStore) -> None:
    crowd = [f"crowd message {n} about gardening tomatoes and weather" for n in range(600)]
    mine = ["my sailing boat is called Albatross", "we sail on the lake every Sunday", "the boat needs new sails", "I bought a red kayak"]
    exact = LibSQLVector(store.database, DIMENSION)
    exact.upsert("crowd", records("c", crowd))
    exact.upsert("mine", records("m", mine))
    [query] = LexicalEmbedder(DIMENSION).embed(["sailing boat sails"])

    expected = [hit.message_id for hit in exact.query("mine", query, 3)]
    ann = LibSQLVector(store.database, DIMENSION, exact_scan_limit=0)  # always through vector_top_k
    found = ann.query("mine", query, 3)

    assert [hit.message_id for hit in found] == expected
    assert all(hit.message_id.startswith("m") for hit in found)
    assert [round(hit.score, 4) for hit in found] == [round(hit.score, 4) for hit in exact.query("mine", query, 3)]


def test_the_ann_path_respects_the_thread_filter_and_an_empty_scope(store: LibSQLStore) -> None:
    ann = LibSQLVector(store.database, DIMENSION, exact_scan_limit=0)
    ann.upsert("r1", records("a", ["alpha one", "alpha two"]) + records("b", ["beta one"]))
    [query] = LexicalEmbedder(DIMENSION).embed(["alpha"])
    assert {hit.thread_id for hit in ann.query("r1", query, 5, thread_id="bthread")} == {"bthread"}
    assert ann.query("nobody", query, 5) == []
