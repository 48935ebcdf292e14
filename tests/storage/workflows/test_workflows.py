"""Workflows: snapshots by (workflowName, runId), listing, deletion, concurrent updates."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from memkit.errors import ConflictError, PayloadTooLargeError, ValidationError

from tests.storage.builders import at, unique_id

SNAPSHOT = {
    "status": "running",
    "context": {"input": {"city": "Zürich 🏔️", "days": 3, "ratio": 0.25}, "step-1": {"status": "success"}},
    "activePaths": [0, 1],
    "suspendedPaths": {},
    "value": None,
}


def new_names() -> tuple[str, str]:
    return unique_id("wf"), unique_id("run")


def persist_runs(workflows, workflow_name: str, count: int, **kwargs) -> list[str]:
    """``count`` runs created 1 ms apart; returns their ids oldest first."""
    run_ids = [f"{unique_id('run')}-{index:02d}" for index in range(count)]
    for index, run_id in enumerate(run_ids):
        workflows.persist_snapshot(workflow_name, run_id, {"status": "success"}, created_at=at(index), **kwargs)
    return run_ids


def run_ids(page) -> list[str]:
    return [run.run_id for run in page.runs]


# ---------------------------------------------------------------- snapshots


def test_persisted_snapshot_loads_back_exactly(workflows):
    workflow_name, run_id = new_names()

    stored = workflows.persist_snapshot(workflow_name, run_id, SNAPSHOT, resource_id="res-1", created_at=at(5))

    assert workflows.load_snapshot(workflow_name, run_id) == SNAPSHOT
    run = workflows.get_run(workflow_name, run_id)
    assert run.to_wire() == stored.to_wire()
    assert (run.workflow_name, run.run_id, run.resource_id, run.created_at) == (workflow_name, run_id, "res-1", at(5))


def test_unknown_run_loads_as_none(workflows):
    workflow_name, run_id = new_names()

    assert workflows.load_snapshot(workflow_name, run_id) is None
    assert workflows.get_run_by_id(run_id) is None
    assert workflows.get_run_by_id(run_id, workflow_name) is None


def test_persisting_again_replaces_the_snapshot_and_keeps_creation_and_resource(workflows):
    workflow_name, run_id = new_names()
    resource_id = unique_id("res")
    first = workflows.persist_snapshot(workflow_name, run_id, SNAPSHOT, resource_id, created_at=at(0), updated_at=at(0))

    second = workflows.persist_snapshot(workflow_name, run_id, {"status": "success"}, created_at=at(99))

    assert workflows.load_snapshot(workflow_name, run_id) == {"status": "success"}
    assert second.created_at == first.created_at == at(0)
    assert second.updated_at > first.updated_at
    assert second.resource_id == resource_id
    assert run_ids(workflows.list_runs(resource_id=resource_id, status="success")) == [run_id]


def test_get_run_by_id_with_and_without_the_workflow_name(workflows):
    run_id = unique_id("run")
    older, newer = unique_id("wf-a"), unique_id("wf-b")
    workflows.persist_snapshot(older, run_id, {"n": 1}, created_at=at(0))
    workflows.persist_snapshot(newer, run_id, {"n": 2}, created_at=at(1))

    assert workflows.get_run_by_id(run_id, older).snapshot == {"n": 1}
    assert workflows.get_run_by_id(run_id).workflow_name == newer


def test_delete_run_removes_it_and_ignores_unknown_runs(workflows):
    workflow_name, run_id = new_names()
    workflows.persist_snapshot(workflow_name, run_id, SNAPSHOT)

    workflows.delete_run(workflow_name, run_id)
    workflows.delete_run(workflow_name, run_id)

    assert workflows.load_snapshot(workflow_name, run_id) is None
    assert workflows.list_runs(workflow_name).total == 0


def test_oversized_snapshot_is_stored_whole_or_refused(workflows, backend):
    workflow_name, run_id = new_names()
    snapshot = {"status": "running", "context": {"blob": "x" * 500 * 1024}}

    if backend.max_item_bytes is None:
        workflows.persist_snapshot(workflow_name, run_id, snapshot)
        assert workflows.load_snapshot(workflow_name, run_id) == snapshot
    else:
        with pytest.raises(PayloadTooLargeError):
            workflows.persist_snapshot(workflow_name, run_id, snapshot)
        assert workflows.load_snapshot(workflow_name, run_id) is None


# ---------------------------------------------------------------- listing


def test_list_runs_pages_newest_first_with_totals(workflows):
    workflow_name = unique_id("wf")
    created = persist_runs(workflows, workflow_name, 7)
    newest_first = created[::-1]

    pages = [workflows.list_runs(workflow_name, page=page, per_page=3) for page in range(3)]

    assert [run_ids(page) for page in pages] == [newest_first[0:3], newest_first[3:6], newest_first[6:]]
    assert [page.total for page in pages] == [7, 7, 7]
    assert [page.has_more for page in pages] == [True, True, False]


def test_list_runs_breaks_creation_ties_by_run_id_descending(workflows):
    workflow_name = unique_id("wf")
    tied = [f"{unique_id('run')}-{suffix}" for suffix in "bca"]
    for run_id in tied:
        workflows.persist_snapshot(workflow_name, run_id, {}, created_at=at(0))

    first, second = (workflows.list_runs(workflow_name, page=page, per_page=2) for page in range(2))

    assert run_ids(first) + run_ids(second) == sorted(tied, reverse=True)


def test_list_runs_of_an_unknown_workflow_is_empty(workflows):
    page = workflows.list_runs(unique_id("wf"))

    assert (page.runs, page.total, page.has_more) == ([], 0, False)


def test_list_runs_filters_by_inclusive_creation_range(workflows):
    workflow_name = unique_id("wf")
    created = persist_runs(workflows, workflow_name, 5)  # at(0) .. at(4)

    page = workflows.list_runs(workflow_name, from_date=at(1), to_date=at(3))

    assert run_ids(page) == [created[3], created[2], created[1]]
    assert page.total == 3
    assert workflows.list_runs(workflow_name, from_date=at(4)).total == 1
    assert workflows.list_runs(workflow_name, to_date="2024-01-01T00:00:00.000Z").total == 1
    assert workflows.list_runs(workflow_name, from_date=at(5)).total == 0


def test_list_runs_filters_by_resource_and_status(workflows):
    workflow_name, other_workflow = unique_id("wf"), unique_id("wf")
    resource_id = unique_id("res")
    mine = persist_runs(workflows, workflow_name, 2, resource_id=resource_id)
    persist_runs(workflows, workflow_name, 2)
    theirs = persist_runs(workflows, other_workflow, 1, resource_id=resource_id)
    workflows.update_state(workflow_name, mine[0], {"status": "failed", "error": "boom"})

    assert set(run_ids(workflows.list_runs(resource_id=resource_id))) == {*mine, *theirs}
    assert run_ids(workflows.list_runs(workflow_name, resource_id=resource_id)) == [mine[1], mine[0]]
    assert run_ids(workflows.list_runs(workflow_name, status="failed")) == [mine[0]]
    assert workflows.list_runs(workflow_name, status="failed", resource_id=unique_id("res")).total == 0


def test_list_runs_per_page_false_returns_all_and_zero_returns_only_the_total(workflows):
    workflow_name = unique_id("wf")
    persist_runs(workflows, workflow_name, 4)

    everything = workflows.list_runs(workflow_name, per_page=False)
    counted = workflows.list_runs(workflow_name, per_page=0)

    assert (len(everything.runs), everything.total, everything.per_page, everything.has_more) == (4, 4, False, False)
    assert (counted.runs, counted.total) == ([], 4)


def test_list_runs_without_workflow_or_resource(workflows, backend):
    persist_runs(workflows, unique_id("wf"), 2)

    if backend.lists_runs_without_key:
        assert workflows.list_runs().total >= 2
    else:
        with pytest.raises(ValidationError, match="workflowName or a resourceId"):
            workflows.list_runs()


# ---------------------------------------------------------------- updates


def test_concurrent_step_results_all_survive(workflows):
    workflow_name, run_id = new_names()
    workflows.persist_snapshot(workflow_name, run_id, {"status": "running", "context": {}})
    start = threading.Barrier(10)

    def record(step: int) -> None:
        start.wait()
        workflows.update_results(workflow_name, run_id, f"step-{step}", {"status": "success", "output": step})

    with ThreadPoolExecutor(10) as pool:
        list(pool.map(record, range(10)))

    context = workflows.load_snapshot(workflow_name, run_id)["context"]
    assert context == {f"step-{step}": {"status": "success", "output": step} for step in range(10)}


def test_update_results_creates_a_missing_run_and_merges_request_context(workflows):
    workflow_name, run_id = new_names()

    workflows.update_results(workflow_name, run_id, "a", {"output": 1}, {"user": "ada"})
    context = workflows.update_results(workflow_name, run_id, "b", {"output": 2}, {"locale": "fr"})

    assert context == {"a": {"output": 1}, "b": {"output": 2}}
    assert workflows.load_snapshot(workflow_name, run_id)["requestContext"] == {"user": "ada", "locale": "fr"}


def test_update_state_sets_fields_and_ignores_missing_runs(workflows):
    workflow_name, run_id = new_names()
    workflows.persist_snapshot(workflow_name, run_id, SNAPSHOT)

    updated = workflows.update_state(workflow_name, run_id, {"status": "success", "result": {"ok": True}})

    assert updated == {**SNAPSHOT, "status": "success", "result": {"ok": True}}
    assert workflows.load_snapshot(workflow_name, run_id) == updated
    assert run_ids(workflows.list_runs(workflow_name, status="success")) == [run_id]
    assert workflows.update_state(workflow_name, unique_id("run"), {"status": "success"}) is None


def test_update_run_reapplies_the_change_after_losing_a_race(workflows):
    workflow_name, run_id = new_names()
    workflows.persist_snapshot(workflow_name, run_id, {"counter": 0})
    calls = []

    def increment_while_someone_else_writes(snapshot: dict) -> dict:
        calls.append(snapshot["counter"])
        if len(calls) == 1:
            workflows.persist_snapshot(workflow_name, run_id, {"counter": 10})
        return {"counter": snapshot["counter"] + 1}

    run = workflows.update_run(workflow_name, run_id, increment_while_someone_else_writes)

    assert calls == [0, 10]
    assert run.snapshot == {"counter": 11}
    assert workflows.load_snapshot(workflow_name, run_id) == {"counter": 11}


def test_update_that_always_loses_the_race_raises_conflict(workflows):
    workflow_name, run_id = new_names()
    workflows.persist_snapshot(workflow_name, run_id, {"n": 0})

    def interfere(snapshot: dict) -> dict:
        workflows.persist_snapshot(workflow_name, run_id, {"n": snapshot["n"] + 100})
        return {"n": -1}

    with pytest.raises(ConflictError, match=run_id):
        workflows.update_run(workflow_name, run_id, interfere)

    assert workflows.load_snapshot(workflow_name, run_id)["n"] > 0


def test_update_run_of_a_missing_run_returns_none(workflows):
    workflow_name, run_id = new_names()

    assert workflows.update_run(workflow_name, run_id, lambda snapshot: {"x": 1}) is None
    assert workflows.load_snapshot(workflow_name, run_id) is None


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "workflow_name, run_id",
    [
        pytest.param("", "run-1", id="empty-workflow-name"),
        pytest.param("wf", "  ", id="blank-run-id"),
        pytest.param("wf#1", "run-1", id="hash-in-name"),
        pytest.param("wf", None, id="missing-run-id"),
    ],
)
def test_invalid_keys_raise(workflows, workflow_name, run_id):
    with pytest.raises(ValidationError):
        workflows.persist_snapshot(workflow_name, run_id, {})
    with pytest.raises(ValidationError):
        workflows.load_snapshot(workflow_name, run_id)


@pytest.mark.parametrize(
    "snapshot",
    [
        pytest.param(["not", "an", "object"], id="not-an-object"),
        pytest.param({"n": float("nan")}, id="not-json"),
        pytest.param({"when": object()}, id="not-serialisable"),
    ],
)
def test_invalid_snapshot_raises_and_stores_nothing(workflows, snapshot):
    workflow_name, run_id = new_names()

    with pytest.raises(ValidationError):
        workflows.persist_snapshot(workflow_name, run_id, snapshot)

    assert workflows.load_snapshot(workflow_name, run_id) is None


@pytest.mark.parametrize(
    "arguments",
    [
        pytest.param({"page": -1}, id="negative-page"),
        pytest.param({"page": 1, "per_page": False}, id="per-page-false-needs-page-0"),
        pytest.param({"from_date": "yesterday"}, id="bad-date"),
        pytest.param({"status": ""}, id="empty-status"),
    ],
)
def test_invalid_list_arguments_raise(workflows, arguments):
    with pytest.raises(ValidationError):
        workflows.list_runs(unique_id("wf"), **arguments)
