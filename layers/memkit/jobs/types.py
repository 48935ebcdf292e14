"""Typed, versioned job messages. The wire form is JSON: ``{"type": ..., "v": ..., ...}``.

Adding a job: a model here with a ``type`` literal and ``v``, and its handler in the table of
``memkit.memory.jobs``. A job whose (type, v) has no handler is rejected to the DLQ.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


class JobBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def to_message(self) -> dict:
        return self.model_dump(mode="json")


class GenerateTitleJob(JobBase):
    type: Literal["generate_title"] = "generate_title"
    v: Literal[1] = 1
    agent_id: str
    thread_id: str
    resource_id: str


class IndexMessagesJob(JobBase):
    type: Literal["index_messages"] = "index_messages"
    v: Literal[1] = 1
    agent_id: str
    resource_id: str
    message_ids: list[str]


class DeleteVectorsJob(JobBase):
    """Vectors of deleted messages, threads or a whole resource."""

    type: Literal["delete_vectors"] = "delete_vectors"
    v: Literal[1] = 1
    agent_id: str
    resource_id: str
    message_ids: list[str] | None = None
    thread_ids: list[str] | None = None
    whole_resource: bool = False
