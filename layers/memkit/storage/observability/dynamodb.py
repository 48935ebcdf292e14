"""Spans on the memkit DynamoDB table (key design: ``docs/domains.md``).

- A trace is a partition: ``PK=TRACE#<traceId>``, ``SK=SPAN#<spanId>``, the span as JSON text
  plus its version token and the attributes listings filter on (``name``, ``status``,
  ``entityType``). ``get_trace`` is one strongly consistent Query.
- Root spans carry the listing keys (child spans carry none: sparse indexes):

  - ``GSI1``: ``TRACES#<yyyy-mm>`` / ``<startedAt>#<traceId>``: every trace, in monthly buckets
    so one partition does not take every trace's writes.
  - ``GSI2``: ``TRACEENT#<entityId>`` / ``<startedAt>#<traceId>``: an entity's traces.

- ``PK=TRACEMONTHS``, ``SK=<yyyy-mm>`` records which buckets exist, so a listing without a
  time range knows where to look without a Scan. Each process writes a month's marker once.

``list_traces`` by entity is one partition of GSI2; otherwise it walks the month buckets in the
time range, newest first: a ``Select=COUNT`` Query per bucket for the total, then Queries on
the buckets the page falls in. name, status and entityType are FilterExpressions.
Deleting a trace leaves its month's marker (an empty bucket costs one count Query).
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Sequence
from typing import Any

from pynamodb.attributes import UnicodeAttribute
from pynamodb.exceptions import DoesNotExist

from memkit.models import format_ts, page_meta
from memkit.storage.common import dumps, window
from memkit.storage.dynamodb.errors import translated_errors
from memkit.storage.dynamodb.paging import and_all, key_range, page_across, timestamp_range
from memkit.storage.dynamodb.requests import batch_write, write_if
from memkit.storage.dynamodb.table import TableModels, entity_class, open_table
from memkit.storage.observability.base import (
    ObservabilityStorage,
    Span,
    TracePage,
    TracesQuery,
    new_version,
)

MONTHS_PK = "TRACEMONTHS"


def trace_pk(trace_id: str) -> str:
    return f"TRACE#{trace_id}"


def span_sk(span_id: str) -> str:
    return f"SPAN#{span_id}"


def month_of(timestamp: str) -> str:
    """``yyyy-mm`` of a stored timestamp (``format_ts`` text)."""
    return timestamp[:7]


def month_partition(month: str) -> str:
    return f"TRACES#{month}"


def entity_partition(entity_id: str) -> str:
    return f"TRACEENT#{entity_id}"


@functools.cache
def _item_classes(models: TableModels) -> tuple[Any, Any]:
    span = entity_class(
        models,
        "span",
        {
            "data": UnicodeAttribute(),
            "version": UnicodeAttribute(),
            "name": UnicodeAttribute(),
            "status": UnicodeAttribute(),
            "entity_type": UnicodeAttribute(null=True, attr_name="entityType"),
        },
    )
    month = entity_class(models, "trace_month", {})
    return span, month


def _span_from_item(item: Any) -> Span:
    return Span.model_validate(json.loads(item.data))


class DynamoDBObservabilityStorage(ObservabilityStorage):
    name = "dynamodb"

    def __init__(
        self,
        table_name: str,
        *,
        create_table: bool = False,
        region: str | None = None,
        endpoint_url: str | None = None,
        endpoint_hint: str | None = None,
    ):
        self.table_name = table_name
        self._models = open_table(
            table_name, create_table=create_table, region=region, endpoint_url=endpoint_url, endpoint_hint=endpoint_hint
        )
        self._span, self._month = _item_classes(self._models)
        self._known_months: set[str] = set()
        self._months_lock = threading.Lock()

    # ------------------------------------------------------------ writes

    def _item(self, span: Span) -> Any:
        started = format_ts(span.started_at)
        sort_key = f"{started}#{span.trace_id}"
        root = span.is_root
        return self._span(
            trace_pk(span.trace_id),
            span_sk(span.span_id),
            data=dumps(span.to_wire()),
            version=new_version(),
            name=span.name,
            status=span.status,
            entity_type=span.entity_type,
            gsi1_pk=month_partition(month_of(started)) if root else None,
            gsi1_sk=sort_key if root else None,
            gsi2_pk=entity_partition(span.entity_id) if root and span.entity_id else None,
            gsi2_sk=sort_key if root and span.entity_id else None,
        )

    def _register_months(self, spans: Sequence[Span]) -> None:
        months = {month_of(format_ts(span.started_at)) for span in spans if span.is_root}
        with self._months_lock:
            new = months - self._known_months
        if not new:
            return
        batch_write(self._month, self.table_name, puts=[self._month(MONTHS_PK, month) for month in sorted(new)])
        with self._months_lock:
            self._known_months |= new

    def _put_spans(self, spans: Sequence[Span]) -> None:
        items = [self._item(span) for span in spans]
        # Months first: a listing must never miss a bucket that holds a root span.
        self._register_months(spans)
        batch_write(self._span, self.table_name, puts=items)

    def _put_if_version(self, span: Span, expected_version: str) -> bool:
        self._register_months([span])
        item = self._item(span)
        return write_if(lambda: item.save(condition=self._span.version == expected_version), self.table_name)

    def _delete_traces(self, trace_ids: Sequence[str]) -> None:
        with translated_errors(self.table_name):
            doomed = [
                self._span(item.pk, item.sk)
                for trace_id in trace_ids
                for item in self._span.query(trace_pk(trace_id), attributes_to_get=["PK", "SK"])
            ]
        batch_write(self._span, self.table_name, deletes=doomed)

    # ------------------------------------------------------------ reads

    def _get_versioned(self, trace_id: str, span_id: str) -> tuple[Span, str] | None:
        with translated_errors(self.table_name):
            try:
                item = self._span.get(trace_pk(trace_id), span_sk(span_id), consistent_read=True)
            except DoesNotExist:
                return None
        return _span_from_item(item), item.version

    def _trace_spans(self, trace_id: str) -> list[Span]:
        with translated_errors(self.table_name):
            return [_span_from_item(item) for item in self._span.query(trace_pk(trace_id), consistent_read=True)]

    def _list_traces(self, query: TracesQuery) -> TracePage:
        base, span = self._models.item, self._span
        filter_condition = and_all(
            [
                None if query.name is None else span.name == query.name,
                None if query.status is None else span.status == query.status,
                None if query.entity_type is None else span.entity_type == query.entity_type,
            ]
        )
        offset, limit = window(query.page, query.per_page)
        with translated_errors(self.table_name):
            if query.entity_id is not None:
                index, sort_key = base.gsi2, base.gsi2_sk
                partitions = [entity_partition(query.entity_id)]
            else:
                index, sort_key = base.gsi1, base.gsi1_sk
                partitions = [month_partition(month) for month in self._months(query.start, query.end)]
            range_condition = timestamp_range(sort_key, query.start, query.end)
            total, items = page_across(
                index, [(key, range_condition) for key in partitions], filter_condition, offset, limit
            )
        traces = [_span_from_item(item) for item in items]
        return TracePage(traces=traces, **page_meta(total, query.page, query.per_page, len(traces)))

    def _months(self, start: str | None, end: str | None) -> list[str]:
        """The month buckets that may hold root spans started in [start, end], newest first."""
        month = self._month
        range_condition = key_range(month.sk, start and month_of(start), end and month_of(end))
        return [item.sk for item in month.query(MONTHS_PK, range_condition, scan_index_forward=False, consistent_read=True)]
