"""Isolation: scope thread stays in its thread, a resource never sees another's vectors, and an
include window never brings another resource's messages — on each vector store."""

from __future__ import annotations

from collections.abc import Callable

from memkit.memory import Memory

from tests.memory.conftest import Backend, Corpus, load_corpus, text_message


def test_thread_scope_never_returns_another_threads_messages(backend: Backend, make_memory: Callable[..., Memory]) -> None:
    # Given indexed conversations, and recall limited to the current thread with wide windows
    memory = make_memory({"lastMessages": 0, "semanticRecall": {"topK": 4, "messageRange": 2, "scope": "thread"}})
    corpus = load_corpus(memory)
    for probe in corpus.probes:
        # When a question whose answer lives in another thread is asked
        result = memory.recall(thread_id=probe["askedIn"], resource_id=corpus.resource(probe["resourceId"]), query=probe["query"])
        # Then only this thread's messages come back (the question finds something, though)
        assert result.messages, probe["query"]
        assert {m.thread_id for m in result.messages} == {probe["askedIn"]}
        assert result.other_threads == []


def test_a_resource_never_sees_another_resources_vectors(backend: Backend, make_memory: Callable[..., Memory]) -> None:
    memory = make_memory({"lastMessages": 0, "semanticRecall": {"topK": 8, "messageRange": 0}})
    corpus = load_corpus(memory)
    # Two users say exactly the same thing
    for name in ("alice", "bob"):
        resource_id = corpus.resource(name)
        memory.create_thread(resource_id=resource_id, thread_id=f"{name}-same")
        corpus.thread_owner[f"{name}-same"] = resource_id
        memory.save_messages([text_message(f"{name}-same:0", f"{name}-same", resource_id, "My parrot Kiwi speaks Portuguese")])
    assert memory.embedder is not None
    [vector] = memory.embedder.embed(["parrot Kiwi Portuguese"])

    # When each user searches for it, they find their own message only
    for name in ("alice", "bob"):
        hits = backend.vector.query(corpus.resource(name), vector, 8)
        assert hits[0].message_id == f"{name}-same:0"
        assert all(corpus.thread_owner[hit.thread_id] == corpus.resource(name) for hit in hits)

    # And no probe, asked by another user, recalls a message of the user it is about
    for probe in corpus.probes:
        for other in ("alice", "bob", "carol"):
            if other == probe["resourceId"]:
                continue
            other_id = corpus.resource(other)
            other_thread = corpus.threads(other)[0]["id"]
            result = memory.recall(thread_id=other_thread, resource_id=other_id, query=probe["query"])
            recalled = result.messages + [m for group in result.other_threads for m in group["messages"]]
            assert {m.resource_id for m in recalled} <= {other_id}, (probe["query"], other)


def test_an_include_window_never_crosses_resources(backend: Backend, make_memory: Callable[..., Memory]) -> None:
    memory = make_memory({"lastMessages": 0, "semanticRecall": {"topK": 2, "messageRange": 3}})
    alice, mallory = "alice-window", "mallory-window"
    memory.create_thread(resource_id=alice, thread_id="shared-thread")
    memory.create_thread(resource_id=alice, thread_id="alice-other")
    # Given alice's thread holds, right next to her message, messages attributed to mallory
    memory.save_messages(
        [
            text_message("w1", "shared-thread", alice, "I keep my bicycle in the basement", at=1),
            text_message("w2", "shared-thread", mallory, "Mallory's secret note about the bicycle", at=2),
            text_message("w3", "shared-thread", alice, "The bicycle has a red frame and a basket", at=3),
            text_message("w4", "shared-thread", mallory, "Another private remark of mallory", at=4),
            text_message("w5", "alice-other", alice, "Unrelated message in another thread", at=5),
        ]
    )
    # When alice recalls with windows wide enough to reach mallory's messages
    result = memory.recall(thread_id="alice-other", resource_id=alice, query="bicycle red frame")
    recalled = [m for group in result.other_threads for m in group["messages"]]
    # Then she gets her own messages around the hit, never mallory's
    assert {m.id for m in recalled} == {"w1", "w3"}
    assert all(m.resource_id == alice for m in recalled)
    # And mallory's messages were indexed in mallory's partition, not in alice's
    assert backend.stored_ids(alice) == ["w1#0", "w3#0", "w5#0"]
    assert backend.stored_ids(mallory) == ["w2#0", "w4#0"]


