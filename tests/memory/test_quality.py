"""Recall quality on the fixed conversation set, with the local embedder, on each vector store:
for every probe question, the message that answers it is among the top-k (topK 4), whether
searched across the user's threads (scope resource) or within the answer's thread (scope thread).

messageRange 0, so what comes back is exactly the hits and not their neighbours."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from memkit.memory import Memory

from tests.memory.conftest import Backend, Corpus, load_corpus

TOP_K = 4


def test_every_probe_finds_its_answer_in_another_thread_at_resource_scope(
    backend: Backend, make_memory: Callable[..., Memory]
) -> None:
    # Given the conversations of three users, indexed
    memory = make_memory({"lastMessages": 0, "semanticRecall": {"topK": TOP_K, "messageRange": 0, "scope": "resource"}})
    corpus = load_corpus(memory)
    misses = []
    for probe in corpus.probes:
        # When the question is asked in another thread of the same user
        result = memory.recall(thread_id=probe["askedIn"], resource_id=corpus.resource(probe["resourceId"]), query=probe["query"])
        # Then the answer is recalled, presented as coming from its own (other) conversation
        recalled = {m.id: group["threadId"] for group in result.other_threads for m in group["messages"]}
        if recalled.get(probe["answer"]) != Corpus.thread_of(probe["answer"]):
            misses.append((probe["query"], probe["answer"], sorted(recalled)))
        assert result.recall_warning is None
    assert not misses, f"{len(misses)} of {len(corpus.probes)} probes missed: {misses}"


def test_every_probe_finds_its_answer_at_thread_scope(backend: Backend, make_memory: Callable[..., Memory]) -> None:
    memory = make_memory({"lastMessages": 0, "semanticRecall": {"topK": TOP_K, "messageRange": 0, "scope": "thread"}})
    corpus = load_corpus(memory)
    misses = []
    for probe in corpus.probes:
        # When the question is asked in the answer's own thread (nothing in the recent window)
        thread_id = Corpus.thread_of(probe["answer"])
        result = memory.recall(thread_id=thread_id, resource_id=corpus.resource(probe["resourceId"]), query=probe["query"])
        # Then the answer is among the recalled messages of this thread
        if probe["answer"] not in {m.id for m in result.messages}:
            misses.append((probe["query"], probe["answer"], [m.id for m in result.messages]))
        assert result.other_threads == []
    assert not misses, f"{len(misses)} of {len(corpus.probes)} probes missed: {misses}"


@pytest.mark.parametrize("scope", ["resource", "thread"])
def test_the_answer_is_usually_the_best_hit(backend: Backend, make_memory: Callable[..., Memory], scope: str) -> None:
    """A stricter measure than top-k, so that a regression of the embedder shows before probes
    start failing: the answer ranks first for most probes."""
    memory = make_memory({"lastMessages": 0, "semanticRecall": {"topK": TOP_K, "messageRange": 0, "scope": scope}})
    corpus = load_corpus(memory)
    assert memory.embedder is not None and backend.vector is not None
    first = 0
    for probe in corpus.probes:
        [vector] = memory.embedder.embed([probe["query"]])
        thread_id = Corpus.thread_of(probe["answer"]) if scope == "thread" else None
        hits = backend.vector.query(corpus.resource(probe["resourceId"]), vector, TOP_K, thread_id=thread_id)
        first += bool(hits) and hits[0].message_id == probe["answer"]
    assert first >= 0.7 * len(corpus.probes), f"the answer ranked first for only {first} of {len(corpus.probes)} probes"


def test_the_recall_benchmarks_questions_share_no_word_with_their_answers() -> None:
    """``make bench``'s quality set is only a test of meaning while this holds; it refuses to
    load otherwise, and a question edited into sharing a word with its answer fails here first."""
    from bench.recall_quality import content_words, load_set, messages_by_id

    data = load_set()
    texts = messages_by_id(data)
    assert len(data["probes"]) >= 40
    assert all(not content_words(p["query"]) & content_words(texts[p["answer"]]) for p in data["probes"])
    # the checker itself sees shared stems: "dogs" and "dog" are one word to it
    assert content_words("my dogs") & content_words("a dog")
