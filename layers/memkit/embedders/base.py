"""The embedder port. ``dimension`` is known up front and checked against the vector index at
startup: a mismatch is a ``ConfigurationError``, never a silent fallback."""

from __future__ import annotations

from abc import ABC, abstractmethod

from memkit.errors import ConfigurationError


class Embedder(ABC):
    name: str = "abstract"
    dimension: int

    @abstractmethod
    def embed(self, texts: list[str]) -> list[list[float]]:
        """One vector per text, in order, each of length ``dimension``."""


def check_vectors(embedder: Embedder, texts: list[str], vectors: list[list[float]]) -> list[list[float]]:
    """A provider's answer, verified: one vector per text, each of the configured dimension.
    A wrong length means the model or its ``dimensions`` setting disagrees with the index, which
    no retry fixes and no fallback may hide."""
    if len(vectors) != len(texts):
        raise ConfigurationError(
            f"embedder {embedder.name} returned {len(vectors)} vectors for {len(texts)} texts"
        )
    for vector in vectors:
        if len(vector) != embedder.dimension:
            raise ConfigurationError(
                f"embedder {embedder.name} returned vectors of dimension {len(vector)}, but "
                f"MEMKIT_EMBEDDING_DIMENSION is {embedder.dimension}; set it to the model's "
                "dimension (and use a vector index of that dimension)"
            )
    return vectors
