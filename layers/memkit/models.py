"""Data shapes of the memory domain (Mastra's storage model, messages in the v2 format).

Python attributes are snake_case; the wire (JSON) stays camelCase so Mastra clients
interoperate. ``to_wire()`` gives the JSON-ready dict; ``Model.model_validate(json)``
accepts either spelling.

Timestamps are timezone-aware UTC ``datetime`` values truncated to milliseconds, because the
wire format (``2025-01-01T00:00:00.000Z``) carries milliseconds and must round-trip exactly.
"""

# No ``from __future__ import annotations`` in the model modules (this one, agents, ops_args):
# pydantic would compile every field's annotation string when it defines the class, a fifth of
# the time these models take to define on a cold start.
import re
from datetime import datetime, timezone
from typing import Any, Literal, TypeVar, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_serializer,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from memkit.errors import ValidationError

ModelT = TypeVar("ModelT", bound=BaseModel)

# ---------------------------------------------------------------- timestamps


def utc_now() -> datetime:
    return to_ms(datetime.now(timezone.utc))


def to_ms(value: datetime) -> datetime:
    """Normalise to aware UTC with millisecond precision (what the wire can carry)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    value = value.astimezone(timezone.utc)
    return value.replace(microsecond=(value.microsecond // 1000) * 1000)


def format_ts(value: datetime) -> str:
    """``2025-01-01T00:00:00.000Z``: fixed width, so it also sorts lexicographically."""
    value = to_ms(value)
    # Not strftime: its %Y does not pad years before 1000, which would break the fixed width.
    return (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d}T"
        f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}.{value.microsecond // 1000:03d}Z"
    )


def parse_ts(value: Any, *, field: str = "date") -> datetime:
    if isinstance(value, datetime):
        return to_ms(value)
    # Out-of-range values (epoch 1e20, NaN, 9999-12-31 at -05:00) surface as ValueError,
    # OverflowError or OSError from datetime; all of them are the caller's bad input.
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        # JavaScript clients sometimes send epoch milliseconds.
        try:
            return to_ms(datetime.fromtimestamp(value / 1000, tz=timezone.utc))
        except (ValueError, OverflowError, OSError):
            pass
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        try:
            return to_ms(datetime.fromisoformat(text))
        except (ValueError, OverflowError):
            pass
    raise ValidationError(f"{field} must be an ISO-8601 timestamp, got {value!r}", field=field)


# ---------------------------------------------------------------- validation helpers

_METADATA_KEY = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_FORBIDDEN_KEYS = frozenset({"__proto__", "prototype", "constructor"})
MAX_ID_LENGTH = 255
# URL-safe ids: the client does not URL-encode path ids (mastra-routes.md).
_ID = re.compile(r"^[A-Za-z0-9_\-.:@~]+$")


def validate_id(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{field} must be a non-empty string", field=field)
    if len(value) > MAX_ID_LENGTH:
        raise ValidationError(f"{field} is longer than {MAX_ID_LENGTH} characters", field=field)
    if not _ID.match(value):
        raise ValidationError(
            f"{field} {value!r} contains characters outside [A-Za-z0-9_-.:@~]", field=field
        )
    return value


def validate_metadata_keys(metadata: dict[str, Any] | None, field: str = "metadata") -> None:
    if metadata is None:
        return
    if not isinstance(metadata, dict):
        raise ValidationError(f"{field} must be an object", field=field)
    for key in metadata:
        if (
            not isinstance(key, str)
            or len(key) > 128
            or key in _FORBIDDEN_KEYS
            or not _METADATA_KEY.match(key)
        ):
            raise ValidationError(
                f"{field} key {key!r} is invalid: keys match ^[a-zA-Z_][a-zA-Z0-9_]*$, "
                "are at most 128 characters and are not __proto__, prototype or constructor",
                field=field,
            )


def deep_merge(base: dict[str, Any] | None, patch: dict[str, Any] | None) -> dict[str, Any]:
    """Objects merge key by key; anything else (lists, scalars, null) replaces."""
    merged = dict(base or {})
    for key, value in (patch or {}).items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


# ---------------------------------------------------------------- base model


class WireModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        validate_assignment=False,
        # Validators are built on a model's first use, not at import: a Lambda cold start then
        # pays only for the models its first request touches (about 9 ms less, see bench).
        defer_build=True,
    )

    def to_wire(self) -> dict[str, Any]:
        try:
            return self.model_dump(mode="json", by_alias=True, exclude_none=False)
        except ValueError:
            # pydantic gives up serializing past ~250 levels. Input is refused long before
            # that (memkit.jsonvalues), but a value stored by an older version must still read
            # back rather than break every read of its thread.
            return _plain_wire(self)

    @field_serializer("*", when_used="json", check_fields=False)
    def _serialise_datetimes(self, value: Any) -> Any:
        if isinstance(value, datetime):
            return format_ts(value)
        return value


def _plain_wire(value: Any) -> Any:
    """``to_wire`` without pydantic's serializer: the JSON encoder that renders the response
    handles nesting up to the interpreter's recursion limit."""
    if isinstance(value, BaseModel):
        fields = type(value).model_fields
        wire = {
            (info.alias or name): _plain_wire(getattr(value, name)) for name, info in fields.items()
        }
        wire.update({key: _plain_wire(item) for key, item in (value.model_extra or {}).items()})
        return wire
    if isinstance(value, datetime):
        return format_ts(value)
    if isinstance(value, list):
        return [_plain_wire(item) for item in value]
    return value


