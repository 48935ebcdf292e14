"""Storage budgets (docs/dynamodb.md): DynamoDB requests, items read and capacity per operation, at
thread lengths 20, 1,000 and 5,000, on DynamoDB Local; the same operations' latency on libSQL.

Request and item counts come from ``RequestCounter`` (a botocore event hook), so they are what
the store really sent. Capacity units are DynamoDB Local's ``ReturnConsumedCapacity``.
"""

from __future__ import annotations

import statistics
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from memkit.models import (
    ListMessagesInput,
    ListThreadsInput,
    Message,
    Thread,
    utc_now,
)
from memkit.storage.memory.base import MemoryStorage
from memkit.storage.factory import create_memory_storage

THREAD_LENGTHS = (20, 1_000, 5_000)
REPEAT = 9
BASE_TIME = datetime(2025, 1, 1, tzinfo=timezone.utc)


def _message(thread: Thread, index: int, text_bytes: int = 200) -> Message:
    return Message(
        id=f"{thread.id}-m{index:05d}",
        thread_id=thread.id,
        resource_id=thread.resource_id,
        role="user" if index % 2 == 0 else "assistant",
        created_at=BASE_TIME + timedelta(seconds=index),
        content={"format": 2, "parts": [{"type": "text", "text": f"message {index} " + "x" * text_bytes}]},
    )


def _new_thread(store: MemoryStorage, resource_id: str) -> Thread:
    now = utc_now()
    return store.save_thread(
        Thread(id=f"t-{uuid.uuid4().hex[:12]}", resource_id=resource_id, created_at=now, updated_at=now)
    )


def _fill(store: MemoryStorage, thread: Thread, count: int) -> None:
    for start in range(0, count, 490):
        store.save_messages([_message(thread, i) for i in range(start, min(count, start + 490))])


def _summarise(operations: list[str]) -> str:
    """``GetItem + 3×Query`` rather than a list of hundreds of names."""
    counts: dict[str, int] = {}
    for operation in operations:
        counts[operation] = counts.get(operation, 0) + 1
    return " + ".join(name if n == 1 else f"{n}×{name}" for name, n in counts.items())


def _median_ms(action: Callable[[], Any], repeat: int = REPEAT) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def _operations(store: MemoryStorage, thread: Thread, length: int) -> list[tuple[str, Callable[[], Any], bool]]:
    """(name, action, repeatable). Non-repeatable actions change state and run once."""
    resource = thread.resource_id
    middle = f"{thread.id}-m{length // 2:05d}"
    batch_counter = iter(range(10**6))

    def save_two() -> None:
        n = next(batch_counter)
        store.save_messages([_message(thread, 100_000 + 2 * n), _message(thread, 100_001 + 2 * n)])

    return [
        ("get thread + ownership check", lambda: store.get_thread(thread.id, resource), True),
        (
            "last 20 messages (+ ownership, total)",
            lambda: store.list_messages(
                ListMessagesInput.build(
                    thread_id=thread.id, resource_id=resource, per_page=20, order_by={"direction": "DESC"}
                )
            ),
            True,
        ),
        (
            "first page, 40 ASC",
            lambda: store.list_messages(ListMessagesInput.build(thread_id=thread.id, resource_id=resource)),
            True,
        ),
        (
            "middle page, 40 ASC (deep offset)",
            lambda: store.list_messages(
                ListMessagesInput.build(thread_id=thread.id, page=max(0, length // 80), per_page=40)
            ),
            True,
        ),
        (
            "total only (perPage 0)",
            lambda: store.list_messages(ListMessagesInput.build(thread_id=thread.id, per_page=0)),
            True,
        ),
        (
            "include windows, 3 targets ±2",
            lambda: store.list_messages(
                ListMessagesInput.build(
                    thread_id=thread.id,
                    resource_id=resource,
                    per_page=0,
                    include=[
                        {"id": f"{thread.id}-m{i:05d}", "threadId": thread.id,
                         "withPreviousMessages": 2, "withNextMessages": 2}
                        for i in (1, length // 2, length - 2)
                    ],
                )
            ),
            True,
        ),
        (
            "list resource threads, page of 20",
            lambda: store.list_threads(ListThreadsInput.build(resource_id=resource, per_page=20)),
            True,
        ),
        ("save 2 messages (+ thread bump)", save_two, True),
        (
            "update working memory",
            lambda: store.update_resource(resource, working_memory="# User\n- name: Ada"),
            True,
        ),
        (
            "merge resource metadata",
            lambda: store.update_resource(resource, metadata={"plan": "pro"}),
            True,
        ),
        ("list messages by id (1 middle)", lambda: store.list_messages_by_id([middle]), True),
        ("delete thread (all messages)", lambda: store.delete_thread(thread.id, resource), False),
    ]


def _dynamodb_rows(stack: Any) -> list[dict[str, Any]]:
    stack.dynamodb  # start DynamoDB Local and point AWS_ENDPOINT_URL_DYNAMODB at it
    from bench.instruments import RequestCounter

    store = create_memory_storage("dynamodb://memkit-bench", create_tables=True)
    rows: list[dict[str, Any]] = []
    try:
        for length in THREAD_LENGTHS:
            resource = f"r-{uuid.uuid4().hex[:10]}"
            threads = [_new_thread(store, resource) for _ in range(30)]
            thread = threads[0]
            _fill(store, thread, length)
            for name, action, repeatable in _operations(store, thread, length):
                with RequestCounter(store) as counter:
                    action()
                ms = _median_ms(action) if repeatable else None
                rows.append(
                    {
                        "operation": name,
                        "thread length": length,
                        "requests": counter.count(),
                        "calls": _summarise(counter.operations()),
                        "items read": counter.items_read,
                        "capacity units": round(counter.capacity_units, 1),
                        "median ms": ms,
                    }
                )
            if length == THREAD_LENGTHS[-1]:
                big = _new_thread(store, resource)
                messages = [_message(big, i) for i in range(200)]
                with RequestCounter(store) as counter:
                    store.save_messages(messages)
                rows.append(
                    {
                        "operation": "save 200 messages in one call",
                        "thread length": 200,
                        "requests": counter.count(),
                        "calls": _summarise(counter.operations()),
                        "items read": counter.items_read,
                        "capacity units": round(counter.capacity_units, 1),
                        "median ms": None,
                    }
                )
    finally:
        store.close()
    return rows


def _libsql_rows() -> list[dict[str, Any]]:
    import tempfile
    from pathlib import Path

    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        store = create_memory_storage(f"file:{Path(tmp) / 'bench.db'}")
        try:
            for length in THREAD_LENGTHS:
                resource = f"r-{uuid.uuid4().hex[:10]}"
                threads = [_new_thread(store, resource) for _ in range(30)]
                _fill(store, threads[0], length)
                for name, action, repeatable in _operations(store, threads[0], length):
                    if repeatable:
                        rows.append({"operation": name, "thread length": length, "median ms": _median_ms(action)})
        finally:
            store.close()
    return rows


def run(stack: Any) -> list[tuple[str, list[dict[str, Any]]]]:
    return [
        ("Storage on DynamoDB Local: requests, items read, capacity per operation", _dynamodb_rows(stack)),
        ("Storage on libSQL (file): median latency", _libsql_rows()),
    ]
