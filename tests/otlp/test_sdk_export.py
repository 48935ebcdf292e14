"""The real OpenTelemetry SDK's OTLP/HTTP exporter against the ingestion: what it sends maps
to Mastra-shaped spans, in every encoding it offers."""

from __future__ import annotations

import pytest
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.trace.export import SpanExportResult

from memkit.otlp import spans_from_otlp_json

from tests.otlp.sdk import SERVICE, agent_turn, failing_tool, otlp_json, record, unique_agent


def by_name(spans):
    return {span.name: span for span in spans}


def test_an_agent_turn_exported_by_the_sdk_maps_to_mastra_span_types_entities_and_usage(otlp_endpoint):
    # Given an agent run with a chat call and a tool call, recorded by the SDK
    agent_id = unique_agent()
    sdk_spans = record(agent_turn(agent_id))

    # When the SDK's exporter sends them
    outcome, exchange = otlp_endpoint.export(sdk_spans)

    # Then the exporter saw success, with protobuf both ways and no partial success
    assert outcome is SpanExportResult.SUCCESS
    assert exchange.status == 200 and exchange.content_type == "application/x-protobuf"
    assert ExportTraceServiceResponse.FromString(exchange.response) == ExportTraceServiceResponse()
    spans = by_name(exchange.result.spans)
    run, chat, tool = spans["invoke_agent Support Agent"], spans["chat gpt-4o"], spans["execute_tool get_weather"]

    # The tree and the ids are the SDK's, in hex
    sdk_run = next(span for span in sdk_spans if span.name == run.name)
    assert run.trace_id == format(sdk_run.context.trace_id, "032x")
    assert run.span_id == format(sdk_run.context.span_id, "016x")
    assert run.parent_span_id is None
    assert chat.parent_span_id == run.span_id and tool.parent_span_id == run.span_id
    assert {chat.trace_id, tool.trace_id} == {run.trace_id}

    # Span types and entities follow Mastra's model
    assert (run.span_type, run.entity_type, run.entity_id) == ("agent_run", "agent", agent_id)
    assert run.model_extra["entityName"] == "Support Agent"
    assert run.model_extra["threadId"] == "thread-1"
    assert run.attributes["instructions"] == [{"type": "text", "content": "Be brief."}]
    assert (chat.span_type, chat.entity_type, chat.entity_id) == ("model_generation", "agent", agent_id)
    assert (tool.span_type, tool.entity_type, tool.entity_id) == ("tool_call", "tool", "get_weather")

    # The model call's attributes in Mastra's shape, its messages as input and output
    assert chat.attributes == {
        "model": "gpt-4o",
        "provider": "openai",
        "responseModel": "gpt-4o-2024-08-06",
        "finishReason": "tool_calls",
        "parameters": {"temperature": 0.2, "maxOutputTokens": 256},
        "usage": {"inputTokens": 42, "outputTokens": 7, "inputDetails": {"cacheRead": 30}},
    }
    assert chat.input == [{"role": "user", "parts": [{"type": "text", "content": "Weather in Lisbon?"}]}]
    assert chat.output[0]["parts"][0]["name"] == "get_weather"
    assert (tool.input, tool.output) == ({"city": "Lisbon"}, {"celsius": 21})
    assert tool.attributes == {"toolCallId": "call_1"}

    # Content is stored once (not also in metadata); everything else is kept as sent
    assert "gen_ai.input.messages" not in chat.metadata and "gen_ai.tool.call.arguments" not in tool.metadata
    assert chat.metadata["gen_ai.usage.input_tokens"] == 42
    assert chat.metadata["otel.span.kind"] == "client"
    assert run.metadata["app.tenant"] == "acme"
    assert run.metadata["otel.scope.name"] == "memkit-tests" and run.metadata["otel.scope.version"] == "1.2.3"
    assert run.metadata["otel.resource"]["service.name"] == SERVICE
    assert run.model_extra["serviceName"] == SERVICE and run.model_extra["environment"] == "test"

    # Times are the SDK's nanoseconds, truncated to milliseconds
    assert int(run.started_at.timestamp() * 1000) == sdk_run.start_time // 1_000_000
    assert int(run.ended_at.timestamp() * 1000) == sdk_run.end_time // 1_000_000


@pytest.mark.parametrize("compression", [Compression.Gzip, Compression.Deflate], ids=["gzip", "deflate"])
def test_a_compressed_export_maps_to_the_same_spans(otlp_endpoint, compression):
    sdk_spans = record(agent_turn(unique_agent()))

    _, plain = otlp_endpoint.export(sdk_spans)
    outcome, compressed = otlp_endpoint.export(sdk_spans, compression)

    assert outcome is SpanExportResult.SUCCESS
    assert compressed.content_encoding == compression.value
    assert compressed.body != plain.body
    assert [span.to_wire() for span in compressed.result.spans] == [span.to_wire() for span in plain.result.spans]


def test_protobuf_and_otlp_json_of_the_same_spans_map_identically(otlp_endpoint):
    sdk_spans = record(agent_turn(unique_agent()))

    _, exchange = otlp_endpoint.export(sdk_spans)
    from_json = spans_from_otlp_json(otlp_json(sdk_spans))

    assert from_json.rejections == []
    assert [span.to_wire() for span in from_json.spans] == [span.to_wire() for span in exchange.result.spans]


def test_an_exception_in_a_tool_becomes_the_spans_error(otlp_endpoint):
    outcome, exchange = otlp_endpoint.export(record(failing_tool))

    assert outcome is SpanExportResult.SUCCESS
    spans = by_name(exchange.result.spans)
    tool, run = spans["execute_tool lookup"], spans["run"]
    assert tool.error["message"] == "LookupError: no such city: Atlantis"
    assert tool.error["id"] == "LookupError"
    assert "Traceback" in tool.error["details"]["stack"]
    # The exception event is the error now; it is not kept a second time among the events
    assert "otel.events" not in tool.metadata
    assert tool.metadata["otel.status_code"] == "ERROR"
    # The run caught it: no error there
    assert run.error is None and run.span_type == "generic"
