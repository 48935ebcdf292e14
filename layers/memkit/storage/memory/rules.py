"""Write rules both memory stores share: task names, what a clone creates, what a message update
makes of a message, and the tenant checks of resource-bound writes (``docs/memory-model.md``)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from memkit.errors import ForbiddenError, ValidationError
from memkit.models import CloneThreadInput, Message, MessageUpdate, Thread, deep_merge, format_ts, parse_model

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


def apply_message_update(message: Message, update: MessageUpdate) -> Message:
    """``message`` with a partial update applied: ``content.metadata`` deep-merges (an explicit
    null replaces it, as inside any deep merge, and as Mastra does), every other given field
    replaces. The result is validated again, so an update cannot store an invalid message."""
    data = message.model_dump()
    for field in ("thread_id", "resource_id", "role", "type", "created_at"):
        if field in update.model_fields_set and getattr(update, field) is not None:
            data[field] = getattr(update, field)
    if update.content is not None:
        patch = update.content
        content = data["content"]
        content.update(patch.model_extra or {})
        if "metadata" in patch.model_fields_set:
            existing = content.get("metadata")
            content["metadata"] = (
                None
                if patch.metadata is None
                else deep_merge(existing if isinstance(existing, dict) else {}, patch.metadata)
            )
    return parse_model(Message, data, what=f"update of message {message.id}")
