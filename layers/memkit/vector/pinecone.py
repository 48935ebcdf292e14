"""Vectors for semantic recall in a Pinecone index, through the ``pinecone`` SDK.

Selected by ``MEMKIT_VECTOR_URL=pinecone://<index-host>`` (the host from the Pinecone console,
e.g. ``pinecone://memkit-abc123.svc.aped-4627-b74a.pinecone.io``, spoken to over https; a
plain-http data plane is named with its scheme, ``pinecone://http://host:port``) and
``PINECONE_API_KEY`` (a value or a ``secretsmanager:`` reference, resolved on first use). The index must be a dense
index with the embedder's dimension and the cosine metric; memkit never creates indexes.

Design (each point fixes a flaw of Mastra's adapter; docs/recall.md):

* **One namespace per resource.** A query names its namespace, so a resource can never see
  another's vectors, and erasing a resource is one ``delete(delete_all=True)``.
* **Ids are ``<messageId>#<chunk>``.** Re-indexing overwrites, so a re-save never duplicates,
  and a message's vectors are listed by the prefix ``<messageId>#``.
* **Small metadata**: threadId, messageId, role, createdAt, chunk; never the text (Pinecone's
  40 KB metadata limit is never near).
* **Batches within limits**: upserts of at most 1,000 vectors and under 2 MB; deletes by id
  in batches of 1,000.
* **Deletes are exact and uncapped.** Messages: list ids by prefix (paginated), delete them by
  id. Threads: ``delete(filter={"threadId": {"$in": [...]}})`` — a prefix cannot select a
  thread (ids are per message), and by the time the job runs the thread's messages are gone
  from storage, so their ids cannot be enumerated; the filter is evaluated by the index itself,
  with no 10,000-result cap like a query-then-delete has. Stale chunks of a shrunken message
  are removed the same way, in one request per indexing job.
* **Dimension check.** The first use calls ``describe_index_stats`` and raises
  ``ConfigurationError`` if the index dimension differs from the configured one (or its metric
  is not cosine).

The SDK is imported and the ``Index`` built on first use, once per container (building it costs
~250 ms), so a Lambda that never touches recall never pays for it. Deleting from a namespace
that does not exist answers 404 on Pinecone; for a delete that means "nothing to delete".
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Callable, TypeVar

from memkit.errors import ConfigurationError, PermanentJobError, RetryableError
from memkit.clients.secrets import resolve_secret
from memkit.vector.base import VectorHit, VectorRecord, VectorStore, message_prefix

logger = logging.getLogger("memkit.vector")

MAX_UPSERT_VECTORS = 1000
# Pinecone rejects upsert requests over 2 MB; leave room for JSON framing.
MAX_UPSERT_BYTES = 2 * 1024 * 1024 * 9 // 10
# Upper bound of one float in the SDK's JSON (repr of a float32-ish value plus separator).
BYTES_PER_FLOAT = 26
MAX_DELETE_IDS = 1000
LIST_PAGE_SIZE = 100
MAX_TOP_K = 10_000
MAX_FILTER_VALUES = 1000
# Recall runs inside an agent's turn and fails open, so a hanging Pinecone must cost seconds,
# not the SDK's default 30 s per attempt. (The SDK retries data-plane requests itself, up to 3
# times with a short backoff and a per-host retry budget; that is not configurable for REST.)
REQUEST_TIMEOUT_SECONDS = 10.0

T = TypeVar("T")


def index_url(spec: str) -> str:
    """``pinecone://host[:port]`` → ``https://host[:port]``; ``pinecone://http://...`` keeps the
    scheme given (Pinecone Local and other plain-http data planes)."""
    host = spec[len("pinecone://") :] if spec.startswith("pinecone://") else spec
    host = host.rstrip("/")
    if host.startswith(("http://", "https://")):
        return host
    if not host:
        raise ConfigurationError("MEMKIT_VECTOR_URL=pinecone://<index-host> needs the index host")
    return f"https://{host}"


class PineconeVector(VectorStore):
    name = "pinecone"

    def __init__(self, host: str, api_key: str | None, dimension: int, *, index: Any = None):
        if not api_key:
            raise ConfigurationError("MEMKIT_VECTOR_URL=pinecone://... needs PINECONE_API_KEY")
        self.host = index_url(host)
        self._api_key = api_key
        self._dimension = dimension
        self._index = index
        self._verified = False
        self._lock = threading.Lock()

    def dimension(self) -> int:
        return self._dimension

    # ------------------------------------------------------------ client

    def index(self) -> Any:
        """The SDK ``Index``, built and checked against the configured dimension on first use."""
        if self._verified:
            return self._index
        with self._lock:
            if self._index is None:
                from pinecone import Pinecone

                # The key (a value or a secretsmanager:/ssm: reference) is resolved here, on the
                # first vector call, not when the runtime builds every agent's Memory.
                api_key = resolve_secret(self._api_key)
                self._index = Pinecone(api_key=api_key, timeout=REQUEST_TIMEOUT_SECONDS).Index(host=self.host)
            if not self._verified:
                stats = self._call("describe_index_stats", self._index.describe_index_stats)
                dimension = _field(stats, "dimension")
                if dimension != self._dimension:
                    raise ConfigurationError(
                        f"the Pinecone index at {self.host} has dimension {dimension}, but "
                        f"MEMKIT_EMBEDDING_DIMENSION is {self._dimension}; create the index with the "
                        "embedder's dimension (docs/deploy.md: Semantic recall with Pinecone)"
                    )
                metric = _field(stats, "metric")
                # Scores are read as cosine similarity (the threshold, the ranking); with unit
                # vectors, which every memkit embedder produces, dotproduct is the same number.
                if metric not in (None, "cosine", "dotproduct"):
                    raise ConfigurationError(
                        f"the Pinecone index at {self.host} uses the {metric} metric; memkit needs cosine"
                    )
                self._verified = True
        return self._index

    # ------------------------------------------------------------ writes

    def upsert(self, resource_id: str, records: Sequence[VectorRecord]) -> None:
        index = self.index()
        for batch in _upsert_batches(records):
            vectors = [{"id": r.id, "values": list(r.values), "metadata": r.metadata()} for r in batch]
            self._call("upsert", index.upsert, vectors=vectors, namespace=resource_id)

    def trim_messages(self, resource_id: str, chunk_counts: Mapping[str, int]) -> None:
        if not chunk_counts:
            return
        by_count: dict[int, list[str]] = {}
        for message_id, count in chunk_counts.items():
            by_count.setdefault(count, []).append(message_id)
        clauses = [
            {"messageId": {"$in": ids}, "chunk": {"$gte": count}}
            for count, message_ids in sorted(by_count.items())
            for ids in _batches(message_ids, MAX_FILTER_VALUES)
        ]
        selector = clauses[0] if len(clauses) == 1 else {"$or": clauses}
        self._delete(resource_id, filter=selector)

    def delete_messages(self, resource_id: str, message_ids: Sequence[str]) -> None:
        ids = [vid for message_id in message_ids for vid in self._list_ids(resource_id, message_prefix(message_id))]
        for batch in _batches(ids, MAX_DELETE_IDS):
            self._delete(resource_id, ids=batch)

    def delete_threads(self, resource_id: str, thread_ids: Sequence[str]) -> None:
        for batch in _batches(list(thread_ids), MAX_FILTER_VALUES):
            self._delete(resource_id, filter={"threadId": {"$in": batch}})

    def delete_resource(self, resource_id: str) -> None:
        self._delete(resource_id, delete_all=True)

    def _delete(self, resource_id: str, **selector: Any) -> None:
        index = self.index()
        try:
            self._call("delete", index.delete, namespace=resource_id, **selector)
        except _NamespaceNotFound:
            logger.debug("Pinecone namespace %s does not exist; nothing to delete", resource_id)

    def _list_ids(self, resource_id: str, prefix: str) -> Iterator[str]:
        index = self.index()
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"prefix": prefix, "limit": LIST_PAGE_SIZE, "namespace": resource_id}
            if token:
                kwargs["pagination_token"] = token
            try:
                page = self._call("list", index.list_paginated, **kwargs)
            except _NamespaceNotFound:
                return
            for item in _field(page, "vectors") or []:
                yield _field(item, "id")
            pagination = _field(page, "pagination")
            token = _field(pagination, "next") if pagination is not None else None
            if not token:
                return

    # ------------------------------------------------------------ reads

    def _query_chunks(
        self, resource_id: str, vector: Sequence[float], limit: int, thread_id: str | None
    ) -> list[VectorHit]:
        index = self.index()
        query: dict[str, Any] = {
            "vector": list(vector),
            "top_k": min(limit, MAX_TOP_K),
            "namespace": resource_id,
            "include_metadata": True,
        }
        if thread_id is not None:
            query["filter"] = {"threadId": {"$eq": thread_id}}
        try:
            response = self._call("query", index.query, **query)
        except _NamespaceNotFound:
            return []
        hits = []
        for match in _field(response, "matches") or []:
            metadata = _field(match, "metadata") or {}
            hits.append(
                VectorHit(
                    message_id=metadata.get("messageId") or _field(match, "id").rsplit("#", 1)[0],
                    thread_id=metadata.get("threadId", ""),
                    chunk=int(metadata.get("chunk", 0)),
                    score=float(_field(match, "score")),
                    role=metadata.get("role"),
                    created_at=metadata.get("createdAt"),
                )
            )
        return hits

    def close(self) -> None:
        index, self._index = self._index, None
        self._verified = False
        close = getattr(index, "close", None)
        if callable(close):
            close()

    # ------------------------------------------------------------ errors

    def _call(self, operation: str, call: Callable[..., T], **kwargs: Any) -> T:
        try:
            return call(**kwargs)
        except Exception as exc:
            translated = _translate(self.host, operation, exc)
            if translated is None:
                raise
            raise translated from exc


class _NamespaceNotFound(Exception):
    """Pinecone's 404 for a namespace that holds nothing yet (internal to this adapter)."""