def _coerce_ts(value: Any, info_field: str) -> Any:
    if value is None:
        return None
    return parse_ts(value, field=info_field)


# ---------------------------------------------------------------- entities


class Thread(WireModel):
    id: str
    resource_id: str
    title: str | None = None
    metadata: dict[str, Any] | None = None
    created_at: datetime
    updated_at: datetime
    last_message_at: datetime | None = None

    @field_validator("id")
    @classmethod
    def _id(cls, v: Any) -> str:
        return validate_id(v, "threadId")

    @field_validator("resource_id")
    @classmethod
    def _resource_id(cls, v: Any) -> str:
        return validate_id(v, "resourceId")

    @field_validator("metadata")
    @classmethod
    def _metadata(cls, v: Any) -> Any:
        validate_metadata_keys(v)
        return v

    @field_validator("created_at", "updated_at", "last_message_at", mode="before")
    @classmethod
    def _ts(cls, v: Any, info: Any) -> Any:
        return _coerce_ts(v, to_camel(info.field_name))


class Resource(WireModel):
    id: str
    working_memory: str | None = None
    metadata: dict[str, Any] | None = None
    created_at: datetime
    updated_at: datetime

    @field_validator("id")
    @classmethod
    def _id(cls, v: Any) -> str:
        return validate_id(v, "resourceId")

    @field_validator("metadata")
    @classmethod
    def _metadata(cls, v: Any) -> Any:
        validate_metadata_keys(v)
        return v

    @field_validator("created_at", "updated_at", mode="before")
    @classmethod
    def _ts(cls, v: Any, info: Any) -> Any:
        return _coerce_ts(v, to_camel(info.field_name))


Role = Literal["user", "assistant", "system", "signal"]


class MessageContent(BaseModel):
    """Mastra's v2 content. Unknown fields are kept and round-trip untouched."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)

    format: Literal[2] = 2
    parts: list[dict[str, Any]] = Field(default_factory=list)

    @field_validator("parts")
    @classmethod
    def _parts(cls, parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for index, part in enumerate(parts):
            if not isinstance(part.get("type"), str) or not part["type"]:
                raise ValidationError(
                    f"content.parts[{index}].type must be a non-empty string", field="content.parts"
                )
        return parts

    def text(self) -> str:
        """The message's plain text: text parts joined, else the legacy ``content`` string."""
        texts = [p.get("text", "") for p in self.parts if p.get("type") == "text"]
        if any(texts):
            return "\n".join(t for t in texts if t)
        legacy = (self.model_extra or {}).get("content")
        return legacy if isinstance(legacy, str) else ""


