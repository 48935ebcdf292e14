"""What listings take and give: ordering, pagination, filters, include windows, and pages."""

# No ``from __future__ import annotations`` in the model modules (these, config, the operations'
# arguments): pydantic would compile every field's annotation string when it defines the class,
# a fifth of the time these models take to define on a cold start.
from datetime import datetime
from typing import Any, Literal, Union

from pydantic import Field, field_validator
from pydantic.alias_generators import to_camel

from memkit.errors import ValidationError
from memkit.models.base import WireModel, coerce_ts, parse_model, validate_id, validate_metadata_keys
from memkit.models.entities import Message, Role, Thread

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
        return coerce_ts(v, f"dateRange.{info.field_name}")

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


class Page(WireModel):
    total: int
    page: int
    per_page: Union[int, Literal[False]]
    has_more: bool


class ThreadPage(Page):
    threads: list[Thread]


class MessagePage(Page):
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
