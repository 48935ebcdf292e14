"""Semantic recall for an agent turn: the relevant older messages next to the recent window
(``RecallResult``).

``add_semantic_recall`` (called by ``Memory.recall`` with the agent's ports) does, in order:

1. the query: the ``query`` argument, else the text of the thread's latest user message
   (found in the recent window, or with one storage read when the window holds none);
2. one embedding call and one vector query (``topK``; scope ``resource`` searches the
   resource's partition, scope ``thread`` adds a threadId filter; ``threshold`` drops weaker
   hits);
3. one ``list_messages`` call whose ``include`` windows (``messageRange`` before/after each hit)
   bring the hits and their neighbours, within the resource (an include never crosses
   resources) and with ``perPage: 0`` so that only the windows come back — the storage
   adapter's include budget applies;
4. messages already in the recent window are dropped; same-thread ones are merged into
   ``result.messages`` in createdAt order; other threads' are grouped into
   ``result.other_threads`` with their thread id and title ("remembered from another
   conversation"), the titles read with at most ``TITLE_LOOKUPS_MAX`` thread reads or one
   thread listing.

Failure policy: recall FAILS OPEN. If the embedder or the vector store is unavailable
(``RetryableError``) or rejects the request (``PermanentJobError``), the turn still gets its
recent window, ``result.recall_warning`` says what failed, and a warning is logged, so an agent
keeps answering during a Pinecone or Bedrock outage and the caller can see that recall was
skipped. A ``ConfigurationError`` (e.g. an index of the wrong dimension) is raised: that is a
broken deployment, not an outage. ``GET /api/memory/search`` (``search.py``) instead fails
loudly with 503, because there the search *is* the answer. ``docs/recall.md`` has the costs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from memkit.errors import PermanentJobError, RetryableError
from memkit.models import ListMessagesInput, ListThreadsInput, Message, Thread

if TYPE_CHECKING:
    from memkit.config import MessageRange
    from memkit.memory.ports import AgentPorts
    from memkit.storage.memory.base import MemoryStorage
    from memkit.vector.base import VectorHit

logger = logging.getLogger("memkit.recall")


@dataclass
class RecallResult:
    """What an agent turn reads: the recent window plus semantically recalled messages."""

    messages: list[Message]
    # Recalled from other threads of the same resource, presented apart ("remembered from
    # another conversation"): [{"threadId", "threadTitle", "messages": [...]}]
    other_threads: list[dict[str, Any]] = field(default_factory=list)
    # Set when semantic recall was configured but could not run (fail-open, visible to caller).
    recall_warning: str | None = None

    def to_wire(self) -> dict[str, Any]:
        return {
            "messages": [m.to_wire() for m in self.messages],
            "otherThreads": [
                {
                    "threadId": group["threadId"],
                    "threadTitle": group.get("threadTitle"),
                    "messages": [m.to_wire() for m in group["messages"]],
                }
                for group in self.other_threads
            ],
            "recallWarning": self.recall_warning,
        }


# Up to this many distinct threads, titles are read one thread at a time; beyond, one listing of
# the resource's threads is cheaper than that many reads.
TITLE_LOOKUPS_MAX = 4


def add_semantic_recall(
    ports: AgentPorts,
    result: RecallResult,
    *,
    thread_id: str,
    resource_id: str | None,
    query: str | None,
) -> None:
    config = ports.config.semantic_recall
    if not config:
        return
    if ports.vector is None or ports.embedder is None:
        result.recall_warning = (
            f"semantic recall is configured for agent {ports.agent_id}, but this deployment has no "
            "vector store (MEMKIT_VECTOR_URL=none); only recent messages were returned"
        )
        logger.warning(result.recall_warning)
        return
    owner = resource_id or _thread_owner(ports.storage, thread_id)
    if owner is None:
        return
    text = query if query and query.strip() else _latest_user_text(ports.storage, result.messages, thread_id, owner)
    if not text:
        return
    try:
        [vector] = ports.embedder.embed([text])
        hits = ports.vector.query(
            owner,
            vector,
            config.top_k,
            thread_id=thread_id if config.scope == "thread" else None,
            threshold=config.threshold,
        )
    except (RetryableError, PermanentJobError) as exc:
        result.recall_warning = f"semantic recall failed, only recent messages were returned: {exc}"
        logger.warning("recall for thread %s (resource %s): %s", thread_id, owner, result.recall_warning)
        return
    recent_ids = {message.id for message in result.messages}
    hits = [hit for hit in hits if hit.message_id not in recent_ids]
    if not hits:
        return
    recalled = [m for m in fetch_windows(ports.storage, thread_id, owner, hits, config.window) if m.id not in recent_ids]
    same_thread = [m for m in recalled if m.thread_id == thread_id]
    result.messages = sorted([*result.messages, *same_thread], key=_created_order)
    other = [m for m in recalled if m.thread_id != thread_id]
    if other:
        titles = thread_titles(ports.storage, owner, {m.thread_id for m in other})
        groups: dict[str, list[Message]] = {}
        for message in sorted(other, key=_created_order):
            groups.setdefault(message.thread_id, []).append(message)
        result.other_threads = [
            {"threadId": other_thread, "threadTitle": titles.get(other_thread), "messages": messages}
            for other_thread, messages in groups.items()
        ]


def fetch_windows(
    storage: MemoryStorage,
    anchor_thread_id: str,
    resource_id: str,
    hits: Sequence["VectorHit"],
    window: MessageRange,
) -> list[Message]:
    """The hits and their neighbours in ONE storage call: include windows only (``perPage: 0``),
    restricted to ``resource_id``. ``anchor_thread_id`` is a thread of the resource that the
    call is nominally about (the storage API lists per thread); it adds no messages."""
    include = [
        {
            "id": hit.message_id,
            "threadId": hit.thread_id,
            "withPreviousMessages": window.before,
            "withNextMessages": window.after,
        }
        for hit in hits
    ]
    page = storage.list_messages(
        ListMessagesInput.build(thread_id=anchor_thread_id, resource_id=resource_id, include=include, per_page=0)
    )
    return page.messages


def thread_titles(
    storage: MemoryStorage, resource_id: str, thread_ids: Iterable[str], *, known: Thread | None = None
) -> dict[str, str | None]:
    """Titles of the resource's threads among ``thread_ids``, in a bounded number of reads.
    ``known``: a thread the caller has already read, which is not read again."""
    wanted = sorted(set(thread_ids))
    if not wanted:
        return {}
    if len(wanted) <= TITLE_LOOKUPS_MAX:
        threads = [
            known if known is not None and known.id == thread_id else storage.get_thread(thread_id)
            for thread_id in wanted
        ]
    else:
        threads = storage.list_threads(ListThreadsInput.build(resource_id=resource_id, per_page=False)).threads
    return {t.id: t.title for t in threads if t is not None and t.id in wanted and t.resource_id == resource_id}


def _thread_owner(storage: MemoryStorage, thread_id: str) -> str | None:
    thread = storage.get_thread(thread_id)
    return thread.resource_id if thread is not None else None


def _latest_user_text(
    storage: MemoryStorage, recent: Sequence[Message], thread_id: str, resource_id: str
) -> str:
    for message in reversed(recent):
        if message.role == "user" and message.text().strip():
            return message.text()
    # The recent window is empty (lastMessages: 0/false) or holds no user message: one read.
    page = storage.list_messages(
        ListMessagesInput.build(
            thread_id=thread_id,
            resource_id=resource_id,
            filter={"roles": ["user"]},
            per_page=5,
            order_by={"field": "createdAt", "direction": "DESC"},
        )
    )
    for message in page.messages:
        if message.text().strip():
            return message.text()
    return ""


def _created_order(message: Message) -> tuple[object, str]:
    return (message.created_at, message.id)
