"""Spans from the real SDK exporter, ingested, stored and read back through the observability
port, on libSQL (``:memory:``) and DynamoDB Local."""

from __future__ import annotations

import json
import uuid

import pytest

from memkit.otlp import ingest_otlp
from tests.storage.conftest import BACKENDS

from tests.otlp.payloads import CHILD, SPAN, request, span
from tests.otlp.sdk import agent_turn, failing_tool, record, unique_agent


@pytest.fixture(params=[pytest.param(name, id=name, marks=spec.marks) for name, spec in BACKENDS.items()])
def observability(request: pytest.FixtureRequest):
    store = BACKENDS[request.param].open(request)
    yield store.observability
    store.close()


def test_an_exported_agent_turn_reads_back_as_a_trace_and_lists_under_its_agent(otlp_endpoint, observability):
    agent_id = unique_agent()
    _, exchange = otlp_endpoint.export(record(agent_turn(agent_id)))

    stored = observability.batch_create_spans(exchange.result.spans)

    root = next(span for span in stored if span.parent_span_id is None)
    trace = observability.get_trace(root.trace_id)
    assert sorted(span.to_wire()["spanId"] for span in trace.spans) == sorted(span.span_id for span in stored)
    assert {span.span_id: span.to_wire() for span in trace.spans} == {span.span_id: span.to_wire() for span in stored}
    assert {span.status for span in trace.spans} == {"success"}
    listed = observability.list_traces(entity_id=agent_id)
    assert [span.span_id for span in listed.traces] == [root.span_id]
    assert listed.traces[0].span_type == "agent_run"
    chat = next(span for span in trace.spans if span.span_type == "model_generation")
    assert chat.attributes["usage"] == {"inputTokens": 42, "outputTokens": 7, "inputDetails": {"cacheRead": 30}}
    assert chat.to_wire()["serviceName"] == "support-bot"


def test_a_tool_that_raised_reads_back_with_status_error(otlp_endpoint, observability):
    _, exchange = otlp_endpoint.export(record(failing_tool))

    observability.batch_create_spans(exchange.result.spans)

    tool = next(span for span in exchange.result.spans if span.name == "execute_tool lookup")
    stored = observability.get_span(tool.trace_id, tool.span_id)
    assert stored.status == "error"
    assert stored.error["message"] == "LookupError: no such city: Atlantis"


def test_with_partial_success_only_the_valid_spans_are_stored(observability):
    # The same span twice in one request: DynamoDB refuses duplicate keys in one batch write.
    trace_id = uuid.uuid4().hex
    body = json.dumps(
        request(
            span(SPAN, traceId=trace_id),
            span(CHILD, traceId=trace_id, parentSpanId=SPAN, endTimeUnixNano=None),
            span(SPAN, traceId=trace_id, name="latest copy"),
        )
    ).encode()

    result = ingest_otlp(body, "application/json")
    observability.batch_create_spans(result.spans)

    assert result.rejected_spans == 1
    trace = observability.get_trace(trace_id)
    assert [(span.span_id, span.name) for span in trace.spans] == [(SPAN, "latest copy")]
