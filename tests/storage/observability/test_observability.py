"""Observability: spans and traces: create, update, batch, get, list with filters, delete."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import pytest

from memkit.errors import PayloadTooLargeError, ValidationError
from memkit.models import format_ts

from tests.storage.builders import at, plus_ms, unique_id, unique_month


def make_span(trace_id: str, span_id: str = "root", *, started: datetime | None = None, **fields: Any) -> dict[str, Any]:
    return {
        "traceId": trace_id,
        "spanId": span_id,
        "name": "support-agent run",
        "spanType": "agent_run",
        "startedAt": format_ts(started or at(0)),
        "attributes": {"model": "gpt-x", "temperature": 0.2},
        "metadata": {"user": "ada"},
        "input": [{"role": "user", "content": "Grüezi 👋"}],
        **fields,
    }


def create_traces(observability, count: int, *, start: datetime, **root_fields: Any) -> list[str]:
    """``count`` traces (a root and a child each) started 1 ms apart; trace ids oldest first."""
    prefix = unique_id("trace")
    trace_ids = [f"{prefix}-{index:02d}" for index in range(count)]
    for index, trace_id in enumerate(trace_ids):
        started = plus_ms(start, index)
        observability.batch_create_spans(
            [
                make_span(trace_id, started=started, **root_fields),
                make_span(trace_id, "child", parentSpanId="root", name="llm call", spanType="llm", started=plus_ms(started, 0)),
            ]
        )
    return trace_ids


def trace_ids(page) -> list[str]:
    return [span.trace_id for span in page.traces]


# ---------------------------------------------------------------- spans and traces


def test_created_spans_read_back_as_a_trace_ordered_by_start(observability):
    trace_id = unique_id("trace")
    child = make_span(trace_id, "child", parentSpanId="root", name="tool", spanType="tool_call", started=at(5))
    root = make_span(trace_id, started=at(0), entityId="support-agent", entityType="agent", scope={"version": "1.2"})

    observability.create_span(child)
    created = observability.create_span(root)

    trace = observability.get_trace(trace_id)
    assert [span.span_id for span in trace.spans] == ["root", "child"]
    wire = trace.spans[0].to_wire()
    assert wire == created.to_wire()
    assert {key: wire[key] for key in root} == root
    assert wire["parentSpanId"] is None and wire["createdAt"] and wire["updatedAt"]


def test_unknown_trace_and_span_are_none(observability):
    trace_id = unique_id("trace")

    assert observability.get_trace(trace_id) is None
    assert observability.get_span(trace_id, "root") is None
    assert observability.update_span(trace_id, "root", {"output": 1}) is None


@pytest.mark.parametrize(
    "fields, status",
    [
        pytest.param({}, "running", id="not-ended"),
        pytest.param({"endedAt": format_ts(at(9))}, "success", id="ended"),
        pytest.param({"endedAt": format_ts(at(9)), "error": {"message": "timeout"}}, "error", id="failed"),
        pytest.param({"status": "cancelled"}, "cancelled", id="explicit"),
    ],
)
def test_status_is_derived_unless_given(observability, fields, status):
    span = observability.create_span(make_span(unique_id("trace"), **fields))

    assert span.status == status
    assert observability.get_span(span.trace_id, "root").status == status


def test_update_span_replaces_given_fields_and_rederives_status(observability):
    trace_id = unique_id("trace")
    created = observability.create_span(make_span(trace_id))

    updated = observability.update_span(trace_id, "root", {"endedAt": format_ts(at(50)), "output": {"text": "Hoi"}})

    assert (updated.status, updated.ended_at, updated.output) == ("success", at(50), {"text": "Hoi"})
    assert updated.input == created.input and updated.attributes == created.attributes
    assert updated.created_at == created.created_at
    assert observability.get_span(trace_id, "root").to_wire() == updated.to_wire()


def test_concurrent_updates_of_one_span_all_survive(observability):
    trace_id = unique_id("trace")
    observability.create_span(make_span(trace_id))
    fields = ["output", "endedAt", "metadata", "attributes", "error"]
    values = {"output": "done", "endedAt": format_ts(at(7)), "metadata": {"m": 1}, "attributes": {"a": 2}, "error": None}
    start = threading.Barrier(len(fields))

    def update(field: str) -> None:
        start.wait()
        observability.update_span(trace_id, "root", {field: values[field]})

    with ThreadPoolExecutor(len(fields)) as pool:
        list(pool.map(update, fields))

    wire = observability.get_span(trace_id, "root").to_wire()
    assert {field: wire[field] for field in fields} == values
    assert wire["status"] == "success"


def test_span_identity_cannot_change(observability):
    trace_id = unique_id("trace")
    observability.create_span(make_span(trace_id))

    with pytest.raises(ValidationError, match="spanId"):
        observability.update_span(trace_id, "root", {"spanId": "other"})

    assert observability.get_trace(trace_id).spans[0].span_id == "root"


def test_batch_create_validates_every_span_before_writing(observability):
    trace_id = unique_id("trace")

    with pytest.raises(ValidationError):
        observability.batch_create_spans([make_span(trace_id), make_span(trace_id, "bad", startedAt="soon")])

    assert observability.get_trace(trace_id) is None


def test_oversized_span_is_stored_whole_or_refused(observability, backend):
    trace_id = unique_id("trace")
    span = make_span(trace_id, output="x" * 500 * 1024)

    if backend.max_item_bytes is None:
        observability.create_span(span)
        assert observability.get_span(trace_id, "root").output == span["output"]
    else:
        with pytest.raises(PayloadTooLargeError):
            observability.create_span(span)
        assert observability.get_trace(trace_id) is None


def test_batch_update_applies_in_order_and_skips_unknown_spans(observability):
    trace_id = unique_id("trace")
    observability.batch_create_spans([make_span(trace_id), make_span(trace_id, "child", parentSpanId="root")])

    updated = observability.batch_update_spans(
        [
            {"traceId": trace_id, "spanId": "child", "updates": {"endedAt": format_ts(at(3))}},
            {"traceId": trace_id, "spanId": "missing", "updates": {"output": 1}},
            {"traceId": trace_id, "spanId": "root", "updates": {"output": "first"}},
            {"traceId": trace_id, "spanId": "root", "updates": {"output": "second"}},
        ]
    )

    assert [span.span_id for span in updated] == ["child", "root", "root"]
    assert observability.get_span(trace_id, "child").status == "success"
    assert observability.get_span(trace_id, "root").output == "second"


def test_batch_update_validates_every_request_before_writing(observability):
    trace_id = unique_id("trace")
    observability.create_span(make_span(trace_id))

    with pytest.raises(ValidationError):
        observability.batch_update_spans(
            [
                {"traceId": trace_id, "spanId": "root", "updates": {"output": "changed"}},
                {"traceId": trace_id, "updates": {"output": 1}},
            ]
        )

    assert observability.get_span(trace_id, "root").output is None


# ---------------------------------------------------------------- listing


def test_list_traces_returns_root_spans_newest_first_in_pages(observability):
    month = unique_month()
    newest_first = create_traces(observability, 7, start=month)[::-1]
    window = {"start": month, "end": plus_ms(month, 10)}

    pages = [observability.list_traces(**window, page=page, per_page=3) for page in range(3)]

    assert [trace_ids(page) for page in pages] == [newest_first[0:3], newest_first[3:6], newest_first[6:]]
    assert all(span.span_id == "root" for page in pages for span in page.traces)
    assert [(page.total, page.has_more) for page in pages] == [(7, True), (7, True), (7, False)]


def test_list_traces_time_range_is_inclusive(observability):
    month = unique_month()
    created = create_traces(observability, 5, start=month)  # month + 0..4 ms

    page = observability.list_traces(start=plus_ms(month, 1), end=plus_ms(month, 3))

    assert trace_ids(page) == [created[3], created[2], created[1]]
    assert observability.list_traces(start=plus_ms(month, 5), end=plus_ms(month, 99)).total == 0


def test_list_traces_across_months_without_an_end(observability):
    january = unique_month()
    february = january.replace(month=january.month + 1) if january.month < 12 else january.replace(year=january.year + 1, month=1)
    older = create_traces(observability, 2, start=january)
    newer = create_traces(observability, 2, start=february)
    name = unique_id("name")
    for trace_id in [*older, *newer]:
        observability.update_span(trace_id, "root", {"name": name})

    page = observability.list_traces(start=january, name=name, per_page=3)

    assert trace_ids(page) == [newer[1], newer[0], older[1]]
    assert (page.total, page.has_more) == (4, True)


def test_list_traces_filters_by_name_status_and_entity(observability):
    month = unique_month()
    entity_id = unique_id("agent")
    window = {"start": month, "end": plus_ms(month, 100)}
    agent_runs = create_traces(observability, 3, start=month, entityId=entity_id, entityType="agent")
    workflow_runs = create_traces(observability, 2, start=plus_ms(month, 10), name="nightly", entityType="workflow")
    observability.update_span(agent_runs[0], "root", {"endedAt": format_ts(plus_ms(month, 50))})

    assert trace_ids(observability.list_traces(**window, name="nightly")) == workflow_runs[::-1]
    assert trace_ids(observability.list_traces(**window, status="success")) == [agent_runs[0]]
    assert trace_ids(observability.list_traces(entity_id=entity_id)) == agent_runs[::-1]
    assert trace_ids(observability.list_traces(entity_id=entity_id, status="running", per_page=1)) == [agent_runs[2]]
    assert trace_ids(observability.list_traces(**window, entity_type="workflow")) == workflow_runs[::-1]
    assert observability.list_traces(entity_id=entity_id, entity_type="workflow").total == 0
    assert observability.list_traces(**window, name="unknown").total == 0


def test_list_traces_per_page_zero_and_false(observability):
    month = unique_month()
    create_traces(observability, 3, start=month)
    window = {"start": month, "end": plus_ms(month, 10)}

    everything = observability.list_traces(**window, per_page=False)
    counted = observability.list_traces(**window, per_page=0)

    assert (len(everything.traces), everything.total, everything.per_page) == (3, 3, False)
    assert (counted.traces, counted.total) == ([], 3)


# ---------------------------------------------------------------- deletion and validation


def test_delete_traces_removes_every_span_and_the_listing(observability):
    month = unique_month()
    doomed, kept = create_traces(observability, 2, start=month)

    observability.delete_traces([doomed, unique_id("trace")])
    observability.delete_traces([])

    assert observability.get_trace(doomed) is None
    assert observability.get_span(doomed, "child") is None
    assert trace_ids(observability.list_traces(start=month, end=plus_ms(month, 10))) == [kept]


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"traceId": ""}, id="empty-trace-id"),
        pytest.param({"spanId": None}, id="no-span-id"),
        pytest.param({"name": "  "}, id="blank-name"),
        pytest.param({"spanType": None}, id="no-span-type"),
        pytest.param({"startedAt": "whenever"}, id="bad-start"),
        pytest.param({"parentSpanId": "has space"}, id="bad-parent-id"),
    ],
)
def test_invalid_span_raises_and_stores_nothing(observability, fields):
    trace_id = unique_id("trace")

    with pytest.raises(ValidationError):
        observability.create_span({**make_span(trace_id), **fields})

    assert observability.get_trace(trace_id) is None


def test_invalid_list_arguments_raise(observability):
    with pytest.raises(ValidationError):
        observability.list_traces(start="last week")
    with pytest.raises(ValidationError):
        observability.list_traces(entity_id="a#b")
    with pytest.raises(ValidationError):
        observability.list_traces(page=-1)
