"""Recall quality (docs/recall.md, the README's embedders): does semantic recall find the message that answers a question when
the two share no word? Per embedder, on a conversation set of its own, with the cost of each.

* **The set** (``bench/recall_quality.json``): four users, four threads each, 86 messages; 47
  questions, each asked in another thread of its user than its answer and sharing no content
  word or stem with it (checked here, with the lexical embedder's own stemmer), plus distractors
  that share words with questions but not their meaning, and 8 questions with no answer at all.
* **Embedders**: ``lexical`` (hashed words, 256), ``local`` (all-MiniLM-L6-v2, 384), and the
  OpenAI-compatible path (``openai/text-embedding-3-small`` against ``infra/local/openai_server``,
  whose vectors are a hashed bag of words: the row shows the HTTP path works end to end, not
  what OpenAI's model would score).
* **Scopes**: resource (the query recall makes for ``scope: resource``: the user's whole
  partition) and thread (the answer's own thread only). recall@k: the answer among the k best
  messages. Every hit is also checked to belong to the asking user.
* **Threshold**: the answer's score against the best score of a question with no answer, and
  what a ``threshold`` keeps at each value.
* **Speed**: model load, one query, a batch of messages, peak memory (in a fresh process); and
  re-indexing 10,000 messages from the lexical embedder to the local model
  (``python -m memkit reindex``'s code, on a libSQL file).
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from memkit.embedders.base import Embedder
from memkit.embedders.lexical import LexicalEmbedder, features
from memkit.embedders.local import LocalEmbedder
from memkit.embedders.openai import OpenAIEmbedder
from memkit.memory import Memory
from memkit.models import Message, Thread
from memkit.memory.indexing import index_messages
from memkit.storage.memory.libsql.store import LibSQLStore
from memkit.vector.libsql import LibSQLVector
from memkit.vector.libsql_reindex import reindex

SET_PATH = Path(__file__).with_name("recall_quality.json")
TOP_K = 4
THRESHOLDS = (0.2, 0.3, 0.4, 0.5)
BASE_TIME = datetime(2025, 5, 1, tzinfo=timezone.utc)
REINDEX_MESSAGES = 10_000
QUERY_SAMPLES = 30


def run(stack: Any) -> list[tuple[str, list[dict[str, Any]]]]:
    data = load_set()
    embedders: list[tuple[str, Callable[[], Embedder]]] = [
        ("lexical", lambda: LexicalEmbedder(256)),
        ("local (all-MiniLM-L6-v2)", LocalEmbedder),
        (
            "OpenAI-compatible stand-in",
            lambda: OpenAIEmbedder("text-embedding-3-small", 256, base_url=stack.openai_url, api_key="local"),
        ),
    ]
    quality, thresholds = [], []
    for label, build in embedders:
        outcome = evaluate(data, build())
        quality.append(outcome.quality_row(label))
        if label != "OpenAI-compatible stand-in":
            thresholds += outcome.threshold_rows(label)
    probes = len(data["probes"])
    return [
        (
            f"Recall quality: {probes} questions that share no word with their answer "
            f"(4 users, 16 threads, {count_messages(data)} messages; bench/recall_quality.json)",
            quality,
        ),
        (f"Threshold: what `threshold` keeps (resource scope, topK {TOP_K})", thresholds),
        (f"Local embedder speed (this machine; one BLAS thread; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)", [speed_row(data)]),
        (f"Re-indexing {REINDEX_MESSAGES:,} messages from lexical to local (`python -m memkit reindex`)", [reindex_row()]),
    ]


# ---------------------------------------------------------------- the set


def load_set() -> dict[str, Any]:
    data = json.loads(SET_PATH.read_text())
    texts = messages_by_id(data)
    for probe in data["probes"]:
        shared = content_words(probe["query"]) & content_words(texts[probe["answer"]])
        if shared:
            raise ValueError(f"probe {probe['query']!r} shares {sorted(shared)} with its answer")
        if probe["askedIn"] == probe["answer"].split(":")[0]:
            raise ValueError(f"probe {probe['query']!r} is asked in its answer's thread")
    return data


def content_words(text: str) -> set[str]:
    """Stems of the words that are not stopwords, as the lexical embedder sees them."""
    return {feature[2:] for feature in features(text) if feature.startswith("w:")}


def messages_by_id(data: dict[str, Any]) -> dict[str, str]:
    return {
        f"{thread['id']}:{number}": text
        for resource in data["resources"]
        for thread in resource["threads"]
        for number, (_, text) in enumerate(thread["messages"])
    }


def count_messages(data: dict[str, Any]) -> int:
    return len(messages_by_id(data))


def seed(memory: Memory, data: dict[str, Any]) -> dict[str, str]:
    """Saves the set through ``memory`` (indexing inline); returns message id -> resource."""
    owner: dict[str, str] = {}
    minute = 0
    for resource in data["resources"]:
        for thread in resource["threads"]:
            memory.create_thread(resource_id=resource["id"], thread_id=thread["id"], title=thread["title"])
            messages = []
            for number, (role, text) in enumerate(thread["messages"]):
                minute += 1
                message_id = f"{thread['id']}:{number}"
                owner[message_id] = resource["id"]
                messages.append(
                    {
                        "id": message_id,
                        "threadId": thread["id"],
                        "resourceId": resource["id"],
                        "role": role,
                        "createdAt": (BASE_TIME + timedelta(minutes=minute)).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                        "content": {"format": 2, "parts": [{"type": "text", "text": text}]},
                    }
                )
            memory.save_messages(messages)
    return owner


# ---------------------------------------------------------------- quality


@dataclass
class Outcome:
    dimension: int
    resource_ranks: list[int | None]  # rank of the answer in the top-k (0 = best), None if absent
    thread_ranks: list[int | None]
    answer_scores: list[float | None]  # the answer's score at resource scope, None if not in the top-k
    hits: list[list[float]]  # scores of the top-k hits of each answerable question
    unanswerable_best: list[float]
    leaks: int

    def quality_row(self, label: str) -> dict[str, Any]:
        return {
            "embedder": label,
            "dim": self.dimension,
            "resource recall@1": ratio(self.resource_ranks, 1),
            "resource recall@4": ratio(self.resource_ranks, TOP_K),
            "thread recall@1": ratio(self.thread_ranks, 1),
            "thread recall@4": ratio(self.thread_ranks, TOP_K),
            "hits from other users": self.leaks,
            "answer score (median, min)": f"{statistics.median(self.found_scores()):.2f}, {min(self.found_scores()):.2f}",
            "best score, no answer (median, max)": f"{statistics.median(self.unanswerable_best):.2f}, {max(self.unanswerable_best):.2f}",
        }

    def threshold_rows(self, label: str) -> list[dict[str, Any]]:
        rows = []
        for threshold in (None, *THRESHOLDS):
            kept = [[s for s in scores if threshold is None or s >= threshold] for scores in self.hits]
            found = [
                rank if score is not None and (threshold is None or score >= threshold) else None
                for rank, score in zip(self.resource_ranks, self.answer_scores)
            ]
            rows.append(
                {
                    "embedder": label,
                    "threshold": "none" if threshold is None else f"{threshold:.1f}",
                    "recall@4": ratio(found, TOP_K),
                    "hits per question (median)": statistics.median(len(k) for k in kept),
                    "questions without answer that still get a hit": (
                        f"{sum(threshold is None or best >= threshold for best in self.unanswerable_best)}/{len(self.unanswerable_best)}"
                    ),
                }
            )
        return rows

    def found_scores(self) -> list[float]:
        return [score for score in self.answer_scores if score is not None]


def ratio(ranks: list[int | None], k: int) -> str:
    found = sum(rank is not None and rank < k for rank in ranks)
    return f"{found / len(ranks):.2f} ({found}/{len(ranks)})"


def evaluate(data: dict[str, Any], embedder: Embedder) -> Outcome:
    store = LibSQLStore(":memory:")
    try:
        vector = LibSQLVector(store.database, embedder.dimension, embedder=embedder.name)
        memory = Memory(store, config={"semanticRecall": {"topK": TOP_K, "messageRange": 0}}, vector=vector, embedder=embedder, indexing="sync")
        owner = seed(memory, data)
        probes, unanswerable = data["probes"], data["unanswerable"]
        queries = embedder.embed([p["query"] for p in probes] + [u["query"] for u in unanswerable])
        outcome = Outcome(embedder.dimension, [], [], [], [], [], 0)
        for probe, query in zip(probes, queries):
            resource = probe["resourceId"]
            at_resource = vector.query(resource, query, TOP_K)
            at_thread = vector.query(resource, query, TOP_K, thread_id=probe["answer"].split(":")[0])
            outcome.leaks += sum(owner[hit.message_id] != resource for hit in at_resource + at_thread)
            ids = [hit.message_id for hit in at_resource]
            rank = ids.index(probe["answer"]) if probe["answer"] in ids else None
            outcome.resource_ranks.append(rank)
            outcome.answer_scores.append(None if rank is None else at_resource[rank].score)
            outcome.hits.append([hit.score for hit in at_resource])
            thread_ids = [hit.message_id for hit in at_thread]
            outcome.thread_ranks.append(thread_ids.index(probe["answer"]) if probe["answer"] in thread_ids else None)
        for question, query in zip(unanswerable, queries[len(probes) :]):
            [best, *_] = vector.query(question["resourceId"], query, 1)
            outcome.unanswerable_best.append(best.score)
        return outcome
    finally:
        store.close()


# ---------------------------------------------------------------- speed

SPEED_SCRIPT = r"""
import json, resource, statistics, sys, time
started = time.perf_counter()
from memkit.embedders.local import LocalEmbedder, load_model
load_model()
loaded = time.perf_counter() - started
embedder = LocalEmbedder()
queries, messages = json.loads(sys.stdin.read())
embedder.embed(queries[:2])
times, cpu_times = [], []
for query in queries:
    t, cpu = time.perf_counter(), time.process_time()
    embedder.embed([query])
    times.append(time.perf_counter() - t); cpu_times.append(time.process_time() - cpu)
