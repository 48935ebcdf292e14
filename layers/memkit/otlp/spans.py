"""An OTLP trace export request, in the OTLP/JSON shape, into memkit's observability spans.

Both encodings arrive here as the same dict: OTLP/JSON parsed as it is, protobuf converted to
that shape by ``memkit.otlp.protobuf``. The OTLP/JSON rules this reads (the OTLP specification's
JSON encoding): lowerCamelCase field names, trace and span ids as hex (not base64), enums as
integers (their names are accepted too), 64-bit integers as JSON numbers or decimal strings,
unknown fields ignored.

What is wrong decides what is refused. A malformed envelope (``resourceSpans`` not a list, a
resource whose attributes are not key/value pairs) is the request's fault: ValidationError, the
whole request is a 400 and nothing is stored. A malformed span (bad ids, missing times, an
attribute no store can keep) is that span's fault: it is rejected and counted, and the others
are stored (OTLP's partial success). docs/otlp.md has the whole mapping as a table.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from memkit.errors import ValidationError
from memkit.models.limits import MAX_DEPTH, MAX_INTEGER, MIN_INTEGER
from memkit.models import format_ts, parse_model
from memkit.otlp.genai import interpret
from memkit.storage.observability.base import Span

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_NANOS_PER_MS = 1_000_000
_MAX_FIXED64 = 2**64 - 1
_TRACE_ID_BYTES = 16
_SPAN_ID_BYTES = 8
_HEX_DIGITS = frozenset("0123456789abcdef")
# A 64-bit integer as OTLP/JSON may send it: decimal ASCII digits (str.isdigit takes "²" too).
_DECIMAL = re.compile(r"-?[0-9]{1,20}")
# OTLP's enums by number; the JSON encoding sends numbers, proto3 JSON parsers also take names.
_SPAN_KINDS = {1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
_STATUS_OK, _STATUS_ERROR = 1, 2
_STATUS_NAMES = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": _STATUS_OK, "STATUS_CODE_ERROR": _STATUS_ERROR}
_KIND_NAMES = {f"SPAN_KIND_{name.upper()}": number for number, name in _SPAN_KINDS.items()} | {
    "SPAN_KIND_UNSPECIFIED": 0
}
# How many rejection reasons the partial-success message spells out.
_REASONS_IN_MESSAGE = 3
UNNAMED_SPAN = "unknown"


@dataclass(frozen=True)
class Rejection:
    """A span that was not stored, and why (the reason names the field, with its path)."""

    trace_id: str | None
    span_id: str | None
    reason: str


@dataclass(frozen=True)
class MappedSpans:
    """The spans to store (one per traceId and spanId: a later copy in the request wins, as a
    later write would) and the spans rejected."""

    spans: list[Span]
    rejections: list[Rejection] = field(default_factory=list)

    def error_message(self) -> str | None:
        """OTLP's ``partial_success.error_message``: None when nothing was rejected."""
        if not self.rejections:
            return None
        reasons = "; ".join(rejection.reason for rejection in self.rejections[:_REASONS_IN_MESSAGE])
        more = len(self.rejections) - _REASONS_IN_MESSAGE
        suffix = f"; and {more} more" if more > 0 else ""
        return f"{len(self.rejections)} span(s) rejected: {reasons}{suffix}"


@dataclass(frozen=True)
class _Origin:
    """What a span inherits from its resource and instrumentation scope."""

    resource: dict[str, Any]
    scope_name: str | None
    scope_version: str | None
    scope_attributes: dict[str, Any]


def spans_from_otlp_json(request: Any, *, max_span_bytes: int | None = None) -> MappedSpans:
    """Map an ExportTraceServiceRequest in the OTLP/JSON shape to memkit spans.

    Raises ValidationError when the envelope is malformed; a malformed span is rejected instead
    (see the module docstring). ``max_span_bytes`` rejects spans whose stored JSON would be
    larger, for a store with an item size limit (DynamoDB's 400 KB), so that one oversized span
    fails alone rather than failing the whole batch write.
    """
    if not isinstance(request, Mapping):
        raise ValidationError("an OTLP trace export request must be an object", field="body")
    accepted: dict[tuple[str, str], Span] = {}
    rejections: list[Rejection] = []
    for r_index, resource_spans in enumerate(_list(request.get("resourceSpans"), "resourceSpans")):
        where = f"resourceSpans[{r_index}]"
        resource_spans = _object(resource_spans, where)
        resource = _object(resource_spans.get("resource"), f"{where}.resource")
        resource_attributes = _attributes(resource.get("attributes"), f"{where}.resource.attributes")
        for s_index, scope_spans in enumerate(_list(resource_spans.get("scopeSpans"), f"{where}.scopeSpans")):
            scope_where = f"{where}.scopeSpans[{s_index}]"
            scope_spans = _object(scope_spans, scope_where)
            scope = _object(scope_spans.get("scope"), f"{scope_where}.scope")
            origin = _Origin(
                resource=resource_attributes,
                scope_name=_optional_string(scope.get("name"), f"{scope_where}.scope.name"),
                scope_version=_optional_string(scope.get("version"), f"{scope_where}.scope.version"),
                scope_attributes=_attributes(scope.get("attributes"), f"{scope_where}.scope.attributes"),
            )
            for index, raw in enumerate(_list(scope_spans.get("spans"), f"{scope_where}.spans")):
                span_where = f"{scope_where}.spans[{index}]"
                try:
                    span = _span(raw, span_where, origin)
                    if max_span_bytes is not None:
                        _check_size(span, max_span_bytes, span_where)
                except ValidationError as exc:
                    rejections.append(_rejection(raw, exc))
                    continue
                key = (span.trace_id, span.span_id)
                accepted.pop(key, None)
                accepted[key] = span
    return MappedSpans(spans=list(accepted.values()), rejections=rejections)


