"""``Memory``: the agent-facing API. It composes a memory store with the optional parts
(job queue, vector store, embedder, title models) according to one agent's ``MemoryConfig``.

A request reads as a straight line: the HTTP handler parses input and calls one method here;
this class calls the store and, after a write, hands what is left to do to its follow-up
(``follow_up.py``: titles, indexing, vector cleanup). Its helpers get ports, never the
``Memory``. Nothing here knows which backend it talks to. The behaviour it implements is
``docs/memory-model.md``'s.

    from memkit import Memory

    memory = Memory("file:./memkit.db", config={"lastMessages": 10})
    thread = memory.create_thread(resource_id="user-1", title="Trip planning")
    memory.save_messages([{"id": "m1", "threadId": thread.id, "resourceId": "user-1",
                           "role": "user", "content": "I love Lisbon",
                           "createdAt": "2025-01-01T00:00:00.000Z"}])
    recent = memory.recall(thread_id=thread.id, resource_id="user-1")
"""

from __future__ import annotations

import uuid
from collections import Counter
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from memkit.config import MemoryConfig
from memkit.errors import ForbiddenError, NotFoundError, ValidationError
from memkit.memory.follow_up import FollowUp
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
from memkit.storage.memory.base import UNSET, MemoryStorage

if TYPE_CHECKING:
    from memkit.embedders.base import Embedder
    from memkit.jobs.base import JobQueue
    from memkit.memory.ports import AgentPorts, TitleModels
    from memkit.memory.recall import RecallResult
    from memkit.memory.working_memory import WorkingMemoryView
    from memkit.vector.base import VectorStore

DEFAULT_STORAGE_URL = "file:./memkit.db"


