"""The job queue port: slow work (title generation, indexing, erasure) leaves the request path.

A job is a typed, versioned JSON object: ``{"type": "generate_title", "v": 1, ...}``.
``SqsQueue`` (AWS) and ``InProcessQueue`` (embedded default) implement the port; the SQS worker
and the in-process queue both run jobs through ``memkit.jobs.runner`` with the same handler
table (``memkit.memory.jobs``), so behaviour is identical.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Mapping


class JobQueue(ABC):
    name: str = "abstract"

    @abstractmethod
    def enqueue(self, job: Mapping[str, Any]) -> None:
        """Send one job. Raises on failure (callers decide whether a failed enqueue fails
        the request); never drops silently."""

    def close(self, *, drain: bool = True, timeout: float = 10.0) -> None:
        """Stop accepting work; with ``drain``, finish what is queued first."""
