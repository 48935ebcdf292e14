"""libSQL listings count and page in one read transaction: the total and the rows are two
statements, and another process writing the file between them would make them disagree."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest

import memkit.storage.datasets.libsql as datasets_libsql
import memkit.storage.memory.libsql.store as memory_libsql
import memkit.storage.observability.libsql as observability_libsql
import memkit.storage.scores.libsql as scores_libsql
import memkit.storage.workflows.libsql as workflows_libsql
from memkit.models import ListMessagesByResourceInput, ListThreadsInput
from memkit.storage.composite import CompositeStore
from memkit.storage.factory import create_store

LISTINGS: dict[str, tuple[ModuleType, Callable[[CompositeStore], Any]]] = {
    "workflow runs": (workflows_libsql, lambda store: store.workflows.list_runs(per_page=2)),
    "scores": (scores_libsql, lambda store: store.scores.list_scores_by_scorer_id("scorer-1", per_page=2)),
    "traces": (observability_libsql, lambda store: store.observability.list_traces(per_page=2)),
    "datasets": (datasets_libsql, lambda store: store.datasets.list_datasets(per_page=2)),
    "dataset items": (datasets_libsql, lambda store: store.datasets.list_items(_dataset(store), per_page=2)),
    "experiments": (datasets_libsql, lambda store: store.datasets.list_experiments(per_page=2)),
    "experiment results": (datasets_libsql, lambda store: store.datasets.list_experiment_results(*_experiment(store), per_page=2)),
    "threads": (memory_libsql, lambda store: store.memory.list_threads(ListThreadsInput(resource_id="res-1"))),
    "messages": (
        memory_libsql,
        lambda store: store.memory.list_messages_by_resource_id(ListMessagesByResourceInput(resource_id="res-1")),
    ),
}


def _dataset(store: CompositeStore) -> str:
    return store.datasets.create_dataset({"name": "listed"}).id


def _experiment(store: CompositeStore) -> tuple[str, str]:
    dataset_id = _dataset(store)
    store.datasets.add_item(dataset_id, {"input": "q"})
    return dataset_id, store.datasets.create_experiment(dataset_id, {}).id


@pytest.fixture
def store() -> Iterator[CompositeStore]:
    opened = create_store(":memory:")
    yield opened
    opened.close()


@pytest.mark.parametrize("listing", LISTINGS)
def test_libsql_listing_counts_and_pages_inside_one_read_transaction(store, monkeypatch, listing):
    module, list_page = LISTINGS[listing]
    real_count_and_page = module.count_and_page
    in_transaction: list[bool] = []

    def spy(conn: Any, *args: Any, **kwargs: Any) -> Any:
        in_transaction.append(conn.in_transaction)
        return real_count_and_page(conn, *args, **kwargs)

    monkeypatch.setattr(module, "count_and_page", spy)

    list_page(store)

    assert in_transaction == [True]
