"""One JSON POST to an OpenAI-compatible endpoint (OpenAI, Azure-style gateways, vLLM, Ollama,
LiteLLM...), shared by the chat model (titles) and the embedder, so both map a failure onto
memkit's errors the same way:

- 408, 409, 429, any 5xx, an unreachable or dropped endpoint, a 200 that is not JSON:
  ``RetryableError`` (a later try may succeed; the job queue bounds the tries);
- 401, 403, 404: ``ConfigurationError`` (a wrong key, a model the account cannot use, a wrong
  base URL: the deployment must change; a job dead-letters it);
- any other 4xx: ``PermanentJobError`` (this request will never succeed).

The standard library's ``urllib`` does the HTTP: one POST per title or batch of embeddings does
not justify another HTTP stack in the Lambda layer.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from memkit.errors import ConfigurationError, PermanentJobError, RetryableError

RETRYABLE_STATUSES = frozenset({408, 409, 429})
DEPLOYMENT_STATUSES = frozenset({401, 403, 404})


def post_json(url: str, body: dict[str, Any], *, api_key: str | None, timeout: float, what: str) -> Any:
    """POST ``body`` and return the parsed answer; ``what`` names the endpoint in errors."""
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            payload = response.read()
    except urllib.error.HTTPError as exc:
        raise classify_status(what, exc.code, error_reason(exc)) from None
    except urllib.error.URLError as exc:
        # Connection refused, DNS failure, or a connect timeout wrapped by urllib.
        raise RetryableError(f"{what} is unreachable: {exc.reason}") from exc
    except (TimeoutError, ConnectionError) as exc:
        raise RetryableError(f"{what} timed out or dropped the connection: {exc}") from exc
    try:
        return json.loads(payload)
    except ValueError:
        # A proxy or gateway hiccup more often than a permanent condition.
        raise RetryableError(f"{what} answered with a body that is not JSON: {payload[:200]!r}") from None


def classify_status(what: str, status: int, reason: str) -> Exception:
    text = f"{what} answered {status}: {reason}"
    if status in RETRYABLE_STATUSES or status >= 500:
        return RetryableError(text)
    if status in DEPLOYMENT_STATUSES:
        return ConfigurationError(text)
    return PermanentJobError(text)


def error_reason(exc: urllib.error.HTTPError) -> str:
    """OpenAI's ``{"error": {"message": ...}}``, or the start of whatever else came back."""
    try:
        raw = exc.read()
    except OSError:
        return str(exc.reason or "no body")
    try:
        data: Any = json.loads(raw)
    except ValueError:
        data = None
    error = data.get("error") if isinstance(data, dict) else None
    message = error.get("message") if isinstance(error, dict) else error
    if isinstance(message, str) and message:
        return message
    return raw[:200].decode("utf-8", errors="replace") or str(exc.reason)
