"""Strands Agents sessions kept in memkit: ``Agent(session_manager=MemkitSessionManager(...))``.

    from memkit import Memory
    from memkit.integrations.strands import MemkitSessionManager
    from strands import Agent

    memory = Memory("dynamodb://memkit")   # once per process
    manager = MemkitSessionManager(session_id="trip-1", resource_id="user-1", memory=memory)
    agent = Agent(session_manager=manager)
    agent("Plan a weekend in Lisbon")       # stored; a new process with the same ids resumes

Where a session goes (``pip install "memkit[strands]"``):

=====================================  ==========================================================
Strands                                memkit
=====================================  ==========================================================
a session                              one thread, id ``thread_id`` (default: the session id),
                                       owned by ``resource_id``. An existing thread of that
                                       resource is taken over; another resource's is refused
                                       (``OwnershipError``)
``Session``                            the thread's ``metadata.strands.session``
an agent's state, conversation         the thread's ``metadata.strands.agents.<agent id>``: the
manager state and internal state       ``SessionAgent`` as Strands serialises it
an agent's messages                    v2 messages of the thread, rendered by
                                       ``memkit.formats.bedrock`` (the prompt, then one
                                       assistant message per answer holding its steps, tool
                                       calls and results), each ``SessionMessage`` kept verbatim
                                       (index, message, redaction, timestamps) in
                                       ``content.metadata.strands`` of one of them
=====================================  ==========================================================

So Strands restores exactly what it stored, and ``@mastra/client-js``, the HTTP API and
``Memory.recall`` read the conversation like any other thread. How messages map onto v2
messages, their ids and what one write costs are in ``memkit.integrations._thread_log``.

- A redaction (a guardrail's ``redact_latest_message``) re-renders the message from the
  redacted content; the original stays in the stored ``SessionMessage``, as Strands' own file
  and S3 stores keep it.
- Several agents may share a session: their messages interleave in the thread, each kept with
  its agent id; an agent reads back only its own.
- Agent state is small and rewritten whole at each sync Strands makes (one ``update_thread``).
- Multi-agent (Swarm, Graph) state is not stored: those methods raise ``NotImplementedError``,
  as Strands' base repository does.
- One writer per session at a time, as with Strands' file and S3 managers.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from strands.session.repository_session_manager import RepositorySessionManager
from strands.session.session_repository import SessionRepository
from strands.types.exceptions import SessionException
from strands.types.session import Session, SessionAgent, SessionMessage, SessionType

from memkit.errors import NotFoundError, ValidationError
from memkit.formats import bedrock
from memkit.integrations._thread_log import ThreadLog, session_thread_id
from memkit.models import validate_id

if TYPE_CHECKING:
    from memkit.memory import Memory

__all__ = ["MemkitSessionManager", "MemkitSessionRepository"]

# The thread metadata key holding the session and its agents.
METADATA_KEY = "strands"
# Converse content blocks ``memkit.formats.bedrock`` reads; others are kept, not rendered.
_RENDERED_BLOCKS = frozenset({"text", "image", "document", "toolUse", "toolResult", "reasoningContent", "cachePoint"})


class MemkitSessionManager(RepositorySessionManager):
    """A Strands session manager whose sessions are memkit threads of ``resource_id``."""

    def __init__(
        self,
        session_id: str,
        *,
        resource_id: str,
        memory: Memory,
        thread_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        repository = MemkitSessionRepository(
            memory, session_id=session_id, resource_id=resource_id, thread_id=thread_id
        )
        super().__init__(session_id=session_id, session_repository=repository, **kwargs)


class MemkitSessionRepository(SessionRepository):
    """Strands' ``SessionRepository`` for one session, kept in one memkit thread."""

    def __init__(self, memory: Memory, *, session_id: str, resource_id: str, thread_id: str | None = None) -> None:
        self.memory = memory
        self.session_id = session_id
        self.resource_id = validate_id(resource_id, "resource_id")
        self.thread_id = session_thread_id(session_id, thread_id)
        # The thread's metadata.strands as last read or written (one writer per session).
        self._entry: dict[str, Any] | None = None
        self._logs: dict[str, ThreadLog] = {}

    # ------------------------------------------------------------ session

    def create_session(self, session: Session, **kwargs: Any) -> Session:
        self._check(session.session_id)
        if self.memory.get_thread(self.thread_id, self.resource_id) is not None:
            raise SessionException(f"Session {session.session_id} already exists (thread {self.thread_id})")
        entry = {"session": _session_dict(session), "agents": {}}
        self.memory.create_thread(resource_id=self.resource_id, thread_id=self.thread_id, metadata={METADATA_KEY: entry})
        self._entry = entry
        return session

    def read_session(self, session_id: str, **kwargs: Any) -> Session | None:
        self._check(session_id)
        thread = self.memory.get_thread(self.thread_id, self.resource_id)
        if thread is None:
            self._entry = None
            return None
        entry = (thread.metadata or {}).get(METADATA_KEY)
        if not isinstance(entry, dict) or not isinstance(entry.get("session"), dict):
            # A thread made before its first Strands run (by the API, with a title) becomes the
            # session; its entry is written with the first agent.
            created = thread.created_at.isoformat()
            session = Session(session_id, SessionType.AGENT, created_at=created, updated_at=thread.updated_at.isoformat())
            self._entry = {"session": _session_dict(session), "agents": {}}
            return session
        self._entry = entry
        return Session.from_dict(entry["session"])

    def delete_session(self, session_id: str, **kwargs: Any) -> None:
        """Deletes the thread: its messages, agents and recall vectors."""
        self._check(session_id)
        try:
            self.memory.delete_thread(self.thread_id, self.resource_id)
        except NotFoundError:
            raise SessionException(f"Session {session_id} does not exist") from None
        self._entry = None
        for log in self._logs.values():
            log.forget()

    # ------------------------------------------------------------ agents

    def create_agent(self, session_id: str, session_agent: SessionAgent, **kwargs: Any) -> None:
        self._check(session_id)
        self._write_agent(session_agent.agent_id, session_agent.to_dict())
        # Strands creates an agent it could not read: it has no messages yet.
        self._log(session_agent.agent_id).assume_empty()

    def read_agent(self, session_id: str, agent_id: str, **kwargs: Any) -> SessionAgent | None:
        self._check(session_id)
        stored = self._agents().get(agent_id)
        return SessionAgent.from_dict(stored) if stored is not None else None

    def update_agent(self, session_id: str, session_agent: SessionAgent, **kwargs: Any) -> None:
        self._check(session_id)
        previous = self._agents().get(session_agent.agent_id)
        if previous is None:
            raise SessionException(f"Agent {session_agent.agent_id} in session {session_id} does not exist")
        session_agent.created_at = previous["created_at"]
        self._write_agent(session_agent.agent_id, session_agent.to_dict())

    # ------------------------------------------------------------ messages

    def create_message(self, session_id: str, agent_id: str, session_message: SessionMessage, **kwargs: Any) -> None:
        self._check(session_id)
        self._log(agent_id).put(_index(session_message.message_id), session_message.to_dict())

    def read_message(self, session_id: str, agent_id: str, message_id: int, **kwargs: Any) -> SessionMessage | None:
        self._check(session_id)
        stored = self._log(agent_id).get(_index(message_id))
        return SessionMessage.from_dict(stored) if stored is not None else None

    def update_message(self, session_id: str, agent_id: str, session_message: SessionMessage, **kwargs: Any) -> None:
        self._check(session_id)
        log = self._log(agent_id)
        index = _index(session_message.message_id)
        previous = log.get(index)
        if previous is None:
            raise SessionException(f"Message {index} does not exist")
        session_message.created_at = previous["created_at"]
        log.replace(index, session_message.to_dict())

    def list_messages(
        self, session_id: str, agent_id: str, limit: int | None = None, offset: int = 0, **kwargs: Any
    ) -> list[SessionMessage]:
        self._check(session_id)
        records = self._log(agent_id).records()
        window = records[offset : offset + limit] if limit is not None else records[offset:]
        return [SessionMessage.from_dict(record.value) for record in window]

    # ------------------------------------------------------------ helpers

    def _check(self, session_id: str) -> None:
        if session_id != self.session_id:
            raise SessionException(f"This repository holds session {self.session_id}, not {session_id}")

    def _agents(self) -> dict[str, Any]:
        if self._entry is None:
            self.read_session(self.session_id)
        if self._entry is None:
            raise SessionException(f"Session {self.session_id} does not exist")
        return self._entry.setdefault("agents", {})

    def _write_agent(self, agent_id: str, stored: dict[str, Any]) -> None:
        agents = self._agents()
        entry = {**copy.deepcopy(self._entry), "agents": {**agents, agent_id: stored}}
        self.memory.update_thread(self.thread_id, metadata={METADATA_KEY: entry}, resource_id=self.resource_id)
        self._entry = entry

    def _log(self, agent_id: str) -> ThreadLog:
        log = self._logs.get(agent_id)
        if log is None:
            log = ThreadLog(
                self.memory, thread_id=self.thread_id, resource_id=self.resource_id, dialect=_Converse(), stream=agent_id
            )
            self._logs[agent_id] = log
        return log


