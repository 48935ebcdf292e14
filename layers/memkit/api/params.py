"""HTTP input parsing: the quirks of what ``@mastra/client-js`` puts on the wire.

The routes turn a request into the same camelCase ``args`` an ops event carries (see
``memkit.operations.calls``), so from there on both transports share one validation path. What is
HTTP-only lives here:

- object parameters (``orderBy``, ``filter``, ``include``, ``metadata``, ``memoryConfig``) arrive
  as JSON strings in the query;
- thread listing sends ``orderBy[field]=updatedAt&orderBy[direction]=DESC``;
- an absent value may arrive as the literal string ``undefined`` (the client interpolates
  JavaScript's ``undefined`` into URLs);
- ``page``/``perPage`` are strings, and ``perPage=false`` means "everything";
- ``requestContext`` is base64(JSON) for Mastra's own server; memkit has no use for it, so it
  is accepted and never decoded;
- bodies are JSON objects with a size limit, checked on the declared length *and* on the bytes
  actually received (a chunked body declares none).

Every failure is a ``ValidationError`` naming the parameter, which the API answers with 400.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from memkit.errors import PayloadTooLargeError, UnsupportedMediaTypeError, ValidationError
from memkit.models import limits

UNDEFINED = "undefined"


class Query:
    """Typed reads of one request's query string. Absent, empty and ``undefined`` are all None."""

    def __init__(self, params: Mapping[str, str]):
        # Starlette's QueryParams keeps the last value of a repeated name, which is what a
        # URLSearchParams.set() caller means.
        self._params = params

    def text(self, name: str) -> str | None:
        value = self._params.get(name)
        if value is None or value == "" or value == UNDEFINED:
            return None
        return value

    def json(self, name: str, expected: type[dict] | type[list]) -> Any:
        raw = self.text(name)
        if raw is None:
            return None
        try:
            value = limits.loads(raw, name)
        except json.JSONDecodeError as exc:
            raise ValidationError(f"{name} must be a JSON-encoded {_kind(expected)}: {exc.msg}", field=name) from None
        if value is None:
            return None
        if not isinstance(value, expected):
            raise ValidationError(f"{name} must be a JSON-encoded {_kind(expected)}, got {_kind(type(value))}", field=name)
        return value

    def integer(self, name: str) -> int | None:
        raw = self.text(name)
        if raw is None:
            return None
        try:
            return int(raw, 10)
        except ValueError:
            raise ValidationError(f"{name} must be an integer, got {raw!r}", field=name) from None

    def per_page(self, name: str = "perPage") -> int | bool | None:
        raw = self.text(name)
        if raw is None:
            return None
        if raw.lower() == "false":
            return False
        try:
            return int(raw, 10)
        except ValueError:
            raise ValidationError(f"{name} must be an integer or false, got {raw!r}", field=name) from None

    def boolean(self, name: str) -> bool | None:
        raw = self.text(name)
        if raw is None:
            return None
        lowered = raw.lower()
        if lowered == "true":
            return True
        if lowered == "false":
            return False
        raise ValidationError(f"{name} must be true or false, got {raw!r}", field=name)

    def order_by(self) -> dict[str, Any] | None:
        """``orderBy`` as the bracketed pair (thread listing) or as a JSON object (messages)."""
        bracketed = {
            key: value
            for key in ("field", "direction")
            if (value := self.text(f"orderBy[{key}]")) is not None
        }
        as_json = self.json("orderBy", dict)
        if bracketed and as_json:
            raise ValidationError("send orderBy either as JSON or as orderBy[field]/orderBy[direction], not both", field="orderBy")
        return bracketed or as_json


def _kind(value_type: type) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}.get(
        value_type, value_type.__name__
    )


def drop_absent(args: dict[str, Any]) -> dict[str, Any]:
    """The args without the parameters the request did not give (so model defaults apply)."""
    return {key: value for key, value in args.items() if value is not None}


# ---------------------------------------------------------------- bodies


def _is_json_media_type(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (media_type.startswith("application/") and media_type.endswith("+json"))


async def read_json_object(request: Any, max_bytes: int) -> dict[str, Any]:
    """The request body as a JSON object; an empty body is ``{}`` (the model then names what
    is missing). ``request`` is a Starlette Request."""
    headers = request.headers
    declared = headers.get("content-length")
    if declared is not None:
        try:
            declared_bytes = int(declared)
        except ValueError:
            raise ValidationError(f"Content-Length must be an integer, got {declared!r}", field="Content-Length") from None
        if declared_bytes > max_bytes:
            raise PayloadTooLargeError(f"Request body of {declared_bytes} bytes exceeds the limit of {max_bytes} bytes")

    chunks: list[bytes] = []
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > max_bytes:
            raise PayloadTooLargeError(f"Request body exceeds the limit of {max_bytes} bytes")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        return {}

    content_type = headers.get("content-type")
    if content_type is None or not _is_json_media_type(content_type):
        raise UnsupportedMediaTypeError(
            f"Request body must be sent as application/json, got {content_type or 'no content type'}",
            field="Content-Type",
        )
    try:
        body = limits.loads(raw, "body")
    except UnicodeDecodeError:
        raise ValidationError("Request body is not valid UTF-8", field="body") from None
    except json.JSONDecodeError as exc:
        raise ValidationError(f"Malformed JSON body: {exc.msg} at line {exc.lineno} column {exc.colno}", field="body") from None
    if not isinstance(body, dict):
        raise ValidationError(f"Request body must be a JSON object, got {_kind(type(body))}", field="body")
    return body
