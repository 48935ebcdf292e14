"""Fixtures for the recall tests: a memory store with a vector store of each kind, and the fixed
conversation set (``conversations.json``) loaded into it.

Both backends keep messages in an in-memory libSQL store; vectors go to libSQL (same database)
or to the Pinecone stand-in through the real SDK. The stand-in lives for the whole session, so
every test uses resource ids of its own (a fresh suffix) and never sees another test's vectors.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from memkit.embedders.lexical import LexicalEmbedder
from memkit.memory import Memory
from memkit.models import format_ts
from memkit.storage.memory.libsql.store import LibSQLStore
from memkit.vector.base import VectorStore
from memkit.vector.libsql import LibSQLVector
from memkit.vector.pinecone import PineconeVector

CONVERSATIONS_PATH = Path(__file__).parent / "conversations.json"
DIMENSION = 256  # the stand-in's dimension (tests/conftest.py)
BASE_TIME = datetime(2025, 3, 1, tzinfo=timezone.utc)
RECALL = {"topK": 4, "messageRange": 1, "scope": "resource"}


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def text_message(message_id: str, thread_id: str, resource_id: str, text: str, *, role: str = "user", at: int = 0) -> dict[str, Any]:
    return {
        "id": message_id,
        "threadId": thread_id,
        "resourceId": resource_id,
        "role": role,
        "createdAt": format_ts(BASE_TIME + timedelta(minutes=at)),
        "content": {"format": 2, "parts": [{"type": "text", "text": text}]},
    }


@dataclass
class Backend:
    name: str
    store: LibSQLStore
    vector: VectorStore

    def stored_ids(self, resource_id: str) -> list[str]:
        """Every vector id in the resource's partition, read from the store itself (the
        stand-in's list endpoint for Pinecone), not through the adapter under test."""
        if isinstance(self.vector, LibSQLVector):
            with self.store.database.connection() as conn:
                rows = conn.execute("SELECT id FROM memkit_vectors WHERE resource_id = ? ORDER BY id", (resource_id,)).fetchall()
            return [row[0] for row in rows]
        assert isinstance(self.vector, PineconeVector)
        index = self.vector.index()
        return sorted(item.id for page in index.list(namespace=resource_id) for item in page.vectors)

    def stored_metadata(self, resource_id: str, vector_ids: list[str]) -> dict[str, dict[str, Any]]:
        if isinstance(self.vector, LibSQLVector):
            with self.store.database.connection() as conn:
                rows = conn.execute(
                    "SELECT id, thread_id, message_id, role, created_at, chunk FROM memkit_vectors "
                    "WHERE resource_id = ? AND id IN (SELECT value FROM json_each(?))",
                    (resource_id, json.dumps(vector_ids)),
                ).fetchall()
            return {
                r[0]: {"threadId": r[1], "messageId": r[2], "role": r[3], "createdAt": r[4], "chunk": r[5]}
                for r in rows
            }
        assert isinstance(self.vector, PineconeVector)
        fetched = self.vector.index().fetch(ids=vector_ids, namespace=resource_id)
        return {vid: dict(vec.metadata or {}) for vid, vec in fetched.vectors.items()}


@pytest.fixture(params=["libsql", "pinecone"])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    store = LibSQLStore(":memory:")
    if request.param == "libsql":
        vector: VectorStore = LibSQLVector(store.database, DIMENSION)
    else:
        vector = PineconeVector(request.getfixturevalue("pinecone_host"), "local", DIMENSION)
    yield Backend(request.param, store, vector)
    vector.close()
    store.close()


@pytest.fixture
def make_memory(backend: Backend) -> Callable[..., Memory]:
    def build(config: dict[str, Any] | None = None, **kwargs: Any) -> Memory:
        options: dict[str, Any] = {
            "vector": backend.vector,
            "embedder": LexicalEmbedder(DIMENSION),
            "indexing": "sync",
            **kwargs,
        }
        return Memory(backend.store, config={"semanticRecall": RECALL} if config is None else config, **options)

    return build


@dataclass
class Corpus:
    """The conversation set as loaded: resource names map to this test's resource ids."""

    suffix: str
    data: dict[str, Any]
    thread_owner: dict[str, str] = field(default_factory=dict)

    def resource(self, name: str) -> str:
        return f"{name}-{self.suffix}"

    @property
    def probes(self) -> list[dict[str, Any]]:
        return self.data["probes"]

    def threads(self, resource_name: str) -> list[dict[str, Any]]:
        return next(r["threads"] for r in self.data["resources"] if r["id"] == resource_name)

    @staticmethod
    def thread_of(message_id: str) -> str:
        """Message ids are ``<thread>:<n>``: ``alice-pets:4`` is the fifth of ``alice-pets``."""
        return message_id.split(":", 1)[0]


def load_corpus(memory: Memory, resources: list[str] | None = None) -> Corpus:
    data = json.loads(CONVERSATIONS_PATH.read_text())
    corpus = Corpus(suffix=uuid.uuid4().hex[:10], data=data)
    minute = 0
    for resource in data["resources"]:
        if resources is not None and resource["id"] not in resources:
            continue
        resource_id = corpus.resource(resource["id"])
        for thread in resource["threads"]:
            memory.create_thread(resource_id=resource_id, thread_id=thread["id"], title=thread["title"])
            corpus.thread_owner[thread["id"]] = resource_id
            messages = []
            for number, (role, text) in enumerate(thread["messages"]):
                minute += 1
                messages.append(text_message(f"{thread['id']}:{number}", thread["id"], resource_id, text, role=role, at=minute))
            memory.save_messages(messages)
    return corpus