def test_search_never_returns_another_resources_messages(backend: Backend, make_memory: Callable[..., Memory]) -> None:
    from memkit.memory.search import search_memory

    memory = make_memory()
    corpus = load_corpus(memory)
    for probe in corpus.probes:
        for name in ("alice", "bob", "carol"):
            answer = search_memory(memory.ports, search_query=probe["query"], resource_id=corpus.resource(name), limit=10)
            ids = [r["id"] for r in answer["results"]] + [
                c["id"] for r in answer["results"] for c in r["context"]["before"] + r["context"]["after"]
            ]
            assert all(corpus.thread_owner[Corpus.thread_of(i)] == corpus.resource(name) for i in ids)
            if name == probe["resourceId"]:
                # An empty answer would pass the check above: the owner must find something.
                assert answer["results"], probe["query"]


def test_recall_never_repeats_a_message_of_the_recent_window(backend: Backend, make_memory: Callable[..., Memory]) -> None:
    memory = make_memory({"lastMessages": 2, "semanticRecall": {"topK": 3, "messageRange": 1, "scope": "thread"}})
    resource_id = "dedupe-owner"
    memory.create_thread(resource_id=resource_id, thread_id="dedupe-thread")
    # Given the best matches sit both in the recent window and just before it
    memory.save_messages(
        [
            text_message("d1", "dedupe-thread", resource_id, "Unrelated opening about the weather", at=1),
            text_message("d2", "dedupe-thread", resource_id, "My violin teacher lives in Vienna", at=2),
            text_message("d3", "dedupe-thread", resource_id, "The violin lessons are on Tuesday", at=3),
            text_message("d4", "dedupe-thread", resource_id, "I practise the violin every evening", role="assistant", at=4),
        ]
    )
    # When recall finds hits inside and around the recent window (d3, d4)
    result = memory.recall(thread_id="dedupe-thread", resource_id=resource_id, query="violin")
    # Then every message comes back once, in createdAt order, with the older hit and its neighbour added
    assert [m.id for m in result.messages] == ["d1", "d2", "d3", "d4"]


def test_threshold_drops_hits_below_the_similarity_it_names(backend: Backend, make_memory: Callable[..., Memory]) -> None:
    resource_id = "threshold-owner"
    loose = make_memory({"lastMessages": 0, "semanticRecall": {"topK": 4, "messageRange": 0, "scope": "resource"}})
    loose.create_thread(resource_id=resource_id, thread_id="threshold-thread")
    loose.create_thread(resource_id=resource_id, thread_id="threshold-asked")
    loose.save_messages(
        [
            text_message("close", "threshold-thread", resource_id, "My parrot Kiwi speaks Portuguese", at=1),
            text_message("far", "threshold-thread", resource_id, "Invoices are due at the end of the quarter", at=2),
        ]
    )
    assert loose.embedder is not None
    [vector] = loose.embedder.embed(["parrot Kiwi Portuguese"])
    scores = {hit.message_id: hit.score for hit in backend.vector.query(resource_id, vector, 4)}
    assert scores["close"] > scores["far"]
    # Given a threshold between the two scores
    threshold = (scores["close"] + scores["far"]) / 2
    strict = make_memory({"lastMessages": 0, "semanticRecall": {"topK": 4, "messageRange": 0, "threshold": threshold}})
    # When recall runs with it, only the hit at or above it comes back
    recalled = strict.recall(thread_id="threshold-asked", resource_id=resource_id, query="parrot Kiwi Portuguese")
    assert [m.id for group in recalled.other_threads for m in group["messages"]] == ["close"]
    unfiltered = loose.recall(thread_id="threshold-asked", resource_id=resource_id, query="parrot Kiwi Portuguese")
    assert sorted(m.id for group in unfiltered.other_threads for m in group["messages"]) == ["close", "far"]
