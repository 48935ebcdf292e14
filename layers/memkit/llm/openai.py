"""Any OpenAI-compatible Chat Completions endpoint (OpenAI, Azure-style proxies, vLLM, Ollama...).

Plain ``urllib.request`` rather than an SDK: one POST per job does not need connection pools,
and the Lambda layer stays free of another HTTP stack. The API key may be a Secrets Manager or
SSM reference; it is resolved per call through Powertools' 5-minute cache, so a rotated key is
picked up without a redeploy.
"""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from typing import Any

from memkit.errors import PermanentJobError, RetryableError
from memkit.llm.base import LanguageModel
from memkit.settings import resolve_secret

DEFAULT_TIMEOUT_SECONDS = 15.0
# Besides 5xx, the statuses worth another try later: request timeout and throttling.
RETRYABLE_STATUSES = frozenset({408, 429})


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
        body = json.dumps(
            {
                "model": self.model,
                "messages": [
                    {"role": "system", "content": system},
                    {"role": "user", "content": prompt},
                ],
                "max_tokens": max_tokens,
                "temperature": self.temperature,
            }
        ).encode()
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Accept": "application/json",
                "Authorization": f"Bearer {api_key}",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                payload = response.read()
        except urllib.error.HTTPError as exc:
            raise self._classify(exc.code, _error_reason(exc)) from None
        except urllib.error.URLError as exc:
            # Connection refused, DNS failure, or a connect timeout wrapped by urllib.
            raise RetryableError(f"openai/{self.model} at {self.url} unreachable: {exc.reason}") from exc
        except (TimeoutError, socket.timeout, ConnectionError) as exc:
            raise RetryableError(f"openai/{self.model} at {self.url} timed out or dropped the connection: {exc}") from exc
        return self._content(payload)

    def _classify(self, status: int, reason: str) -> Exception:
        what = f"openai/{self.model} answered {status}: {reason}"
        if status in RETRYABLE_STATUSES or status >= 500:
            return RetryableError(what)
        return PermanentJobError(what)

    def _content(self, payload: bytes) -> str:
        try:
            data = json.loads(payload)
            content = data["choices"][0]["message"].get("content")
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            # A 200 that is not a completion is a proxy or gateway hiccup more often than a
            # permanent condition; the queue's receive limit bounds the retries.
            raise RetryableError(
                f"openai/{self.model} returned a body that is not a chat completion: {payload[:200]!r}"
            ) from None
        if isinstance(content, list):
            # Some compatible servers answer with content parts.
            return "".join(part.get("text", "") for part in content if isinstance(part, dict))
        return content if isinstance(content, str) else ""


def _error_reason(exc: urllib.error.HTTPError) -> str:
    """OpenAI's ``{"error": {"message": ...}}``, or the start of whatever else came back."""
    try:
        raw = exc.read()
    except OSError:
        return exc.reason or "no body"
    try:
        data: Any = json.loads(raw)
    except ValueError:
        data = None
    error = data.get("error") if isinstance(data, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    if isinstance(message, str) and message:
        return message
    return raw[:200].decode("utf-8", errors="replace") or str(exc.reason)
