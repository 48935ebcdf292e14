"""``GET /api/memory/search``: semantic search over a resource's (or one thread's) messages.

The answer has the shape of Mastra's route::

    {"results": [{"id", "role", "content", "createdAt", "threadId", "threadTitle",
                  "context": {"before": [...], "after": [...]}}],
     "count", "query", "searchScope": "resource" | "thread", "searchType": "semantic"}

``content`` is the message's text; ``context`` holds the ``messageRange`` neighbours in the
hit's own thread (``{id, role, content, createdAt}`` each); ``threadTitle`` falls back to the
thread id, as in Mastra. Results are ordered by relevance, best first (Mastra orders by date).

Cost: one embedding call, one vector query (top ``limit``), one ``list_messages`` call whose
include windows bring every hit with its context, and the titles in at most
``TITLE_LOOKUPS_MAX`` thread reads or one listing — never a round trip per result.

Scope: ``semanticRecall.scope`` of the agent's config (merged with ``memoryConfig``); ``thread``
applies only when ``threadId`` is given, as in Mastra. A ``threadId`` owned by another resource
is a 403; an unknown one with thread scope gives no results (a new, unsaved thread).

Errors: an agent without semantic recall, or a deployment without a vector store, is a 400 that
says so (no lexical fallback: a "search" that silently returns recent messages would mislead).
An embedder or vector store failure is a 503 with the reason: search fails loudly, where agent
recall fails open (see ``recall.py``); ``docs/recall.md`` has the costs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from memkit.errors import RetryableError, ValidationError
from memkit.memory.recall import fetch_windows, thread_titles
from memkit.models import Message, format_ts, validate_id

if TYPE_CHECKING:
    from memkit.memory.ports import AgentPorts

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
# A search query is a question, not a document; embedding models refuse far longer inputs
# (Titan v2: 50,000 characters), and that refusal is the caller's input, not an outage.
MAX_QUERY_CHARS = 10_000


def search_memory(
    ports: AgentPorts,
    *,
    search_query: str,
    resource_id: str,
    thread_id: str | None = None,
    limit: int = DEFAULT_LIMIT,
    memory_config: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    if not isinstance(search_query, str) or not search_query.strip():
        raise ValidationError("searchQuery is required", field="searchQuery")
    if len(search_query) > MAX_QUERY_CHARS:
        raise ValidationError(
            f"searchQuery is {len(search_query)} characters; at most {MAX_QUERY_CHARS} are searched",
            field="searchQuery",
        )
    validate_id(resource_id, "resourceId")
    if thread_id is not None:
        validate_id(thread_id, "threadId")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise ValidationError(f"limit must be an integer between 1 and {MAX_LIMIT}, got {limit!r}", field="limit")
    config = ports.config.merged(dict(memory_config) if memory_config else None)
    recall = config.semantic_recall
    if not recall:
        raise ValidationError(
            f"semantic recall is not enabled for agent {ports.agent_id}: set semanticRecall in its memory "
            "config (or pass memoryConfig={\"semanticRecall\": true}) to search memory",
            field="agentId",
        )
    if ports.vector is None or ports.embedder is None:
        raise ValidationError(
            "memory search needs a vector store, and this deployment has none (MEMKIT_VECTOR_URL=none)",
            field="agentId",
        )
    scope = "thread" if recall.scope == "thread" and thread_id else "resource"
    empty = {"results": [], "count": 0, "query": search_query, "searchScope": scope, "searchType": "semantic"}

    thread = ports.storage.get_thread(thread_id, resource_id) if thread_id else None
    if scope == "thread" and thread is None:
        return empty
    try:
        [vector] = ports.embedder.embed([search_query])
        hits = ports.vector.query(
            resource_id,
            vector,
            limit,
            thread_id=thread_id if scope == "thread" else None,
            threshold=recall.threshold,
        )
    except RetryableError as exc:
        # 503: the client retries 5xx, and an outage is where a retry helps. A permanent
        # failure (a misconfigured model or index) stays a 500: retrying cannot help.
        raise RetryableError(f"memory search is unavailable: {exc}") from exc
    if not hits:
        return empty

    window = recall.window
    anchor = thread.id if thread is not None else hits[0].thread_id
    found = fetch_windows(ports.storage, anchor, resource_id, hits, window)
    by_thread: dict[str, list[Message]] = {}
    for message in found:  # already in createdAt order
        by_thread.setdefault(message.thread_id, []).append(message)
    titles = thread_titles(ports.storage, resource_id, {hit.thread_id for hit in hits}, known=thread)

    results = []
    for hit in hits:
        siblings = by_thread.get(hit.thread_id, [])
        position = next((i for i, m in enumerate(siblings) if m.id == hit.message_id), None)
        if position is None:
            continue  # deleted since it was indexed; its vectors are on their way out
        message = siblings[position]
        results.append(
            {
                **_brief(message),
                "threadId": message.thread_id,
                "threadTitle": titles.get(message.thread_id) or message.thread_id,
                "context": {
                    "before": [_brief(m) for m in siblings[max(0, position - window.before) : position]],
                    "after": [_brief(m) for m in siblings[position + 1 : position + 1 + window.after]],
                },
            }
        )
    return {**empty, "results": results, "count": len(results)}


def _brief(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "role": message.role,
        "content": message.text(),
        "createdAt": format_ts(message.created_at),
    }
