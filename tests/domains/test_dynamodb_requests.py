"""The request counts docs/domains.md promises for the DynamoDB adapters, measured on DynamoDB Local."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bench.instruments import RequestCounter
from memkit.storage.composite import CompositeStore
from memkit.storage.factory import create_store

from .builders import at, unique_id
from .conftest import DYNAMODB_DOMAINS_URL

pytestmark = pytest.mark.dynamodb


@pytest.fixture
def store(dynamodb_endpoint: str) -> Iterator[CompositeStore]:
    opened = create_store(DYNAMODB_DOMAINS_URL)
    yield opened
    opened.close()


def operations(store: CompositeStore, call: Callable[[], Any]) -> list[str]:
    with RequestCounter(store.memory) as counter:  # the domains share the memory store's client
        call()
    return counter.operations()


def test_workflow_requests(store):
    workflows, workflow_name, run_id = store.workflows, unique_id("wf"), unique_id("run")
    for index in range(5):
        workflows.persist_snapshot(workflow_name, f"{run_id}-{index}", {"status": "ok"}, created_at=at(index))

    assert operations(store, lambda: workflows.persist_snapshot(workflow_name, run_id, {})) == ["UpdateItem"]
    assert operations(store, lambda: workflows.load_snapshot(workflow_name, run_id)) == ["GetItem"]
    assert operations(store, lambda: workflows.get_run_by_id(run_id)) == ["Query"]
    assert operations(store, lambda: workflows.list_runs(workflow_name, status="ok", page=1, per_page=2)) == [
        "Query",
        "Query",
    ]
    assert operations(store, lambda: workflows.update_results(workflow_name, run_id, "step", 1)) == [
        "GetItem",
        "UpdateItem",
    ]


def test_score_requests(store):
    scores, scorer_id = store.scores, unique_id("scorer")
    score = {"scorerId": scorer_id, "runId": "r", "entityId": "e", "entityType": "AGENT", "score": 1, "source": "LIVE"}

    assert operations(store, lambda: scores.save_score(score)) == ["TransactWriteItems"]
    assert operations(store, lambda: scores.list_scores_by_scorer_id(scorer_id, source="LIVE")) == ["Query", "Query"]


def test_trace_requests(store):
    observability, trace_id, entity_id = store.observability, unique_id("trace"), unique_id("agent")
    root = {"traceId": trace_id, "spanId": "root", "name": "run", "spanType": "agent_run", "startedAt": at(0)}
    observability.create_span({**root, "entityId": entity_id})  # registers the month once

    children = [{**root, "spanId": f"child-{index}", "parentSpanId": "root"} for index in range(30)]

    assert operations(store, lambda: observability.batch_create_spans(children)) == ["BatchWriteItem"] * 2
    assert operations(store, lambda: observability.update_span(trace_id, "root", {"output": 1})) == ["GetItem", "PutItem"]
    assert operations(store, lambda: observability.get_trace(trace_id)) == ["Query"]
    assert operations(store, lambda: observability.list_traces(entity_id=entity_id)) == ["Query", "Query"]
    assert operations(store, lambda: observability.list_traces(start=at(0), end=at(0))) == ["Query", "Query", "Query"]
    assert operations(store, lambda: observability.delete_traces([trace_id])) == ["Query"] + ["BatchWriteItem"] * 2
