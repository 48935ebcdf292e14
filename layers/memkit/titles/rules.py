"""What a thread title is: the rules a title must follow, the prompt a model gets, and the
extractive title that needs no model (pure functions; the job is ``job.py``).

Titles are at most 80 characters, with no quotes or colons, on one line. ``clean_title`` makes a
model's answer into one (thinking blocks, labels, quotes and markup removed, cut on a word);
``extractive_title`` takes the key phrase of the first message, which is what the ``local``
model (``memkit.llm.local``) answers too.
"""

from __future__ import annotations

import re

from memkit.config import DEFAULT_TITLE_INSTRUCTIONS
from memkit.storage.memory.base import DEFAULT_TITLES

TITLE_MAX_CHARS = 80
# The opening of a conversation says what it is about; more text only costs tokens.
PROMPT_MAX_CHARS = 2000
EXTRACTIVE_MAX_WORDS = 10

_THINK_BLOCK = re.compile(r"<think>.*?</think>", re.IGNORECASE | re.DOTALL)
_UNCLOSED_THINK = re.compile(r"<think>.*", re.IGNORECASE | re.DOTALL)
_CLOSE_THINK = "</think>"
_LABEL = re.compile(r"^\s*(?:#+\s*)?(?:\*\*)?\s*title\s*[:：]\s*", re.IGNORECASE)
# An apostrophe between two letters is part of a word ("Don't", "Lisbon's"), not a quote.
_QUOTES = re.compile(r"(?<!\w)['’‘]|['’‘](?!\w)|[\"“”„‟«»‹›`]")
_COLONS = re.compile(r"[:：]")
_MARKUP = re.compile(r"\*\*|^#+\s*")
_WHITESPACE = re.compile(r"\s+")
_TRAILING = " .,;!-–—"

_WORD = re.compile(r"\w")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_GREETING = re.compile(
    r"^(?:hi|hello|hey|hiya|howdy|greetings|good\s+(?:morning|afternoon|evening))\b(?:\s+there)?[\s,!.]*",
    re.IGNORECASE,
)
_FILLER = re.compile(r"^(?:(?:so|ok|okay|well|um|please)\b[\s,]*)+", re.IGNORECASE)
# The request around the topic ("can you help me plan X" is about planning X): a title names
# the topic, so the asking is dropped.
_REQUEST = re.compile(
    r"^(?:(?:can|could|would|will) you(?: please)?(?: help me)?(?: to)?|(?:please )?help me(?: to| with)?"
    r"|i(?:'d| would) like(?: you)?(?: to)?|i (?:want|need|wanted)(?: you)?(?: to| help with)?"
    r"|i was wondering if you could|tell me(?: about)?)\b[\s,]*",
    re.IGNORECASE,
)
# Words a cut-off title must not end on ("... to Lisbon with my").
_DANGLING = frozenset(
    "a an the to of for with and or but in on at by from my your our their his her its this that".split()
)


def is_untitled(title: str | None) -> bool:
    return (title or "") in DEFAULT_TITLES


def build_prompt(instructions: str | None, first_message: str) -> tuple[str, str]:
    """(system, prompt) for the model: the instructions, then the truncated first message."""
    text = first_message.strip()
    if len(text) > PROMPT_MAX_CHARS:
        text = text[:PROMPT_MAX_CHARS]
    return (instructions or DEFAULT_TITLE_INSTRUCTIONS), text


def clean_title(raw: str | None) -> str | None:
    """A model's answer made into a title, or None when nothing usable is left."""
    if not raw:
        return None
    text = _THINK_BLOCK.sub(" ", raw)
    # A block cut off by max_tokens: everything after the opening tag is reasoning.
    text = _UNCLOSED_THINK.sub(" ", text)
    # Some endpoints strip the opening tag but keep the closing one.
    if _CLOSE_THINK in text.lower():
        text = text[text.lower().rindex(_CLOSE_THINK) + len(_CLOSE_THINK) :]
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return None
    text = _LABEL.sub("", lines[0])
    text = _MARKUP.sub("", text.strip())
    text = _QUOTES.sub("", text)
    text = _COLONS.sub(" ", text)
    text = _WHITESPACE.sub(" ", text).strip().strip(_TRAILING)
    text = _truncate_on_word(text, TITLE_MAX_CHARS)
    return text or None


def _truncate_on_word(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit]
    if not text[limit].isspace():
        boundary = cut.rfind(" ")
        # One enormous word has no boundary worth keeping: cut it hard.
        if boundary > limit // 4:
            cut = cut[:boundary]
    return cut.rstrip(_TRAILING)


def extractive_title(text: str) -> str | None:
    """A title with no model: the opening words of the first sentence that says something,
    without greetings, filler and the request around the topic; a message that is only a
    greeting becomes its own title."""
    sentences = _SENTENCE_END.split(text.strip())
    phrases = [
        _REQUEST.sub("", _FILLER.sub("", _GREETING.sub("", sentence.strip()))) for sentence in sentences
    ]
    for candidate in [*phrases, text]:
        words = candidate.split()[:EXTRACTIVE_MAX_WORDS]
        while len(words) > 1 and words[-1].lower().strip(",;") in _DANGLING:
            words.pop()
        title = clean_title(" ".join(words))
        if title and _WORD.search(title):
            return title[0].upper() + title[1:]
    return None
