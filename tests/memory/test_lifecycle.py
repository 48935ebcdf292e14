"""The vectors follow the messages: one per chunk however often a message is saved, re-indexed on
update, gone after deletes, never written by a read-only agent — on each vector store (counted
from the store itself: the libSQL table, or the Pinecone stand-in's list endpoint)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from memkit.errors import ForbiddenError
from memkit.memory import Memory
from memkit.memory.chunking import chunk_text

from tests.memory.conftest import Backend, load_corpus, text_message, uid

# ~2,800 characters of distinct sentences: several chunks.
LONG_TEXT = " ".join(f"Paragraph {n} talks about lighthouse number {n} on the northern coast." for n in range(40))
LONG_CHUNKS = len(chunk_text(LONG_TEXT))


@pytest.fixture
def resource_id() -> str:
    return uid("res")


def _thread(memory: Memory, resource_id: str, thread_id: str = "t1") -> str:
    memory.create_thread(resource_id=resource_id, thread_id=thread_id, title=f"Thread {thread_id}")
    return thread_id


def test_resaving_leaves_exactly_one_vector_per_chunk(
    backend: Backend, make_memory: Callable[..., Memory], resource_id: str
) -> None:
    memory = make_memory()
    thread_id = _thread(memory, resource_id)
    messages = [
        text_message("long", thread_id, resource_id, LONG_TEXT, at=1),
        text_message("short", thread_id, resource_id, "A short note about lighthouses", role="assistant", at=2),
    ]
    assert LONG_CHUNKS >= 3
    # When the same messages are saved three times
    for _ in range(3):
        memory.save_messages(messages)
    # Then each chunk has exactly one vector, keyed <messageId>#<chunk>
    assert backend.stored_ids(resource_id) == [f"long#{n}" for n in range(LONG_CHUNKS)] + ["short#0"]


def test_vector_metadata_is_small_and_never_holds_the_text(
    backend: Backend, make_memory: Callable[..., Memory], resource_id: str
) -> None:
    memory = make_memory()
    thread_id = _thread(memory, resource_id)
    memory.save_messages([text_message("m1", thread_id, resource_id, LONG_TEXT, at=7)])
    metadata = backend.stored_metadata(resource_id, ["m1#0", "m1#2"])
    assert len(metadata) == 2
    assert metadata["m1#2"] == {
        "threadId": thread_id,
        "messageId": "m1",
        "role": "user",
        "createdAt": "2025-03-01T00:07:00.000Z",
        "chunk": 2,
    }
    assert set(metadata["m1#0"]) == {"threadId", "messageId", "role", "createdAt", "chunk"}


def test_updating_a_message_reindexes_it_and_drops_stale_chunks(
    backend: Backend, make_memory: Callable[..., Memory], resource_id: str
) -> None:
    memory = make_memory({"lastMessages": 0, "semanticRecall": {"topK": 1, "messageRange": 0, "scope": "thread"}})
    thread_id = _thread(memory, resource_id)
    memory.save_messages(
        [
            text_message("m1", thread_id, resource_id, LONG_TEXT, at=1),
            text_message("m2", thread_id, resource_id, "We talked about the weather in Oslo", at=2),
        ]
    )
    # When the long message is rewritten into a short one about something else
    memory.update_messages([{"id": "m1", "content": {"parts": [{"type": "text", "text": "My favourite fruit is the mango"}]}}])
    # Then its old chunks are gone and the new text is what recall finds
    assert backend.stored_ids(resource_id) == ["m1#0", "m2#0"]
    found = memory.recall(thread_id=thread_id, resource_id=resource_id, query="favourite fruit mango")
    assert [m.id for m in found.messages] == ["m1"]


def test_a_message_that_loses_its_text_loses_its_vectors(
    backend: Backend, make_memory: Callable[..., Memory], resource_id: str
) -> None:
    memory = make_memory()
    thread_id = _thread(memory, resource_id)
    memory.save_messages([text_message("m1", thread_id, resource_id, "Some words to index", at=1)])
    memory.update_messages([{"id": "m1", "content": {"parts": [{"type": "step-start"}], "content": ""}}])
    assert backend.stored_ids(resource_id) == []


def test_an_update_that_leaves_the_indexed_fields_alone_embeds_nothing(
    backend: Backend, make_memory: Callable[..., Memory], resource_id: str, first_arguments: Callable[[Any, str], list[Any]]
) -> None:
    memory = make_memory()
    thread_id = _thread(memory, resource_id)
    memory.save_messages([text_message("m1", thread_id, resource_id, "The boat is moored at pier four", at=1)])
    embedded = first_arguments(memory.embedder, "embed")

    # When only fields the index does not hold change (content.metadata, type, other content)
    memory.update_messages([{"id": "m1", "content": {"metadata": {"reviewed": True}}}])
    memory.update_messages([{"id": "m1", "type": "v3", "content": {"providerMetadata": {"x": 1}}}])
    # Then the unchanged text is not embedded again
    assert embedded == []

    # When the text changes, it is embedded once
    memory.update_messages([{"id": "m1", "content": {"parts": [{"type": "text", "text": "The boat moved to pier nine"}]}}])
    assert embedded == [["The boat moved to pier nine"]]
    assert backend.stored_ids(resource_id) == ["m1#0"]


def test_an_update_of_the_role_alone_reindexes_the_message(
    backend: Backend, make_memory: Callable[..., Memory], resource_id: str
) -> None:
    memory = make_memory()
    thread_id = _thread(memory, resource_id)
    memory.save_messages([text_message("m1", thread_id, resource_id, "Instructions, not conversation", at=1)])
    # A system message is not indexed, so turning a user message into one drops its vectors
    memory.update_messages([{"id": "m1", "role": "system"}])
    assert backend.stored_ids(resource_id) == []


def test_a_sync_save_indexes_the_saved_messages_without_reading_them_back(
    backend: Backend, make_memory: Callable[..., Memory], resource_id: str, first_arguments: Callable[[Any, str], list[Any]]
) -> None:
    memory = make_memory()
    thread_id = _thread(memory, resource_id)
    reads_by_id = first_arguments(backend.store, "list_messages_by_id")

    memory.save_messages(
        [
            text_message("m1", thread_id, resource_id, LONG_TEXT, at=1),
            text_message("m2", thread_id, resource_id, "A short answer", role="assistant", at=2),
        ]
    )
    memory.update_messages([{"id": "m2", "content": {"parts": [{"type": "text", "text": "A longer answer"}]}}])

    assert reads_by_id == []
    assert backend.stored_ids(resource_id) == [f"m1#{n}" for n in range(LONG_CHUNKS)] + ["m2#0"]


def test_only_conversation_text_is_indexed(backend: Backend, make_memory: Callable[..., Memory], resource_id: str) -> None:
    memory = make_memory()
    thread_id = _thread(memory, resource_id)
    tool_only = text_message("tool", thread_id, resource_id, "", role="assistant", at=3)
    tool_only["content"] = {
        "format": 2,
        "parts": [{"type": "tool-invocation", "toolInvocation": {"state": "result", "toolName": "weather", "result": {"t": 21}}}],
    }
    memory.save_messages(
        [
            text_message("user", thread_id, resource_id, "What is the weather?", at=1),
            text_message("system", thread_id, resource_id, "You are a helpful assistant", role="system", at=2),
            tool_only,
            text_message("signal", thread_id, resource_id, "typing", role="signal", at=4),
            text_message("answer", thread_id, resource_id, "It is 21 degrees and sunny", role="assistant", at=5),
        ]
    )
    assert backend.stored_ids(resource_id) == ["answer#0", "user#0"]


def test_deleting_messages_removes_their_vectors(backend: Backend, make_memory: Callable[..., Memory], resource_id: str) -> None:
    memory = make_memory()
    thread_id = _thread(memory, resource_id)
    memory.save_messages(
        [
            text_message("keep", thread_id, resource_id, "Keep this one", at=1),
            text_message("drop", thread_id, resource_id, LONG_TEXT, at=2),
            # "drop1" shares the prefix "drop" but not "drop#": it must survive
            text_message("drop1", thread_id, resource_id, "A neighbour with a similar id", at=3),
        ]
    )
    memory.delete_messages(["drop", "unknown-id"])
    assert backend.stored_ids(resource_id) == ["drop1#0", "keep#0"]


def test_deleting_a_thread_removes_its_vectors_only(
    backend: Backend, make_memory: Callable[..., Memory], resource_id: str
) -> None:
    memory = make_memory()
    first, second = _thread(memory, resource_id, "t1"), _thread(memory, resource_id, "t2")
    memory.save_messages(
        [
            text_message("a1", first, resource_id, LONG_TEXT, at=1),
            text_message("a2", first, resource_id, "More in the first thread", at=2),
            text_message("b1", second, resource_id, "The second thread stays", at=3),
        ]
    )
    memory.delete_thread(first, resource_id)
    assert backend.stored_ids(resource_id) == ["b1#0"]


def test_deleting_a_thread_removes_the_vectors_of_messages_attributed_to_others(
    backend: Backend, make_memory: Callable[..., Memory], resource_id: str
) -> None:
    # Given a thread holding a message attributed to another resource (indexed in its namespace)
    memory = make_memory()
    guest = uid("guest")
    thread_id = _thread(memory, resource_id, uid("shared"))
    kept = _thread(memory, guest, uid("guest-own"))
    memory.save_messages(
        [
            text_message("own1", thread_id, resource_id, "The owner's message", at=1),
            text_message("guest1", thread_id, guest, "A guest's message about the blue bicycle", at=2),
            text_message("guest2", kept, guest, "The guest's own thread stays", at=3),
        ]
    )
    assert backend.stored_ids(guest) == ["guest1#0", "guest2#0"]

    # When the owner deletes the thread
    memory.delete_thread(thread_id, resource_id)

    # Then no vector of its messages is left in any namespace, and the guest's own thread is kept
    assert backend.stored_ids(resource_id) == []
    assert backend.stored_ids(guest) == ["guest2#0"]


def test_erasing_a_resource_removes_vectors_of_others_messages_in_its_threads(
    backend: Backend, make_memory: Callable[..., Memory], resource_id: str
) -> None:
    memory = make_memory()
    guest = uid("guest")
    thread_id = _thread(memory, resource_id, uid("erased"))
    memory.save_messages(
        [
            text_message("own1", thread_id, resource_id, "The owner's message", at=1),
            text_message("guest1", thread_id, guest, "A guest's message about the red kite", at=2),
        ]
    )

    memory.erase_resource(resource_id)

    assert backend.stored_ids(resource_id) == []
    assert backend.stored_ids(guest) == []


def test_erasing_a_resource_removes_all_its_vectors_and_no_one_elses(
    backend: Backend, make_memory: Callable[..., Memory]
) -> None:
    memory = make_memory()
    corpus = load_corpus(memory, resources=["alice", "bob"])
    alice, bob = corpus.resource("alice"), corpus.resource("bob")
    bob_vectors = backend.stored_ids(bob)
    assert len(backend.stored_ids(alice)) == 32 and len(bob_vectors) == 32

    memory.erase_resource(alice)

    assert backend.stored_ids(alice) == []
    assert backend.stored_ids(bob) == bob_vectors
    memory.erase_resource(alice)  # erasing again (an empty partition) is fine


def test_deleting_vectors_of_a_resource_that_never_had_any_succeeds(backend: Backend, resource_id: str) -> None:
    # Pinecone answers 404 to these deletes (the namespace was never created); that means
    # "nothing to delete", not a misconfigured index.
    backend.vector.delete_resource(resource_id)
    backend.vector.delete_threads(resource_id, ["t1"])
    backend.vector.trim_messages(resource_id, {"m1": 0})
    backend.vector.delete_messages(resource_id, ["m1"])

    assert backend.stored_ids(resource_id) == []


def test_a_read_only_agent_indexes_nothing(backend: Backend, make_memory: Callable[..., Memory], resource_id: str) -> None:
    writer = make_memory()
    reader = make_memory({"readOnly": True, "lastMessages": 0, "semanticRecall": {"topK": 2, "messageRange": 0}})
    thread_id = _thread(writer, resource_id)
    writer.save_messages([text_message("w1", thread_id, resource_id, "The spare key is under the blue flowerpot", at=1)])

    # The read-only agent may not write, so it indexes nothing either
    with pytest.raises(ForbiddenError):
        reader.save_messages([text_message("r1", thread_id, resource_id, "An attempted write about keys", at=2)])
    with pytest.raises(ForbiddenError):
        reader.update_messages([{"id": "w1", "content": {"parts": [{"type": "text", "text": "rewritten"}]}}])
    with pytest.raises(ForbiddenError):
        reader.clone_thread({"sourceThreadId": thread_id, "newThreadId": "copy"})
    assert backend.stored_ids(resource_id) == ["w1#0"]

    # But it still recalls what others indexed
    result = reader.recall(thread_id=thread_id, resource_id=resource_id, query="where is the spare key?")
    assert [m.id for m in result.messages] == ["w1"]


def test_cloning_a_thread_indexes_the_copies(backend: Backend, make_memory: Callable[..., Memory], resource_id: str) -> None:
    memory = make_memory()
    thread_id = _thread(memory, resource_id)
    memory.save_messages([text_message("orig", thread_id, resource_id, "A message worth cloning", at=1)])
    cloned = memory.clone_thread({"sourceThreadId": thread_id, "newThreadId": "copy"})
    copy_id = cloned.cloned_messages[0].id
    assert backend.stored_ids(resource_id) == sorted(["orig#0", f"{copy_id}#0"])
    assert backend.stored_metadata(resource_id, [f"{copy_id}#0"])[f"{copy_id}#0"]["threadId"] == "copy"
