"""The workflows storage port: run snapshots keyed by (workflowName, runId).

A snapshot is the workflow engine's JSON state of one run (Mastra's ``WorkflowRunState``); the
store keeps it opaque except for its top-level ``status``, which it copies out so runs can be
listed by status. Every adapter passes ``tests/storage/workflows/test_workflows.py``.

Concurrent updates. Steps of one run finish in parallel and each records its result in the
same snapshot, so ``update_run`` is a read-modify-write guarded by a per-run ``version``: an
adapter writes only if the version it read is still current, and the loop here re-reads and
re-applies the change when it lost the race (``optimistic_attempts``). Adapters provide the
versioned read and the conditional write; the loop is shared.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from memkit.errors import ValidationError
from memkit.models import Page, WireModel, to_ms, utc_now, validate_id
from memkit.storage.common import optimistic_attempts, optional_id, optional_text, optional_ts, pagination

Snapshot = dict[str, Any]


class WorkflowRun(WireModel):
    """Mastra's ``WorkflowRun``: the snapshot plus its keys and timestamps."""

    workflow_name: str
    run_id: str
    snapshot: Snapshot
    resource_id: str | None = None
    created_at: datetime
    updated_at: datetime

    @property
    def status(self) -> str | None:
        return snapshot_status(self.snapshot)


class WorkflowRunPage(Page):
    runs: list[WorkflowRun]


@dataclass(frozen=True)
class RunsQuery:
    """Validated ``list_runs`` arguments; dates are stored-format strings (inclusive bounds)."""

    workflow_name: str | None
    resource_id: str | None
    status: str | None
    from_date: str | None
    to_date: str | None
    page: int
    per_page: int | None


def snapshot_status(snapshot: Mapping[str, Any]) -> str | None:
    status = snapshot.get("status")
    return status if isinstance(status, str) else None


def check_snapshot(snapshot: Any) -> Snapshot:
    if not isinstance(snapshot, dict):
        raise ValidationError(f"snapshot must be a JSON object, got {type(snapshot).__name__}", field="snapshot")
    return snapshot


def check_keys(workflow_name: Any, run_id: Any) -> None:
    validate_id(workflow_name, "workflowName")
    validate_id(run_id, "runId")


