"""Ids and timestamps for the domain suites (the DynamoDB table is shared by the session)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from tests.storage.memory.builders import at, unique_id

__all__ = ["at", "plus_ms", "unique_id", "unique_month"]


def unique_month() -> datetime:
    """The start of a month no other test uses (with overwhelming odds), far in the future: trace
    listings without an entity are bounded by time, so a test owns its own window."""
    months = random.SystemRandom().randrange(12 * 6000)
    return datetime(3000 + months // 12, months % 12 + 1, 1, tzinfo=timezone.utc)


def plus_ms(base: datetime, ms: int) -> datetime:
    return base + timedelta(milliseconds=ms)
