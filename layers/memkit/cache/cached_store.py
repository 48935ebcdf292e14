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

The protocol
------------
Each entry hash carries a generation ``g``, the epoch ``e`` it was written under and the value
``v``. One Lua script (``_OPS_SCRIPT``) does every operation, several keys per round trip:

- **get**: the value if its ``e`` is the current epoch, and the token ``(epoch, g)``.
- **fill** (a reader that missed): store the value only if the token it read *before reading
  the store* is still current, then ``g += 1``. A write acknowledged in between has moved
  ``g`` (below), so a fill can never install the pre-write state.
- **put** (a writer that knows the exact new state): the token must have been read *before the
  store write*. If it is still current, nobody has touched the entry since, so the entry is the
  store's state before this write and applying the write to it gives the store's state after
  it; store it, ``g += 1``. Otherwise drop it. This is how a save keeps the window warm: the
  new messages are merged in Python (union by id, window trimmed, ``total``/``foreign`` from
  the store's ``SaveReceipt``, ``updatedAt`` = the receipt's bump time, ``lastMessageAt`` never
  backwards).
- **drop**: ``g += 1`` and remove the value. After every write the cache cannot apply exactly
  (thread updates it holds no base for, message updates, deletes, moves, clones, resource
  deletion, failed or partial store writes), and for every key a write touched whose entry it
  did not hold.

Every cache step of a write runs after the store acknowledged and before the caller is
answered, so a read that starts after the acknowledgement finds either the new state or no
entry. Two concurrent writers of one thread both hold the same token; the first to reach Redis
puts, the second finds the token moved and drops, so the cache never keeps a state the store
never had (one writer's state without the other's is only visible while that other write is
still unacknowledged). Entries and generations expire after ``ttl_seconds`` of no writes.

Requests (``request_scope()``)
------------------------------
Inside a request scope the first cached read fetches the thread entry and, when the caller
named a resource, the resource entry in the same script call, and later reads of the request
are served from that view. An agent turn (get thread, last 20 messages, working memory, save 2
messages) therefore costs one cache call for its reads and one for its write: 1 DynamoDB
request and 2 REST calls when warm. The view is as of the request's first read, which starts
after the request does; outside a scope every read is its own script call.

Failing open
------------
Any cache error or timeout is a miss: the store answers, the request never fails because of the
cache, and a cached value never stands in for an error. The first failure is logged once per
instance (one container), every failure is counted (``stats``, and the Powertools metric
``CacheErrors`` inside Lambda), and after ``BREAKER_THRESHOLD`` consecutive failures the cache
is skipped for ``BREAKER_COOLDOWN_SECONDS``.

A store write whose cache step failed (or was skipped) leaves entries the container cannot fix.
The container then marks itself dirty: the next script call it makes, from a request or from a
background retry that starts at once, first increments the namespace's epoch, which invalidates
every entry of every container at once. The epoch is seeded from the clock when missing, so a
Redis that lost its data does not accept tokens read before.

Residual windows, honestly
--------------------------
- If a writer cannot reach Redis while other containers can (a partition), or every container
  loses Redis and one writes, other containers may serve the entry from before that write until
  the writer reaches Redis again (its retry runs while the container runs, so within seconds of
  Redis answering), or, if its container is frozen or gone, until the entry's TTL expires.
- Generations live in Redis. A missing one restarts at the writer's clock (microseconds), so an
  expired or lost key never brings back a generation an old token holds; but a Redis that evicts
  keys under memory pressure (Upstash: eviction is off unless enabled) could evict one right
  after a write, and a reader that had found the key absent before that write could then fill.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel

from memkit.cache.base import CacheBackend, CacheError, LuaScript, current_scope
from memkit.errors import ForbiddenError, NotFoundError, OwnershipError, PayloadTooLargeError, ValidationError
from memkit.metrics import count_metric
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
    page_meta,
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

ENTRY_FORMAT = "mk1"  # bump when the entry shape changes: old entries are then never read
DEFAULT_TTL_SECONDS = 600
MAX_VALUE_BYTES = 900_000
BREAKER_THRESHOLD = 3
BREAKER_COOLDOWN_SECONDS = 5.0
# A drop of thousands of keys (deleting a resource) goes out in slices of this many.
_MAX_KEYS_PER_CALL = 500
# Raised by the stores before they write anything (the port's all-or-nothing contract).
_NOTHING_WRITTEN_ERRORS = (ValidationError, NotFoundError, OwnershipError, PayloadTooLargeError, ForbiddenError)

