"""OTLP/HTTP's protobuf encoding (``Content-Type: application/x-protobuf``), the default of
every OpenTelemetry SDK's HTTP exporter and the only one Python's has.

Imported only when a request is protobuf: protobuf and the OTLP message classes cost about
30 ms to import, which no other request pays (tests/otlp checks it). The
request is read into the OTLP/JSON shape ``memkit.otlp.spans`` reads, with ids as hex and
integers as ints, so both encodings go through one mapping.
"""

from __future__ import annotations

import base64
from typing import Any

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from memkit.errors import ValidationError


def decode_request(body: bytes) -> dict[str, Any]:
    """An ExportTraceServiceRequest as the OTLP/JSON dict; ValidationError if it is not one."""
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(body)
    except DecodeError as exc:
        raise ValidationError(f"body is not a protobuf ExportTraceServiceRequest: {exc}", field="body") from None
    return {"resourceSpans": [_resource_spans(item) for item in request.resource_spans]}


def encode_response(rejected_spans: int, error_message: str | None) -> bytes:
    """ExportTraceServiceResponse: empty on full success, else with its partial_success."""
    response = ExportTraceServiceResponse()
    if rejected_spans or error_message:
        response.partial_success.rejected_spans = rejected_spans
        response.partial_success.error_message = error_message or ""
    return response.SerializeToString()


def _resource_spans(message: Any) -> dict[str, Any]:
    return {
        "resource": {"attributes": _key_values(message.resource.attributes)},
        "scopeSpans": [
            {
                "scope": {
                    "name": scope_spans.scope.name,
                    "version": scope_spans.scope.version,
                    "attributes": _key_values(scope_spans.scope.attributes),
                },
                "spans": [_span(span) for span in scope_spans.spans],
            }
            for scope_spans in message.scope_spans
        ],
    }


def _span(span: Any) -> dict[str, Any]:
    return {
        "traceId": span.trace_id.hex(),
        "spanId": span.span_id.hex(),
        "parentSpanId": span.parent_span_id.hex(),
        "traceState": span.trace_state,
        "name": span.name,
        "kind": span.kind,
        "startTimeUnixNano": span.start_time_unix_nano,
        "endTimeUnixNano": span.end_time_unix_nano,
        "attributes": _key_values(span.attributes),
        "droppedAttributesCount": span.dropped_attributes_count,
        "events": [
            {
                "timeUnixNano": event.time_unix_nano,
                "name": event.name,
                "attributes": _key_values(event.attributes),
            }
            for event in span.events
        ],
        "droppedEventsCount": span.dropped_events_count,
        "links": [
            {
                "traceId": link.trace_id.hex(),
                "spanId": link.span_id.hex(),
                "traceState": link.trace_state,
                "attributes": _key_values(link.attributes),
            }
            for link in span.links
        ],
        "droppedLinksCount": span.dropped_links_count,
        "status": {"code": span.status.code, "message": span.status.message},
    }


def _key_values(pairs: Any) -> list[dict[str, Any]]:
    return [{"key": pair.key, "value": _any_value(pair.value)} for pair in pairs]


def _any_value(value: Any) -> dict[str, Any]:
    # protobuf's parser refuses messages nested past 100 levels, so this recursion is bounded.
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return {"stringValue": value.string_value}
    if kind == "bool_value":
        return {"boolValue": value.bool_value}
    if kind == "int_value":
        return {"intValue": value.int_value}
    if kind == "double_value":
        return {"doubleValue": value.double_value}
    if kind == "array_value":
        return {"arrayValue": {"values": [_any_value(item) for item in value.array_value.values]}}
    if kind == "kvlist_value":
        return {"kvlistValue": {"values": _key_values(value.kvlist_value.values)}}
    if kind == "bytes_value":
        return {"bytesValue": base64.b64encode(value.bytes_value).decode("ascii")}
    return {}
