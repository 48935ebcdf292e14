"""Spans made by the real OpenTelemetry SDK, and the requests its OTLP/HTTP exporter sends.

``record(scenario)`` runs a scenario against the SDK's tracer and returns the finished spans.
``OtlpEndpoint`` (the ``otlp_endpoint`` fixture) is a small HTTP endpoint that answers the way ``POST /v1/traces`` does
(``ingest_otlp``'s response, or the error's status from ``memkit.operations.replies``) and keeps every
exchange, so a test can send spans with the real ``OTLPSpanExporter`` (protobuf, optionally
gzip or deflate) and look at both what was sent and what memkit made of it.

The Python SDK exports protobuf only. ``otlp_json`` renders the SDK's own encoding of spans
(its encoder's ExportTraceServiceRequest) in OTLP/JSON: protobuf's JSON mapping with the one
difference the OTLP specification makes, ids as hex rather than base64.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from google.protobuf.json_format import MessageToDict
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Tracer

from memkit.operations.replies import describe_error
from memkit.errors import MemkitError
from memkit.otlp import OtlpResult, UnsupportedOtlpEncodingError, ingest_otlp

SERVICE = "support-bot"


def record(scenario: Callable[[Tracer], None], *, resource: dict[str, Any] | None = None) -> list[ReadableSpan]:
    """The spans the SDK finishes while ``scenario`` runs, oldest first."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(
        resource=Resource.create(resource or {"service.name": SERVICE, "deployment.environment.name": "test"})
    )
    provider.add_span_processor(SimpleSpanProcessor(memory))
    scenario(provider.get_tracer("memkit-tests", "1.2.3"))
    provider.shutdown()
    return list(memory.get_finished_spans())


def otlp_json(spans: Sequence[ReadableSpan]) -> dict[str, Any]:
    body = MessageToDict(encode_spans(spans), use_integers_for_enums=True)
    for resource_spans in body.get("resourceSpans", []):
        for scope_spans in resource_spans.get("scopeSpans", []):
            for span in scope_spans.get("spans", []):
                _hex_ids(span)
                for link in span.get("links", []):
                    _hex_ids(link)
    return body


def _hex_ids(message: dict[str, Any]) -> None:
    for key in ("traceId", "spanId", "parentSpanId"):
        if key in message:
            message[key] = base64.b64decode(message[key]).hex()


# ---------------------------------------------------------------- scenarios


def agent_turn(agent_id: str) -> Callable[[Tracer], None]:
    """One agent run: a chat call that asks for a tool, then the tool call, nested in the run,
    with the GenAI semantic conventions' attributes as instrumentations set them."""

    def scenario(tracer: Tracer) -> None:
        with tracer.start_as_current_span(
            "invoke_agent Support Agent",
            attributes={
                "gen_ai.operation.name": "invoke_agent",
                "gen_ai.agent.id": agent_id,
                "gen_ai.agent.name": "Support Agent",
                "gen_ai.provider.name": "openai",
                "gen_ai.conversation.id": "thread-1",
                "gen_ai.system_instructions": json.dumps([{"type": "text", "content": "Be brief."}]),
                "app.tenant": "acme",
            },
        ):
            with tracer.start_as_current_span(
                "chat gpt-4o",
                kind=SpanKind.CLIENT,
                attributes={
                    "gen_ai.operation.name": "chat",
                    "gen_ai.provider.name": "openai",
                    "gen_ai.agent.id": agent_id,
                    "gen_ai.request.model": "gpt-4o",
                    "gen_ai.response.model": "gpt-4o-2024-08-06",
                    "gen_ai.request.temperature": 0.2,
                    "gen_ai.request.max_tokens": 256,
                    "gen_ai.usage.input_tokens": 42,
                    "gen_ai.usage.output_tokens": 7,
                    "gen_ai.usage.cache_read.input_tokens": 30,
                    "gen_ai.response.finish_reasons": ("tool_calls",),
                    "gen_ai.input.messages": json.dumps(
                        [{"role": "user", "parts": [{"type": "text", "content": "Weather in Lisbon?"}]}]
                    ),
                    "gen_ai.output.messages": json.dumps(
                        [{"role": "assistant", "parts": [{"type": "tool_call", "name": "get_weather", "id": "call_1"}]}]
                    ),
                },
            ):
                pass
            with tracer.start_as_current_span(
                "execute_tool get_weather",
                attributes={
                    "gen_ai.operation.name": "execute_tool",
                    "gen_ai.tool.name": "get_weather",
                    "gen_ai.tool.call.id": "call_1",
                    "gen_ai.tool.call.arguments": json.dumps({"city": "Lisbon"}),
                    "gen_ai.tool.call.result": json.dumps({"celsius": 21}),
                },
            ):
                pass

    return scenario


def failing_tool(tracer: Tracer) -> None:
    """A tool call that raises: the SDK records the exception and sets the status to ERROR."""
    with tracer.start_as_current_span("run") as _:
        try:
            with tracer.start_as_current_span(
                "execute_tool lookup", attributes={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "lookup"}
            ):
                raise LookupError("no such city: Atlantis")
        except LookupError:
            pass


def unique_agent() -> str:
    return f"agent-{uuid.uuid4().hex[:12]}"


# ---------------------------------------------------------------- the endpoint


@dataclass
class Exchange:
    content_type: str | None
    content_encoding: str | None
    body: bytes
    status: int
    result: OtlpResult | None
    response: bytes


class OtlpEndpoint:
    def __init__(self, url: str, exchanges: list[Exchange]):
        self.url = url
        self.exchanges = exchanges

    def export(self, spans: Sequence[ReadableSpan], compression: Compression = Compression.NoCompression) -> tuple[SpanExportResult, Exchange]:
        """Send ``spans`` with the SDK's OTLP/HTTP exporter; its result and the exchange."""
        before = len(self.exchanges)
        exporter = OTLPSpanExporter(endpoint=self.url, compression=compression, timeout=10)
        outcome = exporter.export(spans)
        exporter.shutdown()
        assert len(self.exchanges) == before + 1, "the exporter sent one request"
        return outcome, self.exchanges[-1]


def answer(content_type: str | None, content_encoding: str | None, body: bytes) -> tuple[int, OtlpResult | None, bytes, str]:
    try:
        result = ingest_otlp(body, content_type, content_encoding)
    except MemkitError as exc:
        status = 415 if isinstance(exc, UnsupportedOtlpEncodingError) else describe_error(exc).status
        return status, None, json.dumps({"error": str(exc)}).encode(), "application/json"
    return 200, result, result.response_body, result.response_content_type
