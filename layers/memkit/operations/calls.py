"""Memory operations as named JSON calls, shared by every transport.

Each operation takes camelCase ``args`` (validated by its pydantic model in
``memkit.operations.args``), the caller's ``Principal`` and the agent's ``Memory``, and returns a
JSON-ready result. The HTTP routes (``memkit.api.routes``) translate a request into these args;
``memkit.operations.invoke`` reads them from a Lambda event. Both transports therefore
validate, authorize and map errors (``replies.describe_error``) identically.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from memkit.errors import ForbiddenError, NotFoundError, OwnershipError, ValidationError
from memkit.memory import Memory
from memkit.models import (
    CloneThreadInput,
    IncludeItem,
    Message,
    MessageFilter,
    MessageUpdate,
    parse_model,
    validate_id,
)
from memkit.operations.principal import Principal
from memkit.storage.memory.base import UNSET

if TYPE_CHECKING:
    from memkit.operations.args.base import Args
    from memkit.operations.args.messages import (
        DeleteMessagesArgs,
        ListMessagesArgs,
        SaveMessagesArgs,
        SearchMemoryArgs,
        UpdateMessagesArgs,
    )
    from memkit.operations.args.resources import ResourceRef, UpdateResourceArgs, UpdateWorkingMemoryArgs
    from memkit.operations.args.threads import CloneThreadArgs, CreateThreadArgs, ListThreadsArgs, ThreadRef, UpdateThreadArgs


# ---------------------------------------------------------------- operations


def create_thread(memory: Memory, principal: Principal, args: CreateThreadArgs) -> dict[str, Any]:
    resource_id = principal.resource_for(args.resource_id)
    if resource_id is None:
        raise ValidationError("resourceId is required", field="resourceId")
    thread = memory.create_thread(
        resource_id=resource_id, thread_id=args.thread_id, title=args.title, metadata=args.metadata
    )
    return thread.to_wire()


def get_thread(memory: Memory, principal: Principal, args: ThreadRef) -> dict[str, Any]:
    return memory.require_thread(args.thread_id, principal.resource_for(args.resource_id)).to_wire()


def list_threads(memory: Memory, principal: Principal, args: ListThreadsArgs) -> dict[str, Any]:
    page = memory.list_threads(
        resource_id=principal.resource_for(args.resource_id),
        metadata=args.metadata,
        page=args.page,
        per_page=args.per_page,
        order_by=args.order_by,
    )
    return page.to_wire()


def update_thread(memory: Memory, principal: Principal, args: UpdateThreadArgs) -> dict[str, Any]:
    thread = memory.update_thread(
        args.thread_id,
        # Absent leaves the title alone; an explicit null clears it.
        title=args.title if "title" in args.model_fields_set else UNSET,
        metadata=args.metadata,
        resource_id=principal.resource_for(args.resource_id),
    )
    return thread.to_wire()


def delete_thread(memory: Memory, principal: Principal, args: ThreadRef) -> dict[str, Any]:
    memory.delete_thread(args.thread_id, principal.resource_for(args.resource_id))
    return {"result": "Thread deleted"}


def save_messages(memory: Memory, principal: Principal, args: SaveMessagesArgs) -> dict[str, Any]:
    messages = [parse_model(Message, raw, what=f"messages[{i}]") for i, raw in enumerate(args.messages)]
    for message in messages:
        principal.resource_for(message.resource_id)
    saved = memory.save_messages(messages, tenant=principal.resource_id)
    return {"messages": [m.to_wire() for m in saved]}


def list_messages(memory: Memory, principal: Principal, args: ListMessagesArgs) -> dict[str, Any]:
    include = [parse_model(IncludeItem, item, what=f"include[{i}]") for i, item in enumerate(args.include or [])]
    message_filter = parse_model(MessageFilter, args.filter or {}, what="filter")
    page = memory.list_messages(
        thread_id=args.thread_id,
        resource_id=principal.resource_for(args.resource_id),
        include=include,
        filter=message_filter,
        page=args.page,
        per_page=args.per_page,
        order_by=args.order_by,
    )
    wire = page.to_wire()
    return {
        "messages": wire["messages"],
        # Mastra's server answers with UI-format messages here when asked; memkit stores the
        # database format only, which clients convert themselves.
        "uiMessages": None,
        "total": wire["total"],
        "page": wire["page"],
        "perPage": wire["perPage"],
        "hasMore": wire["hasMore"],
    }


def update_messages(memory: Memory, principal: Principal, args: UpdateMessagesArgs) -> dict[str, Any]:
    updates = [parse_model(MessageUpdate, raw, what=f"messages[{i}]") for i, raw in enumerate(args.messages)]
    for update in updates:
        principal.resource_for(update.resource_id)
    updated = memory.update_messages(updates, tenant=principal.resource_id)
    return {"messages": [m.to_wire() for m in updated]}


def delete_messages(memory: Memory, principal: Principal, args: DeleteMessagesArgs) -> dict[str, Any]:
    message_ids = normalize_message_ids(args.message_ids)
    deleted = memory.delete_messages(message_ids, tenant=principal.resource_id)
    return {"success": True, "message": f"{deleted} message(s) deleted successfully"}


def get_working_memory(memory: Memory, principal: Principal, args: ThreadRef) -> dict[str, Any]:
    view = memory.get_working_memory(thread_id=args.thread_id, resource_id=principal.resource_for(args.resource_id))
    return view.to_wire()


def update_working_memory(memory: Memory, principal: Principal, args: UpdateWorkingMemoryArgs) -> dict[str, Any]:
    memory.update_working_memory(
        thread_id=args.thread_id,
        resource_id=principal.resource_for(args.resource_id),
        working_memory=args.working_memory,
    )
    return {"success": True}


def clone_thread(memory: Memory, principal: Principal, args: CloneThreadArgs) -> dict[str, Any]:
    if principal.bound:
        # The clone's owner is the caller, so only the source needs an ownership check.
        memory.require_thread(args.thread_id, principal.resource_id)
    request = parse_model(
        CloneThreadInput,
        {
            "sourceThreadId": args.thread_id,
            "newThreadId": args.new_thread_id,
            "resourceId": principal.resource_for(args.resource_id),
            "title": args.title,
            "metadata": args.metadata,
            "options": args.options,
        },
        what="clone",
    )
    return memory.clone_thread(request).to_wire()


def search_memory(memory: Memory, principal: Principal, args: SearchMemoryArgs) -> dict[str, Any]:
    resource_id = principal.resource_for(args.resource_id)
    if resource_id is None:
        raise ValidationError("resourceId is required", field="resourceId")
    return memory.search(
        search_query=args.search_query or "",
        resource_id=resource_id,
        thread_id=args.thread_id,
        limit=args.limit,
        memory_config=args.memory_config,
    )


def get_resource(memory: Memory, principal: Principal, args: ResourceRef) -> dict[str, Any]:
    resource_id = principal.resource_for(args.resource_id)
    resource = memory.get_resource(resource_id)
    if resource is None:
        raise NotFoundError(f"Resource with id {resource_id} not found")
    return resource.to_wire()


def update_resource(memory: Memory, principal: Principal, args: UpdateResourceArgs) -> dict[str, Any]:
    resource = memory.update_resource(
        principal.resource_for(args.resource_id),
        working_memory=args.working_memory if "working_memory" in args.model_fields_set else UNSET,
        metadata=args.metadata,
    )
    return resource.to_wire()


def erase_resource(memory: Memory, principal: Principal, args: ResourceRef) -> dict[str, Any]:
    thread_ids = memory.erase_resource(principal.resource_for(args.resource_id))
    return {"result": "Resource erased", "deletedThreadIds": thread_ids}


# ---------------------------------------------------------------- helpers


def normalize_message_ids(value: Any) -> list[str]:
    """Validates ``messageIds`` as the client sends it: a string, a list of strings, ``{id}`` or a
    list of ``{id}``. Returns distinct ids in the order given. The only check of the field, on
    every transport (``DeleteMessagesArgs`` accepts anything), so its errors name the bad item."""
    if value is None:
        raise ValidationError("messageIds is required", field="messageIds")
    if isinstance(value, list):
        items = [(f"messageIds[{i}]", item) for i, item in enumerate(value)]
    else:
        items = [("messageIds", value)]
    ids: list[str] = []
    for field, item in items:
        if isinstance(item, dict):
            item, field = item.get("id"), f"{field}.id"
        ids.append(validate_id(item, field))
    return list(dict.fromkeys(ids))


class Operation(NamedTuple):
    name: str
    #: ``"family:Class"`` in ``memkit.operations.args``, imported on first use (see that package).
    args_ref: str
    run: Callable[[Memory, Principal, Any], Any]
    summary: str

    @property
    def args_model(self) -> type[Args]:
        family, _, class_name = self.args_ref.partition(":")
        return getattr(importlib.import_module(f"memkit.operations.args.{family}"), class_name)


OPERATIONS: dict[str, Operation] = {
    op.name: op
    for op in (
        Operation("createThread", "threads:CreateThreadArgs", create_thread, "Create (or overwrite) a thread"),
        Operation("getThread", "threads:ThreadRef", get_thread, "Get a thread"),
        Operation("listThreads", "threads:ListThreadsArgs", list_threads, "List threads, filtered and paginated"),
        Operation("updateThread", "threads:UpdateThreadArgs", update_thread, "Set the title, merge metadata"),
        Operation("deleteThread", "threads:ThreadRef", delete_thread, "Delete a thread and its messages"),
        Operation("saveMessages", "messages:SaveMessagesArgs", save_messages, "Save messages (all or nothing)"),
        Operation("listMessages", "messages:ListMessagesArgs", list_messages, "List a thread's messages"),
        Operation("updateMessages", "messages:UpdateMessagesArgs", update_messages, "Partially update messages"),
        Operation("deleteMessages", "messages:DeleteMessagesArgs", delete_messages, "Delete messages by id"),
        Operation("getWorkingMemory", "threads:ThreadRef", get_working_memory, "Get working memory"),
        Operation(
            "updateWorkingMemory", "resources:UpdateWorkingMemoryArgs", update_working_memory, "Update working memory"
        ),
        Operation("cloneThread", "threads:CloneThreadArgs", clone_thread, "Clone a thread with its messages"),
        Operation("searchMemory", "messages:SearchMemoryArgs", search_memory, "Semantic search over a resource's messages"),
        Operation("getResource", "resources:ResourceRef", get_resource, "Get a resource"),
        Operation("updateResource", "resources:UpdateResourceArgs", update_resource, "Upsert a resource"),
        Operation("eraseResource", "resources:ResourceRef", erase_resource, "Erase a resource and everything it owns"),
    )
}


def run(name: str, memory: Memory, principal: Principal, args: Mapping[str, Any]) -> Any:
    """Validate ``args`` for operation ``name`` and run it. Raises domain errors."""
    operation = OPERATIONS.get(name)
    if operation is None:
        raise ValidationError(f"Unknown op {name!r}; expected one of {', '.join(OPERATIONS)}", field="op")
    parsed = parse_model(operation.args_model, dict(args))
    try:
        return operation.run(memory, principal, parsed)
    except OwnershipError as exc:
        if not principal.bound:
            raise
        # Mastra's text names the thread's owner: fine for a trusted backend, a disclosure to
        # an end user bound to one resource. Ids are global, so the refusal (rather than a 404)
        # still tells that the thread exists; docs/security.md says why that is accepted.
        raise ForbiddenError(f"Thread with id {exc.thread_id} belongs to another resource") from None
