"""What gets embedded and how long texts are cut (``memkit.memory.chunking``)."""

from __future__ import annotations

from memkit.models import Message
from memkit.memory.chunking import CHUNK_CHARS, CHUNK_OVERLAP, chunk_text, indexable_text

from tests.memory.conftest import text_message

WORDS = [f"word{n:04d}" for n in range(600)]  # 5,999 characters joined by spaces


def test_a_short_text_is_one_chunk_with_its_whitespace_normalised() -> None:
    assert chunk_text("  Hello\n\nworld\t again ") == ["Hello world again"]
    assert chunk_text("   ") == []
    assert chunk_text("x" * CHUNK_CHARS) == ["x" * CHUNK_CHARS]


def test_long_texts_are_cut_on_word_boundaries_with_overlap() -> None:
    chunks = chunk_text(" ".join(WORDS))
    assert all(len(chunk) <= CHUNK_CHARS for chunk in chunks)
    # every chunk is made of whole words
    assert all(set(chunk.split()) <= set(WORDS) for chunk in chunks)
    # nothing is lost, and consecutive chunks overlap by about CHUNK_OVERLAP characters
    assert [w for w in WORDS if not any(w in chunk.split() for chunk in chunks)] == []
    for left, right in zip(chunks, chunks[1:]):
        shared = set(left.split()) & set(right.split())
        assert CHUNK_OVERLAP - 20 <= len(" ".join(sorted(shared))) <= CHUNK_OVERLAP + 20
    # and the overlap is all that repeats: no more chunks than the stride needs
    text_length = len(" ".join(WORDS))
    assert len(chunks) <= -(-(text_length - CHUNK_OVERLAP) // (CHUNK_CHARS - CHUNK_OVERLAP - 20))


def test_a_word_longer_than_a_chunk_is_cut_where_it_must_be() -> None:
    chunks = chunk_text("start " + "y" * 2500 + " end")
    assert all(len(chunk) <= CHUNK_CHARS for chunk in chunks)
    assert "".join(chunks).count("y") >= 2500


def test_only_user_and_assistant_text_is_indexed() -> None:
    def message(role: str, content: object) -> Message:
        data = text_message("m1", "t1", "r1", "", role=role)
        data["content"] = content
        return Message.model_validate(data)

    assert indexable_text(message("user", {"format": 2, "parts": [{"type": "text", "text": " Hi there "}]})) == "Hi there"
    assert indexable_text(message("assistant", {"format": 2, "parts": [], "content": "legacy string"})) == "legacy string"
    assert indexable_text(message("system", {"format": 2, "parts": [{"type": "text", "text": "instructions"}]})) == ""
    assert indexable_text(message("signal", {"format": 2, "parts": [{"type": "text", "text": "typing"}]})) == ""
    tool_only = {"format": 2, "parts": [{"type": "tool-invocation", "toolInvocation": {"toolName": "x", "state": "call"}}]}
    assert indexable_text(message("assistant", tool_only)) == ""
