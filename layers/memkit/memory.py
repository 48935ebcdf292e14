"""``Memory``: the agent-facing API. It composes a memory store with the optional parts
(job queue, vector store, embedder) according to one agent's ``MemoryConfig``.

A request reads as a straight line: the HTTP handler parses input and calls one method here;
this class calls the store (and, after a write, enqueues follow-up jobs). Nothing here knows
which backend it talks to.

    from memkit import Memory

    memory = Memory("file:./memkit.db", config={"lastMessages": 10})
    thread = memory.create_thread(resource_id="user-1", title="Trip planning")
    memory.save_messages([{"id": "m1", "threadId": thread.id, "resourceId": "user-1",
                           "role": "user", "content": "I love Lisbon",
                           "createdAt": "2025-01-01T00:00:00.000Z"}])
    recent = memory.recall(thread_id=thread.id, resource_id="user-1")
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, NamedTuple, Sequence

from memkit.config import MemoryConfig
from memkit.errors import ForbiddenError, NotFoundError, RetryableError, ValidationError
from memkit.metrics import count_metric
from memkit.models import (
    CloneThreadInput,
    CloneThreadResult,
    ListMessagesInput,
    ListThreadsInput,
    Message,
    MessagePage,
    MessageUpdate,
    Resource,
    Thread,
    ThreadPage,
    parse_model,
    utc_now,
    validate_id,
    validate_metadata_keys,
)
from memkit.storage.memory.base import DEFAULT_TITLES, UNSET, WORKING_MEMORY_METADATA_KEY, MemoryStorage

if TYPE_CHECKING:
    from memkit.embedders.base import Embedder
    from memkit.jobs.base import JobQueue
    from memkit.vector.base import VectorStore

logger = logging.getLogger("memkit.memory")


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


class Memory:
    def __init__(
        self,
        storage: MemoryStorage | str | None = None,
        *,
        config: MemoryConfig | Mapping[str, Any] | None = None,
        agent_id: str = "default",
        jobs: "JobQueue | None" = None,
        vector: "VectorStore | None" = None,
        embedder: "Embedder | None" = None,
        indexing: str = "async",
        emit_metrics: bool = False,
    ):
        if storage is None or isinstance(storage, str):
            from memkit.storage.factory import create_memory_storage

            storage = create_memory_storage(storage or "file:./memkit.db")
        self.storage = storage
        self.config = (
            config
            if isinstance(config, MemoryConfig)
            else parse_model(MemoryConfig, dict(config or {}), what="memory config")
        )
        self.agent_id = agent_id
        self.jobs = jobs
        self.vector = vector
        self.embedder = embedder
        self.indexing = self.config.indexing or indexing
        self.emit_metrics = emit_metrics
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
        #: failures of the work after a stored write, by task (see "follow-up work")
        self.follow_up_failures: Counter[str] = Counter()

    # ------------------------------------------------------------ guards

    def _writable(self) -> None:
        if self.config.read_only:
            raise ForbiddenError(f"Memory of agent {self.agent_id} is read-only")

    @property
    def recall_enabled(self) -> bool:
        return bool(self.config.semantic_recall) and self.vector is not None and self.embedder is not None

    # ------------------------------------------------------------ threads

    def create_thread(
        self,
        *,
        resource_id: str,
        thread_id: str | None = None,
        title: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Thread:
        self._writable()
        now = utc_now()
        thread = parse_model(
            Thread,
            {
                "id": thread_id or str(uuid.uuid4()),
                "resourceId": resource_id,
                "title": title,
                "metadata": metadata,
                "createdAt": now,
                "updatedAt": now,
            },
            what="thread",
        )
        return self.storage.save_thread(thread)

    def get_thread(self, thread_id: str, resource_id: str | None = None) -> Thread | None:
        validate_id(thread_id, "threadId")
        return self.storage.get_thread(thread_id, resource_id)

    def require_thread(self, thread_id: str, resource_id: str | None = None) -> Thread:
        thread = self.get_thread(thread_id, resource_id)
        if thread is None:
            raise NotFoundError("Thread not found")
        return thread

    def list_threads(self, **kwargs: Any) -> ThreadPage:
        return self.storage.list_threads(ListThreadsInput.build(**kwargs))

    def update_thread(
        self,
        thread_id: str,
        *,
        title: str | None = UNSET,
        metadata: dict[str, Any] | None = None,
        resource_id: str | None = None,
    ) -> Thread:
        self._writable()
        validate_id(thread_id, "threadId")
        validate_metadata_keys(metadata)
        return self.storage.update_thread(thread_id, title=title, metadata=metadata, resource_id=resource_id)

    def delete_thread(self, thread_id: str, resource_id: str | None = None) -> None:
        self._writable()
        validate_id(thread_id, "threadId")
        # The store reports what it deleted: no read before (which a concurrent save would make
        # stale) and none after, and every deleted message's resource gets its vectors cleaned.
        deleted = self.storage.delete_thread(thread_id, resource_id)
        if deleted is None:
            raise NotFoundError("Thread not found")
        self._forget_titles([thread_id])
        owner = deleted.thread.resource_id
        for resource in [owner, *sorted(deleted.message_resources - {owner})]:
            self._forget_vectors(resource, thread_ids=[thread_id])

    def clone_thread(self, request: CloneThreadInput | Mapping[str, Any]) -> CloneThreadResult:
        self._writable()
        if not isinstance(request, CloneThreadInput):
            request = parse_model(CloneThreadInput, dict(request), what="clone")
        result = self.storage.clone_thread(request)
        self._after_save(result.cloned_messages)
        return result

    # ------------------------------------------------------------ messages

    def save_messages(
        self, messages: Sequence[Message | Mapping[str, Any]], *, tenant: str | None = None
    ) -> list[Message]:
        """``tenant``: the resource a resource-bound caller acts for; the save may then touch
        only that resource's threads (``MemoryStorage``)."""
        self._writable()
        parsed = [
            m if isinstance(m, Message) else parse_model(Message, dict(m), what=f"messages[{i}]")
            for i, m in enumerate(messages)
        ]
        if not parsed:
            return []
        _refuse_repeated_ids(parsed)
        saved = self.storage.save_messages(parsed, tenant=tenant)
        self._after_save(saved)
        return saved

    def list_messages(self, **kwargs: Any) -> MessagePage:
        return self.storage.list_messages(ListMessagesInput.build(**kwargs))

    def list_messages_by_id(self, message_ids: Sequence[str]) -> list[Message]:
        return self.storage.list_messages_by_id(list(message_ids))

    def update_messages(
        self, updates: Sequence[MessageUpdate | Mapping[str, Any]], *, tenant: str | None = None
    ) -> list[Message]:
        self._writable()
        parsed = [
            u if isinstance(u, MessageUpdate) else parse_model(MessageUpdate, dict(u), what=f"messages[{i}]")
            for i, u in enumerate(updates)
        ]
        updated = self.storage.update_messages(parsed, tenant=tenant)
        reindexed_ids = {update.id for update in parsed if self._changes_indexed_fields(update)}
        self._after_save([m for m in updated if m.id in reindexed_ids], titles=False)
        return updated

    def delete_messages(self, message_ids: Sequence[str], *, tenant: str | None = None) -> int:
        """Deletes what exists among ``message_ids``; returns how many existed."""
        self._writable()
        deleted = self.storage.delete_messages(list(message_ids), tenant=tenant)
        by_resource: dict[str, list[str]] = {}
        for message_id, location in deleted.items():
            by_resource.setdefault(location.resource_id, []).append(message_id)
        for resource_id, ids in by_resource.items():
            self._forget_vectors(resource_id, message_ids=ids)
        return len(deleted)

    def recall(
        self,
        *,
        thread_id: str,
        resource_id: str | None = None,
        last_messages: int | None = None,
        query: str | None = None,
    ) -> RecallResult:
        """The context of an agent turn: the last ``lastMessages`` messages (oldest first) and,
        when semantic recall is configured, the relevant older messages."""
        window = self.config.last_messages if last_messages is None else last_messages
        if window is False:
            page = MessagePage(messages=[], total=0, page=0, per_page=0, has_more=False)
        else:
            page = self.storage.list_messages(
                ListMessagesInput.build(
                    thread_id=thread_id,
                    resource_id=resource_id,
                    per_page=window,
                    order_by={"field": "createdAt", "direction": "DESC"},
                )
            )
        recent = list(reversed(page.messages))
        result = RecallResult(messages=recent)
        if self.config.semantic_recall:
            from memkit.recall.semantic import add_semantic_recall

            add_semantic_recall(self, result, thread_id=thread_id, resource_id=resource_id, query=query)
        return result

    # ------------------------------------------------------------ resources and working memory

    def get_resource(self, resource_id: str) -> Resource | None:
        validate_id(resource_id, "resourceId")
        return self.storage.get_resource(resource_id)

    def update_resource(
        self, resource_id: str, *, working_memory: str | None = UNSET, metadata: dict[str, Any] | None = None
    ) -> Resource:
        self._writable()
        validate_id(resource_id, "resourceId")
        validate_metadata_keys(metadata)
        return self.storage.update_resource(resource_id, working_memory=working_memory, metadata=metadata)

    def erase_resource(self, resource_id: str) -> list[str]:
        """Right to erasure: the resource, its threads, messages, vectors."""
        self._writable()
        validate_id(resource_id, "resourceId")
        deleted = self.storage.delete_resource(resource_id)
        self._forget_titles(deleted.thread_ids)
        self._forget_vectors(resource_id, whole_resource=True)
        # Messages attributed to other resources keep their vectors in those namespaces.
        for other in sorted(deleted.message_resources - {resource_id}):
            self._forget_vectors(other, thread_ids=deleted.thread_ids)
        return deleted.thread_ids

    def get_working_memory(self, *, thread_id: str, resource_id: str | None = None) -> WorkingMemoryView:
        wm = self.config.working_memory
        thread = self.get_thread(thread_id, resource_id)
        owner = resource_id or (thread.resource_id if thread else None)
        if wm.scope == "thread":
            value = (thread.metadata or {}).get("workingMemory") if thread else None
        else:
            resource = self.storage.get_resource(owner) if owner else None
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

    def update_working_memory(
        self, *, thread_id: str, resource_id: str | None = None, working_memory: str | dict[str, Any]
    ) -> None:
        self._writable()
        wm = self.config.working_memory
        thread = self.get_thread(thread_id, resource_id)
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
                self.storage.modify_thread_working_memory(thread_id, merged, resource_id=owner)
            else:
                self.storage.modify_resource_working_memory(owner, merged)
            return
        if not isinstance(working_memory, str):
            raise ValidationError("workingMemory must be a string (markdown template)", field="workingMemory")
        if wm.scope == "thread":
            self.storage.update_thread(thread_id, metadata={WORKING_MEMORY_METADATA_KEY: working_memory}, resource_id=owner)
        else:
            self.storage.update_resource(owner, working_memory=working_memory)

    # ------------------------------------------------------------ follow-up work
    #
    # Runs after the store acknowledged the write, so nothing here may turn a stored write into
    # an error answer (a client that does not retry would believe it lost). A failure is logged,
    # counted (``follow_up_failures``; the FollowUpFailures metric in Lambda) and left to its own
    # retry path: a title claim is given back, so the next save of the thread requests the title
    # again, and indexing that could not be queued is done in the request instead.

    def _after_save(self, messages: Sequence[Message], *, titles: bool = True) -> None:
        if not messages or self.config.read_only:
            return
        if titles and self.config.title_config is not None:
            self._request_titles(messages)
        if self.recall_enabled:
            self._request_indexing(messages)

    def _request_indexing(self, messages: Sequence[Message]) -> None:
        from memkit.recall.indexing import request_indexing

        try:
            request_indexing(self, messages)
            return
        except Exception as exc:
            self._follow_up_failed("indexing", "a save's messages", exc)
        if self.indexing == "sync" or self.jobs is None:
            return  # it was indexing in the request already, and failed there
        try:
            request_indexing(self, messages, in_request=True)
        except Exception as exc:
            self._follow_up_failed("indexing", "a save's messages, in the request", exc)

    def _follow_up_failed(self, task: str, subject: str, exc: BaseException) -> None:
        with self._titles_settled_lock:
            self.follow_up_failures[task] += 1
        logger.warning(
            "%s after a stored write failed for %s (the write stands): %s: %s", task, subject, type(exc).__name__, exc
        )
        if self.emit_metrics:
            count_metric("FollowUpFailures", service="memory")

    # What the semantic-recall index holds of a message: its vector records carry the thread,
    # role and createdAt and live in the resource's partition (recall/indexing.py), and the
    # embedded text comes from content.parts or the legacy content string (recall/chunking.py).
    # An update that sets none of these (content.metadata, type, other content fields) would
    # only re-embed the same text.
    _INDEXED_MESSAGE_FIELDS = frozenset({"thread_id", "resource_id", "role", "created_at"})
    _INDEXED_CONTENT_FIELDS = frozenset({"parts", "content"})

    @classmethod
    def _changes_indexed_fields(cls, update: MessageUpdate) -> bool:
        if not cls._INDEXED_MESSAGE_FIELDS.isdisjoint(update.model_fields_set):
            return True
        patch = update.content
        return patch is not None and not cls._INDEXED_CONTENT_FIELDS.isdisjoint(patch.model_extra or {})

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
                self._follow_up_failed("title", f"thread {message.thread_id}", exc)

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
                from memkit.jobs.handlers import run_job_inline

                if not run_job_inline(self, job.to_message()):
                    # Logged by run_job_inline; give the claim back so the next save retries
                    # (a model's throttling or timeout must not leave the thread untitled).
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

    def _release_title_claim(self, thread_id: str) -> None:
        try:
            self.storage.release_thread_task(thread_id, "title")
        except Exception as exc:
            with self._titles_settled_lock:
                self._title_claims_to_release[thread_id] = None
                if len(self._title_claims_to_release) > self._TITLES_SETTLED_LIMIT:
                    del self._title_claims_to_release[next(iter(self._title_claims_to_release))]
            self._follow_up_failed("title claim release", f"thread {thread_id} (retried on its next save)", exc)

    _TITLES_SETTLED_LIMIT = 4096

    def _settle_title(self, thread_id: str) -> None:
        with self._titles_settled_lock:
            self._titles_settled[thread_id] = None
            if len(self._titles_settled) > self._TITLES_SETTLED_LIMIT:
                del self._titles_settled[next(iter(self._titles_settled))]

    def _forget_titles(self, thread_ids: Sequence[str]) -> None:
        with self._titles_settled_lock:
            for thread_id in thread_ids:
                self._titles_settled.pop(thread_id, None)

    def _forget_vectors(
        self,
        resource_id: str,
        *,
        message_ids: list[str] | None = None,
        thread_ids: list[str] | None = None,
        whole_resource: bool = False,
    ) -> None:
        if self.vector is None:
            return
        from memkit.recall.indexing import forget_vectors

        selection = {"message_ids": message_ids, "thread_ids": thread_ids, "whole_resource": whole_resource}
        try:
            forget_vectors(self, resource_id, **selection)
            return
        except Exception as exc:
            self._follow_up_failed("vector cleanup", f"resource {resource_id}", exc)
        if self.indexing != "sync" and self.jobs is not None:
            try:
                forget_vectors(self, resource_id, in_request=True, **selection)
                return
            except Exception as exc:
                self._follow_up_failed("vector cleanup", f"resource {resource_id}, in the request", exc)
        if whole_resource:
            # Erasure must be complete: the caller sees the failure, and erasing again (the
            # store's part is done, so only this is left) finishes it. Vectors of deleted
            # messages and threads are harmless otherwise: recall reads hits through the store.
            raise RetryableError(f"The vectors of resource {resource_id} could not be erased; erase it again")


def _refuse_repeated_ids(messages: Sequence[Message]) -> None:
    """One save, one version of each message: which of two copies should win is the caller's
    call, and silently keeping the last one loses the other."""
    seen: set[str] = set()
    for index, message in enumerate(messages):
        if message.id in seen:
            raise ValidationError(
                f"messages[{index}].id {message.id!r} appears more than once in this save", field=f"messages[{index}].id"
            )
        seen.add(message.id)


def _working_memory_patch(update: str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(update, str):
        try:
            update = json.loads(update)
        except json.JSONDecodeError as exc:
            raise ValidationError(f"workingMemory must be JSON for a schema agent: {exc}", field="workingMemory") from None
    if not isinstance(update, dict):
        raise ValidationError("workingMemory must be a JSON object for a schema agent", field="workingMemory")
    return update
