"""OpenAI-compatible chat and embeddings endpoints with deterministic answers.

* ``POST /v1/chat/completions`` answers with a title-like completion: the
  first words of the last user message.
* ``POST /v1/embeddings`` answers with a hashed bag-of-words vector, L2
  normalised, so texts sharing words score as similar. Its size is the
  request's ``dimensions`` or ``--dimension``.

Both need ``Authorization: Bearer <anything>``, and errors come in OpenAI's
``{"error": {"message", "type", "param", "code"}}`` shape.

Tests steer it through ``/_control/`` (no auth), which production code never calls:

* ``POST /_control/script`` appends to a queue of next outcomes, a JSON array of
  ``{"status": 429}``, ``{"delay": 5}``, ``{"content": "..."}`` (combinable,
  with optional ``"message"``, ``"headers"``, and ``"path"`` to aim at one endpoint);
* ``GET /_control/requests`` lists the API requests received, without their Authorization;
* ``POST /_control/reset`` clears both.

Run it from the repo root::

    python -m infra.local.openai_server --port 8082 --dimension 256
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import itertools
import json
import math
import re
import struct
import threading
import time
from collections import deque
from collections.abc import Mapping
from typing import Any

from infra.local.http_support import StandInRequestHandler, StandInServer, serve_until_terminated

DEFAULT_DIMENSION = 256
MAX_DIMENSION = 8192
MAX_EMBEDDING_INPUTS = 2048
TITLE_WORDS = 6

CHAT_PATH = "/v1/chat/completions"
EMBEDDINGS_PATH = "/v1/embeddings"

_WORD = re.compile("\\w+(?:['\u2019]\\w+)*")  # apostrophes, straight or curly, stay inside a word

# (type, code) in OpenAI's error bodies, by status.
_ERROR_KINDS = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    404: ("invalid_request_error", "unknown_url"),
    429: ("requests", "rate_limit_exceeded"),
}


class ApiError(Exception):
    def __init__(self, status: int, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param


def error_body(status: int, message: str, param: str | None = None) -> dict[str, Any]:
    error_type, code = _ERROR_KINDS.get(status, ("server_error", None))
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}


# -- deterministic content ----------------------------------------------------------


def title_for(text: str) -> str:
    """A short title from the first words of ``text``."""
    words = _WORD.findall(text)[:TITLE_WORDS]
    if not words:
        return "New conversation"
    title = " ".join(words)
    return title[0].upper() + title[1:]


def embed(text: str, dimension: int) -> list[float]:
    """Hashed bag of words, L2-normalised.

    Each lower-cased word adds ±1 at a slot chosen by a stable hash (not
    ``hash()``, which is salted per process), so equal texts give equal
    vectors across runs and texts sharing words have a positive cosine.
    """
    vector = [0.0] * dimension
    tokens = _WORD.findall(text.lower()) or [text]
    for token in tokens:
        digest = int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "big")
        vector[digest % dimension] += 1.0 if (digest >> 63) else -1.0
    norm = math.sqrt(math.fsum(value * value for value in vector))
    if norm == 0.0:
        # Words whose ±1 cancelled out exactly; any fixed unit vector keeps the
        # answer deterministic and normalised.
        vector[0], norm = 1.0, 1.0
    return [value / norm for value in vector]


def _message_text(message: Mapping[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


def _count_tokens(text: str) -> int:
    return max(1, len(_WORD.findall(text)))


# -- state shared by the request threads ----------------------------------------------------


class StubState:
    """The scripted outcomes still to serve and the requests seen so far."""

    def __init__(self, dimension: int) -> None:
        self.dimension = dimension
        self._lock = threading.Lock()
        self._script: deque[dict[str, Any]] = deque()
        self._requests: list[dict[str, Any]] = []
        self._ids = itertools.count(1)

    def add_script(self, entries: list[dict[str, Any]]) -> None:
        with self._lock:
            self._script.extend(entries)

    def next_scripted(self, path: str) -> dict[str, Any] | None:
        with self._lock:
            for entry in self._script:
                if entry.get("path") in (None, path):
                    self._script.remove(entry)
                    return entry
        return None

    def record(self, request: dict[str, Any]) -> None:
        with self._lock:
            self._requests.append(request)

    def requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._requests)

    def reset(self) -> None:
        with self._lock:
            self._script.clear()
            self._requests.clear()

    def next_id(self) -> int:
        with self._lock:
            return next(self._ids)


def _validate_script(payload: Any) -> list[dict[str, Any]]:
    if not isinstance(payload, list):
        raise ApiError(400, "script must be a JSON array of outcomes")
    allowed = {"status", "delay", "content", "message", "headers", "path"}
    for entry in payload:
        if not isinstance(entry, dict) or not entry or set(entry) - allowed:
            raise ApiError(400, f"each outcome is an object with keys from {sorted(allowed)}, got {json.dumps(entry)}")
        if "status" in entry and not (isinstance(entry["status"], int) and 400 <= entry["status"] <= 599):
            raise ApiError(400, f"status must be an HTTP error status, got {json.dumps(entry['status'])}")
        if "delay" in entry and not (isinstance(entry["delay"], (int, float)) and entry["delay"] >= 0):
            raise ApiError(400, f"delay must be a non-negative number of seconds, got {json.dumps(entry['delay'])}")
        if "path" in entry and entry["path"] not in (CHAT_PATH, EMBEDDINGS_PATH):
            raise ApiError(400, f"path must be {CHAT_PATH} or {EMBEDDINGS_PATH}, got {json.dumps(entry['path'])}")
    return payload


# -- the endpoints ------------------------------------------------------------------------


def chat_completion(state: StubState, body: Mapping[str, Any], scripted_content: str | None) -> dict[str, Any]:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise ApiError(400, "you must provide a model parameter", param="model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) and "role" in m for m in messages):
        raise ApiError(400, "messages must be a non-empty array of objects with a role", param="messages")
    if body.get("stream"):
        raise ApiError(400, "stream=true is not supported by this server", param="stream")
    user_texts = [_message_text(m) for m in messages if m.get("role") == "user"]
    content = scripted_content if scripted_content is not None else title_for(user_texts[-1] if user_texts else "")
    prompt_tokens = sum(_count_tokens(_message_text(m)) for m in messages)
    completion_tokens = _count_tokens(content)
    return {
        "id": f"chatcmpl-{state.next_id():012d}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
        "system_fingerprint": "fp_local",
    }


def embeddings(state: StubState, body: Mapping[str, Any]) -> dict[str, Any]:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise ApiError(400, "you must provide a model parameter", param="model")
    texts = _embedding_inputs(body.get("input"))
    dimension = body.get("dimensions", state.dimension)
    if not isinstance(dimension, int) or isinstance(dimension, bool) or not 1 <= dimension <= MAX_DIMENSION:
        raise ApiError(400, f"dimensions must be an integer between 1 and {MAX_DIMENSION}", param="dimensions")
    encoding_format = body.get("encoding_format", "float")
    if encoding_format not in ("float", "base64"):
        raise ApiError(400, "encoding_format must be 'float' or 'base64'", param="encoding_format")
    data = []
    for index, text in enumerate(texts):
        vector = embed(text, dimension)
        # The openai SDK asks for base64 by default: little-endian float32s.
        encoded: Any = (
            base64.b64encode(struct.pack(f"<{dimension}f", *vector)).decode() if encoding_format == "base64" else vector
        )
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    tokens = sum(_count_tokens(text) for text in texts)
    return {"object": "list", "data": data, "model": model, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}


def _embedding_inputs(raw: Any) -> list[str]:
    """``input`` as OpenAI takes it: a string, strings, token ids, or lists of token ids."""

    def is_tokens(value: Any) -> bool:
        return (
            isinstance(value, list)
            and bool(value)
            and all(isinstance(t, int) and not isinstance(t, bool) for t in value)
        )

    if isinstance(raw, str) or is_tokens(raw):
        raw = [raw]
    if not isinstance(raw, list) or not raw or len(raw) > MAX_EMBEDDING_INPUTS:
        raise ApiError(
            400, f"input must be a string or a non-empty array of at most {MAX_EMBEDDING_INPUTS} inputs", param="input"
        )
    texts = []
    for item in raw:
        if isinstance(item, str) and item:
            texts.append(item)
        elif is_tokens(item):
            texts.append(" ".join(f"t{token}" for token in item))
        else:
            raise ApiError(400, f"'$.input' is invalid: {json.dumps(item)[:80]}", param="input")
    return texts


# -- HTTP -------------------------------------------------------------------------------------


class OpenAIServer(StandInServer):
    def __init__(self, address: tuple[str, int], state: StubState) -> None:
        super().__init__(address, OpenAIRequestHandler)
        self.state = state


class OpenAIRequestHandler(StandInRequestHandler):
    server: OpenAIServer

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self) -> None:
        # Read the body first: unread bytes would be parsed as the next request
        # on this keep-alive connection.
        raw_body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path = self.path.split("?", 1)[0].rstrip("/")
        try:
            if path.startswith("/_control/"):
                self._control(path, raw_body)
            else:
                self._api(path, raw_body)
        except ApiError as error:
            self._send(error.status, error_body(error.status, error.message, error.param))

    def _control(self, path: str, raw_body: bytes) -> None:
        state = self.server.state
        route = (self.command, path)
        if route == ("POST", "/_control/script"):
            state.add_script(_validate_script(_parse_json(raw_body)))
            self._send(200, {"ok": True})
        elif route == ("GET", "/_control/requests"):
            self._send(200, {"requests": state.requests()})
        elif route == ("POST", "/_control/reset"):
            state.reset()
            self._send(200, {"ok": True})
        else:
            raise ApiError(404, f"Unknown control endpoint {self.command} {path}")

    def _api(self, path: str, raw_body: bytes) -> None:
        state = self.server.state
        body_error: ApiError | None = None
        try:
            body = _parse_json(raw_body) if raw_body else None
        except ApiError as error:
            body, body_error = None, error
        state.record(
            {
                "method": self.command,
                "path": path,
                "headers": {k.lower(): v for k, v in self.headers.items() if k.lower() != "authorization"},
                "body": body if body_error is None else raw_body.decode("utf-8", errors="replace"),
            }
        )
        scheme, _, token = self.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(
                401,
                "You didn't provide an API key. You need to provide your API key in an Authorization header "
                "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            )
        if (self.command, path) not in (("POST", CHAT_PATH), ("POST", EMBEDDINGS_PATH)):
            raise ApiError(404, f"Invalid URL ({self.command} {path})")
        if body_error is not None:
            raise body_error
        if not isinstance(body, dict):
            raise ApiError(400, "The request body must be a JSON object")

        scripted = state.next_scripted(path) or {}
        if scripted.get("delay"):
            # Simulated slowness, so callers can exercise their timeouts.
            time.sleep(scripted["delay"])
        if "status" in scripted:
            status = scripted["status"]
            message = scripted.get("message", f"Scripted failure with status {status}")
            self._send(status, error_body(status, message), extra_headers=scripted.get("headers"))
            return
        if path == CHAT_PATH:
            response = chat_completion(state, body, scripted.get("content"))
        else:
            response = embeddings(state, body)
        self._send(200, response, extra_headers=scripted.get("headers"))

    def _send(self, status: int, payload: Any, extra_headers: Mapping[str, str] | None = None) -> None:
        body = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in (extra_headers or {}).items():
                self.send_header(name, str(value))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (a scripted delay outlasting its timeout is the
            # usual cause); there is nobody left to answer.
            self.close_connection = True


def _parse_json(raw_body: bytes) -> Any:
    try:
        return json.loads(raw_body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(400, f"We could not parse the JSON body of your request: {exc}") from exc


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--port", type=int, required=True, help="HTTP port; 0 picks a free one")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--dimension", type=int, default=DEFAULT_DIMENSION, help="embedding size when a request gives none"
    )
    args = parser.parse_args(argv)
    if not 1 <= args.dimension <= MAX_DIMENSION:
        parser.error(f"--dimension must be between 1 and {MAX_DIMENSION}")

    server = OpenAIServer((args.host, args.port), StubState(args.dimension))
    host, port = server.server_address[:2]
    serve_until_terminated(server, f"ready openai http://{host}:{port} dimension={args.dimension}")


if __name__ == "__main__":
    main()
