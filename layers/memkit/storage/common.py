"""Pieces the workflows, scores and observability ports share: pagination, argument validation,
compact JSON and the optimistic-concurrency retry loop. Their pages are the memory domain's
shape, ``memkit.models.Page`` (``{<items>, total, page, perPage, hasMore}``): subclasses add the
list field, ``memkit.models.page_meta`` fills the rest.

Kept free of any backend import, so a port module (and a Lambda that only touches one domain)
pays for pydantic and nothing else.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from memkit.errors import ConflictError, ValidationError
from memkit.models import format_ts, normalize_pagination, parse_ts, validate_id

# Page size when the caller gives none (perPage false still returns everything).
DEFAULT_PER_PAGE = 100

# Optimistic writes: how often to re-read and retry after losing a race, and the ceiling of the
# jittered pause between attempts. 25 attempts let ~25 writers pile onto one record before
# anyone gives up; the pause spreads them out so each round has a winner.
MAX_OPTIMISTIC_ATTEMPTS = 25
MAX_RETRY_PAUSE_SECONDS = 0.05


def pagination(page: Any, per_page: Any) -> tuple[int, int | None]:
    """Validated ``(page, per_page)``; per_page None means everything (``perPage: false``)."""
    return normalize_pagination(page, per_page, DEFAULT_PER_PAGE)


def window(page: int, per_page: int | None) -> tuple[int, int | None]:
    """``(offset, limit)`` of a page; limit None means to the end."""
    return (0, None) if per_page is None else (page * per_page, per_page)


def optional_id(value: Any, field: str) -> str | None:
    return None if value is None else validate_id(value, field)


def optional_ts(value: Any, field: str) -> str | None:
    """A filter bound as the fixed-width string both backends store (so text order is time order)."""
    return None if value is None else format_ts(parse_ts(value, field=field))


def optional_text(value: Any, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{field} must be a non-empty string", field=field)
    return value


def dumps(value: Any) -> str:
    """Compact JSON for a stored blob; datetimes become wire timestamps."""
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_json_default)
    except ValueError as exc:  # NaN or infinity: not JSON, and not what a reader could parse back
        raise ValidationError(f"value is not valid JSON: {exc}") from None


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_ts(value)
    raise ValidationError(f"value of type {type(value).__name__} is not JSON-serialisable")


def optimistic_attempts(what: str) -> Iterator[int]:
    """Attempt numbers for a read-modify-conditional-write loop::

        for _ in optimistic_attempts("workflow run r1 of wf"):
            current = read()
            if write_if_unchanged(change(current)):
                return ...

    Between attempts it pauses a random moment (growing with the attempt), so writers that
    collided do not collide again in lockstep. After ``MAX_OPTIMISTIC_ATTEMPTS`` lost races it
    raises ``ConflictError``: the record is too contended to update, and the caller may retry later.
    """
    for attempt in range(MAX_OPTIMISTIC_ATTEMPTS):
        if attempt:
            time.sleep(random.uniform(0, min(MAX_RETRY_PAUSE_SECONDS, 0.002 * 2**attempt)))
        yield attempt
    raise ConflictError(f"{what} was changed concurrently {MAX_OPTIMISTIC_ATTEMPTS} times in a row; giving up")
