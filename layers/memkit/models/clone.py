"""Cloning a thread: what a clone request says, and what it answers."""

# No ``from __future__ import annotations`` in the model modules (these, config, the operations'
# arguments): pydantic would compile every field's annotation string when it defines the class,
# a fifth of the time these models take to define on a cold start.
from datetime import datetime
from typing import Any

from pydantic import field_validator, model_validator
from pydantic.alias_generators import to_camel

from memkit.models.base import WireModel, coerce_ts, validate_id, validate_metadata_keys
from memkit.models.entities import Message, Thread
from memkit.models.queries import check_count


class CloneMessageFilter(WireModel):
    start_date: datetime | None = None
    end_date: datetime | None = None
    message_ids: list[str] | None = None

    @field_validator("start_date", "end_date", mode="before")
    @classmethod
    def _ts(cls, v: Any, info: Any) -> Any:
        return coerce_ts(v, to_camel(info.field_name))


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
