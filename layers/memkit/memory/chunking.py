"""What of a message gets embedded, and in which pieces.

Indexed: ``user`` and ``assistant`` messages with text (their ``text`` parts, else the legacy
``content`` string). Not indexed: ``system`` and ``signal`` messages (instructions and control,
not conversation), and messages without text (tool calls/results only, files, step markers).

Chunks: a text of at most ``CHUNK_CHARS`` (1,000) characters is one chunk. Longer texts are cut
on word boundaries into chunks of at most ``CHUNK_CHARS`` characters, each starting about
``CHUNK_OVERLAP`` (200) characters before the previous one ended, so a sentence cut in two is
whole in one of them. 1,000 characters are ~250 tokens: well inside every embedding model's
input limit (Titan v2: 8k tokens), and short enough that one message's topic is not averaged
away by the rest of a long answer.
"""

from __future__ import annotations

from memkit.models import Message

CHUNK_CHARS = 1000
CHUNK_OVERLAP = 200
INDEXED_ROLES = frozenset({"user", "assistant"})


def indexable_text(message: Message) -> str:
    """The text to embed, or "" when the message is not indexed."""
    if message.role not in INDEXED_ROLES:
        return ""
    return message.text().strip()


def chunk_text(text: str, size: int = CHUNK_CHARS, overlap: int = CHUNK_OVERLAP) -> list[str]:
    text = " ".join(text.split())
    if not text:
        return []
    if len(text) <= size:
        return [text]
    chunks: list[str] = []
    start = 0
    while start < len(text):
        end = min(start + size, len(text))
        if end < len(text):
            cut = text.rfind(" ", start + 1, end + 1)
            # A single "word" longer than the chunk (a URL, base64) is cut where it must be.
            end = cut if cut > start else end
        chunks.append(text[start:end].strip())
        if end >= len(text):
            break
        next_start = max(end - overlap, start + 1)
        # Start the next chunk on a word boundary too.
        boundary = text.find(" ", next_start, end)
        start = boundary + 1 if boundary != -1 else next_start
    return [chunk for chunk in chunks if chunk]
