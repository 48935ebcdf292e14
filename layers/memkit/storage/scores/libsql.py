"""Scores in the shared libSQL file (``scores`` table).

The whole score is one JSON column; the columns it is listed by are copied out, each list
served by an index that also delivers the newest-first order:

==========================  ===================================================
list scores by              index
==========================  ===================================================
scorerId (+ filters)        ``scores_by_scorer (scorer_id, created_at, id)``
runId                       ``scores_by_run (run_id, created_at, id)``
entityId + entityType       ``scores_by_entity (entity_id, entity_type, created_at, id)``
traceId + spanId            ``scores_by_span (trace_id, span_id, created_at, id)``
batchId / datasetId         ``scores_by_batch`` / ``scores_by_dataset``
==========================  ===================================================
"""

from __future__ import annotations

import json

from memkit.models import format_ts, page_meta
from memkit.storage.common import dumps
from memkit.storage.libsql.database import LibSQLDatabase, Migration
from memkit.storage.libsql.sql import Filters, count_and_page
from memkit.storage.scores.base import Score, ScorePage, ScoresQuery, ScoresStorage

SCORES_DOMAIN = "scores"
SCORES_MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        (
            """CREATE TABLE scores (
                id          TEXT PRIMARY KEY,
                scorer_id   TEXT NOT NULL,
                run_id      TEXT NOT NULL,
                entity_id   TEXT NOT NULL,
                entity_type TEXT NOT NULL,
                trace_id    TEXT,
                span_id     TEXT,
                batch_id    TEXT,
                dataset_id  TEXT,
                source      TEXT NOT NULL,
                created_at  TEXT NOT NULL,
                data        TEXT NOT NULL
            )""",
            "CREATE INDEX scores_by_scorer ON scores (scorer_id, created_at, id)",
            "CREATE INDEX scores_by_run ON scores (run_id, created_at, id)",
            "CREATE INDEX scores_by_entity ON scores (entity_id, entity_type, created_at, id)",
            "CREATE INDEX scores_by_span ON scores (trace_id, span_id, created_at, id)",
            "CREATE INDEX scores_by_batch ON scores (batch_id, created_at, id)",
            "CREATE INDEX scores_by_dataset ON scores (dataset_id, created_at, id)",
        ),
    ),
)

UPSERT_SCORE_SQL = """
INSERT OR REPLACE INTO scores
    (id, scorer_id, run_id, entity_id, entity_type, trace_id, span_id, batch_id, dataset_id, source, created_at, data)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""
SELECT_SCORE_SQL = "SELECT data FROM scores WHERE id = ?"
NEWEST_FIRST = "created_at DESC, id DESC"
# The key columns of each access pattern, in ScoresQuery.key order.
KEY_COLUMNS = {
    "scorer": ("scorer_id",),
    "run": ("run_id",),
    "entity": ("entity_id", "entity_type"),
    "span": ("trace_id", "span_id"),
    "batch": ("batch_id",),
    "dataset": ("dataset_id",),
}


class LibSQLScoresStorage(ScoresStorage):
    """Scores in ``database``'s file; whoever opened the database closes it."""

    name = "libsql"

    def __init__(self, database: LibSQLDatabase):
        self._database = database
        database.migrate(SCORES_DOMAIN, SCORES_MIGRATIONS)

    def _put(self, score: Score) -> Score:
        params = (
            score.id,
            score.scorer_id,
            score.run_id,
            score.entity_id,
            score.entity_type,
            score.trace_id,
            score.span_id,
            score.batch_id,
            score.dataset_id,
            score.source,
            format_ts(score.created_at),
            dumps(score.to_wire()),
        )
        with self._database.transaction() as conn:
            conn.execute(UPSERT_SCORE_SQL, params)
        return score

    def _get(self, score_id: str) -> Score | None:
        with self._database.connection() as conn:
            row = conn.execute(SELECT_SCORE_SQL, (score_id,)).fetchone()
        return None if row is None else Score.model_validate(json.loads(row[0]))

    def _list(self, query: ScoresQuery) -> ScorePage:
        filters = Filters()
        for column, value in zip(KEY_COLUMNS[query.by], query.key):
            filters.add(f"{column} = ?", value)
        filters.add("entity_id = ?", query.entity_id).add("entity_type = ?", query.entity_type)
        filters.add("source = ?", query.source)
        with self._database.snapshot() as conn:
            total, rows = count_and_page(
                conn, "scores", "data", filters.where(), filters.params,
                order_by=NEWEST_FIRST, page=query.page, per_page=query.per_page,
            )
        scores = [Score.model_validate(json.loads(row[0])) for row in rows]
        return ScorePage(scores=scores, **page_meta(total, query.page, query.per_page, len(scores)))
