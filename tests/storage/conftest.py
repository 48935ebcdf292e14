"""Backends the domain suites run against.

Each test gets a ``CompositeStore`` from ``create_store``: libSQL on a fresh ``:memory:``
database, or the session's DynamoDB Local table shared by every test (tests stay independent
through unique ids and, for trace listings, unique time windows; see ``builders.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from memkit.storage.composite import CompositeStore
from memkit.storage.factory import create_store

DYNAMODB_DOMAINS_URL = "dynamodb://memkit-domains"


@dataclass(frozen=True)
class Backend:
    open: Callable[[pytest.FixtureRequest], CompositeStore]
    #: Whether list_runs works with neither workflowName nor resourceId. DynamoDB refuses with
    #: ValidationError rather than scan the table.
    lists_runs_without_key: bool = True
    #: The service's limit on one stored item: a larger snapshot, score or span must fail with
    #: PayloadTooLargeError and write nothing. None: no limit at the sizes the suites use.
    max_item_bytes: int | None = None
    #: How many new items (without external ids) one atomic write, and so one dataset version,
    #: holds: a larger batch insert becomes consecutive versions. None: any batch is one version.
    items_per_version: int | None = None
    marks: tuple[pytest.MarkDecorator, ...] = ()


def _open_libsql(request: pytest.FixtureRequest) -> CompositeStore:
    return create_store(":memory:")


def _open_dynamodb(request: pytest.FixtureRequest) -> CompositeStore:
    # Looked up lazily so that a libsql-only run never starts DynamoDB Local.
    request.getfixturevalue("dynamodb_endpoint")
    return create_store(DYNAMODB_DOMAINS_URL)


BACKENDS: dict[str, Backend] = {
    "libsql": Backend(open=_open_libsql),
    "dynamodb": Backend(
        open=_open_dynamodb,
        lists_runs_without_key=False,
        max_item_bytes=400 * 1024,
        # 100 actions per TransactWriteItems, two of them the dataset's version and its record.
        items_per_version=98,
        marks=(pytest.mark.dynamodb,),
    ),
}


@pytest.fixture(params=[pytest.param(name, id=name, marks=spec.marks) for name, spec in BACKENDS.items()])
def backend(request: pytest.FixtureRequest) -> Backend:
    return BACKENDS[request.param]


@pytest.fixture
def store(request: pytest.FixtureRequest, backend: Backend) -> Iterator[CompositeStore]:
    opened = backend.open(request)
    yield opened
    opened.close()


@pytest.fixture
def workflows(store: CompositeStore):
    return store.workflows


@pytest.fixture
def scores(store: CompositeStore):
    return store.scores


@pytest.fixture
def observability(store: CompositeStore):
    return store.observability


@pytest.fixture
def datasets(store: CompositeStore):
    return store.datasets
