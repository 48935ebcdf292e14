"""The memory domain's items on the shared table, and their conversion to and from the model.

Five item classes, declared on the table's ``Item`` base like every domain's (``entity_class``)
and told apart by ``entity``: threads, messages, message-id pointers, resources and each
resource's thread counter. Building an item checks DynamoDB's 400 KB item limit, so an oversized
write fails before anything is sent.
"""

from __future__ import annotations

import functools
import json
from datetime import datetime
from typing import Any, NamedTuple

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute, UnicodeSetAttribute

from memkit.models import Message, Resource, Thread
from memkit.storage.dynamodb.table import JSONTextAttribute, TableModels, TimestampAttribute, checked_size, entity_class
from memkit.storage.memory.dynamodb.keys import (
    METADATA_ATTRIBUTE_PREFIX,
    POINTER_SK,
    THREAD_SK,
    message_sk,
    pointer_pk,
    resource_message_sort_key,
    resource_messages_partition,
    resource_threads_partition,
    thread_created_sort_key,
    thread_pk,
    thread_updated_sort_key,
)


class MemoryItems(NamedTuple):
    """The memory item classes of one table; ``item`` is the table's polymorphic base."""

    item: Any
    thread: Any
    message: Any
    pointer: Any
    resource: Any
    thread_counter: Any

    @property
    def table_connection(self) -> Any:
        return self.item._get_connection()


@functools.cache
def memory_items(models: TableModels) -> MemoryItems:
    """Declared once per table: pynamodb registers each discriminator on the base class."""
    thread = entity_class(
        models,
        "thread",
        {
            "resource_id": UnicodeAttribute(attr_name="resourceId"),
            "title": UnicodeAttribute(null=True),
            "metadata": JSONTextAttribute(null=True),
            "created_at": TimestampAttribute(attr_name="createdAt"),
            "updated_at": TimestampAttribute(attr_name="updatedAt"),
            "last_message_at": TimestampAttribute(null=True, attr_name="lastMessageAt"),
            "message_count": NumberAttribute(default=0, attr_name="messageCount"),
            # Messages attributed to another resource. While it is 0 (nearly always), listing the
            # thread for its owner needs no resource filter, so messageCount is the exact total.
            "foreign_message_count": NumberAttribute(default=0, attr_name="foreignMessageCount"),
            # One-off tasks started for the thread (claim_thread_task); not part of the Thread shape.
            "claimed_tasks": UnicodeSetAttribute(null=True, attr_name="claimedTasks"),
        },
    )
    message = entity_class(
        models,
        "message",
        {
            "message_id": UnicodeAttribute(attr_name="id"),
            "thread_id": UnicodeAttribute(attr_name="threadId"),
            "resource_id": UnicodeAttribute(attr_name="resourceId"),
            "role": UnicodeAttribute(),
            "message_type": UnicodeAttribute(attr_name="type"),
            "created_at": TimestampAttribute(attr_name="createdAt"),
            "content": JSONTextAttribute(),
        },
    )
    pointer = entity_class(
        models,
        "msgid",
        {
            "thread_id": UnicodeAttribute(attr_name="threadId"),
            "resource_id": UnicodeAttribute(attr_name="resourceId"),
            "message_sk": UnicodeAttribute(attr_name="sk"),
            "role": UnicodeAttribute(),
            "foreign": BooleanAttribute(default=False),
        },
    )
    resource = entity_class(
        models,
        "resource",
        {
            "working_memory": UnicodeAttribute(null=True, attr_name="workingMemory"),
            # Distinguishes "metadata {}" from "no metadata" once the m_<key> attributes are read.
            "has_metadata": BooleanAttribute(null=True, attr_name="hasMetadata"),
            "created_at": TimestampAttribute(attr_name="createdAt"),
            "updated_at": TimestampAttribute(attr_name="updatedAt"),
        },
    )
    thread_counter = entity_class(models, "threadcount", {"thread_count": NumberAttribute(default=0, attr_name="count")})
    return MemoryItems(models.item, thread, message, pointer, resource, thread_counter)


def message_order(message: Message) -> tuple[datetime, str]:
    return (message.created_at, message.id)


def thread_from_item(item: Any) -> Thread:
    return Thread(
        id=item.pk[len("THREAD#") :],
        resource_id=item.resource_id,
        title=item.title,
        metadata=item.metadata,
        created_at=item.created_at,
        updated_at=item.updated_at,
        last_message_at=item.last_message_at,
    )


def message_from_item(item: Any) -> Message:
    return Message(
        id=item.message_id,
        thread_id=item.thread_id,
        resource_id=item.resource_id,
        role=item.role,
        type=item.message_type,
        created_at=item.created_at,
        content=item.content,
    )


def thread_item(items: MemoryItems, thread: Thread) -> Any:
    partition = resource_threads_partition(thread.resource_id)
    item = items.thread(
        thread_pk(thread.id),
        THREAD_SK,
        resource_id=thread.resource_id,
        title=thread.title,
        metadata=thread.metadata,
        created_at=thread.created_at,
        updated_at=thread.updated_at,
        last_message_at=thread.last_message_at,
        gsi1_pk=partition,
        gsi1_sk=thread_created_sort_key(thread.created_at, thread.id),
        gsi2_pk=partition,
        gsi2_sk=thread_updated_sort_key(thread.updated_at, thread.id),
    )
    checked_size(item, f"Thread {thread.id}")
    return item


def message_item(items: MemoryItems, message: Message) -> tuple[Any, int]:
    item = items.message(
        thread_pk(message.thread_id),
        message_sk(message.created_at, message.id),
        message_id=message.id,
        thread_id=message.thread_id,
        resource_id=message.resource_id,
        role=message.role,
        message_type=message.type,
        created_at=message.created_at,
        content=message.content.model_dump(mode="json"),
    )
    return item, checked_size(item, f"Message {message.id}")


def pointer_item(items: MemoryItems, message: Message, *, foreign: bool) -> Any:
    return items.pointer(
        pointer_pk(message.id),
        POINTER_SK,
        thread_id=message.thread_id,
        resource_id=message.resource_id,
        message_sk=message_sk(message.created_at, message.id),
        role=message.role,
        foreign=foreign,
        gsi1_pk=resource_messages_partition(message.resource_id),
        gsi1_sk=resource_message_sort_key(message.created_at, message.id),
    )


def resource_from_raw(items: MemoryItems, raw: dict[str, Any]) -> Resource:
    item = items.resource.from_raw_data(raw)
    metadata = {
        name[len(METADATA_ATTRIBUTE_PREFIX) :]: json.loads(value["S"])
        for name, value in raw.items()
        if name.startswith(METADATA_ATTRIBUTE_PREFIX)
    }
    return Resource(
        id=item.pk[len("RESOURCE#") :],
        working_memory=item.working_memory,
        metadata=metadata if metadata or item.has_metadata else None,
        created_at=item.created_at,
        updated_at=item.updated_at,
    )
