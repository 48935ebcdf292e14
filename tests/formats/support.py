"""Fixtures and helpers shared by the format tests: load a fixture conversation, convert it
with a deterministic stamp, and compare what comes back."""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import ModuleType
from typing import Any

from memkit.formats import anthropic, bedrock, openai_chat, openai_responses

FIXTURES = Path(__file__).parent / "fixtures"
FORMATS: dict[str, ModuleType] = {
    "openai_chat": openai_chat,
    "openai_responses": openai_responses,
    "anthropic": anthropic,
    "bedrock": bedrock,
}
# Formats whose requests carry the system prompt apart from the messages.
SEPARATE_SYSTEM = ("anthropic", "bedrock")
THREAD_ID = "thread-1"
RESOURCE_ID = "user-1"
START = datetime(2025, 3, 1, 9, 0, tzinfo=timezone.utc)


def load(format_name: str, name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / format_name / f"{name}.json").read_text())


def fixture_names(format_name: str) -> list[str]:
    return sorted(path.stem for path in (FIXTURES / format_name).glob("*.json"))


def every_provider_fixture() -> list[tuple[str, str]]:
    return [(format_name, name) for format_name in FORMATS for name in fixture_names(format_name)]


def frozen_clock(at: datetime = START) -> Callable[[], datetime]:
    """A clock that never advances, as a fast conversion sees it."""
    return lambda: at


def counting_ids(prefix: str = "msg") -> Callable[[], str]:
    counter = itertools.count(1)
    return lambda: f"{prefix}-{next(counter)}"


def stamp(**overrides: Any) -> dict[str, Any]:
    return {
        "thread_id": THREAD_ID,
        "resource_id": RESOURCE_ID,
        "new_id": counting_ids(),
        "clock": frozen_clock(),
        **overrides,
    }


def to_v2(format_name: str, request: dict[str, Any], **stamp_overrides: Any) -> list[dict[str, Any]]:
    """``request`` is a fixture's provider side: {"messages", "system"?}."""
    module = FORMATS[format_name]
    extra = {"system": request.get("system")} if format_name in SEPARATE_SYSTEM else {}
    return module.to_v2(request["messages"], **extra, **stamp(**stamp_overrides))


def from_v2(format_name: str, messages: Any, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """The provider side in the fixtures' shape: {"messages", "system"?}; Bedrock binary as
    base64 text, as JSON holds it."""
    options = dict(options or {})
    if format_name == "bedrock":
        options.setdefault("binary", "base64")
    written = FORMATS[format_name].from_v2(messages, **options)
    return written if format_name in SEPARATE_SYSTEM else {"messages": written}


def provider_side(format_name: str, fixture: dict[str, Any]) -> dict[str, Any]:
    return {key: fixture[key] for key in ("system", "messages") if key in fixture}


def expected_back(format_name: str, fixture: dict[str, Any]) -> dict[str, Any]:
    """What a round trip gives back: the fixture itself, or its documented normalised form."""
    if "normalised" not in fixture:
        return provider_side(format_name, fixture)
    normalised = fixture["normalised"]
    return normalised if format_name in SEPARATE_SYSTEM else {"messages": normalised}


def without_stamps(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"role": m["role"], "content": m["content"]} for m in messages]


def bedrock_bytes(value: Any) -> Any:
    """A Bedrock request from the fixtures with its base64 text turned into bytes, as boto3
    callers hold it."""
    if isinstance(value, list):
        return [bedrock_bytes(item) for item in value]
    if not isinstance(value, dict):
        return value
    return {
        key: base64.b64decode(item) if key in ("bytes", "redactedContent") and isinstance(item, str) else bedrock_bytes(item)
        for key, item in value.items()
    }


def ticking_clock(step_ms: int = 250) -> Callable[[], datetime]:
    ticks: Iterator[int] = itertools.count()
    return lambda: START + timedelta(milliseconds=step_ms * next(ticks))
