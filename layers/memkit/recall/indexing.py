"""Keeping the vector store in step with the messages: index after saves and updates, forget
after deletes.

Request path (``Memory`` calls these after a successful write):

* ``request_indexing(memory, messages)`` enqueues ONE ``index_messages`` job per resource
  (however many messages were saved, up to ``MAX_IDS_PER_JOB``), so the request never waits
  for an embedding model.
  With ``indexing: sync`` (agent config or ``MEMKIT_INDEXING``), or a ``Memory`` without a job
  queue, it indexes inline instead: the next recall sees the messages (read-after-write). The
  inline path embeds the messages the write just returned, so it reads nothing back from
  storage; only a failed inline run becomes an id-only job for the queue.
* ``forget_vectors(memory, resource_id, ...)`` enqueues a ``delete_vectors`` job (inline when
  sync or without a queue): one for a resource, or per kind of id (threads, messages).

The messages are already stored when these run, so a failed *inline* indexing or delete never
fails the write: it is logged and, when a queue exists, handed to it to be retried. A failed
*enqueue* raises to ``Memory``, which counts it and indexes the save's messages in the request
instead (``Memory._request_indexing``): the write stands either way.

Worker side (registered with ``memkit.jobs.handlers``):

* ``index_messages`` loads the messages by id (deleted ones are gone and skipped), takes their
  text (``chunking.indexable_text``), cuts it into chunks, embeds all chunks of the job in
  batches, upserts ``<messageId>#<chunk>`` records, then trims chunks beyond each message's new
  count (an update that shortened a message leaves no stale chunk behind). Running a job twice
  gives the same vectors: ids are deterministic and upserts overwrite.
* ``delete_vectors`` deletes by message ids, thread ids or the whole resource.

Errors: the embedder and vector adapters raise ``RetryableError`` (the queue retries the job,
then dead-letters it) or ``PermanentJobError``/``ConfigurationError`` (dead-lettered at once).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, TypeVar

from memkit.jobs.handlers import JobContext, job_handler
from memkit.jobs.types import DeleteVectorsJob, IndexMessagesJob
from memkit.models import Message, format_ts
from memkit.recall.chunking import chunk_text, indexable_text
from memkit.vector.base import VectorRecord

if TYPE_CHECKING:
    from memkit.embedders.base import Embedder
    from memkit.memory import Memory
    from memkit.vector.base import VectorStore

logger = logging.getLogger("memkit.recall")

# An SQS message holds at most 256 KB and ids up to 255 characters, so a save of thousands of
# messages (a clone, an import) is split into jobs of this many ids; a normal turn is one job.
MAX_IDS_PER_JOB = 500

# Chunks per embedder call. Providers batch further or split as their limits require; this
# bounds the memory a huge import holds and the work a failure throws away.
EMBED_BATCH = 256

T = TypeVar("T")


@dataclass(frozen=True)
class IndexReport:
    messages: int  # messages found and looked at
    chunks: int  # vectors written
    embed_calls: int


NOTHING_INDEXED = IndexReport(messages=0, chunks=0, embed_calls=0)

# ---------------------------------------------------------------- request path


def request_indexing(memory: "Memory", messages: Sequence[Message], *, in_request: bool = False) -> None:
    """Queue the indexing of ``messages`` (or, ``in_request``, do it now)."""
    for resource_id, resource_messages in _latest_by_resource(messages).items():
        for batch in _batches(resource_messages):
            job = IndexMessagesJob(
                agent_id=memory.agent_id, resource_id=resource_id, message_ids=[m.id for m in batch]
            )
            _dispatch(memory, job, partial(_index_in_hand, memory, resource_id, batch), in_request=in_request)


def forget_vectors(
    memory: "Memory",
    resource_id: str,
    *,
    message_ids: list[str] | None = None,
    thread_ids: list[str] | None = None,
    whole_resource: bool = False,
    in_request: bool = False,
) -> None:
    """Queue the deletion of a resource's vectors (or, ``in_request``, delete them now)."""
    selectors: list[dict[str, object]] = []
    if whole_resource:
        selectors.append({"whole_resource": True})
    else:
        selectors += [{"thread_ids": batch} for batch in _batches(thread_ids or [])]
        selectors += [{"message_ids": batch} for batch in _batches(message_ids or [])]
    for selector in selectors:
        job = DeleteVectorsJob(agent_id=memory.agent_id, resource_id=resource_id, **selector)
        _dispatch(memory, job, partial(_delete_inline, memory, job), in_request=in_request)


def _dispatch(
    memory: "Memory", job: IndexMessagesJob | DeleteVectorsJob, inline_work: Callable[[], object], *, in_request: bool
) -> None:
    if in_request:
        # The fallback for a queue that refused the job: its failure reaches the caller.
        inline_work()
    elif memory.indexing == "sync" or memory.jobs is None:
        _run_inline(memory, job, inline_work)
    else:
        memory.jobs.enqueue(job.to_message())


