"""The embedder port. ``dimension`` is known up front and checked against the vector index at
startup: a mismatch is a ``ConfigurationError``, never a silent fallback."""

from __future__ import annotations

from abc import ABC, abstractmethod


class Embedder(ABC):
    name: str = "abstract"
    dimension: int

    @abstractmethod
    def embed(self, texts: list[str]) -> list[list[float]]:
        """One vector per text, in order, each of length ``dimension``."""