class Message(WireModel):
    id: str
    thread_id: str
    resource_id: str
    role: Role
    type: str = "v2"
    created_at: datetime
    content: MessageContent

    @field_validator("id")
    @classmethod
    def _id(cls, v: Any) -> str:
        return validate_id(v, "message id")

    @field_validator("thread_id", mode="before")
    @classmethod
    def _thread_id(cls, v: Any) -> str:
        if not isinstance(v, str) or not v.strip():
            raise ValidationError("threadId must be a non-empty string", field="threadId")
        return validate_id(v, "threadId")

    @field_validator("resource_id", mode="before")
    @classmethod
    def _resource_id(cls, v: Any) -> str:
        return validate_id(v, "resourceId")

    @field_validator("created_at", mode="before")
    @classmethod
    def _ts(cls, v: Any) -> Any:
        return parse_ts(v, field="createdAt")

    @field_validator("content", mode="before")
    @classmethod
    def _content(cls, v: Any) -> Any:
        if isinstance(v, str):
            # Legacy plain-string content is promoted to a single text part.
            return {"format": 2, "parts": [{"type": "text", "text": v}], "content": v}
        return v

    def text(self) -> str:
        return self.content.text()


class MessageContentPatch(BaseModel):
    """Partial content for updateMessages: metadata deep-merges, other given fields replace."""

    model_config = ConfigDict(extra="allow", defer_build=True)

    metadata: dict[str, Any] | None = None


class MessageUpdate(WireModel):
    id: str
    thread_id: str | None = None
    resource_id: str | None = None
    role: Role | None = None
    type: str | None = None
    created_at: datetime | None = None
    content: MessageContentPatch | None = None

    @field_validator("created_at", mode="before")
    @classmethod
    def _ts(cls, v: Any) -> Any:
        return _coerce_ts(v, "createdAt")

    @field_validator("thread_id")
    @classmethod
    def _thread_id(cls, v: Any) -> Any:
        return None if v is None else validate_id(v, "threadId")


# ---------------------------------------------------------------- list inputs and outputs

OrderField = Literal["createdAt", "updatedAt"]
Direction = Literal["ASC", "DESC"]


class OrderBy(WireModel):
    field: OrderField = "createdAt"
    direction: Direction = "DESC"

    @classmethod
    def parse(cls, value: Any, *, default: "OrderBy") -> "OrderBy":
        """A field alone means DESC; a direction alone means createdAt; nothing means ``default``."""
        if value is None:
            return default
        if isinstance(value, OrderBy):
            return value
        if not isinstance(value, dict):
            raise ValidationError("orderBy must be an object {field, direction}", field="orderBy")
        field_name = value.get("field")
        direction = value.get("direction")
        if field_name is None and direction is None:
            return default
        if field_name not in (None, "createdAt", "updatedAt"):
            raise ValidationError(
                f"orderBy.field must be createdAt or updatedAt, got {field_name!r}", field="orderBy.field"
            )
        if isinstance(direction, str):
            direction = direction.upper()
        if direction not in (None, "ASC", "DESC"):
            raise ValidationError(
                f"orderBy.direction must be ASC or DESC, got {direction!r}", field="orderBy.direction"
            )
        return cls(field=field_name or "createdAt", direction=direction or "DESC")


# Valid by construction: validating them here would build OrderBy's validator at import.
THREAD_ORDER_DEFAULT = OrderBy.model_construct(field="createdAt", direction="DESC")
MESSAGE_ORDER_DEFAULT = OrderBy.model_construct(field="createdAt", direction="ASC")
THREADS_PER_PAGE_DEFAULT = 100
MESSAGES_PER_PAGE_DEFAULT = 40


# The largest page number, page size, include window or clone limit: far beyond any real
# history, and small enough that offsets (page x perPage) stay inside the 64-bit integers
# SQLite binds.
MAX_COUNT = 2**31 - 1


def check_count(value: int, field: str) -> int:
    if not 0 <= value <= MAX_COUNT:
        raise ValidationError(f"{field} must be an integer from 0 to {MAX_COUNT}, got {value}", field=field)
    return value


