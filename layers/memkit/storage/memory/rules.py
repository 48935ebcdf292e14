"""Write rules both memory stores share: task names, what a clone creates, and the tenant checks
of resource-bound writes (``docs/memory-model.md``)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from memkit.errors import ForbiddenError, ValidationError
from memkit.models import CloneThreadInput, Message, Thread, format_ts

# Task names end up in SQL JSON paths and DynamoDB set values: identifiers only.
_TASK_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def validate_task_name(task: str) -> None:
    """For ``claim_thread_task`` / ``release_thread_task`` implementations."""
    if not isinstance(task, str) or not _TASK_NAME.match(task):
        raise ValidationError(f"task name {task!r} must match {_TASK_NAME.pattern}", field="task")


def clone_thread_record(
    source: Thread, request: CloneThreadInput, new_thread_id: str, originals: Sequence[Message], now: datetime
) -> Thread:
    """The thread a ``clone_thread`` creates, as it stands once ``originals`` (oldest first) are
    copied into it: provenance under ``metadata.clone``, "Clone of <title>" unless a title is given."""
    clone_info: dict[str, Any] = {"sourceThreadId": source.id, "clonedAt": format_ts(now)}
    if originals:
        clone_info["lastMessageId"] = originals[-1].id
    title = request.title or (f"Clone of {source.title}" if source.title else None)
    return Thread(
        id=new_thread_id,
        resource_id=request.resource_id or source.resource_id,
        title=title,
        metadata={**(request.metadata or {}), "clone": clone_info},
        created_at=now,
        updated_at=now,
        last_message_at=originals[-1].created_at if originals else None,
    )


def clone_message(original: Message, thread: Thread, resource_id: str | None) -> Message:
    """A copy of ``original`` under a new id in the clone ``thread``; ``resource_id`` (the
    clone request's) re-attributes it, otherwise it keeps its author."""
    return original.model_copy(
        update={
            "id": str(uuid.uuid4()),
            "thread_id": thread.id,
            "resource_id": resource_id or original.resource_id,
            "content": original.content.model_copy(deep=True),
        }
    )


def foreign_message_error(message_id: str) -> ForbiddenError:
    """What a tenant-bound write answers for a message in another resource's thread: it names
    the id the caller sent and nothing of the owner."""
    return ForbiddenError(f"Message with id {message_id} belongs to another resource")


def check_tenant_attribution(messages: Sequence[Message], tenant: str | None) -> None:
    """A tenant-bound save or move may only attribute messages to the tenant."""
    if tenant is None:
        return
    for message in messages:
        if message.resource_id != tenant:
            raise ForbiddenError(f"The caller may not access resource {message.resource_id}")
