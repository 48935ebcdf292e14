"""OTLP/JSON spans into memkit spans: the encoding's rules, the GenAI conventions' variants,
and what is rejected alone (partial success) versus what refuses the request."""

from __future__ import annotations

from typing import Any

import pytest

from memkit.errors import ValidationError
from memkit.otlp import spans_from_otlp_json

from tests.otlp.payloads import CHILD, SPAN, START, TRACE, attributes, request, span


def only(payload: dict[str, Any]):
    mapped = spans_from_otlp_json(payload)
    assert mapped.rejections == []
    [mapped_span] = mapped.spans
    return mapped_span


# ---------------------------------------------------------------- the encoding


def test_ids_are_lowercased_times_truncate_to_milliseconds_and_int64_may_be_numbers_or_strings():
    mapped = only(request(span(traceId=TRACE.upper(), spanId=SPAN.upper(), startTimeUnixNano=START, attrs={"n": 7})))

    assert (mapped.trace_id, mapped.span_id) == (TRACE, SPAN)
    assert mapped.to_wire()["startedAt"] == "2026-01-01T00:00:00.123Z"
    assert mapped.to_wire()["endedAt"] == "2026-01-01T00:00:02.123Z"
    assert mapped.metadata["n"] == 7


def test_attribute_values_of_every_kind_read_as_plain_json():
    attrs = [
        {"key": "s", "value": {"stringValue": "x"}},
        {"key": "b", "value": {"boolValue": False}},
        {"key": "i", "value": {"intValue": -9223372036854775808}},
        {"key": "d", "value": {"doubleValue": 0.5}},
        {"key": "nan", "value": {"doubleValue": "NaN"}},
        {"key": "inf", "value": {"doubleValue": "-Infinity"}},
        {"key": "bytes", "value": {"bytesValue": "3q2+7w=="}},
        {"key": "list", "value": {"arrayValue": {"values": [{"intValue": "1"}, {"stringValue": "two"}]}}},
        {"key": "map", "value": {"kvlistValue": {"values": [{"key": "k", "value": {"boolValue": True}}]}}},
        {"key": "empty", "value": {}},
        {"key": "future", "value": {"someNewValue": 1}},
    ]

    mapped = only(request(span(attributes=attrs)))

    assert {key: mapped.metadata[key] for key in ("s", "b", "i", "d", "nan", "inf", "bytes", "list", "map")} == {
        "s": "x", "b": False, "i": -(2**63), "d": 0.5, "nan": "NaN", "inf": "-Infinity",
        "bytes": "3q2+7w==", "list": [1, "two"], "map": {"k": True},
    }  # fmt: skip
    assert mapped.metadata["empty"] is None and mapped.metadata["future"] is None


def test_kinds_and_status_codes_may_be_sent_as_enum_names():
    mapped = only(request(span(kind="SPAN_KIND_SERVER", status={"code": "STATUS_CODE_ERROR", "message": "down"})))

    assert mapped.metadata["otel.span.kind"] == "server"
    assert mapped.error == {"message": "down"}


def test_unknown_fields_are_ignored():
    mapped = only({"resourceSpans": [{"newField": 1, "scopeSpans": [{"spans": [span(futureField={"x": 1})]}]}]})

    assert mapped.span_id == SPAN


def test_events_links_trace_state_and_dropped_counts_are_kept():
    link = {"traceId": CHILD * 2, "spanId": CHILD, "traceState": "k=v", "attributes": attributes({"why": "batch"})}
    event = {"timeUnixNano": str(START + 1_000_000), "name": "cache miss", "attributes": attributes({"key": "a"})}

    mapped = only(
        request(span(events=[event], links=[link], traceState="vendor=1", droppedAttributesCount=3, droppedLinksCount="2"))
    )

    assert mapped.metadata["otel.events"] == [
        {"name": "cache miss", "time": "2026-01-01T00:00:00.124Z", "attributes": {"key": "a"}}
    ]
    assert mapped.model_extra["links"] == [
        {"traceId": CHILD * 2, "spanId": CHILD, "traceState": "k=v", "attributes": {"why": "batch"}}
    ]
    assert mapped.metadata["otel.trace_state"] == "vendor=1"
    assert mapped.metadata["otel.dropped_attributes_count"] == 3
    assert mapped.metadata["otel.dropped_links_count"] == 2


