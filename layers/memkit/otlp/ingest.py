"""OTLP/HTTP trace export, transport-neutral: a request body in, the spans to store and the
response body out.

A route (``POST /v1/traces``) or an ops operation passes the body it received, limited to the
API's body size already, with its Content-Type and Content-Encoding. OTLP/HTTP defines two
encodings, JSON (``application/json``) and protobuf (``application/x-protobuf``), either one
optionally gzip-compressed (or deflate, which Python's exporter offers); the response is an ExportTraceServiceResponse in the request's
encoding, with ``partial_success`` when some spans were rejected. Protobuf is imported only for
a protobuf request (``memkit.otlp.protobuf``).

Errors: UnsupportedOtlpEncodingError (415) for a content type or encoding OTLP/HTTP does not
define; ValidationError (400) for a body that does not decode or an envelope that is malformed;
PayloadTooLargeError (413) when the decompressed body exceeds ``max_decompressed_bytes``.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass

from memkit.errors import PayloadTooLargeError, ValidationError
from memkit.models.limits import loads
from memkit.otlp.spans import Rejection, spans_from_otlp_json
from memkit.storage.observability.base import Span

JSON = "application/json"
PROTOBUF = "application/x-protobuf"
# application/protobuf is the registered name of the same thing; some clients send it.
_MEDIA_TYPES = {JSON: JSON, PROTOBUF: PROTOBUF, "application/protobuf": PROTOBUF}
# Content-Encoding -> zlib's wbits for it. OTLP/HTTP names gzip; Python's exporter also offers
# deflate, which HTTP defines as the zlib format.
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
_IDENTITY = frozenset({"", "identity"})
# A compressed body may expand a thousandfold; this bounds what one request can make memkit
# hold. 16 MiB is 32 times a full batch of the SDK's batch processor (512 spans) at 1 KB a span.
DEFAULT_MAX_DECOMPRESSED_BYTES = 16 * 1024 * 1024


class UnsupportedOtlpEncodingError(ValidationError):
    """A Content-Type or Content-Encoding that OTLP/HTTP does not define: HTTP's 415."""


@dataclass(frozen=True)
class OtlpResult:
    """What an export did: the spans to store, the spans rejected (already counted in the
    response), and the ExportTraceServiceResponse to send back with its content type."""

    spans: list[Span]
    rejections: list[Rejection]
    response_body: bytes
    response_content_type: str

    @property
    def rejected_spans(self) -> int:
        return len(self.rejections)


def ingest_otlp(
    body: bytes,
    content_type: str | None,
    content_encoding: str | None = None,
    *,
    max_decompressed_bytes: int = DEFAULT_MAX_DECOMPRESSED_BYTES,
    max_span_bytes: int | None = None,
) -> OtlpResult:
    """Decode an OTLP/HTTP trace export and map its spans (see the module docstring).

    Nothing is stored here: the caller stores ``result.spans`` (``batch_create_spans``) and,
    when that succeeds, answers 200 with ``result.response_body``. ``max_span_bytes`` is passed
    to ``spans_from_otlp_json``.
    """
    media_type = _media_type(content_type)
    payload = _decoded(body, content_encoding, max_decompressed_bytes)
    if media_type == JSON:
        request = _json_request(payload)
    else:
        from memkit.otlp import protobuf

        request = protobuf.decode_request(payload)
    mapped = spans_from_otlp_json(request, max_span_bytes=max_span_bytes)
    rejected, message = len(mapped.rejections), mapped.error_message()
    if media_type == JSON:
        response = _json_response(rejected, message)
    else:
        response = protobuf.encode_response(rejected, message)
    return OtlpResult(
        spans=mapped.spans,
        rejections=mapped.rejections,
        response_body=response,
        response_content_type=media_type,
    )


def _media_type(content_type: str | None) -> str:
    essence = (content_type or "").split(";", 1)[0].strip().lower()
    if essence not in _MEDIA_TYPES:
        raise UnsupportedOtlpEncodingError(
            f"Content-Type {content_type!r} is not an OTLP/HTTP encoding: send {JSON} or {PROTOBUF}",
            field="Content-Type",
        )
    return _MEDIA_TYPES[essence]


def _decoded(body: bytes, content_encoding: str | None, limit: int) -> bytes:
    encoding = (content_encoding or "").strip().lower()
    if encoding in _WBITS:
        return _inflate(body, _WBITS[encoding], encoding, limit)
    if encoding not in _IDENTITY:
        raise UnsupportedOtlpEncodingError(
            f"Content-Encoding {content_encoding!r} is not supported: send gzip, deflate or none",
            field="Content-Encoding",
        )
    if len(body) > limit:
        raise _too_large(limit)
    return body


def _inflate(body: bytes, wbits: int, encoding: str, limit: int) -> bytes:
    """Decompress, never holding more than ``limit`` + 1 bytes of output: a compression bomb
    stops at the limit rather than at the memory's end. Concatenated gzip members are one
    body, as in ``gzip.decompress``."""
    output = bytearray()
    remaining = body
    while True:
        decompressor = zlib.decompressobj(wbits=wbits)
        try:
            # max_length is at least 1 here (output is at most limit): 0 would mean unlimited.
            output += decompressor.decompress(remaining, limit + 1 - len(output))
        except zlib.error as exc:
            raise ValidationError(f"body is not valid {encoding}: {exc}", field="body") from None
        if len(output) > limit:
            raise _too_large(limit)
        if not decompressor.eof:
            raise ValidationError(f"body is truncated {encoding}", field="body")
        remaining = decompressor.unused_data
        if not remaining:
            return bytes(output)


def _too_large(limit: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(f"the decompressed OTLP body is larger than {limit} bytes")


def _json_request(payload: bytes) -> object:
    try:
        return loads(payload, "body")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValidationError(f"body is not valid OTLP/JSON: {exc}", field="body") from None


def _json_response(rejected: int, message: str | None) -> bytes:
    if not rejected and not message:
        return b"{}"
    # int64 in OTLP/JSON may be a number or a string; a number reads naturally.
    partial = {"rejectedSpans": rejected, "errorMessage": message or ""}
    return json.dumps({"partialSuccess": partial}, ensure_ascii=False).encode()
