"""The indexing work: keeping the vector store in step with the messages.

* ``index_messages`` loads the messages of an ``index_messages`` job by id (deleted ones are
  gone and skipped), takes their text (``chunking.indexable_text``), cuts it into chunks,
  embeds all chunks of the job in batches, upserts ``<messageId>#<chunk>`` records, then trims
  chunks beyond each message's new count (an update that shortened a message leaves no stale
  chunk behind). Running a job twice gives the same vectors: ids are deterministic and upserts
  overwrite. ``index_resource`` does the same for messages a write has just returned.
* ``delete_vectors`` deletes by message ids, thread ids or the whole resource.

Who asks for this work after a write is ``follow_up.py``; the job handlers are ``jobs.py``.
Errors: the embedder and vector adapters raise ``RetryableError`` (the queue retries the job,
then dead-letters it) or ``PermanentJobError``/``ConfigurationError`` (dead-lettered at once).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from memkit.memory.chunking import chunk_text, indexable_text
from memkit.models import Message, format_ts
from memkit.vector.base import VectorRecord

if TYPE_CHECKING:
    from memkit.embedders.base import Embedder
    from memkit.jobs.types import DeleteVectorsJob
    from memkit.memory.ports import AgentPorts
    from memkit.vector.base import VectorStore

logger = logging.getLogger("memkit.recall")

# Chunks per embedder call. Providers batch further or split as their limits require; this
# bounds the memory a huge import holds and the work a failure throws away.
EMBED_BATCH = 256


@dataclass(frozen=True)
class IndexReport:
    messages: int  # messages found and looked at
    chunks: int  # vectors written
    embed_calls: int


NOTHING_INDEXED = IndexReport(messages=0, chunks=0, embed_calls=0)


def index_messages(ports: AgentPorts, resource_id: str, message_ids: Sequence[str]) -> IndexReport:
    """Embed and upsert the current text of these messages (see module docstring)."""
    if ports.vector is None or ports.embedder is None:
        logger.info("agent %s has no vector store or embedder (any more); skipping indexing", ports.agent_id)
        return NOTHING_INDEXED
    found = ports.storage.list_messages_by_id(list(message_ids))
    # A message re-saved under another resource since this job was queued is left to the job
    # that re-save queued, which indexes it in its new resource's partition.
    mine = [m for m in found if m.resource_id == resource_id]
    return index_resource(ports.vector, ports.embedder, resource_id, mine)


def index_resource(
    vector: VectorStore, embedder: Embedder, resource_id: str, messages: list[Message]
) -> IndexReport:
    """Embed and upsert ``messages`` (what storage holds) in ``resource_id``'s partition."""
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


def delete_vectors(vector: VectorStore, job: DeleteVectorsJob) -> None:
    if job.whole_resource:
        vector.delete_resource(job.resource_id)
        return
    if job.thread_ids:
        vector.delete_threads(job.resource_id, job.thread_ids)
    if job.message_ids:
        vector.delete_messages(job.resource_id, job.message_ids)
