"""Arguments of the message operations and of semantic search."""

from typing import Annotated, Any

from pydantic import StrictInt, WithJsonSchema

from memkit.ops_args.base import Args, PerPage


class SaveMessagesArgs(Args):
    # Validated one by one in save_messages, so an error names its index (messages[3]: ...).
    messages: Annotated[
        list[dict[str, Any]],
        WithJsonSchema({"type": "array", "items": {"$ref": "#/components/schemas/Message"}}),
    ]


class ListMessagesArgs(Args):
    thread_id: str | list[str]
    resource_id: str | None = None
    page: StrictInt | None = None
    per_page: PerPage = None
    order_by: dict[str, Any] | None = None
    filter: dict[str, Any] | None = None
    include: list[dict[str, Any]] | None = None
    # Mastra hides its system-reminder messages unless asked; memkit stores none, so this is
    # accepted for compatibility and has no effect.
    include_system_reminders: bool | None = None


class UpdateMessagesArgs(Args):
    messages: list[dict[str, Any]]


class MessageIdRef(Args):
    id: str


class DeleteMessagesArgs(Args):
    message_ids: str | list[str | MessageIdRef] | MessageIdRef


class SearchMemoryArgs(Args):
    search_query: str | None = None
    resource_id: str | None = None
    thread_id: str | None = None
    limit: StrictInt | None = None
    memory_config: dict[str, Any] | None = None