def _batches(items: list[T]) -> list[list[T]]:
    return [items[start : start + MAX_IDS_PER_JOB] for start in range(0, len(items), MAX_IDS_PER_JOB)]


def _run_inline(memory: "Memory", job: IndexMessagesJob | DeleteVectorsJob, inline_work: Callable[[], object]) -> None:
    """Do the job's work now. If it fails, the write it follows has still succeeded: hand the
    job to the queue for retries when there is one, and log the failure either way."""
    try:
        inline_work()
    except Exception as exc:
        if memory.jobs is not None:
            logger.warning("inline %s for resource %s failed (%s); queued for retry", job.type, job.resource_id, exc)
            memory.jobs.enqueue(job.to_message())
        else:
            logger.exception("inline %s for resource %s failed; vectors are out of date", job.type, job.resource_id)


def _delete_inline(memory: "Memory", job: DeleteVectorsJob) -> None:
    if memory.vector is not None:
        delete_vectors(memory.vector, job)


def _latest_by_resource(messages: Sequence[Message]) -> dict[str, list[Message]]:
    """Each message once, under the resource it was saved to. A message given twice keeps its
    first position and its last version: the last write is what storage holds."""
    by_resource: dict[str, dict[str, Message]] = {}
    for message in messages:
        by_resource.setdefault(message.resource_id, {})[message.id] = message
    return {resource_id: list(latest.values()) for resource_id, latest in by_resource.items()}


# ---------------------------------------------------------------- the work


def index_messages(memory: "Memory", resource_id: str, message_ids: Sequence[str]) -> IndexReport:
    """Embed and upsert the current text of these messages (see module docstring)."""
    ports = _indexing_ports(memory)
    if ports is None:
        return NOTHING_INDEXED
    found = memory.storage.list_messages_by_id(list(message_ids))
    # A message re-saved under another resource since this job was queued is left to the job
    # that re-save queued, which indexes it in its new resource's partition.
    mine = [m for m in found if m.resource_id == resource_id]
    return _index_resource(*ports, resource_id, mine)


def _index_in_hand(memory: "Memory", resource_id: str, messages: list[Message]) -> IndexReport:
    """Index messages a write has just returned: they are what storage holds, so reading them
    back (as a queued job must) would cost a storage read per save for nothing."""
    ports = _indexing_ports(memory)
    if ports is None:
        return NOTHING_INDEXED
    return _index_resource(*ports, resource_id, messages)


def _indexing_ports(memory: "Memory") -> tuple["VectorStore", "Embedder"] | None:
    vector, embedder = memory.vector, memory.embedder
    if vector is None or embedder is None:
        logger.info("agent %s has no vector store or embedder (any more); skipping indexing", memory.agent_id)
        return None
    return vector, embedder


def _index_resource(
    vector: "VectorStore", embedder: "Embedder", resource_id: str, messages: list[Message]
) -> IndexReport:
    pieces: list[tuple[Message, int, str]] = []
    chunk_counts: dict[str, int] = {}
    for message in messages:
        chunks = chunk_text(indexable_text(message))
        chunk_counts[message.id] = len(chunks)
        pieces += [(message, number, text) for number, text in enumerate(chunks)]
    embed_calls = 0
    for start in range(0, len(pieces), EMBED_BATCH):
        batch = pieces[start : start + EMBED_BATCH]
        values = embedder.embed([text for _, _, text in batch])
        embed_calls += 1
        vector.upsert(
            resource_id,
            [
                VectorRecord(
                    message_id=message.id,
                    chunk=number,
                    thread_id=message.thread_id,
                    role=message.role,
                    created_at=format_ts(message.created_at),
                    values=vec,
                )
                for (message, number, _), vec in zip(batch, values, strict=True)
            ],
        )
    vector.trim_messages(resource_id, chunk_counts)
    return IndexReport(messages=len(messages), chunks=len(pieces), embed_calls=embed_calls)


def delete_vectors(vector: "VectorStore", job: DeleteVectorsJob) -> None:
    if job.whole_resource:
        vector.delete_resource(job.resource_id)
        return
    if job.thread_ids:
        vector.delete_threads(job.resource_id, job.thread_ids)
    if job.message_ids:
        vector.delete_messages(job.resource_id, job.message_ids)


# ---------------------------------------------------------------- job handlers


@job_handler("index_messages", 1)
def handle_index_messages(job: IndexMessagesJob, context: JobContext) -> IndexReport:
    return index_messages(context.memory(job.agent_id), job.resource_id, job.message_ids)


@job_handler("delete_vectors", 1)
def handle_delete_vectors(job: DeleteVectorsJob, context: JobContext) -> None:
    memory = context.memory(job.agent_id)
    if memory.vector is None:
        logger.info("agent %s has no vector store; nothing to delete for resource %s", job.agent_id, job.resource_id)
        return
    delete_vectors(memory.vector, job)
