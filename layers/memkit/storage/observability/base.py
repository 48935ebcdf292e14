"""The observability storage port: tracing spans, grouped into traces.

A trace is the spans sharing a ``traceId``; its root span (no ``parentSpanId``) stands for
the trace in listings. Exporters create a span when it starts and update it when it ends
(``batch-with-updates``), so updates are partial and must not lose a concurrent update of
the same span: like workflow runs, a span carries a version token and the read-merge-write
loop here retries on a lost race. Every adapter passes ``tests/storage/observability/test_observability.py``.

``status`` is given explicitly or derived at each write: ``error`` when the span has an
error, ``running`` while it has no ``endedAt``, else ``success``.
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ConfigDict, field_validator
from pydantic.alias_generators import to_camel

from memkit.errors import ValidationError
from memkit.models import Page, WireModel, parse_model, parse_ts, utc_now, validate_id
from memkit.storage.common import optimistic_attempts, optional_id, optional_text, optional_ts, pagination

IMMUTABLE_FIELDS = frozenset({"trace_id", "span_id"})


class Span(WireModel):
    # Mastra's span records grow (scope, links, tags, ...); unknown fields round-trip.
    model_config = ConfigDict(extra="allow")

    trace_id: str
    span_id: str
    parent_span_id: str | None = None
    name: str
    span_type: str
    started_at: datetime
    ended_at: datetime | None = None
    attributes: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    input: Any = None
    output: Any = None
    error: Any = None
    status: str | None = None
    entity_id: str | None = None
    entity_type: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @field_validator("trace_id", "span_id", "parent_span_id", "entity_id")
    @classmethod
    def _ids(cls, value: Any, info: Any) -> Any:
        return None if value is None else validate_id(value, to_camel(info.field_name))

    @field_validator("name", "span_type", "entity_type", "status")
    @classmethod
    def _text(cls, value: Any, info: Any) -> Any:
        return optional_text(value, to_camel(info.field_name))

    @field_validator("started_at", "ended_at", "created_at", "updated_at", mode="before")
    @classmethod
    def _ts(cls, value: Any, info: Any) -> Any:
        return None if value is None else parse_ts(value, field=to_camel(info.field_name))

    @property
    def is_root(self) -> bool:
        return self.parent_span_id is None


def derived_status(span: Span) -> str:
    if span.error is not None:
        return "error"
    return "running" if span.ended_at is None else "success"


class Trace(WireModel):
    trace_id: str
    spans: list[Span]


class TracePage(Page):
    """Root spans, one per trace, newest first."""

    traces: list[Span]


@dataclass(frozen=True)
class TracesQuery:
    """Validated ``list_traces`` arguments; times are stored-format strings (inclusive)."""

    name: str | None
    start: str | None
    end: str | None
    entity_id: str | None
    entity_type: str | None
    status: str | None
    page: int
    per_page: int | None


def new_version() -> str:
    """A fresh version token. Random rather than a counter, so an unconditional write (a
    create) needs no read and can never recreate a token an updater still holds."""
    return uuid.uuid4().hex


_FIELD_NAMES = {field.alias or name: name for name, field in Span.model_fields.items()}


def _patch_fields(patch: Mapping[str, Any]) -> dict[str, Any]:
    """The patch keyed by field name (it may come camelCase from the wire)."""
    if not isinstance(patch, Mapping):
        raise ValidationError("span updates must be an object", field="updates")
    return {_FIELD_NAMES.get(key, key): value for key, value in patch.items()}


class ObservabilityStorage(ABC):
    """Port for the observability domain (traces and spans)."""

    name: str = "abstract"

    # ------------------------------------------------------------ writes

    def create_span(self, span: Span | Mapping[str, Any]) -> Span:
        """Store a span (replacing one with the same traceId and spanId)."""
        return self.batch_create_spans([span])[0]

    def batch_create_spans(self, spans: Sequence[Span | Mapping[str, Any]]) -> list[Span]:
        """Store spans; all are validated before any is written."""
        now = utc_now()
        prepared = [self._stamped(self._parse(span), created_at=None, now=now) for span in spans]
        if prepared:
            self._put_spans(prepared)
        return prepared

    def update_span(self, trace_id: str, span_id: str, patch: Mapping[str, Any]) -> Span | None:
        """Replace the given top-level fields of a span; None if the span does not exist."""
        validate_id(trace_id, "traceId")
        validate_id(span_id, "spanId")
        changes = _patch_fields(patch)
        for field in IMMUTABLE_FIELDS & changes.keys():
            if changes[field] != {"trace_id": trace_id, "span_id": span_id}[field]:
                raise ValidationError(f"{to_camel(field)} of a span cannot change", field=to_camel(field))
        for _ in optimistic_attempts(f"span {span_id} of trace {trace_id}"):
            current = self._get_versioned(trace_id, span_id)
            if current is None:
                return None
            span, version = current
            data = {**span.model_dump(exclude={"status"}), **changes}
            updated = self._stamped(self._parse(data), created_at=span.created_at, now=utc_now())
            if self._put_if_version(updated, version):
                return updated
        raise AssertionError("optimistic_attempts() raises when attempts run out")

    def batch_update_spans(self, updates: Iterable[Mapping[str, Any]]) -> list[Span]:
        """``[{traceId, spanId, updates}]``, all validated first, then applied in order; unknown
        spans are skipped. Returns the updated spans."""
        requests = [_update_request(item) for item in updates]
        updated = [self.update_span(trace_id, span_id, patch) for trace_id, span_id, patch in requests]
        return [span for span in updated if span is not None]

    def delete_traces(self, trace_ids: Sequence[str]) -> None:
        """Delete the traces and all their spans; empty lists and unknown ids are fine."""
        ids = list(dict.fromkeys(validate_id(trace_id, "traceId") for trace_id in trace_ids))
        if ids:
            self._delete_traces(ids)

    # ------------------------------------------------------------ reads

    def get_trace(self, trace_id: str) -> Trace | None:
        """The trace's spans by startedAt (then spanId); None for an unknown trace."""
        spans = self._trace_spans(validate_id(trace_id, "traceId"))
        if not spans:
            return None
        return Trace(trace_id=trace_id, spans=sorted(spans, key=lambda span: (span.started_at, span.span_id)))

    def get_span(self, trace_id: str, span_id: str) -> Span | None:
        found = self._get_versioned(validate_id(trace_id, "traceId"), validate_id(span_id, "spanId"))
        return None if found is None else found[0]

    def list_traces(
        self,
        *,
        name: str | None = None,
        start: Any = None,
        end: Any = None,
        entity_id: str | None = None,
        entity_type: str | None = None,
        status: str | None = None,
        page: Any = 0,
        per_page: Any = None,
    ) -> TracePage:
        """Root spans newest first (startedAt, then traceId, descending), filtered by exact
        name, startedAt range (inclusive), entity and status."""
        page, per_page = pagination(page, per_page)
        query = TracesQuery(
            name=optional_text(name, "name"),
            start=optional_ts(start, "start"),
            end=optional_ts(end, "end"),
            entity_id=optional_id(entity_id, "entityId"),
            entity_type=optional_text(entity_type, "entityType"),
            status=optional_text(status, "status"),
            page=page,
            per_page=per_page,
        )
        return self._list_traces(query)

    # ------------------------------------------------------------ helpers

    @staticmethod
    def _parse(span: Span | Mapping[str, Any]) -> Span:
        data = span.model_dump() if isinstance(span, Span) else span
        if not isinstance(data, Mapping):
            raise ValidationError("span must be an object", field="span")
        return parse_model(Span, dict(data), what="span")

    @staticmethod
    def _stamped(span: Span, *, created_at: datetime | None, now: datetime) -> Span:
        return span.model_copy(
            update={
                "status": span.status or derived_status(span),
                "created_at": created_at or span.created_at or now,
                "updated_at": now,
            }
        )

    # ------------------------------------------------------------ adapter primitives
    # Arguments arrive validated; spans arrive with status and timestamps set.

    @abstractmethod
    def _put_spans(self, spans: Sequence[Span]) -> None:
        """Unconditional upserts, each with a ``new_version()``."""

    @abstractmethod
    def _get_versioned(self, trace_id: str, span_id: str) -> tuple[Span, str] | None:
        """The span and its version token, read consistently."""

    @abstractmethod
    def _put_if_version(self, span: Span, expected_version: str) -> bool:
        """Replace the span if its token is still ``expected_version`` (with a new token)."""

    @abstractmethod
    def _trace_spans(self, trace_id: str) -> list[Span]: ...

    @abstractmethod
    def _list_traces(self, query: TracesQuery) -> TracePage: ...

    @abstractmethod
    def _delete_traces(self, trace_ids: Sequence[str]) -> None: ...

    def close(self) -> None:
        """Release what this adapter owns. Safe to call twice."""


def _update_request(item: Any) -> tuple[str, str, dict[str, Any]]:
    if not isinstance(item, Mapping) or not {"traceId", "spanId", "updates"} <= item.keys():
        raise ValidationError("each span update needs traceId, spanId and updates", field="records")
    return validate_id(item["traceId"], "traceId"), validate_id(item["spanId"], "spanId"), _patch_fields(item["updates"])
