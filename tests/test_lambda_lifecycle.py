"""The handlers hold the collector during their init and freeze it once, after their first invocation."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from memkit import lambda_lifecycle
from memkit.lambda_lifecycle import freeze_after_first_invocation, hold_collection_until_first_invocation


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


@pytest.fixture
def collector_state() -> Iterator[None]:
    """Whatever a test does to the collector, the session gets it back as it was."""
    was_enabled = gc.isenabled()
    yield
    lambda_lifecycle._collection_held = False
    if was_enabled:
        gc.enable()
    else:
        gc.disable()


def test_the_collector_is_held_until_the_first_invocation_then_runs_again(collector_state: None) -> None:
    gc.enable()
    hold_collection_until_first_invocation()
    assert not gc.isenabled()

    @freeze_after_first_invocation
    def handler(event: dict, context: object) -> dict:
        # Still held while the first invocation runs: it belongs to the cold start.
        return {"collecting": gc.isenabled()}

    assert handler({}, None) == {"collecting": False}
    assert gc.isenabled()
    assert gc.get_freeze_count() > 0


def test_a_failed_first_invocation_also_ends_the_hold(collector_state: None) -> None:
    gc.enable()
    hold_collection_until_first_invocation()

    @freeze_after_first_invocation
    def handler(event: dict, context: object) -> dict:
        raise RuntimeError("store unavailable")

    with pytest.raises(RuntimeError):
        handler({}, None)
    assert gc.isenabled()


def test_a_collector_the_host_turned_off_stays_off(collector_state: None) -> None:
    gc.disable()
    hold_collection_until_first_invocation()

    @freeze_after_first_invocation
    def handler(event: dict, context: object) -> dict:
        return {}

    handler({}, None)
    assert not gc.isenabled(), "the hold only gives back what it took"