def _rejection(raw: Any, exc: ValidationError) -> Rejection:
    ids = raw if isinstance(raw, Mapping) else {}
    trace_id, span_id = ids.get("traceId"), ids.get("spanId")
    return Rejection(
        trace_id=trace_id if isinstance(trace_id, str) else None,
        span_id=span_id if isinstance(span_id, str) else None,
        reason=str(exc),
    )


def _check_size(span: Span, max_span_bytes: int, where: str) -> None:
    size = len(json.dumps(span.to_wire(), ensure_ascii=False, separators=(",", ":")).encode())
    if size > max_span_bytes:
        raise ValidationError(f"{where} is {size} bytes stored, over the store's {max_span_bytes}", field=where)


# ---------------------------------------------------------------- one span


def _span(raw: Any, where: str, origin: _Origin) -> Span:
    span = _object(raw, where)
    trace_id = _hex_id(span.get("traceId"), _TRACE_ID_BYTES, f"{where}.traceId")
    span_id = _hex_id(span.get("spanId"), _SPAN_ID_BYTES, f"{where}.spanId")
    parent = span.get("parentSpanId")
    parent_span_id = None if parent in (None, "") else _hex_id(parent, _SPAN_ID_BYTES, f"{where}.parentSpanId")
    started = _nanos(span.get("startTimeUnixNano"), f"{where}.startTimeUnixNano")
    ended = _nanos(span.get("endTimeUnixNano"), f"{where}.endTimeUnixNano")
    if ended < started:
        raise ValidationError(f"{where}.endTimeUnixNano is before its startTimeUnixNano", field=f"{where}.endTimeUnixNano")
    attributes = _attributes(span.get("attributes"), f"{where}.attributes")
    events = [_event(event, f"{where}.events[{i}]") for i, event in enumerate(_list(span.get("events"), f"{where}.events"))]
    links = [_link(link, f"{where}.links[{i}]") for i, link in enumerate(_list(span.get("links"), f"{where}.links"))]
    status_code, status_message = _status(span.get("status"), f"{where}.status")
    kind = _enum(span.get("kind"), _KIND_NAMES, f"{where}.kind")

    meaning = interpret(attributes, events)
    metadata: dict[str, Any] = {key: value for key, value in attributes.items() if key not in meaning.consumed_keys}
    kept_events = [event for index, event in enumerate(events) if index not in meaning.consumed_events]
    error = None
    if status_code == _STATUS_ERROR:
        error, exception_index = _error(status_message, attributes, kept_events)
        if exception_index is not None:
            del kept_events[exception_index]
    metadata.update(_envelope(span, where, origin, kind, status_code, status_message, kept_events))

    record: dict[str, Any] = {
        "traceId": trace_id,
        "spanId": span_id,
        "parentSpanId": parent_span_id,
        "name": _optional_string(span.get("name"), f"{where}.name") or UNNAMED_SPAN,
        "spanType": meaning.span_type,
        "isEvent": False,
        "startedAt": _at(started),
        "endedAt": _at(ended),
        "attributes": meaning.attributes or None,
        "metadata": metadata or None,
        "input": meaning.input,
        "output": meaning.output,
        "error": error,
        "entityType": meaning.entity_type,
        "entityId": meaning.entity_id,
    }
    if links:
        record["links"] = links
    record.update(meaning.context)
    service_name = origin.resource.get("service.name")
    if isinstance(service_name, str) and service_name:
        record["serviceName"] = service_name
    environment = origin.resource.get("deployment.environment.name", origin.resource.get("deployment.environment"))
    if isinstance(environment, str) and environment:
        record["environment"] = environment
    return parse_model(Span, record, what=where)