def _status(exc: BaseException) -> int | None:
    for attribute in ("status_code", "status"):
        value = getattr(exc, attribute, None)
        if isinstance(value, int):
            return value
    return None


def _translate(host: str, operation: str, exc: Exception) -> Exception | None:
    """SDK errors → memkit errors; None for anything unrecognised (a bug, re-raised as is).
    HTTP errors carry ``status_code``; transport failures are ``PineconeConnectionError`` and
    ``PineconeTimeoutError`` (matched by name, so importing the SDK's error module is not needed
    just to classify)."""
    text = f"Pinecone {operation} at {host} failed: {exc}"
    status = _status(exc)
    if status == 404 and operation in ("delete", "list", "query"):
        return _NamespaceNotFound(text)
    if status is not None:
        if status in (408, 429) or status >= 500:
            return RetryableError(text)
        if status in (401, 403, 404):
            return ConfigurationError(text)
        return PermanentJobError(text)
    name = type(exc).__name__
    if isinstance(exc, (OSError, TimeoutError)) or any(
        word in name for word in ("Timeout", "Connection")
    ):
        return RetryableError(text)
    return None


def _field(obj: Any, name: str) -> Any:
    """A response field, whether the SDK version returns objects or dicts."""
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def _batches(items: list[T], size: int) -> Iterator[list[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _upsert_batches(records: Sequence[VectorRecord]) -> Iterator[list[VectorRecord]]:
    batch: list[VectorRecord] = []
    size = 0
    for record in records:
        record_size = len(record.values) * BYTES_PER_FLOAT + len(json.dumps(record.metadata())) + len(record.id) + 64
        if batch and (len(batch) >= MAX_UPSERT_VECTORS or size + record_size > MAX_UPSERT_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(record)
        size += record_size
    if batch:
        yield batch