def normalize_pagination(page: Any, per_page: Any, default: int) -> tuple[int, int | None]:
    """Returns (page, per_page) where per_page None means "everything" (perPage false)."""
    if page is None:
        page = 0
    if isinstance(page, bool) or not isinstance(page, int):
        raise ValidationError(f"page must be a non-negative integer, got {page!r}", field="page")
    check_count(page, "page")
    if per_page is False:
        if page != 0:
            raise ValidationError("perPage false returns everything and requires page 0", field="page")
        return 0, None
    if per_page is None or per_page is True:
        return page, default
    if not isinstance(per_page, int):
        raise ValidationError(f"perPage must be an integer or false, got {per_page!r}", field="perPage")
    if per_page < 0:
        return page, default
    return page, check_count(per_page, "perPage")


class DateRange(WireModel):
    start: datetime | None = None
    end: datetime | None = None
    start_exclusive: bool = False
    end_exclusive: bool = False

    @field_validator("start", "end", mode="before")
    @classmethod
    def _ts(cls, v: Any, info: Any) -> Any:
        return _coerce_ts(v, f"dateRange.{info.field_name}")

    def contains(self, value: datetime) -> bool:
        if self.start is not None:
            if value < self.start or (self.start_exclusive and value == self.start):
                return False
        if self.end is not None:
            if value > self.end or (self.end_exclusive and value == self.end):
                return False
        return True


class IncludeItem(WireModel):
    id: str
    thread_id: str | None = None
    with_previous_messages: int = 0
    with_next_messages: int = 0

    @field_validator("with_previous_messages", "with_next_messages")
    @classmethod
    def _non_negative(cls, v: int, info: Any) -> int:
        return check_count(v, f"include.{to_camel(info.field_name)}")


class MessageFilter(WireModel):
    date_range: DateRange | None = None
    roles: list[Role] | None = None


class ListThreadsInput(WireModel):
    resource_id: str | None = None
    metadata: dict[str, Any] | None = None
    page: int = 0
    per_page: int | None = THREADS_PER_PAGE_DEFAULT  # None = everything (perPage false)
    order_by: OrderBy = THREAD_ORDER_DEFAULT

    @classmethod
    def build(
        cls,
        *,
        resource_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        page: Any = 0,
        per_page: Any = None,
        order_by: Any = None,
    ) -> "ListThreadsInput":
        page, per_page = normalize_pagination(page, per_page, THREADS_PER_PAGE_DEFAULT)
        if resource_id is not None:
            validate_id(resource_id, "resourceId")
        validate_metadata_keys(metadata, "metadata filter")
        return cls(
            resource_id=resource_id,
            metadata=metadata,
            page=page,
            per_page=per_page,
            order_by=OrderBy.parse(order_by, default=THREAD_ORDER_DEFAULT),
        )


class ListMessagesInput(WireModel):
    thread_ids: list[str]
    resource_id: str | None = None
    include: list[IncludeItem] = Field(default_factory=list)
    filter: MessageFilter = Field(default_factory=MessageFilter)
    page: int = 0
    per_page: int | None = MESSAGES_PER_PAGE_DEFAULT
    order_by: OrderBy = MESSAGE_ORDER_DEFAULT

    @classmethod
    def build(
        cls,
        *,
        thread_id: str | list[str],
        resource_id: str | None = None,
        include: list[Any] | None = None,
        filter: Any = None,
        page: Any = 0,
        per_page: Any = None,
        order_by: Any = None,
    ) -> "ListMessagesInput":
        thread_ids = thread_id if isinstance(thread_id, list) else [thread_id]
        if not thread_ids:
            raise ValidationError("threadId must be a non-empty string", field="threadId")
        for tid in thread_ids:
            if not isinstance(tid, str) or not tid.strip():
                raise ValidationError("threadId must be a non-empty string", field="threadId")
            validate_id(tid, "threadId")
        if resource_id is not None:
            validate_id(resource_id, "resourceId")
        page, per_page = normalize_pagination(page, per_page, MESSAGES_PER_PAGE_DEFAULT)
        return cls(
            thread_ids=thread_ids,
            resource_id=resource_id,
            include=[parse_model(IncludeItem, i, what="include") for i in (include or [])],
            filter=parse_model(MessageFilter, filter or {}, what="filter"),
            page=page,
            per_page=per_page,
            order_by=OrderBy.parse(order_by, default=MESSAGE_ORDER_DEFAULT),
        )


