"""Arguments of the resource and working-memory writes."""

from typing import Any

from memkit.operations.args.base import Args


class UpdateWorkingMemoryArgs(Args):
    thread_id: str
    resource_id: str | None = None
    working_memory: str | dict[str, Any]


class ResourceRef(Args):
    resource_id: str


class UpdateResourceArgs(Args):
    resource_id: str
    working_memory: str | None = None
    metadata: dict[str, Any] | None = None
