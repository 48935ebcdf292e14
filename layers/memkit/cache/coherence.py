"""The coherence engine of the memory cache: generations, tokens, the epoch, the breaker.

``CachedMemoryStorage`` (``cached_store.py``) decides what each port method caches; this module
keeps every entry it writes coherent with the store, whatever other containers do. Its guarantees
are ``docs/cache.md``'s; how it keeps them:

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
from typing import Any, TypeVar

from pydantic import BaseModel

from memkit.cache.base import CacheBackend, CacheError, LuaScript, current_scope
from memkit.metrics import count_metric

logger = logging.getLogger("memkit.cache")

T = TypeVar("T")

ENTRY_FORMAT = "mk1"  # bump when the entry shape changes: old entries are then never read


DEFAULT_TTL_SECONDS = 600


BREAKER_THRESHOLD = 3


BREAKER_COOLDOWN_SECONDS = 5.0


# A drop of thousands of keys (deleting a resource) goes out in slices of this many.
_MAX_KEYS_PER_CALL = 500


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
class CacheOp:
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



class CoherentCache:
    """The entries of one store (``namespace``) in one cache backend, kept coherent with it.

    ``fit`` makes an entry fit one cache value: ``(entry, encoded)``, with ``encoded`` None when
    nothing of it fits. Every step fails open: a call the cache cannot answer returns None (a
    miss), and a write step it cannot take marks the container dirty."""

    def __init__(
        self,
        backend: CacheBackend,
        *,
        namespace: str,
        fit: Callable[[BaseModel], tuple[BaseModel, str | None]],
        ttl_seconds: int = DEFAULT_TTL_SECONDS,
        breaker_threshold: int = BREAKER_THRESHOLD,
        breaker_cooldown_seconds: float = BREAKER_COOLDOWN_SECONDS,
        emit_metrics: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.backend = backend
        self.namespace = namespace
        self.ttl_seconds = ttl_seconds
        self.prefix = f"{ENTRY_FORMAT}:{namespace}"
        self.epoch_key = f"{self.prefix}:epoch"
        self._fitted = fit
        self._lock = threading.Lock()
        self._breaker = _Breaker(breaker_threshold, breaker_cooldown_seconds, clock)
        self._dirty = _Dirty()
        self._failure_logged = False
        self._emit_metrics = emit_metrics
        #: counters: hits, misses, fills, fill_rejected, puts, drops, errors, skipped, oversize
        self.stats: Counter[str] = Counter()

    @property
    def dirty(self) -> bool:
        """Whether a store write is waiting for its epoch increment (see the module docstring)."""
        with self._lock:
            return self._dirty.pending

    def count_error(self) -> None:
        """A cache failure for the ``CacheErrors`` metric (inside Lambda)."""
        if self._emit_metrics:
            count_metric("CacheErrors", service="cache")

    def call(self, ops: Sequence[CacheOp], *, probe: bool = False) -> tuple[int, list[tuple[int, Any]]] | None:
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
        self.count_error()

    def mark_dirty(self) -> None:
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
            self.call([], probe=True)
            with self._lock:
                # Decided under the lock, so a failure marked now either sees this thread
                # still running or starts a new one.
                if not self._dirty.pending:
                    self._dirty.healer = None
                    return
            delay = min(delay * 2, BREAKER_COOLDOWN_SECONDS)

    def read(self, keys: Sequence[str]) -> dict[str, Slot]:
        """Slots for ``keys``: this request's, else fetched in one call. A key the cache could
        not answer for is absent."""
        scope = current_scope()
        known: dict[str, Slot] = {}
        if scope is not None:
            with scope.lock:
                known = {key: scope.slots[key] for key in keys if key in scope.slots}
        missing = [key for key in keys if key not in known]
        if missing and not (scope is not None and scope.unavailable):
            result = self.call([CacheOp(key, "get") for key in missing])
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

    def entry(self, slot: Slot | None, model: type[T]) -> T | None:
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

    def remember(self, key: str, slot: Slot | None) -> None:
        scope = current_scope()
        if scope is None:
            return
        with scope.lock:
            if slot is None:
                scope.slots.pop(key, None)
            else:
                scope.slots[key] = slot

    def fill(self, key: str, slot: Slot | None, entry: BaseModel) -> None:
        """Offer what was just read from the store; kept only if nothing wrote meanwhile."""
        token = slot.token if slot is not None else None
        result = None
        if token is not None:
            _, encoded = self.fit(entry)
            if encoded is not None:
                result = self.call([CacheOp(key, "fill", token, encoded)])
        if result is not None:
            epoch, [(gen, stored)] = result
            if stored:
                self.stats["fills"] += 1
                # The request keeps the whole entry it read; the cache may hold a shorter window.
                self.remember(key, Slot(epoch, gen, encoded, entry))
                return
            self.stats["fill_rejected"] += 1
        # Not cached, but still this request's view (its token is spent).
        self.remember(key, Slot(None, 0, None, entry))

    def put_or_drop(self, key: str, slot: Slot | None, entry: BaseModel | None) -> CacheOp:
        token = slot.token if slot is not None else None
        if entry is None or token is None:
            return CacheOp(key, "drop")
        entry, encoded = self.fit(entry)
        if encoded is None:
            return CacheOp(key, "drop")
        return CacheOp(key, "put", token, encoded, entry)

    def fit(self, entry: BaseModel) -> tuple[BaseModel, str | None]:
        fitted, encoded = self._fitted(entry)
        if fitted is not entry or encoded is None:
            self.stats["oversize"] += 1
        return fitted, encoded

    def apply(self, ops: Sequence[CacheOp]) -> None:
        """Run a write's cache step after the store acknowledged. If the cache does not take
        it, entries may now be stale: mark the container dirty."""
        unique: dict[str, CacheOp] = {}
        for op in ops:
            if op.key not in unique or op.kind == "drop":
                unique[op.key] = op  # a drop wins over a put of the same key
        ops = list(unique.values())
        for start in range(0, len(ops), _MAX_KEYS_PER_CALL):
            chunk = ops[start : start + _MAX_KEYS_PER_CALL]
            result = self.call(chunk)
            if result is None:
                for op in chunk:
                    self.remember(op.key, None)
                self.mark_dirty()
                continue
            epoch, replies = result
            for op, (gen, stored) in zip(chunk, replies):
                if op.kind == "put" and stored:
                    self.stats["puts"] += 1
                    self.remember(op.key, Slot(epoch, gen, op.value, op.parsed))
                else:
                    self.stats["drops"] += 1
                    self.remember(op.key, Slot(epoch, gen, None, None))

    def drop(self, keys: Sequence[str]) -> None:
        self.apply([CacheOp(key, "drop") for key in keys])

    def close(self) -> None:
        """Stop the epoch healer (the backend is the store decorator's to close)."""
        self._dirty.stop.set()
        healer = self._dirty.healer
        if healer is not None and healer is not threading.current_thread():
            healer.join(timeout=2)


def _parse_reply(reply: Any, count: int) -> tuple[int, list[tuple[int, Any]]]:
    if not isinstance(reply, list) or len(reply) != 1 + 2 * count:
        raise CacheError(f"unexpected reply from the cache script: {json.dumps(reply, default=str)[:200]}")
    try:
        epoch = int(reply[0])
        pairs = [(int(reply[1 + 2 * i]), reply[2 + 2 * i]) for i in range(count)]
    except (TypeError, ValueError) as exc:
        raise CacheError(f"unexpected reply from the cache script: {exc}") from exc
    return epoch, pairs
