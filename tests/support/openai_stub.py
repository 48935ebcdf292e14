"""Scripting and inspecting the OpenAI-compatible stand-in (``infra/local/openai_server.py``)
through its ``/_control`` API, for the tests of memkit's OpenAI clients (titles, embeddings)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx


@dataclass
class OpenAIStub:
    base_url: str  # ends in /v1, as clients expect

    @property
    def _control(self) -> str:
        return self.base_url.removesuffix("/v1") + "/_control"

    def script(self, *outcomes: dict[str, Any]) -> None:
        """The next answers, in order: ``{"status": 503}``, ``{"content": "A title"}``,
        ``{"delay": 2}``, optionally for one ``path`` only."""
        httpx.post(f"{self._control}/script", json=list(outcomes), timeout=5).raise_for_status()

    def requests(self, path: str) -> list[dict[str, Any]]:
        response = httpx.get(f"{self._control}/requests", timeout=5)
        response.raise_for_status()
        return [r for r in response.json()["requests"] if r["path"] == path]

    def chat_requests(self) -> list[dict[str, Any]]:
        return self.requests("/v1/chat/completions")

    def embedding_requests(self) -> list[dict[str, Any]]:
        return self.requests("/v1/embeddings")

    def reset(self) -> None:
        httpx.post(f"{self._control}/reset", timeout=5).raise_for_status()
