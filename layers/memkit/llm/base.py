"""The language-model port (title generation today, summaries later).

Providers raise ``RetryableError`` for throttling/5xx/timeouts (the job is retried through
queue visibility), and ``PermanentJobError`` or ``ConfigurationError`` for bad requests and
auth failures (both dead-lettered: the job runner treats a configuration error as permanent).
"""

from __future__ import annotations

from abc import ABC, abstractmethod


class LanguageModel(ABC):
    name: str = "abstract"

    @abstractmethod
    def complete(self, *, system: str, prompt: str, max_tokens: int = 64) -> str:
        """One-shot completion; returns the raw text (callers clean it)."""