class _Converse:
    """Strands messages (``SessionMessage.to_dict()``) for the thread log."""

    namespace = METADATA_KEY

    def piece(self, value: Any) -> dict[str, Any]:
        # The message Strands would send: the redaction when there is one. Strands' own keys
        # (metadata with usage, tracking_id) are not Converse's.
        message = SessionMessage.from_dict(value).to_message()
        return {"role": message["role"], "content": message["content"]}

    def salvage(self, piece: dict[str, Any]) -> dict[str, Any] | None:
        """The blocks that render: citations as their text, blocks the converter does not take
        (video, guardContent, interrupts...) left out, and each other block kept only if it
        renders alone (tool results are judged with their calls, so they stay)."""
        kept = []
        for block in piece["content"]:
            if not isinstance(block, dict):
                continue
            if "citationsContent" in block:
                kept.extend({"text": item["text"]} for item in block["citationsContent"].get("content", []) if "text" in item)
            elif len(block) == 1 and next(iter(block)) in _RENDERED_BLOCKS and _renders_alone(piece["role"], block):
                kept.append(block)
        if kept == piece["content"]:
            return None
        return {"role": piece["role"], "content": kept}

    def opens_turn(self, value: Any) -> bool:
        message = SessionMessage.from_dict(value).to_message()
        content = message.get("content") or []
        return message.get("role") == "user" and not (content and isinstance(content[0], dict) and "toolResult" in content[0])

    def to_v2(self, pieces: list[Any], *, thread_id: str, resource_id: str) -> list[dict[str, Any]]:
        return bedrock.to_v2(pieces, thread_id=thread_id, resource_id=resource_id)


def _renders_alone(role: str, block: dict[str, Any]) -> bool:
    if "toolResult" in block:
        return True
    try:
        bedrock.to_v2([{"role": role, "content": [block]}], thread_id="t", resource_id="r")
    except ValidationError:
        return False
    return True


def _session_dict(session: Session) -> dict[str, Any]:
    return {**session.to_dict(), "session_type": SessionType(session.session_type).value}


def _index(message_id: Any) -> int:
    if isinstance(message_id, bool) or not isinstance(message_id, int):
        raise SessionException(f"message_id=<{message_id}> | message id must be an integer")
    return message_id