_OPS_SCRIPT = LuaScript(
    "memkit-cache-ops",
    """
-- KEYS[1]: the namespace epoch. KEYS[2..]: entry hashes {g = generation, e = epoch of v, v = value}.
-- ARGV[1] '1' = increment the epoch first; ARGV[2] entry TTL (s); ARGV[3] the caller's clock in
-- microseconds, which seeds a missing epoch or generation (so neither restarts at a value a
-- token from before Redis lost or expired the key could still hold);
-- then four per entry: op (get|fill|put|drop), token epoch, token generation, value.
-- Numbers go back into Redis as the strings Redis gave, never through Lua's number formatting.
local epoch_text = redis.call('GET', KEYS[1])
if not epoch_text then
  redis.call('SET', KEYS[1], ARGV[3], 'NX')
  epoch_text = redis.call('GET', KEYS[1])
end
if ARGV[1] == '1' then
  redis.call('INCR', KEYS[1])
  epoch_text = redis.call('GET', KEYS[1])
end
local epoch = tonumber(epoch_text)
local ttl = tonumber(ARGV[2])
local reply = {epoch}
for i = 2, #KEYS do
  local key = KEYS[i]
  local at = 4 + (i - 2) * 4
  local op = ARGV[at]
  local fields = redis.call('HMGET', key, 'g', 'e', 'v')
  local gen = tonumber(fields[1]) or 0
  local function next_generation()
    if not fields[1] then redis.call('HSET', key, 'g', ARGV[3]) end
    local moved = redis.call('HINCRBY', key, 'g', 1)
    redis.call('EXPIRE', key, ttl)
    return moved
  end
  if op == 'get' then
    local value = false
    if fields[3] and tonumber(fields[2]) == epoch then value = fields[3] end
    reply[#reply + 1] = gen
    reply[#reply + 1] = value
  else
    local current = tonumber(ARGV[at + 1]) == epoch and tonumber(ARGV[at + 2]) == gen
    if op ~= 'drop' and current then
      gen = next_generation()
      redis.call('HSET', key, 'e', epoch_text, 'v', ARGV[at + 3])
      reply[#reply + 1] = gen
      reply[#reply + 1] = 1
    elseif op == 'fill' then
      reply[#reply + 1] = gen
      reply[#reply + 1] = 0
    else
      gen = next_generation()
      redis.call('HDEL', key, 'e', 'v')
      reply[#reply + 1] = gen
      reply[#reply + 1] = 0
    end
  end
end
return reply
""",
)


# ====================================================================== entries


class ThreadEntry(BaseModel):
    thread: Thread | None
    #: newest first: (createdAt, id) descending, as the stores order ties
    messages: list[Message]
    total: int
    foreign: int | None


class ResourceEntry(BaseModel):
    resource: Resource | None


def _order_key(message: Message) -> tuple[datetime, str]:
    return (message.created_at, message.id)


def _encode(entry: BaseModel) -> str | None:
    """The entry as stored, or None when it is too big for one Upstash request (the value
    travels as a JSON string, so its escaped size is what counts)."""
    encoded = entry.model_dump_json(by_alias=True)
    # No character escapes to more than 6 bytes ("\\u0001"), so short values skip the measure.
    if len(encoded) * 6 > MAX_VALUE_BYTES and len(json.dumps(encoded, ensure_ascii=False).encode()) > MAX_VALUE_BYTES:
        return None
    return encoded


