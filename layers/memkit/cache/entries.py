"""What the memory cache keeps, and how a cached thread answers reads and follows a save.

A **thread entry** holds the thread (or "no such thread"), its newest ``window`` messages, the
message total and how many messages another resource owns; ``serve_messages`` answers the
listings it holds exactly, and ``apply_save`` merges a save into it from the store's receipt. A
**resource entry** holds the resource record or "no such resource". No value exceeds
``MAX_VALUE_BYTES``: ``fitted`` cuts a window that would, oldest messages first.
"""

from __future__ import annotations

import json
from datetime import datetime

from pydantic import BaseModel

from memkit.errors import OwnershipError
from memkit.models import ListMessagesInput, Message, MessagePage, Resource, Thread, page_meta
from memkit.storage.memory.base import SaveReceipt

MAX_VALUE_BYTES = 900_000


class ThreadEntry(BaseModel):
    thread: Thread | None
    #: newest first: (createdAt, id) descending, as the stores order ties
    messages: list[Message]
    total: int
    foreign: int | None


class ResourceEntry(BaseModel):
    resource: Resource | None


def _order_key(message: Message) -> tuple[datetime, str]:
    return (message.created_at, message.id)


def _encode(entry: BaseModel) -> str | None:
    """The entry as stored, or None when it is too big for one Upstash request (the value
    travels as a JSON string, so its escaped size is what counts)."""
    encoded = entry.model_dump_json(by_alias=True)
    # No character escapes to more than 6 bytes ("\\u0001"), so short values skip the measure.
    if len(encoded) * 6 > MAX_VALUE_BYTES and len(json.dumps(encoded, ensure_ascii=False).encode()) > MAX_VALUE_BYTES:
        return None
    return encoded


def fitted(entry: BaseModel) -> tuple[BaseModel, str | None]:
    """``entry`` encoded, with a thread's window cut (oldest messages first) until it fits; a
    shorter window still answers get_thread and the smaller "last N" reads."""
    encoded = _encode(entry)
    while encoded is None and isinstance(entry, ThreadEntry) and entry.messages:
        entry = entry.model_copy(update={"messages": entry.messages[: len(entry.messages) // 2]})
        encoded = _encode(entry)
    return entry, encoded


def serve_messages(entry: ThreadEntry, query: ListMessagesInput) -> MessagePage | None:
    """The page ``query`` asks for, if ``entry`` holds it exactly; None otherwise. Raises the
    store's ownership error for another resource's thread."""
    thread = entry.thread
    if thread is None or not cacheable_listing(query):
        return None
    if query.resource_id is not None and query.resource_id != thread.resource_id:
        raise OwnershipError(thread.id, thread.resource_id, query.resource_id)
    messages, total = entry.messages, entry.total
    complete = len(messages) == total
    if query.resource_id is not None and entry.foreign != 0:
        if entry.foreign is None:
            return None
        # Owner messages inside a newest-K window are the owner's newest ones.
        messages = [m for m in messages if m.resource_id == thread.resource_id]
        total -= entry.foreign
    descending = query.order_by.direction == "DESC"
    if complete:
        ordered = messages if descending else list(reversed(messages))
        if query.per_page is None:
            items = ordered
        else:
            start = query.page * query.per_page
            items = ordered[start : start + query.per_page]
    elif descending and query.page == 0 and query.per_page is not None and query.per_page <= len(messages):
        items = messages[: query.per_page]
    else:
        return None
    items = [m.model_copy(deep=True) for m in items]
    return MessagePage(messages=items, **page_meta(total, query.page, query.per_page, len(items)))


def cacheable_listing(query: ListMessagesInput) -> bool:
    return (
        len(query.thread_ids) == 1
        and not query.include
        and query.filter.date_range is None
        and not query.filter.roles
        and query.order_by.field == "createdAt"
    )


def last_n_listing(query: ListMessagesInput, window: int) -> bool:
    """The read an agent turn makes, which a full window always answers."""
    return (
        cacheable_listing(query)
        and query.order_by.direction == "DESC"
        and query.page == 0
        and query.per_page is not None
        and query.per_page <= window
    )


def apply_save(entry: ThreadEntry, thread_id: str, receipt: SaveReceipt, window: int) -> ThreadEntry | None:
    """``entry`` (the store's state of the thread just before the save) with the save applied,
    or None when the result is not certain (then the caller drops the entry)."""
    thread = entry.thread
    previous = receipt.previous
    if thread is None or receipt.bumped_at is None or previous is None:
        return None
    # The stores bump updatedAt to the save time; with a later value already there one keeps
    # it and another overwrites it, so only the unambiguous case is followed.
    if receipt.bumped_at < thread.updated_at:
        return None
    latest: dict[str, Message] = {}
    for message in receipt.messages:
        latest[message.id] = message  # the store keeps the last of repeated ids
    for message in latest.values():
        before = previous.get(message.id)
        if before is not None and before.thread_id == thread_id and message.thread_id != thread_id:
            # It left this thread in the same save: the entry cannot know what slides into the
            # window in its place, and the caller's drop of the source skips a thread it puts.
            return None
    saved = [m for m in latest.values() if m.thread_id == thread_id]
    if not saved:
        return None
    owner = thread.resource_id
    total, foreign = entry.total, entry.foreign
    complete = len(entry.messages) == entry.total
    if not complete and not entry.messages:
        return None  # nothing known about where the window starts
    # A message older than the window's oldest may sort among messages the entry never saw.
    boundary = None if complete else _order_key(entry.messages[-1])
    by_id = {m.id: m for m in entry.messages}
    for message in saved:
        before = previous.get(message.id)
        if before is None or before.thread_id != thread_id:
            if message.id in by_id:
                return None  # the receipt and the entry disagree: trust neither
            total += 1
            if foreign is not None:
                foreign += int(message.resource_id != owner)
        else:
            if complete and message.id not in by_id:
                return None
            if foreign is not None:
                foreign += int(message.resource_id != owner) - int(before.resource_id != owner)
        by_id.pop(message.id, None)
        if boundary is None or _order_key(message) >= boundary:
            by_id[message.id] = message
    newest = max(m.created_at for m in saved)
    last = thread.last_message_at
    bumped = thread.model_copy(
        update={
            "updated_at": receipt.bumped_at,
            "last_message_at": newest if last is None or newest > last else last,
        }
    )
    messages = sorted(by_id.values(), key=_order_key, reverse=True)[:window]
    return ThreadEntry(thread=bumped, messages=messages, total=total, foreign=foreign)
