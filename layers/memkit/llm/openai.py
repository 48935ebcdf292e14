"""Any OpenAI-compatible Chat Completions endpoint (OpenAI, Azure-style proxies, vLLM, Ollama...).

The HTTP and the mapping of failures are ``memkit.clients.openai_http``'s. The API key may be a Secrets
Manager or SSM reference; it is resolved per call through Powertools' 5-minute cache, so a
rotated key is picked up without a redeploy.
"""

from __future__ import annotations

from typing import Any

from memkit.errors import PermanentJobError, RetryableError
from memkit.llm.base import LanguageModel
from memkit.clients.openai_http import post_json
from memkit.clients.secrets import resolve_secret

DEFAULT_TIMEOUT_SECONDS = 15.0


class OpenAIChatModel(LanguageModel):
    name = "openai"

    def __init__(
        self,
        model: str,
        *,
        base_url: str,
        api_key: str | None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        temperature: float = 0.2,
    ):
        self.model = model
        self.url = base_url.rstrip("/") + "/chat/completions"
        self._api_key_ref = api_key
        self.timeout = timeout
        self.temperature = temperature

    def complete(self, *, system: str, prompt: str, max_tokens: int = 64) -> str:
        api_key = resolve_secret(self._api_key_ref)
        if not api_key:
            raise PermanentJobError(f"openai/{self.model} needs an API key (OPENAI_API_KEY)")
        body = {
            "model": self.model,
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": prompt},
            ],
            "max_tokens": max_tokens,
            "temperature": self.temperature,
        }
        answer = post_json(self.url, body, api_key=api_key, timeout=self.timeout, what=f"openai/{self.model} at {self.url}")
        return self._content(answer)

    def _content(self, answer: Any) -> str:
        try:
            content = answer["choices"][0]["message"].get("content")
        except (KeyError, IndexError, TypeError, AttributeError):
            # A 200 that is not a completion is a proxy or gateway hiccup more often than a
            # permanent condition; the queue's receive limit bounds the retries.
            raise RetryableError(
                f"openai/{self.model} returned a body that is not a chat completion: {str(answer)[:200]}"
            ) from None
        if isinstance(content, list):
            # Some compatible servers answer with content parts.
            return "".join(part.get("text", "") for part in content if isinstance(part, dict))
        return content if isinstance(content, str) else ""

