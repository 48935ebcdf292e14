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


def operations_and_result(store: CompositeStore, call: Callable[[], Any], expected: list[str]) -> Any:
    with RequestCounter(store.memory) as counter:
        result = call()
    assert counter.operations() == expected
    return result


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


def test_dataset_requests(store):
    datasets = store.datasets
    dataset = operations_and_result(store, lambda: datasets.create_dataset({"name": unique_id("set")}), ["PutItem"])
    assert operations(store, lambda: datasets.update_dataset(dataset.id, {"description": "d"})) == ["UpdateItem"]
    assert operations(store, lambda: datasets.list_datasets(name=dataset.name)) == ["Query", "Query"]

    # Item changes: read the dataset's version, then one transaction per version.
    item = operations_and_result(store, lambda: datasets.add_item(dataset.id, {"input": "q"}), ["GetItem", "TransactWriteItems"])
    add_claimed = lambda: datasets.add_item(dataset.id, {"input": "c", "externalId": "row"})  # noqa: E731
    assert operations(store, add_claimed) == ["GetItem", "BatchGetItem", "TransactWriteItems"]
    assert operations(store, add_claimed) == ["GetItem", "BatchGetItem", "Query"]  # resolved: no write
    batch = [{"input": index} for index in range(150)]
    assert operations(store, lambda: datasets.batch_insert_items(dataset.id, batch)) == ["GetItem"] + ["TransactWriteItems"] * 2
    update = lambda: datasets.update_item(dataset.id, item.id, {"groundTruth": "g"})  # noqa: E731
    assert operations(store, update) == ["GetItem", "Query", "TransactWriteItems"]
    doomed = [found.id for found in datasets.list_items(dataset.id, per_page=3).items]
    assert operations(store, lambda: datasets.batch_delete_items(dataset.id, doomed)) == ["GetItem"] + ["Query"] * 3 + ["TransactWriteItems"]

    # Item reads: keyed Queries on the dataset's partition; listings read the dataset record for the total.
    assert operations(store, lambda: datasets.get_item(dataset.id, item.id)) == ["Query"]
    assert operations(store, lambda: datasets.get_item(dataset.id, item.id, version=1)) == ["Query"]
    assert operations(store, lambda: datasets.get_item_history(dataset.id, item.id)) == ["Query"]
    assert operations(store, lambda: datasets.list_items(dataset.id, page=2, per_page=20)) == ["GetItem", "Query"]
    assert operations(store, lambda: datasets.list_items(dataset.id, version=3, per_page=20)) == ["GetItem", "Query"]
    assert operations(store, lambda: datasets.list_items(dataset.id, search="q", per_page=20)) == ["GetItem", "Query"]
    assert operations(store, lambda: datasets.list_dataset_versions(dataset.id, page=1, per_page=2)) == ["GetItem", "Query"]

    # Experiments and results.
    experiment = operations_and_result(store, lambda: datasets.create_experiment(dataset.id, {}), ["GetItem", "TransactWriteItems"])
    assert operations(store, lambda: datasets.get_experiment(dataset.id, experiment.id)) == ["GetItem"]
    assert operations(store, lambda: datasets.update_experiment(dataset.id, experiment.id, {"name": "n"})) == ["UpdateItem"]
    assert operations(store, lambda: datasets.list_experiments(dataset.id)) == ["Query", "Query"]
    submit = lambda: datasets.add_experiment_result(dataset.id, experiment.id, {"itemId": item.id, "output": "o"})  # noqa: E731
    result = operations_and_result(store, submit, ["BatchGetItem", "Query", "TransactWriteItems"])
    assert operations(store, submit) == ["BatchGetItem", "Query", "TransactWriteItems"]
    assert operations(store, lambda: datasets.get_experiment_result(dataset.id, experiment.id, result.id)) == ["BatchGetItem"]
    review = lambda: datasets.update_experiment_result(dataset.id, experiment.id, result.id, {"status": "reviewed"})  # noqa: E731
    assert operations(store, review) == ["BatchGetItem", "UpdateItem"]
    assert operations(store, lambda: datasets.list_experiment_results(dataset.id, experiment.id)) == ["GetItem", "Query", "Query"]
    assert operations(store, lambda: datasets.finalize_experiment(dataset.id, experiment.id)) == ["GetItem", "Query", "UpdateItem"]

    # Purge: the item's revisions (scrubbed, then checked), then each experiment's results.
    assert operations(store, lambda: datasets.purge_item(dataset.id, item.id)) == [
        "Query", "TransactWriteItems", "Query", "Query", "Query", "TransactWriteItems",
    ]
    assert operations(store, lambda: datasets.delete_experiment(dataset.id, experiment.id)) == [
        "UpdateItem", "Query", "BatchWriteItem", "TransactWriteItems",
    ]
    # Flag, read the partition's keys, delete them 25 at a time, then the record.
    revisions = 2 + 150 + 1 + 3  # two adds, the batch, the update, three tombstones
    versions, claims = 6, 1
    batches = -(-(revisions + versions + claims) // 25)
    assert operations(store, lambda: datasets.delete_dataset(dataset.id)) == [
        "UpdateItem", "Query", *["BatchWriteItem"] * batches, "DeleteItem",
    ]