def test_an_empty_request_and_an_unnamed_span_are_fine():
    assert spans_from_otlp_json({}).spans == []
    assert only(request(span(name=""))).name == "unknown"


# ---------------------------------------------------------------- rejected spans


@pytest.mark.parametrize(
    "bad, reason",
    [
        ({"traceId": "W4737/eYA4EDSabYzgT8YA=="}, "traceId must be 32 hex characters (OTLP/JSON sends ids as hex, not base64)"),
        ({"spanId": "0000000000000000"}, "spanId is all zeros"),
        ({"spanId": None}, "spanId must be 16 hex characters"),
        ({"parentSpanId": "xyz"}, "parentSpanId must be 16 hex characters"),
        ({"startTimeUnixNano": None}, "startTimeUnixNano is missing"),
        ({"endTimeUnixNano": "0"}, "endTimeUnixNano is missing"),
        ({"endTimeUnixNano": str(START - 1)}, "endTimeUnixNano is before its startTimeUnixNano"),
        ({"startTimeUnixNano": "soon"}, "startTimeUnixNano must be an integer"),
        ({"startTimeUnixNano": "1²"}, "startTimeUnixNano must be an integer"),
        ({"startTimeUnixNano": "-5"}, "startTimeUnixNano is outside the range"),
        ({"startTimeUnixNano": 1.5e18}, "startTimeUnixNano must be an integer"),
        ({"attributes": [{"key": "x", "value": {"intValue": str(2**63)}}]}, "intValue is outside the range"),
        ({"attributes": [{"key": "x", "value": {"stringValue": "a\x00b"}}]}, "contains a NUL character"),
        ({"attributes": [{"value": {"stringValue": "no key"}}]}, "key must be a string"),
        ({"links": [{"traceId": TRACE, "spanId": "short"}]}, "links[0].spanId must be 16 hex characters"),
        ({"status": {"code": "broken"}}, "status.code must be an integer"),
    ],
    ids=lambda case: case if isinstance(case, str) else None,
)
def test_a_malformed_span_is_rejected_with_its_reason_and_the_others_are_kept(bad, reason):
    payload = request(span(CHILD), span(**bad))

    mapped = spans_from_otlp_json(payload)

    assert [kept.span_id for kept in mapped.spans] == [CHILD]
    [rejection] = mapped.rejections
    assert rejection.reason.startswith("resourceSpans[0].scopeSpans[0].spans[1].")
    assert reason in rejection.reason
    assert mapped.error_message().startswith("1 span(s) rejected: resourceSpans[0].scopeSpans[0].spans[1].")


def test_attributes_nested_deeper_than_stores_keep_reject_the_span_not_the_process():
    deep: dict[str, Any] = {"stringValue": "bottom"}
    for _ in range(500):
        deep = {"kvlistValue": {"values": [{"key": "k", "value": deep}]}}

    mapped = spans_from_otlp_json(request(span(attributes=[{"key": "deep", "value": deep}])))

    assert mapped.spans == []
    assert "nested deeper than 64 levels" in mapped.rejections[0].reason


def test_the_partial_success_message_names_the_first_reasons_and_counts_the_rest():
    bad = [span(f"{index:016x}", startTimeUnixNano=None) for index in range(1, 6)]

    message = spans_from_otlp_json(request(*bad)).error_message()

    assert message.startswith("5 span(s) rejected: ")
    assert message.count("startTimeUnixNano is missing") == 3
    assert message.endswith("; and 2 more")


