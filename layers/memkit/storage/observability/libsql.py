"""Spans in the shared libSQL file (``spans`` table, one row per span, the span as JSON).

==========================================  =============================================
access pattern                              served by
==========================================  =============================================
a span; a trace's spans                     primary key ``(trace_id, span_id)``
root spans newest first (+ time range)      partial index ``root_spans_by_start``
an entity's root spans newest first         partial index ``root_spans_by_entity``
name / status / entityType filters          applied to the rows those indexes select
==========================================  =============================================
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from memkit.models import format_ts, page_meta
from memkit.storage.common import dumps
from memkit.storage.libsql.database import LibSQLDatabase, Migration
from memkit.storage.libsql.sql import Filters, count_and_page, id_list
from memkit.storage.observability.base import (
    ObservabilityStorage,
    Span,
    TracePage,
    TracesQuery,
    new_version,
)

OBSERVABILITY_DOMAIN = "observability"
OBSERVABILITY_MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        (
            """CREATE TABLE spans (
                trace_id       TEXT NOT NULL,
                span_id        TEXT NOT NULL,
                parent_span_id TEXT,
                name           TEXT NOT NULL,
                status         TEXT NOT NULL,
                entity_id      TEXT,
                entity_type    TEXT,
                started_at     TEXT NOT NULL,
                version        TEXT NOT NULL,
                data           TEXT NOT NULL,
                PRIMARY KEY (trace_id, span_id)
            )""",
            "CREATE INDEX root_spans_by_start ON spans (started_at, trace_id) WHERE parent_span_id IS NULL",
            "CREATE INDEX root_spans_by_entity ON spans (entity_id, started_at, trace_id) WHERE parent_span_id IS NULL",
        ),
    ),
)

SPAN_COLUMNS = "trace_id, span_id, parent_span_id, name, status, entity_id, entity_type, started_at, version, data"
UPSERT_SPAN_SQL = f"INSERT OR REPLACE INTO spans ({SPAN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
UPDATE_IF_VERSION_SQL = f"""
UPDATE spans SET ({SPAN_COLUMNS}) = (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
WHERE trace_id = ? AND span_id = ? AND version = ?"""
SELECT_SPAN_SQL = "SELECT data, version FROM spans WHERE trace_id = ? AND span_id = ?"
SELECT_TRACE_SQL = "SELECT data FROM spans WHERE trace_id = ?"
DELETE_TRACES_SQL = "DELETE FROM spans WHERE trace_id IN (SELECT value FROM json_each(?))"
NEWEST_FIRST = "started_at DESC, trace_id DESC"


def _span_params(span: Span) -> tuple[Any, ...]:
    return (
        span.trace_id,
        span.span_id,
        span.parent_span_id,
        span.name,
        span.status,
        span.entity_id,
        span.entity_type,
        format_ts(span.started_at),
        new_version(),
        dumps(span.to_wire()),
    )


def _span_from_data(data: str) -> Span:
    return Span.model_validate(json.loads(data))


class LibSQLObservabilityStorage(ObservabilityStorage):
    """Spans in ``database``'s file; whoever opened the database closes it."""

    name = "libsql"

    def __init__(self, database: LibSQLDatabase):
        self._database = database
        database.migrate(OBSERVABILITY_DOMAIN, OBSERVABILITY_MIGRATIONS)

    def _put_spans(self, spans: Sequence[Span]) -> None:
        with self._database.transaction() as conn:
            conn.executemany(UPSERT_SPAN_SQL, [_span_params(span) for span in spans])

    def _get_versioned(self, trace_id: str, span_id: str) -> tuple[Span, str] | None:
        with self._database.connection() as conn:
            row = conn.execute(SELECT_SPAN_SQL, (trace_id, span_id)).fetchone()
        return None if row is None else (_span_from_data(row[0]), row[1])

    def _put_if_version(self, span: Span, expected_version: str) -> bool:
        with self._database.transaction() as conn:
            cursor = conn.execute(UPDATE_IF_VERSION_SQL, (*_span_params(span), span.trace_id, span.span_id, expected_version))
            return cursor.rowcount > 0

    def _trace_spans(self, trace_id: str) -> list[Span]:
        with self._database.connection() as conn:
            rows = conn.execute(SELECT_TRACE_SQL, (trace_id,)).fetchall()
        return [_span_from_data(row[0]) for row in rows]

    def _list_traces(self, query: TracesQuery) -> TracePage:
        filters = (
            Filters()
            .require("parent_span_id IS NULL")
            .add("entity_id = ?", query.entity_id)
            .add("entity_type = ?", query.entity_type)
            .add("started_at >= ?", query.start)
            .add("started_at <= ?", query.end)
            .add("name = ?", query.name)
            .add("status = ?", query.status)
        )
        with self._database.snapshot() as conn:
            total, rows = count_and_page(
                conn, "spans", "data", filters.where(), filters.params,
                order_by=NEWEST_FIRST, page=query.page, per_page=query.per_page,
            )
        traces = [_span_from_data(row[0]) for row in rows]
        return TracePage(traces=traces, **page_meta(total, query.page, query.per_page, len(traces)))

    def _delete_traces(self, trace_ids: Sequence[str]) -> None:
        with self._database.transaction() as conn:
            conn.execute(DELETE_TRACES_SQL, (id_list(trace_ids),))
