"""What a stored write leaves to do: the thread's title, indexing its messages for semantic
recall, and cleaning the vectors of what it deleted (``FollowUp``, one per ``Memory``).

Titles. A save with a user's words claims the thread's title task (``claim_thread_task``, so
racing saves enqueue one job between them) and enqueues a ``generate_title`` job; a ``Memory``
without a queue runs the job in the request instead, with its ``title_models`` (none: the
extractive title).

Indexing. After saves and updates one ``index_messages`` job is enqueued per resource (however
many messages were saved, up to ``MAX_IDS_PER_JOB``), so the request never waits for an
embedding model. With ``indexing: sync`` (agent config or ``MEMKIT_INDEXING``), or without a
job queue, it indexes in the request instead: the next recall sees the messages
(read-after-write). That inline path embeds the messages the write just returned, so it reads
nothing back from storage; only a failed inline run becomes an id-only job for the queue.
Deletes enqueue ``delete_vectors`` jobs (inline when sync or without a queue): one for a
resource, or per kind of id (threads, messages). The work itself is ``indexing.py``'s.

All of it runs after the store acknowledged the write, so nothing here may turn a stored write
into an error answer (a client that does not retry would believe it lost). A failure is logged,
counted (``failures``; the FollowUpFailures metric in Lambda) and left to its own retry path: a
title claim is given back, so the next save of the thread requests the title again; indexing
that could not be queued is done in the request instead; a failed inline run is handed to the
queue when there is one. The one exception is erasure: vectors of an erased resource that
cannot be deleted fail the request (503), and erasing again finishes it.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from memkit.errors import PermanentJobError, RetryableError
from memkit.memory.ports import AgentPorts
from memkit.metrics import count_metric
from memkit.models import Message, MessageUpdate
from memkit.storage.memory.base import DEFAULT_TITLES

if TYPE_CHECKING:
    from memkit.config import MemoryConfig
    from memkit.embedders.base import Embedder
    from memkit.jobs.base import JobQueue
    from memkit.jobs.types import DeleteVectorsJob, IndexMessagesJob
    from memkit.llm.base import LanguageModel
    from memkit.memory.indexing import IndexReport
    from memkit.memory.ports import TitleModels
    from memkit.storage.memory.base import MemoryStorage
    from memkit.vector.base import VectorStore

logger = logging.getLogger("memkit.memory")
recall_logger = logging.getLogger("memkit.recall")
jobs_logger = logging.getLogger("memkit.jobs")

# An SQS message holds at most 256 KB and ids up to 255 characters, so a save of thousands of
# messages (a clone, an import) is split into jobs of this many ids; a normal turn is one job.
MAX_IDS_PER_JOB = 500
# Bound of the settled-title memo and of the claims left to release.
TITLES_SETTLED_LIMIT = 4096

T = TypeVar("T")


class FollowUp:
    """The follow-up work of one agent's ``Memory``. Its ports are attributes, so a ``Memory``
    can hand it another queue or vector store (tests do)."""

    def __init__(
        self,
        *,
        agent_id: str,
        config: MemoryConfig,
        storage: MemoryStorage,
        jobs: JobQueue | None,
        vector: VectorStore | None,
        embedder: Embedder | None,
        indexing: str,
        title_models: TitleModels | None,
        emit_metrics: bool,
    ):
        self.agent_id = agent_id
        self.config = config
        self.storage = storage
        self.jobs = jobs
        self.vector = vector
        self.embedder = embedder
        self.indexing = indexing
        self.title_models = title_models
        self.emit_metrics = emit_metrics
        #: failures of the work after a stored write, by task
        self.failures: Counter[str] = Counter()
        # Threads whose title claim is taken (by a save here or elsewhere). A claim stays on the
        # stored thread through renames and overwrites and goes only with the thread, so later
        # saves skip reading it: one GetItem less per save on DynamoDB without the cache. A
        # titled thread is not remembered: its title may be cleared, and then it needs one.
        # Bounded, in insertion order; forgotten when this process deletes the thread (one
        # deleted and re-created by another process is not titled again by this one).
        self._titles_settled: dict[str, None] = {}
        self._titles_settled_lock = threading.Lock()
        # Title claims this process failed to give back (bounded, in insertion order).
        self._title_claims_to_release: dict[str, None] = {}

    @property
    def ports(self) -> AgentPorts:
        return AgentPorts(self.agent_id, self.config, self.storage, self.vector, self.embedder)

    @property
    def recall_enabled(self) -> bool:
        return bool(self.config.semantic_recall) and self.vector is not None and self.embedder is not None

    # ------------------------------------------------------------ after a write

    def after_write(self, messages: Sequence[Message], *, titles: bool = True) -> None:
        """After a save (``titles``: one that may start a thread's title) or an update."""
        if not messages or self.config.read_only:
            return
        if titles and self.config.title_config is not None:
            self._request_titles(messages)
        if self.recall_enabled:
            self._request_indexing(messages)

    # What the semantic-recall index holds of a message: its vector records carry the thread,
    # role and createdAt and live in the resource's partition (``indexing.py``), and the
    # embedded text comes from content.parts or the legacy content string (``chunking.py``).
    # An update that sets none of these (content.metadata, type, other content fields) would
    # only re-embed the same text.
    _INDEXED_MESSAGE_FIELDS = frozenset({"thread_id", "resource_id", "role", "created_at"})
    _INDEXED_CONTENT_FIELDS = frozenset({"parts", "content"})

    @classmethod
    def changes_indexed_fields(cls, update: MessageUpdate) -> bool:
        if not cls._INDEXED_MESSAGE_FIELDS.isdisjoint(update.model_fields_set):
            return True
        patch = update.content
        return patch is not None and not cls._INDEXED_CONTENT_FIELDS.isdisjoint(patch.model_extra or {})

    def _failed(self, task: str, subject: str, exc: BaseException) -> None:
        with self._titles_settled_lock:
            self.failures[task] += 1
        logger.warning(
            "%s after a stored write failed for %s (the write stands): %s: %s", task, subject, type(exc).__name__, exc
        )
        if self.emit_metrics:
            count_metric("FollowUpFailures", service="memory")

    # ------------------------------------------------------------ titles

    def _request_titles(self, messages: Sequence[Message]) -> None:
        seen: set[str] = set()
        for message in messages:
            if message.thread_id in seen or message.thread_id in self._titles_settled:
                continue
            # A title is made from the user's words: a save without any (an assistant's reply
            # first, a user's image alone) claims nothing, so the save that brings them does.
            if message.role != "user" or not message.text().strip():
                continue
            seen.add(message.thread_id)
            try:
                self._request_title(message.thread_id)
            except Exception as exc:
                self._failed("title", f"thread {message.thread_id}", exc)

    def _request_title(self, thread_id: str) -> None:
        from memkit.jobs.types import GenerateTitleJob

        if thread_id in self._title_claims_to_release:
            # This process could not give the claim back last time; nobody else will.
            self.storage.release_thread_task(thread_id, "title")
            self._title_claims_to_release.pop(thread_id, None)
        thread = self.storage.get_thread(thread_id)
        if thread is None or (thread.title or "") not in DEFAULT_TITLES:
            return
        try:
            # The claim makes racing saves enqueue one job between them.
            if not self.storage.claim_thread_task(thread.id, "title"):
                self._settle_title(thread.id)
                return
            job = GenerateTitleJob(agent_id=self.agent_id, thread_id=thread.id, resource_id=thread.resource_id)
            if self.jobs is None:
                if not self._title_in_request(job.to_message()):
                    # Logged already; give the claim back so the next save retries (a model's
                    # throttling or timeout must not leave the thread untitled).
                    self._release_title_claim(thread.id)
                    return
            else:
                self.jobs.enqueue(job.to_message())
        except Exception:
            # The claim may be held (a claim whose answer was lost, too) with no job to honour
            # it: give it back, so the next save of this thread requests the title again.
            self._release_title_claim(thread.id)
            raise
        self._settle_title(thread.id)

    def _title_in_request(self, job: dict[str, Any]) -> bool:
        """Run a title job now, for a ``Memory`` without a queue, through the same handler table
        as a queued job. The save has succeeded already, so a failed job is logged with its
        reason instead of failing it. Returns whether the job succeeded."""
        from memkit.jobs.runner import describe_job
        from memkit.memory import jobs

        try:
            jobs.handle_job(job, _OwnAgent(self.ports, self.title_models))
        except Exception:
            jobs_logger.exception("inline job %s v%s failed: %s", job.get("type"), job.get("v"), describe_job(job))
            return False
        return True

    def _release_title_claim(self, thread_id: str) -> None:
        try:
            self.storage.release_thread_task(thread_id, "title")
        except Exception as exc:
            with self._titles_settled_lock:
                self._title_claims_to_release[thread_id] = None
                if len(self._title_claims_to_release) > TITLES_SETTLED_LIMIT:
                    del self._title_claims_to_release[next(iter(self._title_claims_to_release))]
            self._failed("title claim release", f"thread {thread_id} (retried on its next save)", exc)

    def _settle_title(self, thread_id: str) -> None:
        with self._titles_settled_lock:
            self._titles_settled[thread_id] = None
            if len(self._titles_settled) > TITLES_SETTLED_LIMIT:
                del self._titles_settled[next(iter(self._titles_settled))]

    def forget_titles(self, thread_ids: Sequence[str]) -> None:
        """Deleted threads: a thread of the same id created later needs its title again."""
        with self._titles_settled_lock:
            for thread_id in thread_ids:
                self._titles_settled.pop(thread_id, None)

    # ------------------------------------------------------------ indexing

    def _request_indexing(self, messages: Sequence[Message]) -> None:
        try:
            self._index(messages)
            return
        except Exception as exc:
            self._failed("indexing", "a save's messages", exc)
        if self.indexing == "sync" or self.jobs is None:
            return  # it was indexing in the request already, and failed there
        try:
            self._index(messages, in_request=True)
        except Exception as exc:
            self._failed("indexing", "a save's messages, in the request", exc)

    def _index(self, messages: Sequence[Message], *, in_request: bool = False) -> None:
        """Queue the indexing of ``messages`` (or, ``in_request``, do it now)."""
        from memkit.jobs.types import IndexMessagesJob

        for resource_id, resource_messages in _latest_by_resource(messages).items():
            for batch in _batches(resource_messages):
                job = IndexMessagesJob(agent_id=self.agent_id, resource_id=resource_id, message_ids=[m.id for m in batch])
                self._dispatch(job, partial(self._index_in_hand, resource_id, batch), in_request=in_request)

    def _index_in_hand(self, resource_id: str, messages: list[Message]) -> IndexReport:
        """Index messages a write has just returned: they are what storage holds, so reading them
        back (as a queued job must) would cost a storage read per save for nothing."""
        from memkit.memory.indexing import NOTHING_INDEXED, index_resource

        if self.vector is None or self.embedder is None:
            recall_logger.info("agent %s has no vector store or embedder (any more); skipping indexing", self.agent_id)
            return NOTHING_INDEXED
        return index_resource(self.vector, self.embedder, resource_id, messages)

    # ------------------------------------------------------------ vector cleanup

    def forget_vectors(
        self,
        resource_id: str,
        *,
        message_ids: list[str] | None = None,
        thread_ids: list[str] | None = None,
        whole_resource: bool = False,
    ) -> None:
        """After deletes: the vectors of those messages, threads or the whole resource go."""
        if self.vector is None:
            return
        selection = {"message_ids": message_ids, "thread_ids": thread_ids, "whole_resource": whole_resource}
        try:
            self._delete_vectors(resource_id, **selection)
            return
        except Exception as exc:
            self._failed("vector cleanup", f"resource {resource_id}", exc)
        if self.indexing != "sync" and self.jobs is not None:
            try:
                self._delete_vectors(resource_id, in_request=True, **selection)
                return
            except Exception as exc:
                self._failed("vector cleanup", f"resource {resource_id}, in the request", exc)
        if whole_resource:
            # Erasure must be complete: the caller sees the failure, and erasing again (the
            # store's part is done, so only this is left) finishes it. Vectors of deleted
            # messages and threads are harmless otherwise: recall reads hits through the store.
            raise RetryableError(f"The vectors of resource {resource_id} could not be erased; erase it again")

    def _delete_vectors(
        self,
        resource_id: str,
        *,
        message_ids: list[str] | None = None,
        thread_ids: list[str] | None = None,
        whole_resource: bool = False,
        in_request: bool = False,
    ) -> None:
        """Queue the deletion of a resource's vectors (or, ``in_request``, delete them now)."""
        from memkit.jobs.types import DeleteVectorsJob

        selectors: list[dict[str, object]] = []
        if whole_resource:
            selectors.append({"whole_resource": True})
        else:
            selectors += [{"thread_ids": batch} for batch in _batches(thread_ids or [])]
            selectors += [{"message_ids": batch} for batch in _batches(message_ids or [])]
        for selector in selectors:
            job = DeleteVectorsJob(agent_id=self.agent_id, resource_id=resource_id, **selector)
            self._dispatch(job, partial(self._delete_in_hand, job), in_request=in_request)

    def _delete_in_hand(self, job: DeleteVectorsJob) -> None:
        from memkit.memory.indexing import delete_vectors

        if self.vector is not None:
            delete_vectors(self.vector, job)

    # ------------------------------------------------------------ queued or in the request

    def _dispatch(
        self, job: IndexMessagesJob | DeleteVectorsJob, inline_work: Callable[[], object], *, in_request: bool
    ) -> None:
        if in_request:
            # The fallback for a queue that refused the job: its failure reaches the caller.
            inline_work()
        elif self.indexing == "sync" or self.jobs is None:
            self._run_inline(job, inline_work)
        else:
            self.jobs.enqueue(job.to_message())

    def _run_inline(self, job: IndexMessagesJob | DeleteVectorsJob, inline_work: Callable[[], object]) -> None:
        """Do the job's work now. If it fails, the write it follows has still succeeded: hand the
        job to the queue for retries when there is one, and log the failure either way."""
        try:
            inline_work()
        except Exception as exc:
            if self.jobs is not None:
                recall_logger.warning(
                    "inline %s for resource %s failed (%s); queued for retry", job.type, job.resource_id, exc
                )
                self.jobs.enqueue(job.to_message())
            else:
                recall_logger.exception(
                    "inline %s for resource %s failed; vectors are out of date", job.type, job.resource_id
                )


class _OwnAgent:
    """The ``JobContext`` of a ``Memory`` without a queue: the jobs it runs are its own agent's."""

    def __init__(self, ports: AgentPorts, title_models: TitleModels | None):
        self._ports = ports
        self._title_models = title_models

    def agent(self, agent_id: str | None) -> AgentPorts:
        if agent_id not in (None, self._ports.agent_id):
            raise PermanentJobError(f"job for agent {agent_id} reached the memory of agent {self._ports.agent_id}")
        return self._ports

    def title_model(self, spec: str | None) -> LanguageModel | None:
        return None if self._title_models is None else self._title_models(spec)


def _batches(items: list[T]) -> list[list[T]]:
    return [items[start : start + MAX_IDS_PER_JOB] for start in range(0, len(items), MAX_IDS_PER_JOB)]


def _latest_by_resource(messages: Sequence[Message]) -> dict[str, list[Message]]:
    """Each message once, under the resource it was saved to. A message given twice keeps its
    first position and its last version: the last write is what storage holds."""
    by_resource: dict[str, dict[str, Message]] = {}
    for message in messages:
        by_resource.setdefault(message.resource_id, {})[message.id] = message
    return {resource_id: list(latest.values()) for resource_id, latest in by_resource.items()}
