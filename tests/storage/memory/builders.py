"""Test data for the conformance suite.

Every id is unique per call: the DynamoDB backend shares one table across the session, so tests
are isolated by ids, never by a fresh table. Timestamps are explicit offsets from ``BASE_TIME``
so ordering, ties and millisecond edges are under the test's control.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from memkit.models import Message, Thread, to_ms, utc_now
from memkit.storage.memory.base import MemoryStorage

# In the past, so any timestamp a store sets itself ("bumps") is strictly later than test data.
BASE_TIME = datetime(2024, 1, 1, tzinfo=timezone.utc)


def at(ms: int) -> datetime:
    """``BASE_TIME`` plus ``ms`` milliseconds."""
    return BASE_TIME + timedelta(milliseconds=ms)


def now() -> datetime:
    """The current time at the precision stores keep (for "set by the store at call time" checks)."""
    return to_ms(utc_now())


def unique_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def new_resource_id() -> str:
    return unique_id("res")


def make_thread(
    resource_id: str | None = None,
    *,
    thread_id: str | None = None,
    title: str | None = "Conformance thread",
    metadata: dict[str, Any] | None = None,
    created_at: datetime | None = None,
    updated_at: datetime | None = None,
) -> Thread:
    created = created_at or at(0)
    return Thread(
        id=unique_id("thr") if thread_id is None else thread_id,
        resource_id=resource_id or new_resource_id(),
        title=title,
        metadata=metadata,
        created_at=created,
        updated_at=updated_at or created,
    )


def text_content(text: str, **extra: Any) -> dict[str, Any]:
    """v2 content with one text part; ``extra`` adds content fields (metadata, unknown fields...)."""
    return {"format": 2, "parts": [{"type": "text", "text": text}], **extra}


def make_message(
    thread: Thread,
    *,
    message_id: str | None = None,
    role: str = "user",
    text: str | None = None,
    created_at: datetime | None = None,
    resource_id: str | None = None,
    content: dict[str, Any] | None = None,
) -> Message:
    """A message in ``thread``, attributed to the thread's owner unless ``resource_id`` says otherwise."""
    if message_id is None:
        message_id = unique_id("msg")
    return Message(
        id=message_id,
        thread_id=thread.id,
        resource_id=resource_id or thread.resource_id,
        role=role,
        created_at=created_at or at(0),
        content=content if content is not None else text_content(text or f"text of {message_id}"),
    )


def make_messages(
    thread: Thread,
    count: int,
    *,
    start_ms: int = 0,
    step_ms: int = 1,
    roles: Sequence[str] = ("user", "assistant"),
    text_size: int | None = None,
) -> list[Message]:
    """``count`` messages ``step_ms`` apart. Ids share a unique prefix and end in the zero-padded
    index, so id order, creation order and list order agree; ``text_size`` pads each text."""
    prefix = unique_id("msg")
    messages = []
    for index in range(count):
        text = f"message {index:05d} "
        if text_size is not None:
            text = text + "x" * max(0, text_size - len(text))
        messages.append(
            make_message(
                thread,
                message_id=f"{prefix}-{index:05d}",
                role=roles[index % len(roles)],
                text=text,
                created_at=at(start_ms + index * step_ms),
            )
        )
    return messages


def save_in_batches(store: MemoryStorage, messages: Sequence[Message], batch_size: int = 50) -> None:
    """How a client writes a long history: a few batched calls, not one call per message."""
    for start in range(0, len(messages), batch_size):
        store.save_messages(messages[start : start + batch_size])


def ids(items: Iterable[Any]) -> list[str]:
    return [item.id for item in items]


def wire(items: Any) -> Any:
    """The JSON form callers see: comparing it catches type drift (e.g. Decimal for a number)."""
    if isinstance(items, (list, tuple)):
        return [item.to_wire() for item in items]
    return items.to_wire()


def create_thread(store: MemoryStorage, resource_id: str | None = None, **kwargs: Any) -> Thread:
    """A thread saved in ``store`` (see ``make_thread`` for the arguments)."""
    return store.save_thread(make_thread(resource_id, **kwargs))


def ownership_error_text(thread_id: str, owner_resource_id: str, queried_resource_id: str) -> str:
    """The memory model's exact wording (docs/memory-model.md) for a thread addressed with another resource's id."""
    return (
        f"Thread with id {thread_id} is for resource with id {owner_resource_id} "
        f"but resource {queried_resource_id} was queried."
    )


# ---------------------------------------------------------------- expectations

#: Keys the memory model forbids (pattern ^[a-zA-Z_][a-zA-Z0-9_]*$, at most 128 characters, no
#: __proto__/prototype/constructor), by test id.
INVALID_METADATA_KEYS = {
    "__proto__": "__proto__",
    "prototype": "prototype",
    "constructor": "constructor",
    "leading-digit": "1abc",
    "129-chars": "a" * 129,
    "dash": "has-dash",
    "space": "has space",
    "empty": "",
}


def acceptable_orders(items: Sequence[Any], attribute: str, direction: str) -> list[list[str]]:
    """Id orders a listing may return. The memory model fixes the timestamp direction and breaks ties
    by id without saying in which id direction; either is a total order, so both are accepted
    (but the same one for every tie)."""
    descending = direction == "DESC"
    orders = []
    for ids_descending in (False, True):
        by_id = sorted(items, key=lambda item: item.id, reverse=ids_descending)
        # sorted() is stable even with reverse=True, so ties keep the id order chosen above.
        orders.append(ids(sorted(by_id, key=lambda item: getattr(item, attribute), reverse=descending)))
    return orders
