"""Semantic recall (docs/recall.md): what one recall costs (topK 4, messageRange 1) and how long it takes.

* **Budget.** One ``Memory.recall`` with semantic recall: embedding calls, vector queries and
  storage calls, counted by proxies around the embedder, the vector store and the store, on
  libSQL; and the DynamoDB requests the same recall sends (``RequestCounter``), with the Pinecone
  stand-in as vector store.
* **Latency.** Median and 90th percentile of a whole recall (recent window + embedding + vector
  query + include windows + titles) at 1,000 and 10,000 indexed messages of one user, with the
  libSQL vector store as configured (exact scan up to 5,000 rows per user, the ANN index
  beyond), and at 10,000 also forced to scan exactly; the Pinecone stand-in at 1,000 for
  reference (a pure-Python brute-force server: its latency says nothing about Pinecone's).
  Indexing throughput is reported too: bulk indexing is batched (1,000 messages per embedding
  call and transaction).

The query of each recall is the thread's latest user message, as in an agent turn. Vectors
come from the lexical embedder (256 dimensions, the Pinecone stand-in's), so these times are
the stores' and the recall path's; the local model adds its own ~10 ms of CPU per query
(``bench/recall_quality.py``).
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from memkit.embedders.lexical import LexicalEmbedder
from memkit.memory import Memory
from memkit.models import Message, Thread
from memkit.memory.indexing import index_messages
from memkit.storage.memory.libsql.store import LibSQLStore
from memkit.vector.base import VectorStore
from memkit.vector.libsql import LibSQLVector
from memkit.vector.pinecone import PineconeVector

DIMENSION = 256  # the Pinecone stand-in's (bench/services.py)
RECALL_CONFIG = {"lastMessages": 10, "semanticRecall": {"topK": 4, "messageRange": 1, "scope": "resource"}}
SIZES = (1_000, 10_000)
MESSAGES_PER_THREAD = 100
INDEX_BATCH = 1_000
PROBES = 30
# Enough for several threads to recall from; DynamoDB Local writes only ~200 items/s.
DYNAMODB_MESSAGES = 300
BASE_TIME = datetime(2025, 1, 1, tzinfo=timezone.utc)

# Topics and details for synthetic but word-rich messages, so vector scores vary like real text.
_TOPICS = (
    "garden tomatoes basil compost shed fence roses watering seeds harvest",
    "marathon training knee pace interval shoes tempo hills recovery race",
    "kitchen renovation cabinets countertop contractor budget tiles sink oven permit",
    "piano lessons nocturne scales teacher recital practice metronome pedal chords",
    "trip lisbon flight hotel tram museum beach itinerary passport train",
    "dog vet walk leash kibble puppy training park fetch collar",
    "mortgage savings budget rent salary taxes pension loan interest bank",
    "book club novel chapter author library poetry fantasy mystery review",
    "car brakes tyres oil mechanic mileage insurance garage battery engine",
    "work project deadline manager migration database meeting report review",
)


def run(stack: Any) -> list[tuple[str, list[dict[str, Any]]]]:
    budget: list[dict[str, Any]] = []
    latency: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="memkit-bench-recall-") as tmp:
        for size in SIZES:
            store = LibSQLStore(f"file:{Path(tmp) / f'recall-{size}.db'}")
            try:
                vector = LibSQLVector(store.database, DIMENSION)
                resource_id, threads, index_seconds = _seed(store, vector, size)
                memory = _memory(store, vector)
                mode = "exact scan" if size <= vector.exact_scan_limit else "ANN index"
                latency.append(_latency_row(f"libSQL ({mode})", size, index_seconds, memory, resource_id, threads))
                if size == SIZES[0]:
                    budget.append(_budget_row("libSQL", "libSQL", store, vector, resource_id, threads))
                if size > vector.exact_scan_limit:
                    exact = LibSQLVector(store.database, DIMENSION, exact_scan_limit=size)
                    latency.append(_latency_row("libSQL (exact scan, forced)", size, None, _memory(store, exact), resource_id, threads))
            finally:
                store.close()
        store = LibSQLStore(f"file:{Path(tmp) / 'recall-pinecone.db'}")
        try:
            vector = PineconeVector(stack.pinecone_host, "bench", DIMENSION)
            resource_id, threads, index_seconds = _seed(store, vector, SIZES[0])
            memory = _memory(store, vector)
            latency.append(_latency_row("Pinecone stand-in", SIZES[0], index_seconds, memory, resource_id, threads))
            budget.append(_budget_row("libSQL", "Pinecone stand-in", store, vector, resource_id, threads))
            vector.delete_resource(resource_id)
        finally:
            store.close()
        budget.append(_dynamodb_budget_row(stack))
    return [
        ("Recall budget (topK 4, messageRange 1, lastMessages 10): calls per recall", budget),
        (f"Recall latency (one user, {MESSAGES_PER_THREAD} messages per thread, {PROBES} recalls)", latency),
    ]


# ---------------------------------------------------------------- data


def _messages(thread: Thread, count: int, rng: random.Random, start: int) -> list[Message]:
    topic = _TOPICS[rng.randrange(len(_TOPICS))].split()
    messages = []
    for index in range(count):
        words = rng.sample(topic, 4) + rng.sample(_TOPICS[rng.randrange(len(_TOPICS))].split(), 2)
        text = f"Message {start + index}: I keep thinking about the {words[0]} and the {words[1]}, " \
               f"also {words[2]}, {words[3]}, maybe {words[4]} or {words[5]}."
        messages.append(
            Message(
                id=f"{thread.id}-m{index:04d}",
                thread_id=thread.id,
                resource_id=thread.resource_id,
                role="user" if index % 2 == 0 else "assistant",
                created_at=BASE_TIME + timedelta(seconds=start + index),
                content={"format": 2, "parts": [{"type": "text", "text": text}]},
            )
        )
    return messages


def _seed(store: Any, vector: VectorStore, size: int) -> tuple[str, list[str], float]:
    """One user with ``size`` messages in threads of ``MESSAGES_PER_THREAD``, all indexed."""
    rng = random.Random(size)
    resource_id = f"bench-{uuid.uuid4().hex[:10]}"
    threads: list[str] = []
    all_ids: list[str] = []
    for number in range(size // MESSAGES_PER_THREAD):
        thread = Thread(
            id=f"{resource_id}-t{number:03d}",
            resource_id=resource_id,
            title=f"Conversation {number}",
            created_at=BASE_TIME,
            updated_at=BASE_TIME,
        )
        store.save_thread(thread)
        messages = _messages(thread, MESSAGES_PER_THREAD, rng, number * MESSAGES_PER_THREAD)
        store.save_messages(messages)
        threads.append(thread.id)
        all_ids += [m.id for m in messages]
    memory = _memory(store, vector)
    started = time.perf_counter()
    for start in range(0, len(all_ids), INDEX_BATCH):
        index_messages(memory.ports, resource_id, all_ids[start : start + INDEX_BATCH])
    return resource_id, threads, time.perf_counter() - started


def _memory(store: Any, vector: VectorStore, embedder: Any = None) -> Memory:
    return Memory(store, config=RECALL_CONFIG, vector=vector, embedder=embedder or LexicalEmbedder(DIMENSION), indexing="sync")


# ---------------------------------------------------------------- measurements


def _latency_row(
    label: str, size: int, index_seconds: float | None, memory: Memory, resource_id: str, threads: list[str]
) -> dict[str, Any]:
    recall_once(memory, resource_id, threads[0])  # warm caches and connections
    times = []
    for probe in range(PROBES):
        started = time.perf_counter()
        recall_once(memory, resource_id, threads[probe % len(threads)])
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {
        "vector store": label,
        "indexed messages": f"{size:,}",
        "indexing (messages/s)": round(size / index_seconds) if index_seconds else "",
        "recall median (ms)": statistics.median(times),
        "recall p90 (ms)": times[int(0.9 * (len(times) - 1))],
    }


def recall_once(memory: Memory, resource_id: str, thread_id: str) -> Any:
    result = memory.recall(thread_id=thread_id, resource_id=resource_id)
    if result.recall_warning:
        raise RuntimeError(f"recall failed during the benchmark: {result.recall_warning}")
    return result


class _CallCounter:
    """Counts method calls on ``target`` by name (a transparent proxy for the budget rows)."""

    def __init__(self, target: Any, counts: Counter[str]):
        self._target = target
        self._counts = counts

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if not callable(value) or name.startswith("_"):
            return value

        def counted(*args: Any, **kwargs: Any) -> Any:
            self._counts[name] += 1
            return value(*args, **kwargs)

        return counted


def _budget_row(
    store_label: str, vector_label: str, store: Any, vector: VectorStore, resource_id: str, threads: list[str]
) -> dict[str, Any]:
    counts: dict[str, Counter[str]] = {"embedder": Counter(), "vector": Counter(), "storage": Counter()}
    memory = Memory(
        _CallCounter(store, counts["storage"]),  # type: ignore[arg-type]
        config=RECALL_CONFIG,
        vector=_CallCounter(vector, counts["vector"]),  # type: ignore[arg-type]
        embedder=_CallCounter(LexicalEmbedder(DIMENSION), counts["embedder"]),  # type: ignore[arg-type]
    )
    result = recall_once(memory, resource_id, threads[len(threads) // 2])
    return {
        "store": store_label,
        "vector store": vector_label,
        "embedding calls": counts["embedder"]["embed"],
        "vector queries": counts["vector"]["query"],
        "storage calls": _summary(counts["storage"]),
        "storage requests": "",
        "threads recalled from": len(result.other_threads),
    }


def _dynamodb_budget_row(stack: Any) -> dict[str, Any]:
    """The same recall on DynamoDB Local, counting the requests the store really sends."""
    stack.dynamodb  # starts DynamoDB Local and points AWS_ENDPOINT_URL_DYNAMODB at it
    from bench.instruments import RequestCounter
    from memkit.storage.factory import create_memory_storage

    store = create_memory_storage("dynamodb://memkit-bench-recall", create_tables=True)
    vector = PineconeVector(stack.pinecone_host, "bench", DIMENSION)
    try:
        resource_id, threads, _ = _seed(store, vector, DYNAMODB_MESSAGES)
        counts: Counter[str] = Counter()
        memory = Memory(store, config=RECALL_CONFIG, vector=vector, embedder=_CallCounter(LexicalEmbedder(DIMENSION), counts))
        vector_counts: Counter[str] = Counter()
        memory.vector = _CallCounter(vector, vector_counts)  # type: ignore[assignment]
        with RequestCounter(store) as requests:  # type: ignore[arg-type]
            result = recall_once(memory, resource_id, threads[len(threads) // 2])
        vector.delete_resource(resource_id)
        return {
            "store": "DynamoDB Local",
            "vector store": "Pinecone stand-in",
            "embedding calls": counts["embed"],
            "vector queries": vector_counts["query"],
            "storage calls": "",
            "storage requests": f"{requests.count()} ({_summary(Counter(requests.operations()))})",
            "threads recalled from": len(result.other_threads),
        }
    finally:
        store.close()


def _summary(counts: Counter[str]) -> str:
    return ", ".join(f"{name}×{n}" for name, n in sorted(counts.items()))
