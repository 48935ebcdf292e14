"""Whatever a caller sends, ingestion answers with spans, rejections or a ValidationError:
never another exception (a 500). Random JSON built from OTLP's own field names, and random or
corrupted protobuf."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

from memkit.errors import MemkitError, ValidationError
from memkit.otlp import MappedSpans, ingest_otlp, spans_from_otlp_json

from tests.otlp.payloads import request, span
from tests.otlp.sdk import agent_turn, record

FIELDS = [
    "resourceSpans", "resource", "attributes", "scopeSpans", "scope", "name", "version", "spans",
    "traceId", "spanId", "parentSpanId", "startTimeUnixNano", "endTimeUnixNano", "kind", "status",
    "code", "message", "events", "timeUnixNano", "links", "key", "value", "stringValue",
    "intValue", "doubleValue", "boolValue", "arrayValue", "kvlistValue", "bytesValue", "values",
    "droppedAttributesCount", "traceState",
]  # fmt: skip
HEXISH = st.sampled_from(["5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174", "", "00", "zz"])
SCALARS = (
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False) | st.text(max_size=8) | HEXISH
    | st.sampled_from(["gen_ai.operation.name", "chat", "1767225600000000000", "NaN", "{\"a\": 1}", "["])
)  # fmt: skip
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(FIELDS), inner, max_size=6),
    max_leaves=40,
)
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(JSON_VALUES)
def test_any_json_maps_or_is_a_validation_error(payload):
    try:
        mapped = spans_from_otlp_json(payload)
    except ValidationError:
        return
    assert isinstance(mapped, MappedSpans)


@SETTINGS
@given(st.data())
def test_a_valid_request_with_one_field_replaced_maps_or_is_a_validation_error(data):
    payload = request(span(attrs={"gen_ai.operation.name": "chat", "gen_ai.input.messages": "[]"}))
    target = payload["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    target[data.draw(st.sampled_from(sorted(target)))] = data.draw(JSON_VALUES)

    try:
        mapped = spans_from_otlp_json(json.loads(json.dumps(payload)))
    except ValidationError:
        return
    assert len(mapped.spans) + len(mapped.rejections) == 1


VALID_PROTOBUF = encode_spans(record(agent_turn("fuzz-agent"))).SerializeToString()


@SETTINGS
@given(st.binary(max_size=300) | st.builds(
    lambda at, byte: VALID_PROTOBUF[:at] + bytes([byte]) + VALID_PROTOBUF[at + 1 :],
    st.integers(0, len(VALID_PROTOBUF) - 1), st.integers(0, 255),
))  # fmt: skip
def test_any_protobuf_body_maps_or_is_refused_as_the_callers_error(body):
    try:
        ingest_otlp(body, "application/x-protobuf")
    except MemkitError as exc:
        assert isinstance(exc, ValidationError)
