"""Arguments of the message operations and of semantic search."""

from typing import Annotated, Any

from pydantic import ConfigDict, StrictInt, WithJsonSchema

from memkit.operations.args.base import Args, PerPage


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


_MESSAGE_ID = {"type": "string", "minLength": 1}
_MESSAGE_ID_REF = {"type": "object", "properties": {"id": _MESSAGE_ID}, "required": ["id"]}


def _message_ids_schema_required(schema: dict[str, Any]) -> None:
    # The None default below exists only so that normalize_message_ids can answer a missing
    # value; to clients the field is required and has no default.
    schema["required"] = ["messageIds"]
    schema["properties"]["messageIds"].pop("default", None)


class DeleteMessagesArgs(Args):
    model_config = ConfigDict(json_schema_extra=_message_ids_schema_required)

    # Any, because memkit.operations.calls.normalize_message_ids is the one validator: it names the bad item
    # ("messageIds[0].id must be a non-empty string"), where a pydantic union would report the
    # first alternative that failed ("messageIds.str: Input should be a valid string").
    message_ids: Annotated[
        Any,
        WithJsonSchema(
            {
                "description": "The messages to delete: an id, a list of ids, {id}, or a list of {id}.",
                "anyOf": [
                    _MESSAGE_ID,
                    {"type": "array", "items": {"anyOf": [_MESSAGE_ID, _MESSAGE_ID_REF]}},
                    _MESSAGE_ID_REF,
                ],
            }
        ),
    ] = None


class SearchMemoryArgs(Args):
    search_query: str | None = None
    resource_id: str | None = None
    thread_id: str | None = None
    limit: StrictInt | None = None
    memory_config: dict[str, Any] | None = None
