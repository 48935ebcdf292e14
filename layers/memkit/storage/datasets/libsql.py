"""Datasets in the shared libSQL file (key design and semantics: ``docs/domains.md``).

==========================================  ===================================================
access pattern                              served by
==========================================  ===================================================
a dataset; every dataset, newest first      primary key; ``datasets_by_created (created_at, id)``
an item's revisions, newest first           primary key ``(dataset_id, item_id, dataset_version)``
current items, newest first                 partial index ``dataset_items_current``
items as of a version, newest first         partial index ``dataset_items_live`` (every revision
                                            but tombstones), filtered by validity
versions of a dataset                       primary key ``(dataset_id, version)``
external ids                                ``dataset_item_claims`` primary key
a dataset's experiments; all experiments    ``experiments_by_dataset``, ``experiments_by_created``
an experiment's results, execution order    ``experiment_results_by_experiment (…, started_at, id)``
results of an item (purging)                ``experiment_results_by_item (item_id)``
==========================================  ===================================================

Records are JSON (``data``) plus the columns they are filtered and ordered by. An item
revision keeps its input and groundTruth as their own JSON text columns, which ``search``
reads with ``instr(lower(...))``: SQLite's lower() folds A-Z only, as ``base.ascii_lower`` does.
Every change runs in one transaction that first moves the dataset's version from the one the
change was planned against, so a planner that lost a race writes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from memkit.models import format_ts
from memkit.storage.common import dumps
from memkit.storage.datasets.base import DatasetsStorage
from memkit.storage.datasets.changes import (
    Claim,
    DatasetsQuery,
    DatasetState,
    ExperimentsQuery,
    ItemCommit,
    ItemsQuery,
    ResultGuard,
    ResultsQuery,
    payload_hash,
    scrubbed_result,
    scrubbed_revision,
    search_text,
)
from memkit.storage.datasets.models import (
    FINISHED_STATUSES,
    Dataset,
    DatasetItem,
    DatasetItemRevision,
    DatasetVersion,
    Experiment,
    ExperimentResult,
    ascii_lower,
)
from memkit.storage.libsql.database import LibSQLDatabase, Migration
from memkit.storage.libsql.sql import Filters, count_and_page, id_list

DATASETS_DOMAIN = "datasets"
DATASETS_MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        (
            """CREATE TABLE datasets (
                id          TEXT PRIMARY KEY,
                name_key    TEXT NOT NULL,
                target_type TEXT,
                version     INTEGER NOT NULL,
                created_at  TEXT NOT NULL,
                data        TEXT NOT NULL
            )""",
            "CREATE INDEX datasets_by_created ON datasets (created_at, id)",
            """CREATE TABLE dataset_items (
                dataset_id        TEXT NOT NULL,
                item_id           TEXT NOT NULL,
                dataset_version   INTEGER NOT NULL,
                valid_to          INTEGER,
                is_deleted        INTEGER NOT NULL,
                purged            INTEGER NOT NULL,
                created_at        TEXT NOT NULL,
                input_json        TEXT NOT NULL,
                ground_truth_json TEXT NOT NULL,
                data              TEXT NOT NULL,
                PRIMARY KEY (dataset_id, item_id, dataset_version)
            )""",
            """CREATE INDEX dataset_items_current ON dataset_items (dataset_id, created_at, item_id)
               WHERE valid_to IS NULL AND is_deleted = 0""",
            """CREATE INDEX dataset_items_live ON dataset_items (dataset_id, created_at, item_id, dataset_version)
               WHERE is_deleted = 0""",
            """CREATE TABLE dataset_item_claims (
                dataset_id   TEXT NOT NULL,
                external_id  TEXT NOT NULL,
                item_id      TEXT NOT NULL,
                payload_hash TEXT NOT NULL,
                PRIMARY KEY (dataset_id, external_id)
            )""",
            """CREATE TABLE dataset_versions (
                dataset_id TEXT NOT NULL,
                version    INTEGER NOT NULL,
                data       TEXT NOT NULL,
                PRIMARY KEY (dataset_id, version)
            )""",
            """CREATE TABLE experiments (
                id          TEXT PRIMARY KEY,
                dataset_id  TEXT NOT NULL,
                status      TEXT NOT NULL,
                target_type TEXT,
                target_id   TEXT,
                created_at  TEXT NOT NULL,
                data        TEXT NOT NULL
            )""",
            "CREATE INDEX experiments_by_dataset ON experiments (dataset_id, created_at, id)",
            "CREATE INDEX experiments_by_created ON experiments (created_at, id)",
            """CREATE TABLE experiment_results (
                id            TEXT PRIMARY KEY,
                experiment_id TEXT NOT NULL,
                item_id       TEXT NOT NULL,
                status        TEXT,
                purged        INTEGER NOT NULL,
                started_at    TEXT NOT NULL,
                data          TEXT NOT NULL
            )""",
            "CREATE INDEX experiment_results_by_experiment ON experiment_results (experiment_id, started_at, id)",
            "CREATE INDEX experiment_results_by_item ON experiment_results (item_id)",
        ),
    ),
)

NEWEST_FIRST = "created_at DESC, id DESC"
ITEMS_NEWEST_FIRST = "created_at DESC, item_id DESC"
REVISION_COLUMNS = "data, input_json, ground_truth_json, valid_to, is_deleted"
CURRENT_ITEMS = "valid_to IS NULL AND is_deleted = 0"
LIVE_AT_VERSION = "is_deleted = 0 AND dataset_version <= ? AND (valid_to IS NULL OR valid_to > ?)"
SEARCH = "(instr(lower(input_json), ?) > 0 OR instr(lower(ground_truth_json), ?) > 0)"

INSERT_DATASET_SQL = """
INSERT INTO datasets (id, name_key, target_type, version, created_at, data) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO NOTHING"""
SELECT_DATASET_SQL = "SELECT data, version FROM datasets WHERE id = ?"
COUNT_CURRENT_SQL = f"SELECT COUNT(*) FROM dataset_items WHERE dataset_id = ? AND {CURRENT_ITEMS}"
UPDATE_DATASET_SQL = "UPDATE datasets SET name_key = ?, target_type = ?, data = ? WHERE id = ?"
BUMP_VERSION_SQL = "UPDATE datasets SET version = version + 1 WHERE id = ? AND version = ?"
CLOSE_REVISION_SQL = """
UPDATE dataset_items SET valid_to = ?
WHERE dataset_id = ? AND item_id = ? AND dataset_version = ? AND valid_to IS NULL AND purged = ?"""
INSERT_REVISION_SQL = """
INSERT INTO dataset_items
    (dataset_id, item_id, dataset_version, valid_to, is_deleted, purged, created_at, input_json, ground_truth_json, data)