class WorkflowsStorage(ABC):
    """Port for the workflows domain."""

    name: str = "abstract"

    # ------------------------------------------------------------ snapshots

    def persist_snapshot(
        self,
        workflow_name: str,
        run_id: str,
        snapshot: Snapshot,
        resource_id: str | None = None,
        *,
        created_at: datetime | None = None,
        updated_at: datetime | None = None,
    ) -> WorkflowRun:
        """Create or replace the run's snapshot and return the stored run. ``createdAt`` is
        kept from the first persist (``created_at`` only applies to a new run); ``updatedAt`` is
        ``updated_at`` or now. A ``resource_id`` replaces the run's; None keeps the one it has."""
        check_keys(workflow_name, run_id)
        now = utc_now()
        run = WorkflowRun(
            workflow_name=workflow_name,
            run_id=run_id,
            snapshot=check_snapshot(snapshot),
            resource_id=optional_id(resource_id, "resourceId"),
            created_at=to_ms(created_at) if created_at else now,
            updated_at=to_ms(updated_at) if updated_at else now,
        )
        return self._upsert(run)

    def load_snapshot(self, workflow_name: str, run_id: str) -> Snapshot | None:
        run = self.get_run(workflow_name, run_id)
        return None if run is None else run.snapshot

    def get_run(self, workflow_name: str, run_id: str) -> WorkflowRun | None:
        check_keys(workflow_name, run_id)
        found = self._get_versioned(workflow_name, run_id)
        return None if found is None else found[0]

    def get_run_by_id(self, run_id: str, workflow_name: str | None = None) -> WorkflowRun | None:
        """The run with ``run_id``; without ``workflow_name``, and with the id used by several
        workflows, the newest of them."""
        if workflow_name is not None:
            return self.get_run(workflow_name, run_id)
        return self._newest_run_with_id(validate_id(run_id, "runId"))

    def delete_run(self, workflow_name: str, run_id: str) -> None:
        """Remove the run; an unknown run is a no-op."""
        check_keys(workflow_name, run_id)
        self._delete_run(workflow_name, run_id)

    def list_runs(
        self,
        workflow_name: str | None = None,
        *,
        from_date: Any = None,
        to_date: Any = None,
        resource_id: str | None = None,
        status: str | None = None,
        page: Any = 0,
        per_page: Any = None,
    ) -> WorkflowRunPage:
        """Runs newest first (createdAt, then workflowName and runId, all descending), filtered
        by workflow, createdAt range (inclusive), resource and snapshot status."""
        page, per_page = pagination(page, per_page)
        query = RunsQuery(
            workflow_name=optional_id(workflow_name, "workflowName"),
            resource_id=optional_id(resource_id, "resourceId"),
            status=optional_text(status, "status"),
            from_date=optional_ts(from_date, "fromDate"),
            to_date=optional_ts(to_date, "toDate"),
            page=page,
            per_page=per_page,
        )
        return self._list_runs(query)

    # ------------------------------------------------------------ concurrent updates

    def update_run(
        self,
        workflow_name: str,
        run_id: str,
        mutate: Callable[[Snapshot], Snapshot],
        *,
        create_if_missing: bool = False,
    ) -> WorkflowRun | None:
        """Apply ``mutate`` to the current snapshot and store the result, safely against
        concurrent writers: if the run changed between read and write, ``mutate`` runs again on
        the newer snapshot, so it must be a pure function of its argument. It receives a copy.

        A missing run gives None, or with ``create_if_missing`` a new run whose snapshot is
        ``mutate({})``. Too much contention raises ``ConflictError``."""
        check_keys(workflow_name, run_id)
        for _ in optimistic_attempts(f"workflow run {run_id} of {workflow_name}"):
            current = self._get_versioned(workflow_name, run_id)
            if current is None and not create_if_missing:
                return None
            run, version = current if current is not None else (None, None)
            snapshot = check_snapshot(mutate(copy.deepcopy(run.snapshot) if run else {}))
            now = utc_now()
            updated = WorkflowRun(
                workflow_name=workflow_name,
                run_id=run_id,
                snapshot=snapshot,
                resource_id=run.resource_id if run else None,
                created_at=run.created_at if run else now,
                updated_at=max(now, run.updated_at) if run else now,
            )
            if self._put_if_version(updated, version):
                return updated
        raise AssertionError("optimistic_attempts() raises when attempts run out")

    def update_results(
        self,
        workflow_name: str,
        run_id: str,
        step_id: str,
        result: Any,
        request_context: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Mastra's ``updateWorkflowResults``: record one step's result in ``snapshot.context``
        (creating the run if needed) and merge ``request_context``; returns the new context."""
        validate_id(step_id, "stepId")

        def record(snapshot: Snapshot) -> Snapshot:
            snapshot.setdefault("runId", run_id)
            snapshot.setdefault("status", "pending")
            snapshot["context"] = {**(snapshot.get("context") or {}), step_id: result}
            snapshot["requestContext"] = {**(snapshot.get("requestContext") or {}), **(request_context or {})}
            return snapshot

        run = self.update_run(workflow_name, run_id, record, create_if_missing=True)
        assert run is not None  # create_if_missing
        return run.snapshot["context"]

    def update_state(self, workflow_name: str, run_id: str, changes: Mapping[str, Any]) -> Snapshot | None:
        """Mastra's ``updateWorkflowState``: set top-level snapshot fields (``status``,
        ``result``, ``error``, ``suspendedPaths``, ...). A missing run gives None."""
        if not isinstance(changes, Mapping):
            raise ValidationError("workflow state changes must be an object", field="opts")
        run = self.update_run(workflow_name, run_id, lambda snapshot: {**snapshot, **changes})
        return None if run is None else run.snapshot

    # ------------------------------------------------------------ adapter primitives
    # Arguments arrive validated.

    @abstractmethod
    def _newest_run_with_id(self, run_id: str) -> WorkflowRun | None: ...

    @abstractmethod
    def _delete_run(self, workflow_name: str, run_id: str) -> None: ...

    @abstractmethod
    def _list_runs(self, query: RunsQuery) -> WorkflowRunPage: ...

    @abstractmethod
    def _upsert(self, run: WorkflowRun) -> WorkflowRun:
        """Unconditional write of a validated run, bumping its version: ``created_at`` only if
        the run is new, ``resource_id`` only if not None. Returns the run as stored."""

    @abstractmethod
    def _get_versioned(self, workflow_name: str, run_id: str) -> tuple[WorkflowRun, int] | None:
        """The run and its current version, read consistently (never from a stale replica)."""

    @abstractmethod
    def _put_if_version(self, run: WorkflowRun, expected_version: int | None) -> bool:
        """Store ``run`` if its version is still ``expected_version`` (None: only if the run does
        not exist), bumping the version. False when another writer got there first."""

    # ------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Release what this adapter owns. Safe to call twice."""