def _fitted(entry: BaseModel) -> tuple[BaseModel, str | None]:
    """``entry`` encoded, with a thread's window cut (oldest messages first) until it fits; a
    shorter window still answers get_thread and the smaller "last N" reads."""
    encoded = _encode(entry)
    while encoded is None and isinstance(entry, ThreadEntry) and entry.messages:
        entry = entry.model_copy(update={"messages": entry.messages[: len(entry.messages) // 2]})
        encoded = _encode(entry)
    return entry, encoded


def serve_messages(entry: ThreadEntry, query: ListMessagesInput) -> MessagePage | None:
    """The page ``query`` asks for, if ``entry`` holds it exactly; None otherwise. Raises the
    store's ownership error for another resource's thread."""
    thread = entry.thread
    if thread is None or not _cacheable_listing(query):
        return None
    if query.resource_id is not None and query.resource_id != thread.resource_id:
        raise OwnershipError(thread.id, thread.resource_id, query.resource_id)
    messages, total = entry.messages, entry.total
    complete = len(messages) == total
    if query.resource_id is not None and entry.foreign != 0:
        if entry.foreign is None:
            return None
        # Owner messages inside a newest-K window are the owner's newest ones.
        messages = [m for m in messages if m.resource_id == thread.resource_id]
        total -= entry.foreign
    descending = query.order_by.direction == "DESC"
    if complete:
        ordered = messages if descending else list(reversed(messages))
        if query.per_page is None:
            items = ordered
        else:
            start = query.page * query.per_page
            items = ordered[start : start + query.per_page]
    elif descending and query.page == 0 and query.per_page is not None and query.per_page <= len(messages):
        items = messages[: query.per_page]
    else:
        return None
    items = [m.model_copy(deep=True) for m in items]
    return MessagePage(messages=items, **page_meta(total, query.page, query.per_page, len(items)))


def _cacheable_listing(query: ListMessagesInput) -> bool:
    return (
        len(query.thread_ids) == 1
        and not query.include
        and query.filter.date_range is None
        and not query.filter.roles
        and query.order_by.field == "createdAt"
    )


def _last_n_listing(query: ListMessagesInput, window: int) -> bool:
    """The read an agent turn makes, which a full window always answers."""
    return (
        _cacheable_listing(query)
        and query.order_by.direction == "DESC"
        and query.page == 0
        and query.per_page is not None
        and query.per_page <= window
    )


def apply_save(entry: ThreadEntry, thread_id: str, receipt: SaveReceipt, window: int) -> ThreadEntry | None:
    """``entry`` (the store's state of the thread just before the save) with the save applied,
    or None when the result is not certain (then the caller drops the entry)."""
    thread = entry.thread
    previous = receipt.previous
    if thread is None or receipt.bumped_at is None or previous is None:
        return None
    # The stores bump updatedAt to the save time; with a later value already there one keeps
    # it and another overwrites it, so only the unambiguous case is followed.
    if receipt.bumped_at < thread.updated_at:
        return None
    latest: dict[str, Message] = {}
    for message in receipt.messages:
        latest[message.id] = message  # the store keeps the last of repeated ids
    for message in latest.values():
        before = previous.get(message.id)
        if before is not None and before.thread_id == thread_id and message.thread_id != thread_id:
            # It left this thread in the same save: the entry cannot know what slides into the
            # window in its place, and the caller's drop of the source skips a thread it puts.
            return None
    saved = [m for m in latest.values() if m.thread_id == thread_id]
    if not saved:
        return None
    owner = thread.resource_id
    total, foreign = entry.total, entry.foreign
    complete = len(entry.messages) == entry.total
    if not complete and not entry.messages:
        return None  # nothing known about where the window starts
    # A message older than the window's oldest may sort among messages the entry never saw.
    boundary = None if complete else _order_key(entry.messages[-1])
    by_id = {m.id: m for m in entry.messages}
    for message in saved:
        before = previous.get(message.id)
        if before is None or before.thread_id != thread_id:
            if message.id in by_id:
                return None  # the receipt and the entry disagree: trust neither
            total += 1
            if foreign is not None:
                foreign += int(message.resource_id != owner)
        else:
            if complete and message.id not in by_id:
                return None
            if foreign is not None:
                foreign += int(message.resource_id != owner) - int(before.resource_id != owner)
        by_id.pop(message.id, None)
        if boundary is None or _order_key(message) >= boundary:
            by_id[message.id] = message
    newest = max(m.created_at for m in saved)
    last = thread.last_message_at
    bumped = thread.model_copy(
        update={
            "updated_at": receipt.bumped_at,
            "last_message_at": newest if last is None or newest > last else last,
        }
    )
    messages = sorted(by_id.values(), key=_order_key, reverse=True)[:window]
    return ThreadEntry(thread=bumped, messages=messages, total=total, foreign=foreign)


# ====================================================================== slots and operations

_UNPARSED: Any = object()


@dataclass
class Slot:
    """What this request knows about one cache key: the token and the value."""

    #: the token's epoch; None when there is no usable token (the cache did not answer, or a
    #: fill lost its race): the value may still serve this request, but a write must drop.
    epoch: int | None
    gen: int
    raw: str | None = None
    value: Any = _UNPARSED

    @property
    def token(self) -> tuple[int, int] | None:
        return None if self.epoch is None else (self.epoch, self.gen)


@dataclass
class _Op:
    key: str
    kind: str  # get | fill | put | drop
    token: tuple[int, int] | None = None
    value: str = ""
    parsed: Any = None

    def args(self) -> list[str | int]:
        epoch, gen = self.token or (-1, -1)
        return [self.kind, epoch, gen, self.value]


@dataclass
class _Breaker:
    threshold: int
    cooldown: float
    clock: Callable[[], float] = time.monotonic
    failures: int = 0
    open_until: float | None = None

    def allows(self) -> bool:
        return self.open_until is None or self.clock() >= self.open_until

    def succeeded(self) -> None:
        self.failures = 0
        self.open_until = None

    def failed(self) -> None:
        self.failures += 1
        if self.failures >= self.threshold:
            self.open_until = self.clock() + self.cooldown


@dataclass
class _Dirty:
    """Set when a store write could not reach the cache; cleared by an epoch increment sent
    after it was set (``mark`` tells a newer failure from the one a bump answered)."""

    pending: bool = False
    mark: int = 0
    healer: threading.Thread | None = None
    stop: threading.Event = field(default_factory=threading.Event)


# ====================================================================== the decorator


class CachedMemoryStorage(MemoryStorage):
    """``MemoryStorage`` that serves an agent turn's reads from a shared cache; see the module
    docstring for the protocol and its guarantees."""

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
        self.backend = backend
        self.name = store.name
        self.namespace = namespace
        self.window = window
        self.ttl_seconds = ttl_seconds
        self._prefix = f"{ENTRY_FORMAT}:{namespace}"
        self.epoch_key = f"{self._prefix}:epoch"
        self._lock = threading.Lock()
        self._breaker = _Breaker(breaker_threshold, breaker_cooldown_seconds, clock)
        self._dirty = _Dirty()
        self._failure_logged = False
        self._emit_metrics = emit_metrics
        #: counters: hits, misses, fills, fill_rejected, puts, drops, errors, skipped, oversize
        self.stats: Counter[str] = Counter()

    # ------------------------------------------------------------ keys

    def thread_key(self, thread_id: str) -> str:
        return f"{self._prefix}:t:{thread_id}"

    def resource_key(self, resource_id: str) -> str:
        return f"{self._prefix}:r:{resource_id}"

    @property
    def dirty(self) -> bool:
        """Whether a store write is waiting for its epoch increment (see the module docstring)."""
        with self._lock:
            return self._dirty.pending

    # ------------------------------------------------------------ calling the cache

    def _call(self, ops: Sequence[_Op], *, probe: bool = False) -> tuple[int, list[tuple[int, Any]]] | None:
        """Run ``ops`` in one script call: ``(epoch, [(gen, value-or-stored-flag)...])``, or
        None when the cache is unavailable (error, timeout, or the breaker is open)."""
        with self._lock:
            if not probe and not self._breaker.allows():
                self.stats["skipped"] += 1
                return None
            bump, mark = self._dirty.pending, self._dirty.mark
        keys = [self.epoch_key, *(op.key for op in ops)]
        args: list[str | int] = ["1" if bump else "0", self.ttl_seconds, time.time_ns() // 1000]
        for op in ops:
            args.extend(op.args())
        try:
            reply = self.backend.eval(_OPS_SCRIPT, keys, args)
            result = _parse_reply(reply, len(ops))
        except CacheError as exc:
            self._failed(exc)
            return None
        with self._lock:
            self._breaker.succeeded()
            if bump and self._dirty.mark == mark:
                self._dirty.pending = False
        return result

    def _failed(self, exc: CacheError) -> None:
        with self._lock:
            self._breaker.failed()
            self.stats["errors"] += 1
            first = not self._failure_logged
            self._failure_logged = True
        if first:
            logger.warning(
                "cache %s unavailable, serving from the store (logged once; later failures only "
                "counted in CacheErrors): %s",
                self.backend.name,
                exc,
            )
        if self._emit_metrics:
            count_metric("CacheErrors", service="cache")

    def _mark_dirty(self) -> None:
        """A write's cache step failed: invalidate everything at the next chance (see docstring)."""
        with self._lock:
            self._dirty.pending = True
            self._dirty.mark += 1
            if self._dirty.healer is None:
                self._dirty.healer = threading.Thread(target=self._heal, name="memkit-cache-epoch", daemon=True)
                self._dirty.healer.start()

    def _heal(self) -> None:
        """Send the epoch increment as soon as the cache answers, without waiting for the
        next request (runs while the container runs; a frozen Lambda resumes it on thaw)."""
        delay = 0.05
        while not self._dirty.stop.wait(delay):
            self._call([], probe=True)
            with self._lock:
                # Decided under the lock, so a failure marked now either sees this thread
                # still running or starts a new one.
                if not self._dirty.pending:
                    self._dirty.healer = None
                    return
            delay = min(delay * 2, BREAKER_COOLDOWN_SECONDS)

    # ------------------------------------------------------------ reading entries

    def _read(self, keys: Sequence[str]) -> dict[str, Slot]:
        """Slots for ``keys``: this request's, else fetched in one call. A key the cache could
        not answer for is absent."""
        scope = current_scope()
        known: dict[str, Slot] = {}
        if scope is not None:
            with scope.lock:
                known = {key: scope.slots[key] for key in keys if key in scope.slots}
        missing = [key for key in keys if key not in known]
        if missing and not (scope is not None and scope.unavailable):
            result = self._call([_Op(key, "get") for key in missing])
            if result is None and scope is not None:
                scope.unavailable = True
            if result is not None:
                epoch, replies = result
                fetched = {key: Slot(epoch, gen, raw) for key, (gen, raw) in zip(missing, replies)}
                known.update(fetched)
                if scope is not None:
                    with scope.lock:
                        for key, slot in fetched.items():
                            scope.slots.setdefault(key, slot)
                        known.update({key: scope.slots[key] for key in fetched})
        return known

    def _entry(self, slot: Slot | None, model: type[T]) -> T | None:
        if slot is None:
            return None
        if slot.value is _UNPARSED:
            value = None
            if slot.raw is not None:
                try:
                    value = model.model_validate_json(slot.raw)  # type: ignore[attr-defined]
                except Exception as exc:  # pydantic's errors and memkit's validators alike
                    # An entry this code cannot read is a miss; the fill then replaces it.
                    logger.debug("unreadable cache entry: %s", exc)
                    self.stats["unreadable"] += 1
            slot.value = value
        return slot.value

    def _remember(self, key: str, slot: Slot | None) -> None:
        scope = current_scope()
        if scope is None:
            return
        with scope.lock:
            if slot is None:
                scope.slots.pop(key, None)
            else:
                scope.slots[key] = slot

    def _fill(self, key: str, slot: Slot | None, entry: BaseModel) -> None:
        """Offer what was just read from the store; kept only if nothing wrote meanwhile."""
        token = slot.token if slot is not None else None
        result = None
        if token is not None:
            _, encoded = self._fit(entry)
            if encoded is not None:
                result = self._call([_Op(key, "fill", token, encoded)])
        if result is not None:
            epoch, [(gen, stored)] = result
            if stored:
                self.stats["fills"] += 1
                # The request keeps the whole entry it read; the cache may hold a shorter window.
                self._remember(key, Slot(epoch, gen, encoded, entry))
                return
            self.stats["fill_rejected"] += 1
        # Not cached, but still this request's view (its token is spent).
        self._remember(key, Slot(None, 0, None, entry))

    # ------------------------------------------------------------ writing entries

    def _read_before_write(self, keys: Sequence[str]) -> dict[str, Slot]:
        """Tokens (and values) read before a store write, for the write's ``put``."""
        return self._read(keys)

    def _put_or_drop(self, key: str, slot: Slot | None, entry: BaseModel | None) -> _Op:
        token = slot.token if slot is not None else None
        if entry is None or token is None:
            return _Op(key, "drop")
        entry, encoded = self._fit(entry)
        if encoded is None:
            return _Op(key, "drop")
        return _Op(key, "put", token, encoded, entry)

    def _fit(self, entry: BaseModel) -> tuple[BaseModel, str | None]:
        fitted, encoded = _fitted(entry)
        if fitted is not entry or encoded is None:
            self.stats["oversize"] += 1
        return fitted, encoded

    def _apply(self, ops: Sequence[_Op]) -> None:
        """Run a write's cache step after the store acknowledged. If the cache does not take
        it, entries may now be stale: mark the container dirty."""
        unique: dict[str, _Op] = {}
        for op in ops:
            if op.key not in unique or op.kind == "drop":
                unique[op.key] = op  # a drop wins over a put of the same key
        ops = list(unique.values())
        for start in range(0, len(ops), _MAX_KEYS_PER_CALL):
            chunk = ops[start : start + _MAX_KEYS_PER_CALL]
            result = self._call(chunk)
            if result is None:
                for op in chunk:
                    self._remember(op.key, None)
                self._mark_dirty()
                continue
            epoch, replies = result
            for op, (gen, stored) in zip(chunk, replies):
                if op.kind == "put" and stored:
                    self.stats["puts"] += 1
                    self._remember(op.key, Slot(epoch, gen, op.value, op.parsed))
                else:
                    self.stats["drops"] += 1
                    self._remember(op.key, Slot(epoch, gen, None, None))

    def _drop(self, keys: Sequence[str]) -> None:
        self._apply([_Op(key, "drop") for key in keys])

    def _writing(self, keys: Callable[[], Sequence[str]], write: Callable[[], T]) -> T:
        """Run a store write whose cache step is dropping ``keys()`` (computed afterwards, so it
        may use what the write returned)."""
        try:
            result = write()
        except BaseException as exc:
            self._after_failed_write(keys(), exc)
            raise
        self._drop(keys())
        return result

    def _after_failed_write(self, keys: Sequence[str], exc: BaseException) -> None:
        """A write that raised may still have landed, wholly or in part (a timeout after the
        commit, a save split over transactions). Its own keys are dropped; unless the error is
        one the stores raise before writing anything, entries it cannot name (the threads a
        moved message left) may be stale too, so everything is invalidated."""
        self._drop(keys)
        if not isinstance(exc, _NOTHING_WRITTEN_ERRORS):
            self._mark_dirty()

    # ------------------------------------------------------------ threads

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
        slot = self._read(keys).get(key)
        entry = self._entry(slot, ThreadEntry)
        if entry is not None:
            self.stats["hits"] += 1
            return entry
        self.stats["misses"] += 1
        if not load or (slot is None and current_scope() is None):
            return None
        window = self.inner.load_thread_window(thread_id, self.window)
        entry = ThreadEntry(thread=window.thread, messages=window.messages, total=window.total, foreign=window.foreign)
        self._fill(key, slot, entry)
        return entry

    def save_thread(self, thread: Thread) -> Thread:
        if not self._usable_id(thread.id):
            return self.inner.save_thread(thread)
        key = self.thread_key(thread.id)
        slot = self._read_before_write([key]).get(key)
        before = self._entry(slot, ThreadEntry)
        try:
            saved = self.inner.save_thread(thread)
        except BaseException as exc:
            self._after_failed_write([key], exc)
            raise
        # Only a creation is certain: an overwrite keeps derived fields (lastMessageAt) that
        # the returned thread may not show.
        created = before is not None and before.thread is None
        entry = ThreadEntry(thread=saved, messages=[], total=0, foreign=0) if created else None
        self._apply([self._put_or_drop(key, slot, entry)])
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
        slot = self._read_before_write([key]).get(key)
        before = self._entry(slot, ThreadEntry)
        try:
            updated = write()
        except BaseException as exc:
            self._after_failed_write([key], exc)
            raise
        entry = None
        if before is not None and before.thread is not None:
            entry = before.model_copy(update={"thread": updated})
        self._apply([self._put_or_drop(key, slot, entry)])
        return updated

    def set_title_if_untitled(self, thread_id: str, title: str) -> bool:
        keys = lambda: [self.thread_key(thread_id)] if self._usable_id(thread_id) else []  # noqa: E731
        try:
            written = self.inner.set_title_if_untitled(thread_id, title)
        except BaseException as exc:
            self._after_failed_write(keys(), exc)
            raise
        if written:
            self._drop(keys())
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

    # ------------------------------------------------------------ messages

    def save_messages(self, messages: Sequence[Message], *, tenant: str | None = None) -> list[Message]:
        return self.save_messages_with_receipt(messages, tenant=tenant).messages

    def save_messages_with_receipt(self, messages: Sequence[Message], *, tenant: str | None = None) -> SaveReceipt:
        if not messages:
            return self.inner.save_messages_with_receipt(messages, tenant=tenant)
        thread_ids = list(dict.fromkeys(m.thread_id for m in messages if self._usable_id(m.thread_id)))
        keys = [self.thread_key(thread_id) for thread_id in thread_ids]
        slots = self._read_before_write(keys) if keys else {}
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
            self.stats["write_through_errors"] += 1
            logger.warning("cache write-through of a stored save failed; invalidating the cache", exc_info=exc)
            if self._emit_metrics:
                count_metric("CacheErrors", service="cache")
            self._mark_dirty()
        return receipt

    def _write_through_save(
        self, receipt: SaveReceipt, thread_ids: list[str], keys: list[str], slots: dict[str, Slot]
    ) -> None:
        ops: list[_Op] = []
        for thread_id, key in zip(thread_ids, keys):
            slot = slots.get(key)
            before = self._entry(slot, ThreadEntry)
            after = apply_save(before, thread_id, receipt, self.window) if before is not None else None
            ops.append(self._put_or_drop(key, slot, after))
        if receipt.previous is None:
            # A store that cannot say where re-saved ids were may have moved them from anywhere.
            self._mark_dirty()
        else:
            targets = set(thread_ids)
            for location in receipt.previous.values():
                if location.thread_id not in targets:
                    ops.append(_Op(self.thread_key(location.thread_id), "drop"))
        if ops:
            self._apply(ops)

    def list_messages(self, query: ListMessagesInput) -> MessagePage:
        if not _cacheable_listing(query) or not all(
            self._usable_id(value) for value in (query.thread_ids[0], query.resource_id) if value is not None
        ):
            return self.inner.list_messages(query)
        thread_id = query.thread_ids[0]
        entry = self._thread_entry(thread_id, query.resource_id, load=_last_n_listing(query, self.window))
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

    # ------------------------------------------------------------ resources

    def get_resource(self, resource_id: str) -> Resource | None:
        if not self._usable_id(resource_id):
            return self.inner.get_resource(resource_id)
        key = self.resource_key(resource_id)
        slot = self._read([key]).get(key)
        entry = self._entry(slot, ResourceEntry)
        if entry is not None:
            self.stats["hits"] += 1
            return entry.resource.model_copy(deep=True) if entry.resource is not None else None
        self.stats["misses"] += 1
        resource = self.inner.get_resource(resource_id)
        if slot is not None or current_scope() is not None:
            self._fill(key, slot, ResourceEntry(resource=resource))
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
        slot = self._read_before_write([key]).get(key)
        try:
            resource = write()
        except BaseException as exc:
            self._after_failed_write([key], exc)
            raise
        self._apply([self._put_or_drop(key, slot, ResourceEntry(resource=resource))])
        return resource

    def delete_resource(self, resource_id: str) -> DeletedResource:
        try:
            deleted = self.inner.delete_resource(resource_id)
        except BaseException as exc:
            # Some of its threads may be gone, and which is unknown: not a clean failure.
            self._drop([self.resource_key(resource_id)] if self._usable_id(resource_id) else [])
            if not isinstance(exc, _NOTHING_WRITTEN_ERRORS):
                self._mark_dirty()
            raise
        keys = [self.thread_key(t) for t in deleted.thread_ids if self._usable_id(t)]
        if self._usable_id(resource_id):
            keys.append(self.resource_key(resource_id))
        self._drop(keys)
        return deleted

    # ------------------------------------------------------------ clone

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
        self._dirty.stop.set()
        healer = self._dirty.healer
        if healer is not None and healer is not threading.current_thread():
            healer.join(timeout=2)
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


def _parse_reply(reply: Any, count: int) -> tuple[int, list[tuple[int, Any]]]:
    if not isinstance(reply, list) or len(reply) != 1 + 2 * count:
        raise CacheError(f"unexpected reply from the cache script: {json.dumps(reply, default=str)[:200]}")
    try:
        epoch = int(reply[0])
        pairs = [(int(reply[1 + 2 * i]), reply[2 + 2 * i]) for i in range(count)]
    except (TypeError, ValueError) as exc:
        raise CacheError(f"unexpected reply from the cache script: {exc}") from exc
    return epoch, pairs


