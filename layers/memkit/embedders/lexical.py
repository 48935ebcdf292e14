"""The lexical embedder (``MEMKIT_EMBEDDER=lexical``): no model, no network, deterministic, and
instant; for tests and tiny deployments. The embedded default is the semantic ``local`` one
(``memkit.embedders.local``).

It is a feature-hashed ("signed hashing trick") bag of

* word unigrams, after lower-casing, accent folding, a small English stopword list and light
  suffix stemming (``dogs`` → ``dog``, ``walking`` → ``walk``, ``dog's`` → ``dog``);
* word bigrams of those stems (so "New York" is more than "new" + "york");
* character trigrams of each word (so "Lisbon" still meets "Lisboa", and typos partly match),

with sublinear term frequency (``1 + ln tf``), folded into ``dimension`` signed buckets and
L2-normalised, so the cosine of two vectors is a weighted word-overlap score.

What to expect: it finds past messages that share words (or word stems) with the query, which
covers "what did I tell you about my dog?" → "my dog Rex loves the beach". It does not know
meaning: "dog" does not match "puppy", "car" does not match "vehicle", and it knows no language
but by spelling. For recall by meaning use ``local`` (all-MiniLM-L6-v2), Bedrock Titan or an
OpenAI-compatible model.

Noise: two texts without a word in common still score above zero, from shared character
trigrams and hash collisions. Measured on the recall test set at 256 dimensions: median 0.0,
95th percentile 0.11, 99th 0.17 (1,024 dimensions: 0.05 and 0.12). A ``threshold`` below ~0.2
therefore filters little with this embedder.
"""

from __future__ import annotations

import math
import re
import unicodedata
import zlib
from collections import Counter

from memkit.embedders.base import Embedder
from memkit.errors import ConfigurationError

# Weights per feature kind. Whole words carry the meaning, bigrams reward phrases, trigrams
# only break ties and bridge inflections the stemmer misses, so they must not drown the words (a
# word has ~len+2 trigrams). Set by reasoning, not fitted: on the recall test set
# (tests/memory/conversations.json) ranks barely move for bigrams 0.4-0.6 and trigrams 0-0.2.
UNIGRAM_WEIGHT = 1.0
BIGRAM_WEIGHT = 0.5
TRIGRAM_WEIGHT = 0.1

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")

# Function words that carry no topic. Kept small on purpose: a bigger list starts removing
# words that matter in some conversations ("home", "work", "name").
STOPWORDS = frozenset(
    """
    a about above after again all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further
    had has have having he her here hers herself him himself his how i if in into is it its
    itself just let me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself yourselves
    ok okay please thanks thank yes hi hello hey tell told say said know think really
    i'm i've i'd i'll you're you've you'd you'll it's that's what's don't didn't doesn't can't
    won't isn't aren't wasn't weren't let's there's here's
    """.split()
)


def fold(text: str) -> str:
    """Lower-case and strip accents, so "Café" and "cafe" are one word."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).replace("’", "'")


def stem(word: str) -> str:
    """Light English suffix stripping: inflections collapse to one stem (dog/dogs,
    walk/walked/walking, make/making, allergy/allergies/allergic, city/cities). Rule-based and
    small, so some merges are wrong ("news" → "new") and irregular forms stay apart
    ("ran"/"run"); the character trigrams soften both."""
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("sses"):
        word = word[:-2]
    elif word.endswith("ing") and len(word) > 5:
        word = _undouble(word[:-3])
    elif word.endswith("ed") and len(word) > 4:
        word = _undouble(word[:-2])
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if word.endswith("ic") and len(word) > 6:
        word = word[:-2]
    # A final e or y is what inflection most often drops or changes (make/making, city/cities).
    if word.endswith(("e", "y")) and len(word) > 3:
        word = word[:-1]
    return word


def _undouble(word: str) -> str:
    # "running" → "runn" → "run"; "walked" → "walk" stays.
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "lsz":
        return word[:-1]
    return word


def features(text: str) -> dict[str, float]:
    """Weighted features of ``text`` before hashing (exposed for tests and tuning)."""
    words = [w[:-2] if w.endswith("'s") else w for w in _WORD.findall(fold(text))]
    content = [w for w in words if w not in STOPWORDS]
    if not content:
        # A text of only function words ("what is it?") still gets a vector rather than none.
        content = words
    stems = [stem(w) for w in content]
    counts: Counter[str] = Counter("w:" + s for s in stems)
    counts.update(f"b:{left} {right}" for left, right in zip(stems, stems[1:]))
    for word in content:
        padded = f"#{word}#"
        counts.update("c:" + padded[i : i + 3] for i in range(len(padded) - 2))
    # Sublinear tf: a word said five times is more relevant, not five times more.
    return {feature: _KIND_WEIGHTS[feature[0]] * (1.0 + math.log(n)) for feature, n in counts.items()}


_KIND_WEIGHTS = {"w": UNIGRAM_WEIGHT, "b": BIGRAM_WEIGHT, "c": TRIGRAM_WEIGHT}


DEFAULT_DIMENSION = 256


class LexicalEmbedder(Embedder):
    name = "lexical"

    def __init__(self, dimension: int = DEFAULT_DIMENSION):
        if dimension < 16:
            raise ConfigurationError(f"the lexical embedder needs at least 16 dimensions, got {dimension}")
        self.dimension = dimension

    def embed(self, texts: list[str]) -> list[list[float]]:
        return [self.embed_one(text) for text in texts]

    def embed_one(self, text: str) -> list[float]:
        vector = [0.0] * self.dimension
        for feature, weight in features(text).items():
            # crc32, not hash(): Python salts str hashes per process, and vectors must be equal
            # across processes (API server, worker) and runs.
            digest = zlib.crc32(feature.encode())
            vector[digest % self.dimension] += weight if digest & 0x80000000 else -weight
        norm = math.sqrt(math.fsum(v * v for v in vector))
        if norm == 0.0:
            # Empty text, or features that cancelled out exactly: a fixed unit vector keeps the
            # result normalised (cosine indexes reject all-zero vectors).
            vector[0], norm = 1.0, 1.0
        return [v / norm for v in vector]
