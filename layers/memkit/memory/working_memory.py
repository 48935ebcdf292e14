"""Working memory: the note an agent keeps about a resource (or a thread), read and written by
the rules of the agent's ``workingMemory`` config (``docs/memory-model.md``).

Markdown working memory is replaced whole. Schema (JSON) working memory is merged by Mastra's
rules, the one implementation of which is ``memkit.formats.working_memory``: objects merge key
by key, null deletes a key, lists replace. The merge runs inside the store's atomic
read-modify-write, so concurrent patches of different keys all land.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, NamedTuple

from memkit.errors import NotFoundError, ValidationError
from memkit.storage.memory.base import WORKING_MEMORY_METADATA_KEY

if TYPE_CHECKING:
    from memkit.config import MemoryConfig
    from memkit.models import Thread
    from memkit.storage.memory.base import MemoryStorage


class WorkingMemoryView(NamedTuple):
    working_memory: str | None
    source: str  # "resource" | "thread"
    template_format: str  # "markdown" | "json"
    template: str | None
    thread_exists: bool

    def to_wire(self) -> dict[str, Any]:
        return {
            "workingMemory": self.working_memory,
            "source": self.source,
            "workingMemoryTemplate": (
                {"format": self.template_format, "content": self.template}
                if self.template is not None
                else None
            ),
            "threadExists": self.thread_exists,
        }


def read_working_memory(
    storage: MemoryStorage, config: MemoryConfig, thread: Thread | None, resource_id: str | None
) -> WorkingMemoryView:
    """``thread`` (None: not found) as the caller read it; ``resource_id`` as requested."""
    wm = config.working_memory
    owner = resource_id or (thread.resource_id if thread else None)
    if wm.scope == "thread":
        value = (thread.metadata or {}).get("workingMemory") if thread else None
    else:
        resource = storage.get_resource(owner) if owner else None
        value = resource.working_memory if resource else None
    if value is not None and not isinstance(value, str):
        value = json.dumps(value)
    template = json.dumps(wm.schema_) if wm.format == "json" else wm.effective_template
    return WorkingMemoryView(
        working_memory=value,
        source=wm.scope,
        template_format=wm.format,
        template=template if wm.enabled else None,
        thread_exists=thread is not None,
    )


def write_working_memory(
    storage: MemoryStorage,
    config: MemoryConfig,
    *,
    thread_id: str,
    thread: Thread | None,
    resource_id: str | None,
    working_memory: str | dict[str, Any],
) -> None:
    """``thread`` (None: not found) as the caller read it; ``resource_id`` as requested."""
    wm = config.working_memory
    owner = resource_id or (thread.resource_id if thread else None)
    if wm.scope == "thread" and thread is None:
        raise NotFoundError("Thread not found")
    if owner is None:
        raise ValidationError("resourceId is required when the thread does not exist", field="resourceId")
    if wm.format == "json":
        from memkit.formats.working_memory import WorkingMemoryUpdate, next_working_memory

        update = WorkingMemoryUpdate("json", _working_memory_patch(working_memory))

        def merged(current: Any) -> str:
            # Mastra's merge: objects merge key by key, null deletes, lists replace.
            stored = json.dumps(current) if isinstance(current, dict) else current
            return next_working_memory(stored, update)

        # Merged inside the store's atomic read-modify-write: concurrent patches of
        # different keys all land.
        if wm.scope == "thread":
            storage.modify_thread_working_memory(thread_id, merged, resource_id=owner)
        else:
            storage.modify_resource_working_memory(owner, merged)
        return
    if not isinstance(working_memory, str):
        raise ValidationError("workingMemory must be a string (markdown template)", field="workingMemory")
    if wm.scope == "thread":
        storage.update_thread(thread_id, metadata={WORKING_MEMORY_METADATA_KEY: working_memory}, resource_id=owner)
    else:
        storage.update_resource(owner, working_memory=working_memory)


def _working_memory_patch(update: str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(update, str):
        try:
            update = json.loads(update)
        except json.JSONDecodeError as exc:
            raise ValidationError(f"workingMemory must be JSON for a schema agent: {exc}", field="workingMemory") from None
    if not isinstance(update, dict):
        raise ValidationError("workingMemory must be a JSON object for a schema agent", field="workingMemory")
    return update
