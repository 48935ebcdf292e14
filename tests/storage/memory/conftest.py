"""Backends the conformance suite runs against.

``BACKENDS`` is the one registry: a name (the test id, so ``-k libsql`` selects a backend) mapped
to how to open a store for one test and what the memory model (docs/memory-model.md) leaves up
to the backend. A new backend, e.g. the cache decorator over libSQL, is one more entry::

    "cached-libsql": Backend(open=lambda request: CachedMemoryStorage(_open_libsql(request), ...)),
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from memkit.storage.memory.base import MemoryStorage
from memkit.storage.factory import create_memory_storage
from tests.cache.support import cached

# One table for the whole session: DynamoDB Local creates tables slowly enough that a table per
# test would dominate the run. Tests stay independent through unique ids (see builders.py).
DYNAMODB_CONFORMANCE_URL = "dynamodb://memkit-conformance"
DYNAMODB_MAX_ITEM_BYTES = 400 * 1024


@dataclass(frozen=True)
class Backend:
    """How to open a store for one test, plus the behaviours the memory model lets a backend choose."""

    open: Callable[[pytest.FixtureRequest], MemoryStorage]
    #: The service's hard limit on one stored item; a larger message must fail with
    #: PayloadTooLargeError and write nothing. None: no limit at the sizes the suite uses.
    max_item_bytes: int | None = None
    #: Whether list_threads works without a resourceId. A backend that would need a full-table
    #: scan may refuse with ValidationError instead.
    lists_threads_without_resource: bool = True
    marks: tuple[pytest.MarkDecorator, ...] = ()


def _open_libsql(request: pytest.FixtureRequest) -> MemoryStorage:
    return create_memory_storage(":memory:")


def _open_dynamodb(request: pytest.FixtureRequest) -> MemoryStorage:
    # Looked up lazily so that a libsql-only run never starts DynamoDB Local.
    request.getfixturevalue("dynamodb_endpoint")
    return create_memory_storage(DYNAMODB_CONFORMANCE_URL)


BACKENDS: dict[str, Backend] = {
    "libsql": Backend(open=_open_libsql),
    "dynamodb": Backend(
        open=_open_dynamodb,
        max_item_bytes=DYNAMODB_MAX_ITEM_BYTES,
        lists_threads_without_resource=False,
        marks=(pytest.mark.dynamodb,),
    ),
    "cached-libsql": Backend(open=cached(_open_libsql), marks=(pytest.mark.redis,)),
    "cached-dynamodb": Backend(
        open=cached(_open_dynamodb),
        max_item_bytes=DYNAMODB_MAX_ITEM_BYTES,
        lists_threads_without_resource=False,
        marks=(pytest.mark.dynamodb, pytest.mark.redis),
    ),
}


@pytest.fixture(params=[pytest.param(name, id=name, marks=spec.marks) for name, spec in BACKENDS.items()])
def backend(request: pytest.FixtureRequest) -> Backend:
    return BACKENDS[request.param]


@pytest.fixture
def memory_store(request: pytest.FixtureRequest, backend: Backend) -> Iterator[MemoryStorage]:
    store = backend.open(request)
    yield store
    store.close()
