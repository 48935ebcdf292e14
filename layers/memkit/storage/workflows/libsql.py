"""Workflow run snapshots in the shared libSQL file (``workflow_runs`` table).

=========================================  ==================================================
access pattern                             served by
=========================================  ==================================================
one run by (workflowName, runId)           primary key
a run by runId alone                       ``workflow_runs_by_run_id (run_id)``
a workflow's runs, newest first            ``workflow_runs_by_workflow (workflow_name, created_at, run_id)``
a resource's runs, newest first            ``workflow_runs_by_resource (resource_id, created_at, ...)``
all runs / status filter                   table scan + sort (embedded: small)
=========================================  ==================================================

Optimistic updates compare and bump the ``version`` column in one UPDATE, so they stay safe
against another process writing the same file.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from memkit.models import format_ts, page_meta
from memkit.storage.common import dumps
from memkit.storage.libsql.database import LibSQLDatabase, Migration
from memkit.storage.libsql.sql import Filters, count_and_page
from memkit.storage.workflows.base import (
    RunsQuery,
    WorkflowRun,
    WorkflowRunPage,
    WorkflowsStorage,
)

WORKFLOWS_DOMAIN = "workflows"
WORKFLOWS_MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        (
            """CREATE TABLE workflow_runs (
                workflow_name TEXT NOT NULL,
                run_id        TEXT NOT NULL,
                resource_id   TEXT,
                status        TEXT,
                snapshot      TEXT NOT NULL,
                version       INTEGER NOT NULL,
                created_at    TEXT NOT NULL,
                updated_at    TEXT NOT NULL,
                PRIMARY KEY (workflow_name, run_id)
            )""",
            "CREATE INDEX workflow_runs_by_run_id ON workflow_runs (run_id)",
            "CREATE INDEX workflow_runs_by_workflow ON workflow_runs (workflow_name, created_at, run_id)",
            "CREATE INDEX workflow_runs_by_resource ON workflow_runs (resource_id, created_at, workflow_name, run_id)",
        ),
    ),
)

RUN_COLUMNS = "workflow_name, run_id, resource_id, snapshot, created_at, updated_at"
NEWEST_FIRST = "created_at DESC, workflow_name DESC, run_id DESC"
SELECT_RUN_SQL = f"SELECT {RUN_COLUMNS}, version FROM workflow_runs WHERE workflow_name = ? AND run_id = ?"
UPSERT_RUN_SQL = f"""
INSERT INTO workflow_runs (workflow_name, run_id, resource_id, status, snapshot, version, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, 1, ?, ?)
ON CONFLICT (workflow_name, run_id) DO UPDATE SET
    resource_id = coalesce(excluded.resource_id, workflow_runs.resource_id),
    status = excluded.status,
    snapshot = excluded.snapshot,
    version = workflow_runs.version + 1,
    updated_at = excluded.updated_at
RETURNING {RUN_COLUMNS}"""
INSERT_NEW_RUN_SQL = """
INSERT INTO workflow_runs (workflow_name, run_id, resource_id, status, snapshot, version, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, 1, ?, ?)
ON CONFLICT (workflow_name, run_id) DO NOTHING"""
UPDATE_IF_VERSION_SQL = """
UPDATE workflow_runs SET status = ?, snapshot = ?, updated_at = ?, version = version + 1
WHERE workflow_name = ? AND run_id = ? AND version = ?"""
DELETE_RUN_SQL = "DELETE FROM workflow_runs WHERE workflow_name = ? AND run_id = ?"


def _run_from_row(row: Sequence[Any]) -> WorkflowRun:
    workflow_name, run_id, resource_id, snapshot, created_at, updated_at = row[:6]
    return WorkflowRun(
        workflow_name=workflow_name,
        run_id=run_id,
        resource_id=resource_id,
        snapshot=json.loads(snapshot),
        created_at=created_at,
        updated_at=updated_at,
    )


def _insert_params(run: WorkflowRun) -> tuple[Any, ...]:
    return (
        run.workflow_name,
        run.run_id,
        run.resource_id,
        run.status,
        dumps(run.snapshot),
        format_ts(run.created_at),
        format_ts(run.updated_at),
    )


class LibSQLWorkflowsStorage(WorkflowsStorage):
    """Runs in ``database``'s file; whoever opened the database closes it."""

    name = "libsql"

    def __init__(self, database: LibSQLDatabase):
        self._database = database
        database.migrate(WORKFLOWS_DOMAIN, WORKFLOWS_MIGRATIONS)

    def _newest_run_with_id(self, run_id: str) -> WorkflowRun | None:
        with self._database.connection() as conn:
            row = conn.execute(
                f"SELECT {RUN_COLUMNS} FROM workflow_runs WHERE run_id = ? ORDER BY {NEWEST_FIRST} LIMIT 1", (run_id,)
            ).fetchone()
        return None if row is None else _run_from_row(row)

    def _delete_run(self, workflow_name: str, run_id: str) -> None:
        with self._database.transaction() as conn:
            conn.execute(DELETE_RUN_SQL, (workflow_name, run_id))

    def _list_runs(self, query: RunsQuery) -> WorkflowRunPage:
        filters = (
            Filters()
            .add("workflow_name = ?", query.workflow_name)
            .add("resource_id = ?", query.resource_id)
            .add("status = ?", query.status)
            .add("created_at >= ?", query.from_date)
            .add("created_at <= ?", query.to_date)
        )
        with self._database.snapshot() as conn:
            total, rows = count_and_page(
                conn, "workflow_runs", RUN_COLUMNS, filters.where(), filters.params,
                order_by=NEWEST_FIRST, page=query.page, per_page=query.per_page,
            )
        runs = [_run_from_row(row) for row in rows]
        return WorkflowRunPage(runs=runs, **page_meta(total, query.page, query.per_page, len(runs)))

    def _upsert(self, run: WorkflowRun) -> WorkflowRun:
        with self._database.transaction() as conn:
            return _run_from_row(conn.execute(UPSERT_RUN_SQL, _insert_params(run)).fetchone())

    def _get_versioned(self, workflow_name: str, run_id: str) -> tuple[WorkflowRun, int] | None:
        with self._database.connection() as conn:
            row = conn.execute(SELECT_RUN_SQL, (workflow_name, run_id)).fetchone()
        return None if row is None else (_run_from_row(row), int(row[6]))

    def _put_if_version(self, run: WorkflowRun, expected_version: int | None) -> bool:
        with self._database.transaction() as conn:
            if expected_version is None:
                cursor = conn.execute(INSERT_NEW_RUN_SQL, _insert_params(run))
            else:
                cursor = conn.execute(
                    UPDATE_IF_VERSION_SQL,
                    (
                        run.status,
                        dumps(run.snapshot),
                        format_ts(run.updated_at),
                        run.workflow_name,
                        run.run_id,
                        expected_version,
                    ),
                )
            return cursor.rowcount > 0
