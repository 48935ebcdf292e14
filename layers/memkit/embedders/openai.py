"""Embeddings from any OpenAI-compatible ``POST {base_url}/embeddings`` endpoint (OpenAI itself,
Azure-style gateways, vLLM, Ollama, LiteLLM...).

Selected by ``MEMKIT_EMBEDDER=openai/<model>``; the base URL and key come from
``MEMKIT_OPENAI_BASE_URL`` (default ``https://api.openai.com/v1``) and ``OPENAI_API_KEY``.
The HTTP and the mapping of failures are ``memkit.clients.openai_http``'s.

``dimensions`` is sent only to models known to accept it (OpenAI's ``text-embedding-3-*``);
other servers reject or ignore unknown parameters, and the length of what comes back is checked
against ``MEMKIT_EMBEDDING_DIMENSION`` either way.
"""

from __future__ import annotations

from typing import Any

from memkit.embedders.base import Embedder, check_vectors
from memkit.errors import ConfigurationError, PermanentJobError
from memkit.clients.openai_http import post_json
from memkit.clients.secrets import resolve_secret

DEFAULT_BASE_URL = "https://api.openai.com/v1"
# OpenAI accepts 2,048 inputs per request; fewer keeps each request well under its token cap
# (300k tokens) with ~1,000-character chunks, and a failed batch cheap to retry.
BATCH_SIZE = 128
TIMEOUT_SECONDS = 30.0
MODELS_WITH_DIMENSIONS = ("text-embedding-3-",)


class OpenAIEmbedder(Embedder):
    name = "openai"

    def __init__(
        self,
        model: str,
        dimension: int,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = TIMEOUT_SECONDS,
        batch_size: int = BATCH_SIZE,
    ):
        if not model:
            raise ConfigurationError("MEMKIT_EMBEDDER=openai/<model> needs a model name")
        base = (base_url or DEFAULT_BASE_URL).rstrip("/")
        if not base.startswith(("http://", "https://")):
            raise ConfigurationError(f"MEMKIT_OPENAI_BASE_URL must be an http(s) URL, got {base_url!r}")
        if api_key is None and base == DEFAULT_BASE_URL:
            raise ConfigurationError("MEMKIT_EMBEDDER=openai/... against api.openai.com needs OPENAI_API_KEY")
        self.model = model
        self.dimension = dimension
        self.name = f"openai/{model}"
        self._url = f"{base}/embeddings"
        self._api_key = api_key
        self._timeout = timeout
        self._batch_size = batch_size

    def embed(self, texts: list[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self._batch_size):
            batch = texts[start : start + self._batch_size]
            vectors += check_vectors(self, batch, self._embed_batch(batch))
        return vectors

    def _embed_batch(self, texts: list[str]) -> list[list[float]]:
        body: dict[str, Any] = {"model": self.model, "input": texts, "encoding_format": "float"}
        if self.model.startswith(MODELS_WITH_DIMENSIONS):
            body["dimensions"] = self.dimension
        payload = self._post(body)
        try:
            data = sorted(payload["data"], key=lambda item: item["index"])
            return [list(map(float, item["embedding"])) for item in data]
        except (KeyError, TypeError, ValueError) as exc:
            raise PermanentJobError(f"{self._url} answered without a usable data[].embedding list: {exc!r}") from None

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        # Resolved per call, not at construction: every agent's Memory gets the embedder on the
        # first request, and a Secrets Manager round trip there would tax reads that never embed.
        # (Powertools caches the value for 5 minutes, and a rotated key is picked up.)
        api_key = resolve_secret(self._api_key)
        return post_json(self._url, body, api_key=api_key, timeout=self._timeout, what=f"embeddings endpoint {self._url}")
