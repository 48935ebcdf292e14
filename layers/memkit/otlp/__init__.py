"""OTLP/HTTP trace ingestion: spans any OpenTelemetry SDK exports, as memkit observability spans.

``ingest_otlp(body, content_type, content_encoding)`` decodes an export request (JSON or
protobuf, optionally gzip) and returns the spans to store and the response to send;
``spans_from_otlp_json(request)`` maps a request already in the OTLP/JSON shape (an ops
operation's argument). The mapping follows the OpenTelemetry GenAI semantic conventions into
Mastra's span model; docs/otlp.md describes it.
"""

from memkit.otlp.ingest import (
    DEFAULT_MAX_DECOMPRESSED_BYTES,
    OtlpResult,
    UnsupportedOtlpEncodingError,
    ingest_otlp,
)
from memkit.otlp.spans import MappedSpans, Rejection, spans_from_otlp_json

__all__ = [
    "DEFAULT_MAX_DECOMPRESSED_BYTES",
    "MappedSpans",
    "OtlpResult",
    "Rejection",
    "UnsupportedOtlpEncodingError",
    "ingest_otlp",
    "spans_from_otlp_json",
]
