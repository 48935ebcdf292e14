"""Threads, resources and messages (Mastra's v2 format), and a message's partial update."""

# No ``from __future__ import annotations`` in the model modules (these, config, the operations'
# arguments): pydantic would compile every field's annotation string when it defines the class,
# a fifth of the time these models take to define on a cold start.
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from memkit.errors import ValidationError
from memkit.models.base import WireModel, coerce_ts, parse_ts, validate_id, validate_metadata_keys


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
        return coerce_ts(v, to_camel(info.field_name))


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
        return coerce_ts(v, to_camel(info.field_name))


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
        return coerce_ts(v, "createdAt")

    @field_validator("thread_id")
    @classmethod
    def _thread_id(cls, v: Any) -> Any:
        return None if v is None else validate_id(v, "threadId")
