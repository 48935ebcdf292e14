"""The handlers freeze the collector once, after their first invocation."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from memkit.lambda_lifecycle import freeze_after_first_invocation


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    # The rest of the test session keeps a normally collected heap.
    gc.unfreeze()


def test_the_first_invocation_freezes_what_the_process_built_and_later_ones_leave_it() -> None:
    calls: list[str] = []

    @freeze_after_first_invocation
    def handler(event: dict, context: object) -> dict:
        calls.append(event["id"])
        return {"ok": event["id"]}

    assert gc.get_freeze_count() == 0
    assert handler({"id": "first"}, None) == {"ok": "first"}
    frozen = gc.get_freeze_count()
    assert frozen > 0

    gc.unfreeze()
    assert handler({"id": "second"}, None) == {"ok": "second"}
    assert gc.get_freeze_count() == 0, "only the first invocation freezes"
    assert calls == ["first", "second"]
    assert handler.__name__ == "handler"


def test_a_failed_first_invocation_still_freezes_and_still_raises() -> None:
    @freeze_after_first_invocation
    def handler(event: dict, context: object) -> dict:
        raise RuntimeError("store unavailable")

    with pytest.raises(RuntimeError, match="store unavailable"):
        handler({}, None)
    assert gc.get_freeze_count() > 0