class Memory:
    def __init__(
        self,
        storage: MemoryStorage | str | None = None,
        *,
        config: MemoryConfig | Mapping[str, Any] | None = None,
        agent_id: str = "default",
        jobs: JobQueue | None = None,
        vector: VectorStore | None = None,
        embedder: Embedder | None = None,
        indexing: str = "async",
        title_models: TitleModels | None = None,
        emit_metrics: bool | None = None,
    ):
        """``storage`` is a store, or a storage URL (``file:./memkit.db``, the default, or
        ``dynamodb://<table>``): from a URL the store and the deployment's defaults (the title
        model, metrics inside Lambda) come from the settings (``memkit.composition``).

        ``title_models`` gives the language model for a model spec; without it (a ``Memory``
        built on a store, with no queue) titles are extractive (``titles.rules``). Jobs queued
        to ``jobs`` are run by whoever runs the queue (the runtime's worker) with its models.
        """
        if storage is None or isinstance(storage, str):
            from memkit.composition import memory_from_url

            built = memory_from_url(storage or DEFAULT_STORAGE_URL)
            storage = built.storage
            title_models = title_models if title_models is not None else built.title_models
            emit_metrics = emit_metrics if emit_metrics is not None else built.emit_metrics
        self.storage = storage
        self.config = (
            config
            if isinstance(config, MemoryConfig)
            else parse_model(MemoryConfig, dict(config or {}), what="memory config")
        )
        self.agent_id = agent_id
        self.follow_up = FollowUp(
            agent_id=agent_id,
            config=self.config,
            storage=storage,
            jobs=jobs,
            vector=vector,
            embedder=embedder,
            indexing=self.config.indexing or indexing,
            title_models=title_models,
            emit_metrics=bool(emit_metrics),
        )

    # ------------------------------------------------------------ ports
    # Held by the follow-up work, which uses them after writes; settable, as tests swap them.

    @property
    def ports(self) -> AgentPorts:
        return self.follow_up.ports

    @property
    def jobs(self) -> JobQueue | None:
        return self.follow_up.jobs

    @jobs.setter
    def jobs(self, jobs: JobQueue | None) -> None:
        self.follow_up.jobs = jobs

    @property
    def vector(self) -> VectorStore | None:
        return self.follow_up.vector

    @vector.setter
    def vector(self, vector: VectorStore | None) -> None:
        self.follow_up.vector = vector

    @property
    def embedder(self) -> Embedder | None:
        return self.follow_up.embedder

    @embedder.setter
    def embedder(self, embedder: Embedder | None) -> None:
        self.follow_up.embedder = embedder

    @property
    def indexing(self) -> str:
        return self.follow_up.indexing

    @indexing.setter
    def indexing(self, indexing: str) -> None:
        self.follow_up.indexing = indexing

    @property
    def follow_up_failures(self) -> Counter[str]:
        """Failures of the work after a stored write, by task (``follow_up.py``)."""
        return self.follow_up.failures

    # ------------------------------------------------------------ guards

    def _writable(self) -> None:
        if self.config.read_only:
            raise ForbiddenError(f"Memory of agent {self.agent_id} is read-only")

    @property
    def recall_enabled(self) -> bool:
        return self.follow_up.recall_enabled

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
        self.follow_up.forget_titles([thread_id])
        owner = deleted.thread.resource_id
        for resource in [owner, *sorted(deleted.message_resources - {owner})]:
            self.follow_up.forget_vectors(resource, thread_ids=[thread_id])

    def clone_thread(self, request: CloneThreadInput | Mapping[str, Any]) -> CloneThreadResult:
        self._writable()
        if not isinstance(request, CloneThreadInput):
            request = parse_model(CloneThreadInput, dict(request), what="clone")
        result = self.storage.clone_thread(request)
        self.follow_up.after_write(result.cloned_messages)
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
        self.follow_up.after_write(saved)
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
        reindexed_ids = {update.id for update in parsed if self.follow_up.changes_indexed_fields(update)}
        self.follow_up.after_write([m for m in updated if m.id in reindexed_ids], titles=False)
        return updated

    def delete_messages(self, message_ids: Sequence[str], *, tenant: str | None = None) -> int:
        """Deletes what exists among ``message_ids``; returns how many existed."""
        self._writable()
        deleted = self.storage.delete_messages(list(message_ids), tenant=tenant)
        by_resource: dict[str, list[str]] = {}
        for message_id, location in deleted.items():
            by_resource.setdefault(location.resource_id, []).append(message_id)
        for resource_id, ids in by_resource.items():
            self.follow_up.forget_vectors(resource_id, message_ids=ids)
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
        from memkit.memory.recall import RecallResult, add_semantic_recall

        result = RecallResult(messages=list(reversed(page.messages)))
        if self.config.semantic_recall:
            add_semantic_recall(self.ports, result, thread_id=thread_id, resource_id=resource_id, query=query)
        return result

    def search(
        self,
        *,
        search_query: str,
        resource_id: str,
        thread_id: str | None = None,
        limit: int | None = None,
        memory_config: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Semantic search over the resource's (or one thread's) messages, in the shape of
        Mastra's ``GET /api/memory/search`` (``search.py``)."""
        from memkit.memory.search import DEFAULT_LIMIT, search_memory

        return search_memory(
            self.ports,
            search_query=search_query,
            resource_id=resource_id,
            thread_id=thread_id,
            limit=DEFAULT_LIMIT if limit is None else limit,
            memory_config=memory_config,
        )

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
        self.follow_up.forget_titles(deleted.thread_ids)
        self.follow_up.forget_vectors(resource_id, whole_resource=True)
        # Messages attributed to other resources keep their vectors in those namespaces.
        for other in sorted(deleted.message_resources - {resource_id}):
            self.follow_up.forget_vectors(other, thread_ids=deleted.thread_ids)
        return deleted.thread_ids

    def get_working_memory(self, *, thread_id: str, resource_id: str | None = None) -> WorkingMemoryView:
        from memkit.memory.working_memory import read_working_memory

        thread = self.get_thread(thread_id, resource_id)
        return read_working_memory(self.storage, self.config, thread, resource_id)

    def update_working_memory(
        self, *, thread_id: str, resource_id: str | None = None, working_memory: str | dict[str, Any]
    ) -> None:
        self._writable()
        from memkit.memory.working_memory import write_working_memory

        thread = self.get_thread(thread_id, resource_id)
        write_working_memory(
            self.storage,
            self.config,
            thread_id=thread_id,
            thread=thread,
            resource_id=resource_id,
            working_memory=working_memory,
        )


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
