"""Hand-built OTLP/JSON requests, for what no SDK sends on purpose (malformed spans, older
conventions, enum names)."""

from __future__ import annotations

from typing import Any

TRACE = "5b8efff798038103d269b633813fc60c"
SPAN = "eee19b7ec3c1b174"
CHILD = "0af7651916cd43dd"
START = 1_767_225_600_123_456_789  # 2026-01-01T00:00:00.123456789Z


def value(item: Any) -> dict[str, Any]:
    if isinstance(item, bool):
        return {"boolValue": item}
    if isinstance(item, int):
        return {"intValue": str(item)}
    if isinstance(item, float):
        return {"doubleValue": item}
    if isinstance(item, list):
        return {"arrayValue": {"values": [value(entry) for entry in item]}}
    if isinstance(item, dict):
        return {"kvlistValue": {"values": attributes(item)}}
    return {"stringValue": item}


def attributes(pairs: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": key, "value": value(item)} for key, item in pairs.items()]


def span(span_id: str = SPAN, **fields: Any) -> dict[str, Any]:
    attrs = fields.pop("attrs", {})
    return {
        "traceId": TRACE,
        "spanId": span_id,
        "name": "work",
        "kind": 1,
        "startTimeUnixNano": str(START),
        "endTimeUnixNano": str(START + 2_000_000_000),
        "attributes": attributes(attrs),
        **fields,
    }


def request(*spans: dict[str, Any], resource: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": attributes(resource or {"service.name": "svc"})},
                "scopeSpans": [{"scope": {"name": "lib"}, "spans": list(spans)}],
            }
        ]
    }
