"""The memory domain's keys on the shared table: the only place they are built.

``docs/dynamodb.md`` documents the key design as a table (access pattern, key or index,
requests and items read), and the tests assert it; in short:

- ``THREAD#<threadId>`` is a thread's partition: its messages (``MSG#<createdAt>#<messageId>``)
  and the thread item itself (``THREAD``, which sorts after every message key). A descending
  Query over ``MSG#`` .. ``THREAD`` returns the thread first (owner, ``messageCount``) and then
  the newest messages: the last N messages with the ownership check and the total cost one
  Query reading N+1 items.
- ``MSGID#<messageId>`` is a small pointer item written in the same transaction as its
  message: strongly consistent lookups by id (BatchGetItem), and the move/re-save detection.
- ``RESOURCE#<resourceId>`` holds the resource (``RESOURCE``; metadata keys as top-level
  ``m_<key>`` attributes so a merge is one UpdateItem) and its thread counter (``THREADCOUNT``).
- ``GSI1`` and ``GSI2`` list a resource's threads by createdAt and by updatedAt
  (``RES#<resourceId>#THREADS``), and ``GSI1`` also lists a resource's messages through the
  pointers (``RES#<resourceId>#MSGS``).
"""

from __future__ import annotations

from datetime import datetime

from memkit.models import DateRange, format_ts

THREAD_SK = "THREAD"
MESSAGE_SK_PREFIX = "MSG#"
# The thread partition reserves every sort key between "MSG#" and "THREAD" for messages, so the
# "thread item + newest messages" Query can range over exactly those.
POINTER_SK = "MSGID"
RESOURCE_SK = "RESOURCE"
THREAD_COUNTER_SK = "THREADCOUNT"
# Index sort key of the thread counter: "~" sorts after the "C#"/"U#" thread keys, so a
# descending listing reads the counter (the total) as its first item.
COUNTER_INDEX_SK = "~COUNT"
CREATED_ORDER_PREFIX = "C#"
UPDATED_ORDER_PREFIX = "U#"
RESOURCE_MESSAGE_PREFIX = "M#"
METADATA_ATTRIBUTE_PREFIX = "m_"


def thread_pk(thread_id: str) -> str:
    return f"THREAD#{thread_id}"


def message_sk(created_at: datetime, message_id: str) -> str:
    # Fixed-width timestamps make text order equal time order; the id breaks ties.
    return f"{MESSAGE_SK_PREFIX}{format_ts(created_at)}#{message_id}"


def message_id_from_sk(sk: str) -> str:
    # Ids cannot contain "#" (validate_id), and neither can the timestamp.
    return sk.split("#", 2)[2]


def pointer_pk(message_id: str) -> str:
    return f"MSGID#{message_id}"


def resource_pk(resource_id: str) -> str:
    return f"RESOURCE#{resource_id}"


def resource_threads_partition(resource_id: str) -> str:
    """GSI1PK and GSI2PK of a resource's threads (and of its thread counter)."""
    return f"RES#{resource_id}#THREADS"


def thread_created_sort_key(created_at: datetime, thread_id: str) -> str:
    return f"{CREATED_ORDER_PREFIX}{format_ts(created_at)}#{thread_id}"


def thread_updated_sort_key(updated_at: datetime, thread_id: str) -> str:
    return f"{UPDATED_ORDER_PREFIX}{format_ts(updated_at)}#{thread_id}"


def resource_messages_partition(resource_id: str) -> str:
    """GSI1PK of the pointers of a resource's messages (listMessagesByResourceId)."""
    return f"RES#{resource_id}#MSGS"


def resource_message_sort_key(created_at: datetime, message_id: str) -> str:
    return f"{RESOURCE_MESSAGE_PREFIX}{format_ts(created_at)}#{message_id}"


def metadata_attribute(key: str) -> str:
    # Metadata keys match ^[a-zA-Z_][a-zA-Z0-9_]*$ (validated), so they are safe name suffixes.
    return f"{METADATA_ATTRIBUTE_PREFIX}{key}"


def timestamp_key_range(prefix: str, date_range: DateRange | None) -> tuple[str, str] | None:
    """Inclusive sort-key bounds ``(low, high)`` selecting ``<prefix><timestamp>#<id>`` keys whose
    timestamp lies in ``date_range``; None when the range is empty.

    "$" sorts right after "#", so ``<prefix><ts>$`` is above every key of that millisecond and
    ``<prefix><ts>`` below all of them: exclusive and inclusive bounds stay exact to the ms.
    """
    low, high = prefix, prefix[:-1] + "$"
    if date_range is not None:
        if date_range.start is not None:
            low = prefix + format_ts(date_range.start) + ("$" if date_range.start_exclusive else "")
        if date_range.end is not None:
            high = prefix + format_ts(date_range.end) + ("" if date_range.end_exclusive else "$")
    return (low, high) if low <= high else None