def test_a_span_larger_than_the_stores_item_limit_is_rejected_alone():
    small, large = span(CHILD), span(attrs={"blob": "x" * 5000})

    mapped = spans_from_otlp_json(request(small, large), max_span_bytes=4000)

    assert [kept.span_id for kept in mapped.spans] == [CHILD]
    assert "over the store's 4000" in mapped.rejections[0].reason


def test_the_same_span_twice_in_one_request_is_stored_once_as_its_last_copy():
    mapped = spans_from_otlp_json(request(span(name="first"), span(CHILD), span(name="second")))

    assert [(kept.span_id, kept.name) for kept in mapped.spans] == [(CHILD, "work"), (SPAN, "second")]


# ---------------------------------------------------------------- a malformed request


@pytest.mark.parametrize(
    "payload, field",
    [
        ([], "body"),
        ({"resourceSpans": {}}, "resourceSpans"),
        ({"resourceSpans": ["x"]}, "resourceSpans[0]"),
        ({"resourceSpans": [{"resource": {"attributes": [{"key": 1}]}}]}, "resourceSpans[0].resource.attributes[0].key"),
        ({"resourceSpans": [{"scopeSpans": [{"spans": {}}]}]}, "resourceSpans[0].scopeSpans[0].spans"),
        ({"resourceSpans": [{"scopeSpans": [{"scope": {"name": 5}}]}]}, "resourceSpans[0].scopeSpans[0].scope.name"),
    ],
)
def test_a_malformed_envelope_refuses_the_whole_request_naming_the_field(payload, field):
    with pytest.raises(ValidationError) as refused:
        spans_from_otlp_json(payload)

    assert refused.value.field == field


# ---------------------------------------------------------------- GenAI conventions


def test_mastras_own_exporter_gets_its_span_type_back_and_its_generic_input():
    mapped = only(
        request(
            span(
                attrs={
                    "mastra.span.type": "workflow_step",
                    "gen_ai.operation.name": "workflow_step",
                    "mastra.workflow_step.input": '{"orderId": 7}',
                    "mastra.workflow_step.output": "done",
                }
            )
        )
    )

    assert mapped.span_type == "workflow_step"
    assert (mapped.input, mapped.output) == ({"orderId": 7}, "done")
    assert "mastra.workflow_step.input" not in mapped.metadata


@pytest.mark.parametrize(
    "attrs, span_type",
    [
        ({"gen_ai.operation.name": "invoke_agent"}, "agent_run"),
        ({"gen_ai.operation.name": "text_completion"}, "model_generation"),
        ({"gen_ai.operation.name": "generate_content"}, "model_generation"),
        ({"gen_ai.operation.name": "embeddings"}, "rag_embedding"),
        ({"gen_ai.operation.name": "retrieval"}, "rag_vector_operation"),
        ({"gen_ai.operation.name": "invoke_workflow"}, "workflow_run"),
        ({"gen_ai.operation.name": "create_agent", "gen_ai.agent.name": "x"}, "generic"),
        ({"mastra.span.type": "not_a_mastra_type", "gen_ai.operation.name": "chat"}, "model_generation"),
        ({"gen_ai.system": "anthropic", "gen_ai.request.model": "claude"}, "model_generation"),
        ({"gen_ai.tool.name": "search"}, "tool_call"),
        ({"gen_ai.agent.name": "Planner"}, "agent_run"),
        ({"gen_ai.workflow.name": "checkout"}, "workflow_run"),
        ({"http.request.method": "GET"}, "generic"),
    ],
)
def test_the_span_type_follows_the_operation_name_or_else_the_attributes_present(attrs, span_type):
    assert only(request(span(attrs=attrs))).span_type == span_type


