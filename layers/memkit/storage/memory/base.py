"""The memory storage port: threads, messages and resources.

Every adapter (``libsql/``, ``dynamodb/``, the cache decorator) implements this class and
passes the one conformance suite in ``tests/storage/memory``. The port is synchronous: the
backends' SDKs are synchronous, and the ASGI layer runs calls in its thread pool.

Semantics are ``docs/memory-model.md``'s; the points every adapter must get right are in the
docstrings below, so an adapter author does not have to re-derive them. The write rules both
stores share (task names, clones, tenant checks) are in ``rules.py``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime
from typing import Any, Callable, Mapping, NamedTuple, Sequence

from memkit.models import (
    CloneThreadInput,
    CloneThreadResult,
    ListMessagesByResourceInput,
    ListMessagesInput,
    ListThreadsInput,
    Message,
    MessagePage,
    MessageUpdate,
    Resource,
    Thread,
    ThreadPage,
)

# Sentinel: "argument not given", distinct from an explicit None (which clears a value).
UNSET: Any = type("Unset", (), {"__repr__": lambda self: "UNSET", "__bool__": lambda self: False})()

# Where thread-scoped working memory lives in a thread's metadata (Mastra's place for it).
WORKING_MEMORY_METADATA_KEY = "workingMemory"

# Titles that title generation may replace (a thread "without a title").
DEFAULT_TITLES = frozenset({"", "New Thread", "New thread", "Untitled"})


class MessageLocation(NamedTuple):
    """Where a message lived before a save or delete touched it."""

    thread_id: str
    resource_id: str


class SaveReceipt(NamedTuple):
    """What ``save_messages_with_receipt`` did, in the detail a write-through cache needs to
    follow the store exactly instead of invalidating."""

    #: the saved messages, as ``save_messages`` returns them
    messages: list[Message]
    #: the time the store stamped on every touched thread's ``updated_at`` (None: unknown)
    bumped_at: datetime | None = None
    #: for each saved id that already existed, where it was (a re-save or a move); ids not
    #: here were new. None: the store cannot tell.
    previous: Mapping[str, MessageLocation] | None = None


class UpdateReceipt(NamedTuple):
    """What ``update_messages_with_receipt`` did: a cache learns the threads that moved
    messages left without reading the messages first."""

    #: the updated messages, as ``update_messages`` returns them
    messages: list[Message]
    #: for each updated id, where it was before the update
    previous: Mapping[str, MessageLocation]


class ThreadWindow(NamedTuple):
    """A thread with its newest messages, as ``load_thread_window`` returns it."""

    thread: Thread | None
    #: newest first (createdAt DESC, ties by id DESC), every resource's messages
    messages: list[Message]
    #: the thread's message count
    total: int
    #: how many of them are attributed to a resource other than the owner (None: unknown)
    foreign: int | None


class DeletedThread(NamedTuple):
    """What ``delete_thread`` removed, so the caller can clean up after it (vectors live in each
    message's resource namespace) without reading the thread again, before or after."""

    thread: Thread
    #: the resources of the messages deleted with it, the owner's and any attributed ones
    message_resources: frozenset[str]


class DeletedResource(NamedTuple):
    """What ``delete_resource`` removed: the vectors of the messages in its threads live in each
    message's resource namespace, and the caller cleans them without reading the threads first."""

    thread_ids: list[str]
    #: the resources of the messages deleted with the threads, the owner's and any attributed ones
    message_resources: frozenset[str]


class MemoryStorage(ABC):
    """Port for the memory domain.

    Writes that name message ids (save, update, delete) take ``tenant``: the resource a
    resource-bound caller acts for (``None``: a trusted caller, Mastra's semantics). With a
    tenant, every thread the write touches must be the tenant's — the threads messages are
    saved or moved into (``OwnershipError`` otherwise) and the threads the named messages live
    in now (``ForbiddenError``, naming no other resource) — and messages it saves or moves must
    be attributed to the tenant. Adapters check this inside the write itself (same transaction,
    or conditions that pin what was read), so nothing is written when it fails and no
    concurrent write can slip between check and write. Message ids are global: without this,
    saving another tenant's id into one's own thread would move that message.
    """

    #: short backend name reported by /api/memory/status ("libsql", "dynamodb", ...)
    name: str = "abstract"

    # ------------------------------------------------------------ threads

    @abstractmethod
    def get_thread(self, thread_id: str, resource_id: str | None = None) -> Thread | None:
        """The thread, or None if unknown. With ``resource_id``, a thread owned by another
        resource raises ``OwnershipError`` (its exact text: ``docs/memory-model.md``)."""

    @abstractmethod
    def save_thread(self, thread: Thread) -> Thread:
        """Create or overwrite a thread (title, metadata, timestamps as given).
        An existing thread keeps its owner: a different ``resource_id`` raises ``OwnershipError``."""

    @abstractmethod
    def update_thread(
        self,
        thread_id: str,
        *,
        title: str | None = UNSET,
        metadata: dict[str, Any] | None = None,
        resource_id: str | None = None,
    ) -> Thread:
        """Set the title (if given) and shallow-merge ``metadata`` into the thread's metadata;
        bumps ``updated_at``. Unknown thread: ``NotFoundError``. ``resource_id`` is an
        ownership check, never a move."""

    @abstractmethod
    def set_title_if_untitled(self, thread_id: str, title: str) -> bool:
        """Conditional write for title generation: set ``title`` only if the thread's title is
        unset or one of ``DEFAULT_TITLES``. Returns whether it wrote. A missing thread returns
        False (it was deleted meanwhile). Must be atomic against a concurrent user rename."""

    @abstractmethod
    def claim_thread_task(self, thread_id: str, task: str) -> bool:
        """Atomically record that one-off ``task`` (e.g. ``"title"``) was started for the thread.
        True for exactly one caller, however many race; False afterwards or if the thread is
        missing. Lets racing saves enqueue a single title job. (libSQL: one conditional
        UPDATE/INSERT; DynamoDB: one UpdateItem with ``attribute_not_exists`` on the claim.)
        Claims are not part of the Thread shape and never show in thread metadata."""

    @abstractmethod
    def release_thread_task(self, thread_id: str, task: str) -> None:
        """Undo ``claim_thread_task`` when the claimed work could not even be started (e.g. the
        job could not be enqueued), so a later save may claim it again. No-op if unclaimed."""

    @abstractmethod
    def delete_thread(self, thread_id: str, resource_id: str | None = None) -> DeletedThread | None:
        """Remove the thread and all its messages; return what was removed. Unknown id is a
        no-op returning None. The message resources must be those of every message deleted,
        including any saved between the thread's read and its delete."""

    @abstractmethod
    def list_threads(self, query: ListThreadsInput) -> ThreadPage:
        """Threads filtered by resource and metadata (AND of equalities), ordered with ties
        broken by id, paginated."""

    # ------------------------------------------------------------ messages

    @abstractmethod
    def save_messages(self, messages: Sequence[Message], *, tenant: str | None = None) -> list[Message]:
        """All or nothing. Every thread named must exist (``NotFoundError`` otherwise).
        Re-saving an id updates it; an id living in another thread moves there. Bumps each
        touched thread's ``updated_at`` and ``last_message_at`` (never backwards).
        Returns the saved messages in input order. ``tenant``: see the class docstring."""

    def save_messages_with_receipt(self, messages: Sequence[Message], *, tenant: str | None = None) -> SaveReceipt:
        """``save_messages``, also reporting when the touched threads were bumped and which ids
        existed before (see ``SaveReceipt``), so a cache can apply the save to its copy.

        This default looks the ids up first (one more read, not atomic with the save) and cannot
        know the bump time, so a cache only invalidates after it. Adapters that learn both while
        saving (both built-in ones do) override it at no extra request."""
        existing = self.list_messages_by_id(list(dict.fromkeys(m.id for m in messages))) if messages else []
        saved = self.save_messages(messages, tenant=tenant)
        previous = {m.id: MessageLocation(m.thread_id, m.resource_id) for m in existing}
        return SaveReceipt(messages=saved, previous=previous)

    @abstractmethod
    def list_messages(self, query: ListMessagesInput) -> MessagePage:
        """A page of the thread(s)' messages plus ``include`` windows (deduplicated by id,
        ordered like the page; includes never cross ``query.resource_id`` when it is set).
        With ``query.resource_id`` set, a thread owned by another resource raises
        ``OwnershipError``; messages of other resources inside the thread are filtered out."""

    def load_thread_window(self, thread_id: str, limit: int) -> ThreadWindow:
        """The thread (None if unknown, without ownership check) and its newest ``limit``
        messages with the counts that let a cache serve "last N" pages exactly. Adapters that
        keep the counts next to the thread override this with a single read (DynamoDB: one
        Query); this default takes three."""
        thread = self.get_thread(thread_id)
        if thread is None:
            return ThreadWindow(thread=None, messages=[], total=0, foreign=0)
        newest = {"field": "createdAt", "direction": "DESC"}
        page = self.list_messages(ListMessagesInput.build(thread_id=thread_id, per_page=limit, order_by=newest))
        owned = self.list_messages(
            ListMessagesInput.build(thread_id=thread_id, resource_id=thread.resource_id, per_page=0)
        )
        return ThreadWindow(thread=thread, messages=page.messages, total=page.total, foreign=page.total - owned.total)

    @abstractmethod
    def list_messages_by_id(self, message_ids: Sequence[str]) -> list[Message]:
        """The messages that exist among ``message_ids``, across threads, sorted by createdAt."""

    @abstractmethod
    def list_messages_by_resource_id(self, query: ListMessagesByResourceInput) -> MessagePage:
        """All of a resource's messages across its threads, paginated and filtered."""

    @abstractmethod
    def update_messages(self, updates: Sequence[MessageUpdate], *, tenant: str | None = None) -> list[Message]:
        """Partial updates by id. ``content.metadata`` deep-merges; other given content fields
        (``content``, ``parts``, ...) replace. A changed ``thread_id`` moves the message and bumps
        both threads. Unknown ids are ignored. Returns the updated messages. ``tenant``: see the
        class docstring."""

    def update_messages_with_receipt(
        self, updates: Sequence[MessageUpdate], *, tenant: str | None = None
    ) -> UpdateReceipt:
        """``update_messages``, also reporting where each updated message was before.

        This default looks the ids up first (one more read, not atomic with the update).
        Adapters that read the messages while updating (both built-in ones do) override it at
        no extra request."""
        existing = self.list_messages_by_id(list(dict.fromkeys(u.id for u in updates))) if updates else []
        updated = self.update_messages(updates, tenant=tenant)
        return UpdateReceipt(updated, {m.id: MessageLocation(m.thread_id, m.resource_id) for m in existing})

    @abstractmethod
    def delete_messages(self, message_ids: Sequence[str], *, tenant: str | None = None) -> dict[str, MessageLocation]:
        """Delete by id; empty lists and unknown ids are fine. Bumps affected threads.
        Returns where each deleted message lived (unknown ids are absent), so callers clean
        caches and vectors without looking the ids up a second time. ``tenant``: see the class
        docstring (one message in another tenant's thread and nothing is deleted)."""

    # ------------------------------------------------------------ resources

    @abstractmethod
    def get_resource(self, resource_id: str) -> Resource | None: ...

    @abstractmethod
    def save_resource(self, resource: Resource) -> Resource: ...

    @abstractmethod
    def update_resource(
        self,
        resource_id: str,
        *,
        working_memory: str | None = UNSET,
        metadata: dict[str, Any] | None = None,
    ) -> Resource:
        """Upsert: sets working memory if given, shallow-merges metadata, bumps ``updated_at``.
        Concurrent updates of different metadata keys must both survive (no read-modify-write)."""

    @abstractmethod
    def modify_resource_working_memory(self, resource_id: str, modify: Callable[[str | None], str]) -> Resource:
        """Set the resource's working memory to ``modify(current)`` atomically: a concurrent
        change between the read and the write makes the store read again and call ``modify``
        again (so ``modify`` must be a pure function of its argument), never lose either
        update. Upserts the resource like ``update_resource``. For schema working memory, where
        each update merges into what is there."""

    @abstractmethod
    def modify_thread_working_memory(
        self, thread_id: str, modify: Callable[[Any], str], *, resource_id: str | None = None
    ) -> Thread:
        """``modify_resource_working_memory`` for thread-scoped working memory, kept in the
        thread's ``metadata.workingMemory``. Unknown thread: ``NotFoundError``; ``resource_id``
        is an ownership check like ``update_thread``'s."""

    @abstractmethod
    def delete_resource(self, resource_id: str) -> DeletedResource:
        """Erase a resource: the resource record, all its threads and their messages.
        Reports the deleted threads and their messages' resources (callers clean vectors and
        caches with them)."""

    # ------------------------------------------------------------ clone

    @abstractmethod
    def clone_thread(self, request: CloneThreadInput) -> CloneThreadResult:
        """Copy a thread (optionally a subset of messages) under new message ids; the rules, and
        the two errors a clone answers, are ``docs/memory-model.md``'s."""

    # ------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Release connections. Safe to call twice."""
