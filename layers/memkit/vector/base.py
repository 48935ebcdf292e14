"""The vector store port for semantic recall.

One record per chunk of a message, keyed ``<messageId>#<chunk>``: re-indexing a message
overwrites its records instead of adding new ones, and a message's records are found by the id
prefix ``<messageId>#`` (``#`` cannot occur in an id, so ``m1#`` never matches ``m10#0``).
Records are partitioned by resource (a Pinecone namespace, a ``resource_id`` column in libSQL):
a query names its resource and can never see another's.

Metadata stays small and fixed: threadId, messageId, role, createdAt, chunk. The text is never
copied into the vector store; hits are turned back into messages through the memory store.

Adapters raise ``RetryableError`` when the service is down or throttling, and
``ConfigurationError`` when the index does not fit the configuration (dimension, metric).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# A query asks for this many chunks per wanted message, so that a long message whose several
# chunks all match does not crowd others out of the top-k after deduplication.
CHUNK_OVERFETCH = 2


def vector_id(message_id: str, chunk: int) -> str:
    return f"{message_id}#{chunk}"


def message_prefix(message_id: str) -> str:
    return f"{message_id}#"


@dataclass(frozen=True)
class VectorRecord:
    message_id: str
    chunk: int
    thread_id: str
    role: str
    created_at: str  # ISO-8601 with milliseconds, as on the wire
    values: Sequence[float]

    @property
    def id(self) -> str:
        return vector_id(self.message_id, self.chunk)

    def metadata(self) -> dict[str, Any]:
        return {
            "threadId": self.thread_id,
            "messageId": self.message_id,
            "role": self.role,
            "createdAt": self.created_at,
            "chunk": self.chunk,
        }


@dataclass(frozen=True)
class VectorHit:
    """The best-matching chunk of one message. ``score`` is cosine similarity (higher = closer)."""

    message_id: str
    thread_id: str
    chunk: int
    score: float
    role: str | None = None
    created_at: str | None = None


class VectorStore(ABC):
    name: str = "abstract"

    @abstractmethod
    def dimension(self) -> int:
        """The index's vector length; adapters verify it against the configuration on first use."""

    @abstractmethod
    def upsert(self, resource_id: str, records: Sequence[VectorRecord]) -> None:
        """Insert or overwrite records (by id) in the resource's partition."""

    @abstractmethod
    def trim_messages(self, resource_id: str, chunk_counts: Mapping[str, int]) -> None:
        """Delete each message's records with ``chunk >= chunk_counts[message_id]``: after a
        message shrinks (or loses its text, count 0) no stale chunk may keep matching."""

    @abstractmethod
    def delete_messages(self, resource_id: str, message_ids: Sequence[str]) -> None:
        """Delete every record of these messages (all chunks). Unknown ids are fine."""

    @abstractmethod
    def delete_threads(self, resource_id: str, thread_ids: Sequence[str]) -> None:
        """Delete every record whose threadId is one of ``thread_ids``."""

    @abstractmethod
    def delete_resource(self, resource_id: str) -> None:
        """Delete the resource's whole partition."""

    @abstractmethod
    def _query_chunks(
        self, resource_id: str, vector: Sequence[float], limit: int, thread_id: str | None
    ) -> list[VectorHit]:
        """Up to ``limit`` nearest chunks in the resource (and thread), best first."""

    def query(
        self,
        resource_id: str,
        vector: Sequence[float],
        top_k: int,
        *,
        thread_id: str | None = None,
        threshold: float | None = None,
    ) -> list[VectorHit]:
        """The ``top_k`` best messages of the resource (only ``thread_id``'s when given), best
        first, one hit per message (its best chunk), dropping scores below ``threshold``."""
        if top_k <= 0:
            return []
        chunks = self._query_chunks(resource_id, vector, top_k * CHUNK_OVERFETCH, thread_id)
        return best_per_message(chunks, top_k, threshold)

    def close(self) -> None:
        """Release clients or connections. Safe to call twice."""


def best_per_message(chunks: Sequence[VectorHit], top_k: int, threshold: float | None) -> list[VectorHit]:
    best: dict[str, VectorHit] = {}
    for hit in chunks:
        if threshold is not None and hit.score < threshold:
            continue
        current = best.get(hit.message_id)
        if current is None or hit.score > current.score:
            best[hit.message_id] = hit
    ranked = sorted(best.values(), key=lambda hit: (-hit.score, hit.message_id))
    return ranked[:top_k]