t, cpu = time.perf_counter(), time.process_time()
embedder.embed(messages)
batch, batch_cpu = time.perf_counter() - t, time.process_time() - cpu
print(json.dumps({"load": loaded, "query": statistics.median(times), "query_cpu": statistics.median(cpu_times), "batch": len(messages) / batch,
                  "batch_cpu": len(messages) / batch_cpu, "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "resident": int(open("/proc/self/status").read().split("VmRSS:")[1].split()[0]) / 1024}))
"""


def speed_row(data: dict[str, Any]) -> dict[str, Any]:
    """In a fresh interpreter, so load time and peak memory are the model's alone."""
    queries = [p["query"] for p in data["probes"]][:QUERY_SAMPLES]
    messages = list(messages_by_id(data).values()) * 6
    result = subprocess.run(
        [sys.executable, "-c", SPEED_SCRIPT], input=json.dumps([queries, messages]),
        capture_output=True, text=True, check=True, timeout=600,
    )
    measured = json.loads(result.stdout)
    return {
        "model load (s)": f"{measured['load']:.2f}",
        "one query, median (ms)": f"{measured['query'] * 1000:.1f}",
        "same, CPU time (ms)": f"{measured['query_cpu'] * 1000:.1f}",
        f"batch of {len(messages)} messages (messages/s)": round(measured["batch"]),
        "same, per CPU second": round(measured["batch_cpu"]),
        "resident memory, peak while loading (MB)": round(measured["rss"]),
        "resident memory after (MB)": round(measured["resident"]),
    }


# ---------------------------------------------------------------- re-indexing

_WORDS = (
    "garden tomatoes basil compost shed fence roses watering seeds harvest marathon training knee pace "
    "interval shoes recovery race kitchen renovation cabinets contractor budget tiles piano lessons "
    "scales teacher recital practice trip lisbon flight hotel museum beach passport train dog vet walk "
    "puppy park mortgage savings rent salary taxes pension bank novel chapter author library poetry car "
    "brakes tyres mechanic insurance battery project deadline manager migration database meeting report"
).split()


def reindex_row() -> dict[str, Any]:
    rng = random.Random(14)
    with tempfile.TemporaryDirectory(prefix="memkit-bench-reindex-") as tmp:
        store = LibSQLStore(f"file:{Path(tmp) / 'memkit.db'}")
        try:
            vector = LibSQLVector(store.database, 256, embedder="lexical")
            memory = Memory(store, config={"semanticRecall": {"topK": TOP_K}}, vector=vector, embedder=LexicalEmbedder(256), indexing="sync")
            per_thread = 100
            for number in range(REINDEX_MESSAGES // per_thread):
                thread = Thread(id=f"t{number:03d}", resource_id=f"user-{number % 10}", title="", created_at=BASE_TIME, updated_at=BASE_TIME)
                store.save_thread(thread)
                messages = [
                    Message(
                        id=f"{thread.id}-m{index:03d}", thread_id=thread.id, resource_id=thread.resource_id,
                        role="user" if index % 2 == 0 else "assistant",
                        created_at=BASE_TIME + timedelta(seconds=number * per_thread + index),
                        content={"format": 2, "parts": [{"type": "text", "text": sentence(rng)}]},
                    )
                    for index in range(per_thread)
                ]
                store.save_messages(messages)
                index_messages(memory.ports, thread.resource_id, [m.id for m in messages])
            phases: dict[str, float] = {}

            def progress(phase: str, done: int, total: int) -> None:
                phases.setdefault(phase, time.perf_counter())

            started, cpu = time.perf_counter(), time.process_time()
            report = reindex(store.database, [store], LocalEmbedder(), embedder_name=LocalEmbedder.name, progress=progress)
            finished, cpu = time.perf_counter(), time.process_time() - cpu
        finally:
            store.close()
    embedding = phases["indexing"] - started
    return {
        "messages": f"{report.messages:,}",
        "vectors": f"{report.chunks:,}",
        "embedding (s)": f"{embedding:.1f}",
        "embedding (messages/s)": round(report.messages / embedding),
        "building the ANN index (s)": f"{finished - phases['indexing']:.1f}",
        "total (s)": f"{finished - started:.1f}",
        "CPU time (s)": f"{cpu:.1f}",
    }


def sentence(rng: random.Random) -> str:
    """A message-like sentence of 8-30 words, so lengths vary as in a conversation."""
    words = [rng.choice(_WORDS) for _ in range(rng.randint(8, 30))]
    return f"I was thinking about the {words[0]} and the {words[1]}, " + " ".join(words[2:]) + "."
