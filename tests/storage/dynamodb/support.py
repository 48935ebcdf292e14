"""What the DynamoDB tests share: the budget table's store, threads and messages made on it, and
counting the requests a call makes (``bench.instruments.RequestCounter``)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

from bench.instruments import RequestCounter
from memkit.models import Message, Thread
from memkit.storage.memory.dynamodb.store import DynamoDBStore

TABLE = "memkit-budgets"


BASE_TIME = datetime(2024, 1, 1, tzinfo=timezone.utc)


NEWEST_FIRST = {"field": "createdAt", "direction": "DESC"}


def at(ms: int) -> datetime:
    return BASE_TIME + timedelta(milliseconds=ms)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def new_thread(store: DynamoDBStore, resource_id: str | None = None, *, created_ms: int = 0, **fields) -> Thread:
    thread = Thread(
        id=unique("thr"),
        resource_id=resource_id or unique("res"),
        title=fields.pop("title", "budget thread"),
        created_at=at(created_ms),
        updated_at=at(created_ms),
        **fields,
    )
    return store.save_thread(thread)


def messages_for(
    thread: Thread, count: int, *, start_ms: int = 0, text_size: int = 20, resource_id: str | None = None
) -> list[Message]:
    prefix = unique("msg")
    return [
        Message(
            id=f"{prefix}-{index:05d}",
            thread_id=thread.id,
            resource_id=resource_id or thread.resource_id,
            role="user" if index % 2 == 0 else "assistant",
            created_at=at(start_ms + index),
            content={"format": 2, "parts": [{"type": "text", "text": f"{index:05d} ".ljust(text_size, "x")}]},
        )
        for index in range(count)
    ]


def save_all(store: DynamoDBStore, messages: list[Message], batch: int = 100) -> None:
    for start in range(0, len(messages), batch):
        store.save_messages(messages[start : start + batch])


def ids(items) -> list[str]:
    return [item.id for item in items]


def counted(store: DynamoDBStore, call):
    with RequestCounter(store) as counter:
        result = call()
    assert counter.count("Scan") == 0, "no Scan in a request path"
    return result, counter



def open_budget_store() -> Iterator[DynamoDBStore]:
    """The store on the budget table (created on first use), closed after its tests."""
    store = DynamoDBStore(TABLE, create_table=True)
    yield store
    store.close()
