"""OpenAI Agents SDK sessions kept in memkit: ``Runner.run(agent, ..., session=MemkitSession(...))``.

    from agents import Agent, Runner
    from memkit import Memory
    from memkit.integrations.openai_agents import MemkitSession

    memory = Memory("dynamodb://memkit")   # once per process
    session = MemkitSession("trip-1", resource_id="user-1", memory=memory)
    result = await Runner.run(Agent(name="Planner"), "Plan a weekend in Lisbon", session=session)

``MemkitSession`` implements the SDK's ``Session`` protocol (``pip install
"memkit[openai-agents]"``): a session is one thread, id ``thread_id`` (default: the session
id), owned by ``resource_id`` and created with the first item; another resource's thread is
refused (``OwnershipError``).

- **Items round-trip exactly.** Each item is stored as given, with its position, in
  ``content.metadata.openaiAgents`` of one v2 message, and ``get_items`` returns those: the v2
  mapping (``memkit.formats.openai_responses``) normalises some fields and cannot express
  hosted-tool items, so it is the readable side only.
- **Readable like any other thread.** The items render as Mastra stores a conversation: the
  prompt, then one assistant message per answer holding its reasoning, text, function calls and
  their outputs (``memkit.integrations._thread_log`` has the rules, ids and write costs).
- ``get_items(limit)``: the newest ``limit`` items, oldest first (all when ``limit`` and
  ``session_settings.limit`` are None; none for 0), reading back only as many messages as
  needed. ``add_items`` appends in one write. ``pop_item`` removes and returns the newest item
  (None when empty). ``clear_session`` deletes the thread, as ``SQLiteSession`` deletes the
  session's rows; the next ``add_items`` starts it again.

Messages saved into the thread by other means (the HTTP API) are not items of the session: the
session neither returns nor removes them, but ``clear_session`` deletes the whole thread.
Calls run the blocking ``Memory`` in a worker thread, one at a time per session object.
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import TYPE_CHECKING, Any

from agents.memory.session_settings import SessionSettings, coerce_session_settings, resolve_session_limit

from memkit.errors import NotFoundError, ValidationError
from memkit.formats import openai_responses
from memkit.integrations._thread_log import ThreadLog, session_thread_id
from memkit.models import validate_id

if TYPE_CHECKING:
    from agents.items import TResponseInputItem

    from memkit.memory import Memory

__all__ = ["MemkitSession"]

_OPENING_ROLES = ("user", "system", "developer")


class MemkitSession:
    """The OpenAI Agents SDK ``Session`` protocol over one memkit thread of ``resource_id``."""

    session_settings: SessionSettings | None = None

    def __init__(
        self,
        session_id: str,
        *,
        resource_id: str,
        memory: Memory,
        thread_id: str | None = None,
        session_settings: SessionSettings | dict[str, Any] | None = None,
    ) -> None:
        self.session_id = session_id
        self.session_settings = (
            coerce_session_settings(session_settings) if session_settings is not None else SessionSettings()
        )
        self.memory = memory
        self.resource_id = validate_id(resource_id, "resource_id")
        self.thread_id = session_thread_id(session_id, thread_id)
        self._log = ThreadLog(memory, thread_id=self.thread_id, resource_id=self.resource_id, dialect=_ResponsesItems())
        self._lock = threading.Lock()
        self._thread_exists = False

    async def get_items(self, limit: int | None = None) -> list[TResponseInputItem]:
        return await asyncio.to_thread(self._get_items, resolve_session_limit(limit, self.session_settings))

    async def add_items(self, items: list[TResponseInputItem]) -> None:
        await asyncio.to_thread(self._add_items, items)

    async def pop_item(self) -> TResponseInputItem | None:
        return await asyncio.to_thread(self._pop_item)

    async def clear_session(self) -> None:
        await asyncio.to_thread(self._clear_session)

    # ------------------------------------------------------------ blocking

    def _get_items(self, limit: int | None) -> list[Any]:
        with self._lock:
            if limit == 0:
                return []
            # A negative limit means all of them, as SQLite's LIMIT does in SQLiteSession.
            records = self._log.latest(limit) if limit is not None and limit > 0 else self._log.records()
            return [record.value for record in records]

    def _add_items(self, items: list[Any]) -> None:
        copies = [_json_copy(item, f"items[{position}]") for position, item in enumerate(_items_list(items))]
        if not copies:
            return
        with self._lock:
            if not self._thread_exists:
                if self.memory.get_thread(self.thread_id, self.resource_id) is None:
                    self.memory.create_thread(resource_id=self.resource_id, thread_id=self.thread_id)
                self._thread_exists = True
            self._log.append(copies)

    def _pop_item(self) -> Any | None:
        with self._lock:
            record = self._log.pop()
            return None if record is None else record.value

    def _clear_session(self) -> None:
        with self._lock:
            try:
                self.memory.delete_thread(self.thread_id, self.resource_id)
            except NotFoundError:
                pass  # never stored anything, or already cleared: nothing to clear
            self._log.forget()
            self._thread_exists = False


class _ResponsesItems:
    """Responses input items for the thread log."""

    namespace = "openaiAgents"

    def piece(self, value: Any) -> Any:
        return value

    def salvage(self, piece: Any) -> None:
        return None  # an item renders whole or not at all

    def opens_turn(self, value: Any) -> bool:
        kind = value.get("type", "message" if "role" in value else None)
        return kind == "message" and value.get("role") in _OPENING_ROLES

    def to_v2(self, pieces: list[Any], *, thread_id: str, resource_id: str) -> list[dict[str, Any]]:
        return openai_responses.to_v2(pieces, thread_id=thread_id, resource_id=resource_id)


def _items_list(items: Any) -> list[Any]:
    if not isinstance(items, list):
        raise ValidationError(f"items must be a list, got {type(items).__name__}", field="items")
    return items


def _json_copy(item: Any, where: str) -> dict[str, Any]:
    """The item as it will read back: plain JSON, detached from the caller's object."""
    if not isinstance(item, dict):
        raise ValidationError(f"{where} must be an object, got {type(item).__name__}", field=where)
    try:
        return json.loads(json.dumps(item, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{where} is not JSON: {exc}", field=where) from None