VALUES (?, ?, ?, NULL, ?, ?, ?, ?, ?, ?)"""
INSERT_CLAIM_SQL = """
INSERT INTO dataset_item_claims (dataset_id, external_id, item_id, payload_hash) VALUES (?, ?, ?, ?)
ON CONFLICT (dataset_id, external_id) DO NOTHING"""
INSERT_VERSION_SQL = "INSERT INTO dataset_versions (dataset_id, version, data) VALUES (?, ?, ?)"
SELECT_CLAIMS_SQL = """
SELECT external_id, item_id, payload_hash FROM dataset_item_claims
WHERE dataset_id = ? AND external_id IN (SELECT value FROM json_each(?))"""
SELECT_CURRENT_REVISIONS_SQL = f"""
SELECT {REVISION_COLUMNS} FROM dataset_items
WHERE dataset_id = ? AND item_id IN (SELECT value FROM json_each(?)) AND valid_to IS NULL"""
SELECT_REVISION_AT_SQL = f"""
SELECT {REVISION_COLUMNS} FROM dataset_items WHERE dataset_id = ? AND item_id = ? AND dataset_version <= ?
ORDER BY dataset_version DESC LIMIT 1"""
SELECT_HISTORY_SQL = f"""
SELECT {REVISION_COLUMNS} FROM dataset_items WHERE dataset_id = ? AND item_id = ?
ORDER BY dataset_version DESC"""
SELECT_VERSIONS_SQL = """
SELECT data FROM dataset_versions WHERE dataset_id = ? AND version BETWEEN ? AND ? ORDER BY version DESC"""
SCRUB_REVISION_SQL = """
UPDATE dataset_items SET purged = 1, input_json = ?, ground_truth_json = ?, data = ?
WHERE dataset_id = ? AND item_id = ? AND dataset_version = ?"""
SCRUB_CLAIM_SQL = "UPDATE dataset_item_claims SET payload_hash = ? WHERE dataset_id = ? AND item_id = ?"
SELECT_ITEM_RESULTS_SQL = """
SELECT data FROM experiment_results
WHERE item_id = ? AND experiment_id IN (SELECT id FROM experiments WHERE dataset_id = ?)"""
INSERT_EXPERIMENT_SQL = """
INSERT INTO experiments (id, dataset_id, status, target_type, target_id, created_at, data) VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO NOTHING"""
SELECT_EXPERIMENT_SQL = "SELECT data FROM experiments WHERE id = ?"
UPDATE_EXPERIMENT_SQL = "UPDATE experiments SET status = ?, data = ? WHERE id = ?"
DELETE_EXPERIMENT_SQL = "DELETE FROM experiments WHERE id = ? AND dataset_id = ?"
SELECT_RESULT_SQL = "SELECT data FROM experiment_results WHERE id = ?"
SELECT_RESULT_AND_EXPERIMENT_SQL = "SELECT data FROM experiment_results WHERE experiment_id = ? AND id = ?"
UPSERT_RESULT_SQL = """
INSERT OR REPLACE INTO experiment_results (id, experiment_id, item_id, status, purged, started_at, data)
VALUES (?, ?, ?, ?, ?, ?, ?)"""
SELECT_REVISION_PURGED_SQL = "SELECT purged FROM dataset_items WHERE dataset_id = ? AND item_id = ? AND dataset_version = ?"
DELETE_DATASET_SQL = (
    "DELETE FROM experiment_results WHERE experiment_id IN (SELECT id FROM experiments WHERE dataset_id = ?)",
    "DELETE FROM experiments WHERE dataset_id = ?",
    "DELETE FROM dataset_items WHERE dataset_id = ?",
    "DELETE FROM dataset_item_claims WHERE dataset_id = ?",
    "DELETE FROM dataset_versions WHERE dataset_id = ?",
    "DELETE FROM datasets WHERE id = ?",
)


class _LostRace(Exception):
    """Raised inside a transaction to roll it back when the state it was planned on moved."""


def _revision_from_row(row: Sequence[Any]) -> DatasetItemRevision:
    data, input_json, ground_truth_json, valid_to, is_deleted = row
    return DatasetItemRevision.model_validate(
        {
            **json.loads(data),
            "input": json.loads(input_json) if input_json else None,
            "groundTruth": json.loads(ground_truth_json) if ground_truth_json else None,
            "validTo": valid_to,
            "isDeleted": bool(is_deleted),
        }
    )


def _item_from_row(row: Sequence[Any]) -> DatasetItem:
    return _revision_from_row(row).as_item()


def _revision_columns(revision: DatasetItemRevision) -> tuple[str, str, str]:
    """``(input_json, ground_truth_json, data)`` of a revision."""
    wire = revision.to_wire()
    for excluded in ("input", "groundTruth", "validTo", "isDeleted"):
        wire.pop(excluded)
    return search_text(revision.input), search_text(revision.ground_truth), dumps(wire)


def _dataset_from_row(row: Sequence[Any]) -> Dataset:
    return Dataset.model_validate({**json.loads(row[0]), "version": row[1]})


def _experiment(data: str) -> Experiment:
    return Experiment.model_validate(json.loads(data))


def _result(data: str) -> ExperimentResult:
    return ExperimentResult.model_validate(json.loads(data))


def _dataset_columns(dataset: Dataset) -> tuple[str, str | None, str]:
    return ascii_lower(dataset.name), dataset.target_type, dumps(dataset.to_wire())


class LibSQLDatasetsStorage(DatasetsStorage):
    """Datasets in ``database``'s file; whoever opened the database closes it."""

    name = "libsql"

    def __init__(self, database: LibSQLDatabase):
        self._database = database
        database.migrate(DATASETS_DOMAIN, DATASETS_MIGRATIONS)

    # ------------------------------------------------------------ datasets

    def _insert_dataset(self, dataset: Dataset) -> bool:
        name_key, target_type, data = _dataset_columns(dataset)
        with self._database.transaction() as conn:
            cursor = conn.execute(
                INSERT_DATASET_SQL, (dataset.id, name_key, target_type, dataset.version, format_ts(dataset.created_at), data)
            )
            return cursor.rowcount > 0

    def _dataset_state(self, dataset_id: str) -> DatasetState | None:
        with self._database.snapshot() as conn:
            row = conn.execute(SELECT_DATASET_SQL, (dataset_id,)).fetchone()
            if row is None:
                return None
            count = conn.execute(COUNT_CURRENT_SQL, (dataset_id,)).fetchone()[0]
        return DatasetState(_dataset_from_row(row), int(count))

    def _update_dataset(self, dataset_id: str, fields: dict[str, Any], updated_at: datetime) -> Dataset | None:
        with self._database.transaction() as conn:
            row = conn.execute(SELECT_DATASET_SQL, (dataset_id,)).fetchone()
            if row is None:
                return None
            updated = _dataset_from_row(row).model_copy(update={**fields, "updated_at": updated_at})
            name_key, target_type, data = _dataset_columns(updated)
            conn.execute(UPDATE_DATASET_SQL, (name_key, target_type, data, dataset_id))
        return updated

    def _list_datasets(self, query: DatasetsQuery) -> tuple[int, list[Dataset]]:
        filters = Filters().add("instr(name_key, ?) > 0", query.name).add("target_type = ?", query.target_type)
        if query.target_ids:
            filters.add(
                "EXISTS (SELECT 1 FROM json_each(datasets.data, '$.targetIds') AS target "
                "WHERE target.value IN (SELECT value FROM json_each(?)))",
                id_list(query.target_ids),
            )
        with self._database.snapshot() as conn:
            total, rows = count_and_page(
                conn, "datasets", "data, version", filters.where(), filters.params,
                order_by=NEWEST_FIRST, page=query.page, per_page=query.per_page,
            )
        return total, [_dataset_from_row(row) for row in rows]

    def _delete_dataset(self, dataset_id: str) -> None:
        with self._database.transaction() as conn:
            for statement in DELETE_DATASET_SQL:
                conn.execute(statement, (dataset_id,))

    # ------------------------------------------------------------ items

    def _read_claims(self, dataset_id: str, external_ids: Sequence[str]) -> dict[str, Claim]:
        with self._database.connection() as conn:
            rows = conn.execute(SELECT_CLAIMS_SQL, (dataset_id, id_list(external_ids))).fetchall()
        return {external_id: Claim(item_id, digest) for external_id, item_id, digest in rows}

    def _current_revisions(self, dataset_id: str, item_ids: Sequence[str]) -> dict[str, DatasetItemRevision]:
        # The newest revision of an item, tombstone or not, is the one not yet closed.
        with self._database.connection() as conn:
            rows = conn.execute(SELECT_CURRENT_REVISIONS_SQL, (dataset_id, id_list(item_ids))).fetchall()
        revisions = [_revision_from_row(row) for row in rows]
        return {revision.id: revision for revision in revisions}

    def _commit(self, commit: ItemCommit) -> bool:
        dataset_id, version = commit.dataset_id, commit.new_version
        record = DatasetVersion(
            id=commit.version_id,
            dataset_id=dataset_id,
            version=version,
            changes=commit.summary,
            created_at=commit.created_at,
        )
        try:
            with self._database.transaction() as conn:
                if conn.execute(BUMP_VERSION_SQL, (dataset_id, commit.expected_version)).rowcount == 0:
                    raise _LostRace
                for change in commit.changes:
                    closes = change.closes
                    if closes is not None and conn.execute(
                        CLOSE_REVISION_SQL, (version, dataset_id, closes.id, closes.dataset_version, int(closes.purged))
                    ).rowcount == 0:
                        raise _LostRace  # purged (or closed) since it was read
                    revision = change.revision
                    input_json, ground_truth_json, data = _revision_columns(revision)
                    conn.execute(
                        INSERT_REVISION_SQL,
                        (
                            dataset_id,
                            revision.id,
                            version,
                            int(revision.is_deleted),
                            int(revision.purged),
                            format_ts(revision.created_at),
                            input_json,
                            ground_truth_json,
                            data,
                        ),
                    )
                    if change.claim is not None:
                        external_id, claim = change.claim
                        if conn.execute(
                            INSERT_CLAIM_SQL, (dataset_id, external_id, claim.item_id, claim.payload_hash)
                        ).rowcount == 0:
                            raise _LostRace
                conn.execute(INSERT_VERSION_SQL, (dataset_id, version, dumps(record.to_wire())))
        except _LostRace:
            return False
        return True

    def _revision_at(self, dataset_id: str, item_id: str, version: int | None) -> DatasetItemRevision | None:
        bound = version if version is not None else 2**62
        with self._database.connection() as conn:
            row = conn.execute(SELECT_REVISION_AT_SQL, (dataset_id, item_id, bound)).fetchone()
        return None if row is None else _revision_from_row(row)

    def _item_history(self, dataset_id: str, item_id: str) -> list[DatasetItemRevision]:
        with self._database.connection() as conn:
            rows = conn.execute(SELECT_HISTORY_SQL, (dataset_id, item_id)).fetchall()
        return [_revision_from_row(row) for row in rows]

    def _list_items(self, state: DatasetState, query: ItemsQuery) -> tuple[int, list[DatasetItem]]:
        filters = Filters().add("dataset_id = ?", query.dataset_id)
        if query.version is None:
            filters.require(CURRENT_ITEMS)
        else:
            filters.clauses.append(LIVE_AT_VERSION)
            filters.params += [query.version, query.version]
        if query.search:
            filters.clauses.append(SEARCH)
            filters.params += [query.search, query.search]
        with self._database.snapshot() as conn:
            total, rows = count_and_page(
                conn, "dataset_items", REVISION_COLUMNS, filters.where(), filters.params,
                order_by=ITEMS_NEWEST_FIRST, page=query.page, per_page=query.per_page,
            )
        return total, [_item_from_row(row) for row in rows]

    def _list_versions(self, dataset_id: str, newest: int, oldest: int) -> list[DatasetVersion]:
        with self._database.connection() as conn:
            rows = conn.execute(SELECT_VERSIONS_SQL, (dataset_id, oldest, newest)).fetchall()
        return [DatasetVersion.model_validate(json.loads(row[0])) for row in rows]

    def _purge_item(self, dataset_id: str, item_id: str, marker: dict[str, Any]) -> None:
        with self._database.transaction() as conn:
            revisions = [
                _revision_from_row(row) for row in conn.execute(SELECT_HISTORY_SQL, (dataset_id, item_id)).fetchall()
            ]
            if not revisions:
                return
            for revision in revisions:
                scrubbed = scrubbed_revision(revision, marker)
                input_json, ground_truth_json, data = _revision_columns(scrubbed)
                conn.execute(
                    SCRUB_REVISION_SQL,
                    (input_json, ground_truth_json, data, dataset_id, item_id, revision.dataset_version),
                )
            # A later insert with the original payload must not pass for a retry any more.
            conn.execute(SCRUB_CLAIM_SQL, (payload_hash(scrubbed_revision(revisions[-1], marker)), dataset_id, item_id))
            for (data,) in conn.execute(SELECT_ITEM_RESULTS_SQL, (item_id, dataset_id)).fetchall():
                self._write_result(conn, scrubbed_result(_result(data), marker))

    # ------------------------------------------------------------ experiments

    def _insert_experiment(self, experiment: Experiment) -> bool:
        with self._database.transaction() as conn:
            if conn.execute(SELECT_DATASET_SQL, (experiment.dataset_id,)).fetchone() is None:
                return False
            cursor = conn.execute(
                INSERT_EXPERIMENT_SQL,
                (
                    experiment.id,
                    experiment.dataset_id,
                    experiment.status,
                    experiment.target_type,
                    experiment.target_id,
                    format_ts(experiment.created_at),
                    dumps(experiment.to_wire()),
                ),
            )
            return cursor.rowcount > 0

    def _get_experiment(self, experiment_id: str) -> Experiment | None:
        with self._database.connection() as conn:
            row = conn.execute(SELECT_EXPERIMENT_SQL, (experiment_id,)).fetchone()
        return None if row is None else _experiment(row[0])

    def _list_experiments(self, query: ExperimentsQuery) -> tuple[int, list[Experiment]]:
        filters = (
            Filters()
            .add("dataset_id = ?", query.dataset_id)
            .add("status = ?", query.status)
            .add("target_type = ?", query.target_type)
            .add("target_id = ?", query.target_id)
        )
        with self._database.snapshot() as conn:
            total, rows = count_and_page(
                conn, "experiments", "data", filters.where(), filters.params,
                order_by=NEWEST_FIRST, page=query.page, per_page=query.per_page,
            )
        return total, [_experiment(row[0]) for row in rows]

    def _update_experiment(
        self,
        dataset_id: str,
        experiment_id: str,
        fields: dict[str, Any],
        updated_at: datetime,
        *,
        expected_status: str | None,
    ) -> Experiment | None:
        with self._database.transaction() as conn:
            row = conn.execute(SELECT_EXPERIMENT_SQL, (experiment_id,)).fetchone()
            if row is None:
                return None
            current = _experiment(row[0])
            if current.dataset_id != dataset_id or expected_status not in (None, current.status):
                return None
            updated = current.model_copy(update={**fields, "updated_at": updated_at})
            conn.execute(UPDATE_EXPERIMENT_SQL, (updated.status, dumps(updated.to_wire()), experiment_id))
        return updated

    def _delete_experiment(self, dataset_id: str, experiment_id: str) -> None:
        with self._database.transaction() as conn:
            if conn.execute(DELETE_EXPERIMENT_SQL, (experiment_id, dataset_id)).rowcount:
                conn.execute("DELETE FROM experiment_results WHERE experiment_id = ?", (experiment_id,))

    # ------------------------------------------------------------ results

    def _experiment_results(self, experiment_id: str) -> list[ExperimentResult]:
        with self._database.connection() as conn:
            rows = conn.execute("SELECT data FROM experiment_results WHERE experiment_id = ?", (experiment_id,)).fetchall()
        return [_result(row[0]) for row in rows]

    def _experiment_and_result(
        self, experiment_id: str, result_id: str
    ) -> tuple[Experiment | None, ExperimentResult | None]:
        with self._database.snapshot() as conn:
            experiment = conn.execute(SELECT_EXPERIMENT_SQL, (experiment_id,)).fetchone()
            result = conn.execute(SELECT_RESULT_AND_EXPERIMENT_SQL, (experiment_id, result_id)).fetchone()
        return (
            None if experiment is None else _experiment(experiment[0]),
            None if result is None else _result(result[0]),
        )

    def _upsert_result(self, result: ExperimentResult, guard: ResultGuard, previous: ExperimentResult | None) -> bool:
        with self._database.transaction() as conn:
            experiment = conn.execute(SELECT_EXPERIMENT_SQL, (result.experiment_id,)).fetchone()
            if experiment is None or _experiment(experiment[0]).status in FINISHED_STATUSES:
                return False
            if not guard.item_purged:
                purged = conn.execute(
                    SELECT_REVISION_PURGED_SQL, (guard.dataset_id, guard.item_id, guard.revision_version)
                ).fetchone()
                if purged is None or purged[0]:
                    return False
            stored = conn.execute(SELECT_RESULT_SQL, (result.id,)).fetchone()
            if (stored is None) != (previous is None) or (
                stored is not None and previous is not None and _result(stored[0]).comment != previous.comment
            ):
                return False
            self._write_result(conn, result)
        return True

    @staticmethod
    def _write_result(conn: Any, result: ExperimentResult) -> None:
        conn.execute(
            UPSERT_RESULT_SQL,
            (
                result.id,
                result.experiment_id,
                result.item_id,
                result.status,
                int(result.purged),
                format_ts(result.started_at),
                dumps(result.to_wire()),
            ),
        )

    def _list_results(self, query: ResultsQuery) -> tuple[int, list[ExperimentResult]]:
        filters = Filters().add("experiment_id = ?", query.experiment_id).add("status = ?", query.status)
        with self._database.snapshot() as conn:
            total, rows = count_and_page(
                conn, "experiment_results", "data", filters.where(), filters.params,
                order_by="started_at ASC, id ASC", page=query.page, per_page=query.per_page,
            )
        return total, [_result(row[0]) for row in rows]

    def _update_result(
        self, experiment_id: str, result_id: str, fields: dict[str, Any], *, expect_purged: bool
    ) -> ExperimentResult | None:
        with self._database.transaction() as conn:
            row = conn.execute(SELECT_RESULT_AND_EXPERIMENT_SQL, (experiment_id, result_id)).fetchone()
            if row is None:
                return None
            current = _result(row[0])
            if current.purged != expect_purged:
                return None
            updated = current.model_copy(update=fields)
            self._write_result(conn, updated)
        return updated

