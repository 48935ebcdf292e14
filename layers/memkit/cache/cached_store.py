"""``CachedMemoryStorage``: the memory store behind a shared Redis cache, never stale, failing open.

It decorates any ``MemoryStorage``. What an agent turn reads is cached; everything else passes
through to the store.

What is cached (one Redis hash per entry, key ``mk1:<namespace>:t:<threadId>`` / ``:r:<resourceId>``)
-------------------------------------------------------------------------------------------------
- **Thread entry**: the thread (or "no such thread"), its newest ``window`` messages (at least
  every configured agent's ``lastMessages``), the message total and how many messages another
  resource owns. It answers ``get_thread`` and every unfiltered single-thread listing it holds
  exactly: "last N" (createdAt DESC, page 0, N <= window, with or without the owner's
  resourceId), and any page of a thread that fits the window completely.
- **Resource entry**: the resource record (working memory, metadata) or "no such resource".
- No value exceeds ``MAX_VALUE_BYTES`` (900 KB, under Upstash's 1 MB request limit): a window
  that would is cut, oldest messages first, and still answers the smaller "last N" reads.

How entries stay coherent with the store across containers (generations, tokens, the epoch,
the breaker) is the engine's, ``coherence.py``; what an entry holds and how it answers reads is
``entries.py``'s; the guarantees, and the turn budget they allow, are ``docs/cache.md``.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from memkit.cache.base import CacheBackend, current_scope
from memkit.cache.coherence import (
    BREAKER_COOLDOWN_SECONDS,
    BREAKER_THRESHOLD,
    DEFAULT_TTL_SECONDS,
    CacheOp,
    CoherentCache,
    Slot,
)
from memkit.cache.entries import (
    ResourceEntry,
    ThreadEntry,
    apply_save,
    cacheable_listing,
    fitted,
    last_n_listing,
    serve_messages,
)
from memkit.errors import ForbiddenError, NotFoundError, OwnershipError, PayloadTooLargeError, ValidationError
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
    validate_id,
)
from memkit.storage.memory.base import (
    UNSET,
    DeletedResource,
    DeletedThread,
    MemoryStorage,
    MessageLocation,
    SaveReceipt,
    ThreadWindow,
    UpdateReceipt,
)

logger = logging.getLogger("memkit.cache")

T = TypeVar("T")

# Raised by the stores before they write anything (writes are all or nothing: docs/memory-model.md).
_NOTHING_WRITTEN_ERRORS = (ValidationError, NotFoundError, OwnershipError, PayloadTooLargeError, ForbiddenError)



class CachedMemoryStorage(MemoryStorage):
    """``MemoryStorage`` that serves an agent turn's reads from a shared cache; see the module
    docstring for what is cached, and ``coherence.py`` for how it stays coherent."""

    def __init__(
        self,
        store: MemoryStorage,
        backend: CacheBackend,
        *,
        namespace: str,
        window: int,
        ttl_seconds: int = DEFAULT_TTL_SECONDS,
        breaker_threshold: int = BREAKER_THRESHOLD,
        breaker_cooldown_seconds: float = BREAKER_COOLDOWN_SECONDS,
        emit_metrics: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ):
        if window < 1:
            raise ValueError("the cached window must hold at least one message")
        self.inner = store
        self.name = store.name
        self.window = window
        self._cache = CoherentCache(
            backend,
            namespace=namespace,
            fit=fitted,
            ttl_seconds=ttl_seconds,
            breaker_threshold=breaker_threshold,
            breaker_cooldown_seconds=breaker_cooldown_seconds,
            emit_metrics=emit_metrics,
            clock=clock,
        )

    # ------------------------------------------------------------ the engine's state, for tests and benches

    @property
    def backend(self) -> CacheBackend:
        return self._cache.backend

    @backend.setter
    def backend(self, backend: CacheBackend) -> None:
        # Tests cut one container off from Redis by swapping its backend.
        self._cache.backend = backend

    @property
    def namespace(self) -> str:
        return self._cache.namespace

    @property
    def epoch_key(self) -> str:
        return self._cache.epoch_key

    @property
    def stats(self) -> Counter[str]:
        """Counters: hits, misses, fills, fill_rejected, puts, drops, errors, skipped, oversize."""
        return self._cache.stats

    @property
    def dirty(self) -> bool:
        """Whether a store write is waiting for its epoch increment (``coherence.py``)."""
        return self._cache.dirty

    # ------------------------------------------------------------ keys

    def thread_key(self, thread_id: str) -> str:
        return f"{self._cache.prefix}:t:{thread_id}"

    def resource_key(self, resource_id: str) -> str:
        return f"{self._cache.prefix}:r:{resource_id}"

    # ------------------------------------------------------------ writes whose cache step is a drop

    def _writing(self, keys: Callable[[], Sequence[str]], write: Callable[[], T]) -> T:
        """Run a store write whose cache step is dropping ``keys()`` (computed afterwards, so it
        may use what the write returned)."""
        try:
            result = write()
        except BaseException as exc:
            self._after_failed_write(keys(), exc)
            raise
        self._cache.drop(keys())
        return result

    def _after_failed_write(self, keys: Sequence[str], exc: BaseException) -> None:
        """A write that raised may still have landed, wholly or in part (a timeout after the
        commit, a save split over transactions). Its own keys are dropped; unless the error is
        one the stores raise before writing anything, entries it cannot name (the threads a
        moved message left) may be stale too, so everything is invalidated."""
        self._cache.drop(keys)
        if not isinstance(exc, _NOTHING_WRITTEN_ERRORS):
            self._cache.mark_dirty()

    def get_thread(self, thread_id: str, resource_id: str | None = None) -> Thread | None:
        if not self._usable_id(thread_id) or (resource_id is not None and not self._usable_id(resource_id)):
            return self.inner.get_thread(thread_id, resource_id)
        entry = self._thread_entry(thread_id, resource_id, load=True)
        if entry is None:
            return self.inner.get_thread(thread_id, resource_id)
        thread = entry.thread
        if thread is None:
            return None
        if resource_id is not None and thread.resource_id != resource_id:
            raise OwnershipError(thread_id, thread.resource_id, resource_id)
        return thread.model_copy(deep=True)

    def _thread_entry(self, thread_id: str, resource_id: str | None, *, load: bool) -> ThreadEntry | None:
        """The thread's entry: cached, or loaded from the store and offered to the cache.
        None when it is not cached and ``load`` is false, or when the cache is unavailable
        outside a request scope (a plain store read is cheaper then)."""
        key = self.thread_key(thread_id)
        keys = [key]
        # Prefetch the resource an agent turn reads next, in the same round trip.
        if resource_id is not None and current_scope() is not None:
            keys.append(self.resource_key(resource_id))
        slot = self._cache.read(keys).get(key)
        entry = self._cache.entry(slot, ThreadEntry)
        if entry is not None:
            self._cache.stats["hits"] += 1
            return entry
        self._cache.stats["misses"] += 1
        if not load or (slot is None and current_scope() is None):
            return None
        window = self.inner.load_thread_window(thread_id, self.window)
        entry = ThreadEntry(thread=window.thread, messages=window.messages, total=window.total, foreign=window.foreign)
        self._cache.fill(key, slot, entry)
        return entry

    def save_thread(self, thread: Thread) -> Thread:
        if not self._usable_id(thread.id):
            return self.inner.save_thread(thread)
        key = self.thread_key(thread.id)
        slot = self._cache.read([key]).get(key)
        before = self._cache.entry(slot, ThreadEntry)
        try:
            saved = self.inner.save_thread(thread)
        except BaseException as exc:
            self._after_failed_write([key], exc)
            raise
        # Only a creation is certain: an overwrite keeps derived fields (lastMessageAt) that
        # the returned thread may not show.
        created = before is not None and before.thread is None
        entry = ThreadEntry(thread=saved, messages=[], total=0, foreign=0) if created else None
        self._cache.apply([self._cache.put_or_drop(key, slot, entry)])
        return saved

    def update_thread(
        self,
        thread_id: str,
        *,
        title: str | None = UNSET,
        metadata: dict[str, Any] | None = None,
        resource_id: str | None = None,
    ) -> Thread:
        return self._write_thread(
            thread_id, lambda: self.inner.update_thread(thread_id, title=title, metadata=metadata, resource_id=resource_id)
        )

    def modify_thread_working_memory(
        self, thread_id: str, modify: Callable[[Any], str], *, resource_id: str | None = None
    ) -> Thread:
        return self._write_thread(
            thread_id, lambda: self.inner.modify_thread_working_memory(thread_id, modify, resource_id=resource_id)
        )

    def _write_thread(self, thread_id: str, write: Callable[[], Thread]) -> Thread:
        """A write that returns the whole thread: the cached window keeps its messages and
        takes the new thread."""
        if not self._usable_id(thread_id):
            return write()
        key = self.thread_key(thread_id)
        slot = self._cache.read([key]).get(key)
        before = self._cache.entry(slot, ThreadEntry)
        try:
            updated = write()
        except BaseException as exc:
            self._after_failed_write([key], exc)
            raise
        entry = None
        if before is not None and before.thread is not None:
            entry = before.model_copy(update={"thread": updated})
        self._cache.apply([self._cache.put_or_drop(key, slot, entry)])
        return updated

    def set_title_if_untitled(self, thread_id: str, title: str) -> bool:
        keys = lambda: [self.thread_key(thread_id)] if self._usable_id(thread_id) else []  # noqa: E731
        try:
            written = self.inner.set_title_if_untitled(thread_id, title)
        except BaseException as exc:
            self._after_failed_write(keys(), exc)
            raise
        if written:
            self._cache.drop(keys())
        return written

    def claim_thread_task(self, thread_id: str, task: str) -> bool:
        # Claims are not part of the Thread shape: nothing cached changes.
        return self.inner.claim_thread_task(thread_id, task)

    def release_thread_task(self, thread_id: str, task: str) -> None:
        self.inner.release_thread_task(thread_id, task)

    def delete_thread(self, thread_id: str, resource_id: str | None = None) -> DeletedThread | None:
        keys = lambda: [self.thread_key(thread_id)] if self._usable_id(thread_id) else []  # noqa: E731
        return self._writing(keys, lambda: self.inner.delete_thread(thread_id, resource_id))

    def list_threads(self, query: ListThreadsInput) -> ThreadPage:
        return self.inner.list_threads(query)

    def save_messages(self, messages: Sequence[Message], *, tenant: str | None = None) -> list[Message]:
        return self.save_messages_with_receipt(messages, tenant=tenant).messages

    def save_messages_with_receipt(self, messages: Sequence[Message], *, tenant: str | None = None) -> SaveReceipt:
        if not messages:
            return self.inner.save_messages_with_receipt(messages, tenant=tenant)
        thread_ids = list(dict.fromkeys(m.thread_id for m in messages if self._usable_id(m.thread_id)))
        keys = [self.thread_key(thread_id) for thread_id in thread_ids]
        slots = self._cache.read(keys) if keys else {}
        try:
            receipt = self.inner.save_messages_with_receipt(messages, tenant=tenant)
        except BaseException as exc:
            self._after_failed_write(keys, exc)
            raise
        try:
            self._write_through_save(receipt, thread_ids, keys, slots)
        except Exception as exc:
            # The store has the messages: the save stands. Entries may now be stale, so the
            # container invalidates everything at its next cache call (its retry path).
            self._cache.stats["write_through_errors"] += 1
            logger.warning("cache write-through of a stored save failed; invalidating the cache", exc_info=exc)
            self._cache.count_error()
            self._cache.mark_dirty()
        return receipt

    def _write_through_save(
        self, receipt: SaveReceipt, thread_ids: list[str], keys: list[str], slots: dict[str, Slot]
    ) -> None:
        ops: list[CacheOp] = []
        for thread_id, key in zip(thread_ids, keys):
            slot = slots.get(key)
            before = self._cache.entry(slot, ThreadEntry)
            after = apply_save(before, thread_id, receipt, self.window) if before is not None else None
            ops.append(self._cache.put_or_drop(key, slot, after))
        if receipt.previous is None:
            # A store that cannot say where re-saved ids were may have moved them from anywhere.
            self._cache.mark_dirty()
        else:
            targets = set(thread_ids)
            for location in receipt.previous.values():
                if location.thread_id not in targets:
                    ops.append(CacheOp(self.thread_key(location.thread_id), "drop"))
        if ops:
            self._cache.apply(ops)

    def list_messages(self, query: ListMessagesInput) -> MessagePage:
        if not cacheable_listing(query) or not all(
            self._usable_id(value) for value in (query.thread_ids[0], query.resource_id) if value is not None
        ):
            return self.inner.list_messages(query)
        thread_id = query.thread_ids[0]
        entry = self._thread_entry(thread_id, query.resource_id, load=last_n_listing(query, self.window))
        page = serve_messages(entry, query) if entry is not None else None
        return page if page is not None else self.inner.list_messages(query)

    def load_thread_window(self, thread_id: str, limit: int) -> ThreadWindow:
        return self.inner.load_thread_window(thread_id, limit)

    def list_messages_by_id(self, message_ids: Sequence[str]) -> list[Message]:
        return self.inner.list_messages_by_id(message_ids)

    def list_messages_by_resource_id(self, query: ListMessagesByResourceInput) -> MessagePage:
        return self.inner.list_messages_by_resource_id(query)

    def update_messages(self, updates: Sequence[MessageUpdate], *, tenant: str | None = None) -> list[Message]:
        targets = {u.thread_id for u in updates if u.thread_id is not None}
        receipts: list[UpdateReceipt] = []

        def keys() -> list[str]:
            # The store reports where each message was; a write that failed reports nothing,
            # and _writing then invalidates everything unless nothing was written.
            thread_ids = set(targets)
            for receipt in receipts:
                thread_ids |= {m.thread_id for m in receipt.messages}
                thread_ids |= {location.thread_id for location in receipt.previous.values()}
            return [self.thread_key(t) for t in sorted(thread_ids) if self._usable_id(t)]

        def write() -> list[Message]:
            receipts.append(self.inner.update_messages_with_receipt(updates, tenant=tenant))
            return receipts[0].messages

        return self._writing(keys, write)

    def delete_messages(self, message_ids: Sequence[str], *, tenant: str | None = None) -> dict[str, MessageLocation]:
        deleted: dict[str, MessageLocation] = {}

        def delete() -> dict[str, MessageLocation]:
            deleted.update(self.inner.delete_messages(message_ids, tenant=tenant))
            return deleted

        # The store reports the threads it touched; a delete that failed part-way reports
        # nothing, and _writing then invalidates everything unless nothing was written.
        return self._writing(
            lambda: [self.thread_key(t) for t in sorted({location.thread_id for location in deleted.values()})],
            delete,
        )

    def get_resource(self, resource_id: str) -> Resource | None:
        if not self._usable_id(resource_id):
            return self.inner.get_resource(resource_id)
        key = self.resource_key(resource_id)
        slot = self._cache.read([key]).get(key)
        entry = self._cache.entry(slot, ResourceEntry)
        if entry is not None:
            self._cache.stats["hits"] += 1
            return entry.resource.model_copy(deep=True) if entry.resource is not None else None
        self._cache.stats["misses"] += 1
        resource = self.inner.get_resource(resource_id)
        if slot is not None or current_scope() is not None:
            self._cache.fill(key, slot, ResourceEntry(resource=resource))
        return resource

    def save_resource(self, resource: Resource) -> Resource:
        return self._write_resource(resource.id, lambda: self.inner.save_resource(resource))

    def update_resource(
        self,
        resource_id: str,
        *,
        working_memory: str | None = UNSET,
        metadata: dict[str, Any] | None = None,
    ) -> Resource:
        return self._write_resource(
            resource_id,
            lambda: self.inner.update_resource(resource_id, working_memory=working_memory, metadata=metadata),
        )

    def modify_resource_working_memory(self, resource_id: str, modify: Callable[[str | None], str]) -> Resource:
        return self._write_resource(resource_id, lambda: self.inner.modify_resource_working_memory(resource_id, modify))

    def _write_resource(self, resource_id: str, write: Callable[[], Resource]) -> Resource:
        """The store returns the whole resource after a save or an update, so with a token read
        before the write the cache takes that value as is."""
        if not self._usable_id(resource_id):
            return write()
        key = self.resource_key(resource_id)
        slot = self._cache.read([key]).get(key)
        try:
            resource = write()
        except BaseException as exc:
            self._after_failed_write([key], exc)
            raise
        self._cache.apply([self._cache.put_or_drop(key, slot, ResourceEntry(resource=resource))])
        return resource

    def delete_resource(self, resource_id: str) -> DeletedResource:
        try:
            deleted = self.inner.delete_resource(resource_id)
        except BaseException as exc:
            # Some of its threads may be gone, and which is unknown: not a clean failure.
            self._cache.drop([self.resource_key(resource_id)] if self._usable_id(resource_id) else [])
            if not isinstance(exc, _NOTHING_WRITTEN_ERRORS):
                self._cache.mark_dirty()
            raise
        keys = [self.thread_key(t) for t in deleted.thread_ids if self._usable_id(t)]
        if self._usable_id(resource_id):
            keys.append(self.resource_key(resource_id))
        self._cache.drop(keys)
        return deleted

    def clone_thread(self, request: CloneThreadInput) -> CloneThreadResult:
        # The new thread may be cached as "no such thread"; the source is only read.
        result: list[CloneThreadResult] = []

        def keys() -> list[str]:
            ids = {request.new_thread_id} | {r.thread.id for r in result}
            return [self.thread_key(t) for t in sorted(i for i in ids if i) if self._usable_id(t)]

        def write() -> CloneThreadResult:
            result.append(self.inner.clone_thread(request))
            return result[0]

        return self._writing(keys, write)


    # ------------------------------------------------------------ lifecycle

    def close(self) -> None:
        self._cache.close()
        self.inner.close()
        self.backend.close()

    @staticmethod
    def _usable_id(value: Any) -> bool:
        """Only well-formed ids become keys; the store answers anything else as it would."""
        try:
            validate_id(value, "id")
            return True
        except ValidationError:
            return False