class ListMessagesByResourceInput(WireModel):
    resource_id: str
    filter: MessageFilter = Field(default_factory=MessageFilter)
    page: int = 0
    per_page: int | None = MESSAGES_PER_PAGE_DEFAULT
    order_by: OrderBy = MESSAGE_ORDER_DEFAULT

    @classmethod
    def build(
        cls, *, resource_id: str, filter: Any = None, page: Any = 0, per_page: Any = None, order_by: Any = None
    ) -> "ListMessagesByResourceInput":
        validate_id(resource_id, "resourceId")
        page, per_page = normalize_pagination(page, per_page, MESSAGES_PER_PAGE_DEFAULT)
        return cls(
            resource_id=resource_id,
            filter=parse_model(MessageFilter, filter or {}, what="filter"),
            page=page,
            per_page=per_page,
            order_by=OrderBy.parse(order_by, default=MESSAGE_ORDER_DEFAULT),
        )


class _Page(WireModel):
    total: int
    page: int
    per_page: Union[int, Literal[False]]
    has_more: bool


class ThreadPage(_Page):
    threads: list[Thread]


class MessagePage(_Page):
    messages: list[Message]


def page_meta(total: int, page: int, per_page: int | None, returned: int) -> dict[str, Any]:
    """The {total, page, perPage, hasMore} part of a list result."""
    if per_page is None:
        return {"total": total, "page": 0, "per_page": False, "has_more": False}
    return {
        "total": total,
        "page": page,
        "per_page": per_page,
        "has_more": page * per_page + returned < total if per_page > 0 else False,
    }


# ---------------------------------------------------------------- clone


class CloneMessageFilter(WireModel):
    start_date: datetime | None = None
    end_date: datetime | None = None
    message_ids: list[str] | None = None

    @field_validator("start_date", "end_date", mode="before")
    @classmethod
    def _ts(cls, v: Any, info: Any) -> Any:
        return _coerce_ts(v, to_camel(info.field_name))


class CloneOptions(WireModel):
    message_limit: int | None = None
    message_filter: CloneMessageFilter | None = None

    @field_validator("message_limit")
    @classmethod
    def _limit(cls, v: int | None) -> int | None:
        return None if v is None else check_count(v, "options.messageLimit")


class CloneThreadInput(WireModel):
    source_thread_id: str
    new_thread_id: str | None = None
    resource_id: str | None = None
    title: str | None = None
    metadata: dict[str, Any] | None = None
    options: CloneOptions | None = None

    @model_validator(mode="after")
    def _check(self) -> "CloneThreadInput":
        validate_id(self.source_thread_id, "sourceThreadId")
        if self.new_thread_id is not None:
            validate_id(self.new_thread_id, "newThreadId")
        if self.resource_id is not None:
            validate_id(self.resource_id, "resourceId")
        validate_metadata_keys(self.metadata)
        return self


class CloneThreadResult(WireModel):
    thread: Thread
    cloned_messages: list[Message]


def parse_model(model: type[ModelT], data: Any, *, what: str | None = None) -> ModelT:
    """Validate ``data`` into ``model``, turning pydantic's errors into a memkit ValidationError
    that names the offending field (the HTTP layer answers 400 with it)."""
    from pydantic import ValidationError as PydanticValidationError

    from memkit.jsonvalues import check

    check(data, what or "")
    try:
        return model.model_validate(data)
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        location = ".".join(str(part) for part in first.get("loc", ())) or (what or model.__name__)
        prefix = f"{what}: " if what else ""
        raise ValidationError(f"{prefix}{location}: {first.get('msg')}", field=location) from None