def _envelope(
    span: Mapping[str, Any],
    where: str,
    origin: _Origin,
    kind: int,
    status_code: int,
    status_message: str | None,
    events: list[dict[str, Any]],
) -> dict[str, Any]:
    """The parts of an OTLP span that have no field of their own in memkit, keyed as the
    OpenTelemetry specification names them when it maps OTLP to formats without them
    (``otel.scope.name``, ``otel.status_code``, ``otel.dropped_*_count``)."""
    envelope: dict[str, Any] = {}
    if kind in _SPAN_KINDS:
        envelope["otel.span.kind"] = _SPAN_KINDS[kind]
    if status_code == _STATUS_OK:
        envelope["otel.status_code"] = "OK"
    elif status_code == _STATUS_ERROR:
        envelope["otel.status_code"] = "ERROR"
    if status_message:
        envelope["otel.status_description"] = status_message
    if origin.scope_name:
        envelope["otel.scope.name"] = origin.scope_name
    if origin.scope_version:
        envelope["otel.scope.version"] = origin.scope_version
    if origin.scope_attributes:
        envelope["otel.scope.attributes"] = origin.scope_attributes
    if origin.resource:
        envelope["otel.resource"] = origin.resource
    trace_state = _optional_string(span.get("traceState"), f"{where}.traceState")
    if trace_state:
        envelope["otel.trace_state"] = trace_state
    if events:
        envelope["otel.events"] = events
    for counter in ("droppedAttributesCount", "droppedEventsCount", "droppedLinksCount"):
        count = _count(span.get(counter), f"{where}.{counter}")
        if count:
            envelope[f"otel.{_snake(counter)}"] = count
    return envelope


def _error(
    status_message: str | None, attributes: Mapping[str, Any], events: list[dict[str, Any]]
) -> tuple[dict[str, Any], int | None]:
    """Mastra's error info (``message``, ``id``, ``domain``, ``category``, ``details``) for a
    span whose status is ERROR, from the status, ``error.*`` attributes and the span's last
    ``exception`` event; also the index of that event, which the error now holds."""
    exception_index = next(
        (index for index in range(len(events) - 1, -1, -1) if events[index]["name"] == "exception"), None
    )
    exception = events[exception_index]["attributes"] if exception_index is not None else {}
    message = (
        status_message
        or _text(attributes.get("error.message"))
        or _text(exception.get("exception.message"))
        or "span status is ERROR"
    )
    error: dict[str, Any] = {"message": message}
    error_id = _text(attributes.get("error.type")) or _text(exception.get("exception.type"))
    if error_id:
        error["id"] = error_id
    for key in ("domain", "category"):
        value = _text(attributes.get(f"error.{key}"))
        if value:
            error[key] = value
    stack = _text(exception.get("exception.stacktrace"))
    if stack:
        error["details"] = {"stack": stack}
    return error, exception_index


def _event(raw: Any, where: str) -> dict[str, Any]:
    event = _object(raw, where)
    # An event without a time happened at an unknown moment: kept, with no time.
    time = event.get("timeUnixNano")
    return {
        "name": _optional_string(event.get("name"), f"{where}.name") or "",
        "time": None if time in (None, 0, "0") else format_ts(_at(_nanos(time, f"{where}.timeUnixNano"))),
        "attributes": _attributes(event.get("attributes"), f"{where}.attributes"),
    }


def _link(raw: Any, where: str) -> dict[str, Any]:
    link = _object(raw, where)
    result: dict[str, Any] = {
        "traceId": _hex_id(link.get("traceId"), _TRACE_ID_BYTES, f"{where}.traceId"),
        "spanId": _hex_id(link.get("spanId"), _SPAN_ID_BYTES, f"{where}.spanId"),
    }
    trace_state = _optional_string(link.get("traceState"), f"{where}.traceState")
    if trace_state:
        result["traceState"] = trace_state
    attributes = _attributes(link.get("attributes"), f"{where}.attributes")
    if attributes:
        result["attributes"] = attributes
    return result


def _status(raw: Any, where: str) -> tuple[int, str | None]:
    status = _object(raw, where)
    code = _enum(status.get("code"), _STATUS_NAMES, f"{where}.code")
    return code, _optional_string(status.get("message"), f"{where}.message") or None


# ---------------------------------------------------------------- values


def _attributes(raw: Any, where: str, depth: int = 1) -> dict[str, Any]:
    """OTLP ``KeyValue`` list as a dict; a repeated key keeps its last value."""
    attributes: dict[str, Any] = {}
    for index, pair in enumerate(_list(raw, where)):
        pair = _object(pair, f"{where}[{index}]")
        key = pair.get("key")
        if not isinstance(key, str):
            raise ValidationError(f"{where}[{index}].key must be a string", field=f"{where}[{index}].key")
        attributes[key] = _any_value(pair.get("value"), f"{where}[{index}].value", depth)
    return attributes


