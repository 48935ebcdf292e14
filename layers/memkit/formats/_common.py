"""Checks and small conversions the format modules share.

Every check names where the bad value sits (``messages[3].content[1].type``): the path is
built by the caller as it walks the input, and it is both the error's text and its ``field``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any, NoReturn

from memkit.errors import ValidationError


def fail(path: str, problem: str) -> NoReturn:
    raise ValidationError(f"{path}: {problem}", field=path)


def need_dict(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        fail(path, f"must be an object, got {_kind(value)}")
    return value


def need_list(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        fail(path, f"must be a list, got {_kind(value)}")
    return value


def need_str(value: Any, path: str, *, non_empty: bool = False) -> str:
    if not isinstance(value, str):
        fail(path, f"must be a string, got {_kind(value)}")
    if non_empty and not value:
        fail(path, "must not be empty")
    return value


def field(obj: dict[str, Any], key: str, path: str) -> Any:
    if key not in obj:
        fail(f"{path}.{key}", "is required")
    return obj[key]


def str_field(obj: dict[str, Any], key: str, path: str, *, non_empty: bool = False) -> str:
    return need_str(field(obj, key, path), f"{path}.{key}", non_empty=non_empty)


def choice(value: Any, allowed: tuple[str, ...], path: str) -> str:
    if value not in allowed:
        fail(path, f"must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )


# ---------------------------------------------------------------- JSON


def compact_json(value: Any) -> str:
    """JSON text as the providers write it: no spaces after separators, non-ASCII kept."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def parse_arguments(text: Any, path: str) -> dict[str, Any]:
    """A tool call's JSON-string arguments as the object v2 stores. An empty string is ``{}``:
    providers send it for tools that take no arguments."""
    need_str(text, path)
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        fail(path, f"is not valid JSON ({exc.msg} at character {exc.pos})")
    if not isinstance(value, dict):
        fail(path, f"must encode a JSON object, got {_kind(value)}")
    return value


# ---------------------------------------------------------------- media

_DATA_URL = re.compile(r"^data:(?P<mime>[\w.+-]+/[\w.+*-]+)?(?P<params>(;[^;,]*)*?);base64,(?P<data>.*)$", re.S)
_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


def is_url(data: str) -> bool:
    """http(s)://, s3://, gs://...: a reference, as opposed to base64 content or a data URL."""
    return bool(_URL.match(data))


def parse_data_url(url: str, path: str) -> tuple[str, str]:
    """``data:<mime>;base64,<data>`` -> (mime, base64 data)."""
    match = _DATA_URL.match(url)
    if match is None or not match.group("mime"):
        fail(path, "must be a URL or a base64 data URL (data:<media type>;base64,...)")
    return match.group("mime"), match.group("data")


def data_url(mime_type: str, data: str) -> str:
    return f"data:{mime_type};base64,{data}"


def file_source(part: dict[str, Any], path: str) -> tuple[str, str]:
    """A v2 file part's content as ("url", url) or ("base64", data). Mastra stores base64,
    URLs and data URLs in ``data``; a data URL gives up its base64 payload here."""
    data = str_field(part, "data", path)
    if data.startswith("data:"):
        return "base64", parse_data_url(data, f"{path}.data")[1]
    if is_url(data):
        return "url", data
    return "base64", data


def b64decode(data: str, path: str) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        fail(path, "is not valid base64")


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# ---------------------------------------------------------------- provider metadata

def provider_meta(part: dict[str, Any], provider: str) -> dict[str, Any]:
    """What a part remembers for one provider (``providerMetadata.<provider>``), as AI SDK and
    Mastra keep it: item ids, cache breakpoints, image detail."""
    meta = part.get("providerMetadata")
    if not isinstance(meta, dict):
        return {}
    scoped = meta.get(provider)
    return scoped if isinstance(scoped, dict) else {}


def with_provider_meta(part: dict[str, Any], provider: str, **values: Any) -> dict[str, Any]:
    """``part`` with ``providerMetadata.<provider>`` holding ``values`` (None values left out)."""
    kept = {key: value for key, value in values.items() if value is not None}
    if kept:
        part.setdefault("providerMetadata", {}).setdefault(provider, {}).update(kept)
    return part