def test_an_agent_name_that_is_not_an_id_is_kept_as_the_entity_name_only():
    mapped = only(request(span(attrs={"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "Math Tutor"})))

    assert (mapped.entity_type, mapped.entity_id) == ("agent", None)
    assert mapped.model_extra["entityName"] == "Math Tutor"


def test_a_workflow_run_names_its_workflow_as_the_entity():
    mapped = only(request(span(attrs={"gen_ai.operation.name": "invoke_workflow", "gen_ai.workflow.name": "checkout"})))

    assert (mapped.entity_type, mapped.entity_id) == ("workflow_run", "checkout")


def test_deprecated_usage_names_and_the_older_message_events_still_map():
    events = [
        {"timeUnixNano": str(START), "name": "gen_ai.system.message", "attributes": attributes({"gen_ai.system": "openai", "content": "Be brief."})},
        {"timeUnixNano": str(START), "name": "gen_ai.user.message", "attributes": attributes({"content": "Hi"})},
        {"timeUnixNano": str(START), "name": "gen_ai.choice", "attributes": attributes({"index": 0, "finish_reason": "stop", "message": '{"content": "Hello"}'})},
        {"timeUnixNano": str(START), "name": "retry", "attributes": []},
    ]
    attrs = {"gen_ai.system": "openai", "gen_ai.request.model": "gpt-3.5", "gen_ai.usage.prompt_tokens": 5, "gen_ai.usage.completion_tokens": 2}

    mapped = only(request(span(attrs=attrs, events=events)))

    assert mapped.attributes["usage"] == {"inputTokens": 5, "outputTokens": 2}
    assert mapped.attributes["provider"] == "openai"
    assert mapped.input == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    assert mapped.output == [{"index": 0, "finish_reason": "stop", "message": {"content": "Hello"}}]
    assert [event["name"] for event in mapped.metadata["otel.events"]] == ["retry"]


def test_openllmetry_indexed_prompts_become_message_lists():
    attrs = {
        "gen_ai.request.model": "gpt-4",
        "gen_ai.prompt.1.role": "user",
        "gen_ai.prompt.1.content": "second",
        "gen_ai.prompt.0.role": "system",
        "gen_ai.prompt.0.content": "first",
        "gen_ai.completion.0.content": "answer",
    }

    mapped = only(request(span(attrs=attrs)))

    assert mapped.input == [{"role": "system", "content": "first"}, {"role": "user", "content": "second"}]
    assert mapped.output == [{"content": "answer"}]
    assert set(mapped.metadata) & set(attrs) == {"gen_ai.request.model"}


def test_content_sent_on_the_inference_details_event_counts_as_the_spans():
    event = {
        "timeUnixNano": str(START),
        "name": "gen_ai.client.inference.operation.details",
        "attributes": attributes({"gen_ai.input.messages": '[{"role": "user"}]', "gen_ai.output.messages": '[{"role": "assistant"}]'}),
    }

    mapped = only(request(span(attrs={"gen_ai.operation.name": "chat"}, events=[event])))

    assert (mapped.input, mapped.output) == ([{"role": "user"}], [{"role": "assistant"}])
    assert "otel.events" not in mapped.metadata


def test_content_that_only_looks_like_json_is_kept_as_text():
    mapped = only(request(span(attrs={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.call.arguments": "{not json"})))

    assert mapped.input == "{not json"


def test_an_error_status_takes_its_id_and_kind_from_error_attributes():
    attrs = {"error.type": "RateLimited", "error.domain": "LLM", "error.category": "THIRD_PARTY", "error.message": "429"}

    mapped = only(request(span(attrs=attrs, status={"code": 2})))

    assert mapped.error == {"message": "429", "id": "RateLimited", "domain": "LLM", "category": "THIRD_PARTY"}


def test_status_ok_and_unset_are_not_errors():
    ok = only(request(span(status={"code": 1})))
    unset = only(request(span()))

    assert ok.error is None and ok.metadata["otel.status_code"] == "OK"
    assert unset.error is None and "otel.status_code" not in unset.metadata