def _any_value(raw: Any, where: str, depth: int) -> Any:
    """An OTLP ``AnyValue`` as plain JSON. Bytes stay base64 text (OTLP/JSON's own form); a
    non-finite double becomes its name ("NaN", "Infinity"), which no store refuses; a value of a
    kind this version does not know reads as null (OTLP readers ignore what they don't know)."""
    if depth > MAX_DEPTH:
        raise ValidationError(f"{where} is nested deeper than {MAX_DEPTH} levels", field=where)
    value = _object(raw, where)
    if "stringValue" in value:
        return _string(value["stringValue"], f"{where}.stringValue")
    if "boolValue" in value:
        if not isinstance(value["boolValue"], bool):
            raise ValidationError(f"{where}.boolValue must be true or false", field=f"{where}.boolValue")
        return value["boolValue"]
    if "intValue" in value:
        return _integer(value["intValue"], MIN_INTEGER, MAX_INTEGER, f"{where}.intValue")
    if "doubleValue" in value:
        return _double(value["doubleValue"], f"{where}.doubleValue")
    if "arrayValue" in value:
        array = _object(value["arrayValue"], f"{where}.arrayValue")
        items = _list(array.get("values"), f"{where}.arrayValue.values")
        return [_any_value(item, f"{where}.arrayValue.values[{i}]", depth + 1) for i, item in enumerate(items)]
    if "kvlistValue" in value:
        kvlist = _object(value["kvlistValue"], f"{where}.kvlistValue")
        return _attributes(kvlist.get("values"), f"{where}.kvlistValue.values", depth + 1)
    if "bytesValue" in value:
        return _string(value["bytesValue"], f"{where}.bytesValue")
    return None


def _double(raw: Any, where: str) -> float | str:
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise ValidationError(f"{where} must be a number", field=where)
    try:
        value = float(raw)
    except ValueError:
        raise ValidationError(f"{where} must be a number, got {raw!r}", field=where) from None
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def _integer(raw: Any, low: int, high: int, where: str) -> int:
    """A 64-bit integer sent as a JSON number or a decimal string."""
    if isinstance(raw, str) and _DECIMAL.fullmatch(raw):
        raw = int(raw)
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise ValidationError(f"{where} must be an integer (a number or a decimal string)", field=where)
    if not low <= raw <= high:
        raise ValidationError(f"{where} is outside the range {low}..{high}", field=where)
    return raw


def _nanos(raw: Any, where: str) -> int:
    """A required OTLP time: Unix nanoseconds, 0 meaning unset."""
    if raw in (None, 0, "0", ""):
        raise ValidationError(f"{where} is missing", field=where)
    return _integer(raw, 1, _MAX_FIXED64, where)


def _at(nanos: int) -> datetime:
    """Unix nanoseconds as an aware UTC datetime, truncated to the millisecond memkit stores."""
    return _EPOCH + timedelta(milliseconds=nanos // _NANOS_PER_MS)


def _count(raw: Any, where: str) -> int:
    return 0 if raw is None else _integer(raw, 0, 2**32 - 1, where)


def _enum(raw: Any, names: Mapping[str, int], where: str) -> int:
    if raw is None:
        return 0
    if isinstance(raw, str) and raw in names:
        return names[raw]
    return _integer(raw, 0, 2**31 - 1, where)


def _hex_id(raw: Any, size: int, where: str) -> str:
    """A trace or span id: lowercase hex of exactly ``size`` bytes, not all zero (OTLP calls an
    all-zero or wrong-length id invalid)."""
    if not isinstance(raw, str) or len(raw) != 2 * size or not set(raw.lower()) <= _HEX_DIGITS:
        raise ValidationError(
            f"{where} must be {2 * size} hex characters (OTLP/JSON sends ids as hex, not base64), got {raw!r}",
            field=where,
        )
    if raw.strip("0") == "":
        raise ValidationError(f"{where} is all zeros, which OTLP defines as invalid", field=where)
    return raw.lower()


# ---------------------------------------------------------------- shapes


def _object(raw: Any, where: str) -> Mapping[str, Any]:
    """An OTLP message; absent (null) reads as the empty message, as in protobuf."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ValidationError(f"{where} must be an object", field=where)
    return raw


def _list(raw: Any, where: str) -> Sequence[Any]:
    """A repeated field; absent (null) reads as empty, as in protobuf."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ValidationError(f"{where} must be a list", field=where)
    return raw


def _string(raw: Any, where: str) -> str:
    if not isinstance(raw, str):
        raise ValidationError(f"{where} must be a string", field=where)
    return raw


def _optional_string(raw: Any, where: str) -> str | None:
    return None if raw is None else _string(raw, where)


def _text(value: Any) -> str | None:
    """A non-empty string attribute, or None."""
    return value if isinstance(value, str) and value else None


def _snake(name: str) -> str:
    return "".join(f"_{char.lower()}" if char.isupper() else char for char in name)
