"""``ingest_otlp``'s side of OTLP/HTTP: content types, compression and its limits, bodies that
do not decode, and the ExportTraceServiceResponse in the request's encoding."""

from __future__ import annotations

import gzip
import json
import zlib

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from memkit.errors import PayloadTooLargeError, ValidationError
from memkit.otlp import UnsupportedOtlpEncodingError, ingest_otlp

from tests.otlp.sdk import agent_turn, otlp_json, record, unique_agent
from tests.otlp.payloads import CHILD, request, span

JSON_BODY = json.dumps(request(span(), span(CHILD))).encode()
HALF_BAD = json.dumps(request(span(), span(CHILD, startTimeUnixNano=None))).encode()


@pytest.mark.parametrize("content_type", ["application/json", "Application/JSON; charset=utf-8"])
def test_json_is_answered_in_json_with_an_empty_response_on_full_success(content_type):
    result = ingest_otlp(JSON_BODY, content_type)

    assert len(result.spans) == 2 and result.rejected_spans == 0
    assert (result.response_body, result.response_content_type) == (b"{}", "application/json")


def test_partial_success_in_json_counts_the_rejected_spans_and_says_why():
    result = ingest_otlp(HALF_BAD, "application/json")

    body = json.loads(result.response_body)
    assert body["partialSuccess"]["rejectedSpans"] == 1
    assert "startTimeUnixNano is missing" in body["partialSuccess"]["errorMessage"]
    assert len(result.spans) == 1


def test_partial_success_in_protobuf_is_an_export_trace_service_response():
    sdk_spans = record(agent_turn(unique_agent()))
    message = encode_spans(sdk_spans)
    message.resource_spans[0].scope_spans[0].spans[0].start_time_unix_nano = 0

    result = ingest_otlp(message.SerializeToString(), "application/x-protobuf")

    response = ExportTraceServiceResponse.FromString(result.response_body)
    assert response.partial_success.rejected_spans == 1
    assert "startTimeUnixNano is missing" in response.partial_success.error_message
    assert result.response_content_type == "application/x-protobuf"
    assert len(result.spans) == len(sdk_spans) - 1


def test_application_protobuf_is_the_same_encoding_as_x_protobuf():
    body = encode_spans(record(agent_turn(unique_agent()))).SerializeToString()

    assert ingest_otlp(body, "application/protobuf").response_content_type == "application/x-protobuf"


@pytest.mark.parametrize("content_type", [None, "", "text/plain", "application/grpc", "application/jsonx"])
def test_a_content_type_otlp_http_does_not_define_is_unsupported(content_type):
    with pytest.raises(UnsupportedOtlpEncodingError) as refused:
        ingest_otlp(JSON_BODY, content_type)

    assert refused.value.field == "Content-Type"


def test_an_unknown_content_encoding_is_unsupported():
    with pytest.raises(UnsupportedOtlpEncodingError) as refused:
        ingest_otlp(JSON_BODY, "application/json", "br")

    assert refused.value.field == "Content-Encoding"


def test_gzip_json_and_concatenated_gzip_members_decode():
    half = len(JSON_BODY) // 2
    members = gzip.compress(JSON_BODY[:half]) + gzip.compress(JSON_BODY[half:])

    assert len(ingest_otlp(gzip.compress(JSON_BODY), "application/json", "gzip").spans) == 2
    assert len(ingest_otlp(members, "application/json", "GZIP").spans) == 2
    assert len(ingest_otlp(JSON_BODY, "application/json", "identity").spans) == 2


def test_a_gzip_bomb_stops_at_the_decompressed_limit():
    # 100 MB of zeros compresses to about 100 KB
    bomb = gzip.compress(b"0" * (100 * 1024 * 1024), compresslevel=9)

    with pytest.raises(PayloadTooLargeError, match="larger than 1048576 bytes"):
        ingest_otlp(bomb, "application/json", "gzip", max_decompressed_bytes=1024 * 1024)


def test_a_body_exactly_at_the_limit_decodes_and_one_byte_more_does_not():
    body = JSON_BODY + b" " * 10
    limit = len(body)

    assert len(ingest_otlp(gzip.compress(body), "application/json", "gzip", max_decompressed_bytes=limit).spans) == 2
    assert len(ingest_otlp(zlib.compress(body), "application/json", "deflate", max_decompressed_bytes=limit).spans) == 2
    with pytest.raises(PayloadTooLargeError):
        ingest_otlp(gzip.compress(body + b" "), "application/json", "gzip", max_decompressed_bytes=limit)
    with pytest.raises(PayloadTooLargeError):
        ingest_otlp(body + b" ", "application/json", max_decompressed_bytes=limit)


@pytest.mark.parametrize(
    "body, encoding, message",
    [
        (b"not gzip at all", "gzip", "body is not valid gzip"),
        (gzip.compress(JSON_BODY)[:-12], "gzip", "body is truncated gzip"),
        (gzip.compress(JSON_BODY) + b"trailing", "gzip", "body is not valid gzip"),
        (b"\x78\x9c garbage", "deflate", "body is not valid deflate"),
    ],
)
def test_a_body_that_does_not_decompress_is_refused(body, encoding, message):
    with pytest.raises(ValidationError, match=message) as refused:
        ingest_otlp(body, "application/json", encoding)

    assert refused.value.field == "body"


@pytest.mark.parametrize(
    "body, content_type, message",
    [
        (b'{"resourceSpans": [', "application/json", "body is not valid OTLP/JSON"),
        (b"\xff\xfe\xfa", "application/json", "body is not valid OTLP/JSON"),
        (b"[" * 100_000, "application/json", "nested deeper than 64 levels"),
        (b'{"resourceSpans": NaN}', "application/json", "NaN is not a finite JSON number"),
        (b"\x0a\xff\xff\xff\xff\x0f", "application/x-protobuf", "body is not a protobuf ExportTraceServiceRequest"),
    ],
    ids=["truncated", "not utf-8", "deep", "NaN", "protobuf"],
)
def test_a_body_that_does_not_parse_is_a_validation_error(body, content_type, message):
    with pytest.raises(ValidationError, match=message) as refused:
        ingest_otlp(body, content_type)

    assert refused.value.field == "body"


def test_the_otlp_json_rendering_of_sdk_spans_is_accepted_whole():
    sdk_spans = record(agent_turn(unique_agent()))

    result = ingest_otlp(json.dumps(otlp_json(sdk_spans)).encode(), "application/json")

    assert result.rejected_spans == 0 and len(result.spans) == len(sdk_spans)
