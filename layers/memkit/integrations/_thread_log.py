"""A framework's ordered list of records (Strands messages, OpenAI Agents items) kept as the v2
messages of one memkit thread.

Frameworks address their history by position: Strands by message index (and rewrites one
message when a guardrail redacts it), the OpenAI Agents SDK by order (it pops the last item).
Mastra readers want something else: one user message per prompt and one assistant message per
answer, holding its steps and each tool call with its result. Both views are kept:

- **Records, verbatim.** Every record is stored as the framework gave it, with its index, in
  ``content.metadata.<namespace>.records`` of exactly one v2 message. A session reads its
  records back in index order, so a framework gets exactly what it stored, whatever the v2
  mapping can express.
- **Rendering, as Mastra stores it.** The records are split into turns (a turn starts at a
  record that opens one: a user or system message that is not a tool result) and each turn is
  rendered with the provider's ``memkit.formats`` converter: the prompt, then one assistant
  message with every step (``step-start`` between them) and each tool call's result. A record
  is kept in the message that was the newest once it was rendered (a tool result in the
  assistant message it answers). What the converter cannot express (an OpenAI hosted-tool
  item, a Converse ``video`` block) is kept as a record but shows nothing; a turn of which
  nothing renders is one empty assistant message holding its records.
- **Stable ids.** A message's id is ``<thread>:<stream>:<turn>:<position>`` (no stream part for
  a single-stream session), where ``turn`` is the index of the turn's first record and
  ``position`` the message's place in the turn, or a UUID5 of that text when it is not a valid
  memkit id. Re-rendering a turn rewrites the same messages; ``createdAt`` only grows.

Writes. Appending re-renders the last turn only and saves what changed (the growing assistant
message, new messages) in one ``save_messages``. Replacing or removing a record of the last turn
does the same, plus one ``delete_messages`` for messages no longer rendered; anywhere else the
whole session is read and re-rendered. The last turn is kept in memory between calls and read
back (newest messages first, a page at a time) when unknown.

One writer per session at a time, as with the frameworks' own file and S3 session stores: two
processes appending to one session at once would both take the next index.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from memkit.errors import ValidationError
from memkit.models import Message, format_ts, parse_ts, utc_now, validate_id

if TYPE_CHECKING:
    from memkit.memory import Memory

# Messages read per request while looking for the start of the last turn.
_TAIL_PAGE = 20
_ID_NAMESPACE = uuid.UUID("5b0f2f36-9d3e-4c3a-8a52-1d0c2b7e6a41")
_NEWEST_FIRST = {"field": "createdAt", "direction": "DESC"}
_OLDEST_FIRST = {"field": "createdAt", "direction": "ASC"}
_MS = timedelta(milliseconds=1)


def session_thread_id(session_id: str, thread_id: str | None = None) -> str:
    """The thread a framework session lives in: ``thread_id`` when given, else the session id."""
    if thread_id is not None:
        return validate_id(thread_id, "thread_id")
    return validate_id(session_id, "session_id")


class Dialect(Protocol):
    """What one framework's records are, for the log."""

    #: the ``content.metadata`` key holding the records ("strands", "openaiAgents")
    namespace: str

    def piece(self, value: Any) -> Any:
        """The provider message or item of a record, as the format's ``to_v2`` reads it."""

    def salvage(self, piece: Any) -> Any | None:
        """What of a piece that did not render might (the blocks that do), or None."""

    def opens_turn(self, value: Any) -> bool:
        """Whether the record starts a turn (a prompt, not a tool result)."""

    def to_v2(self, pieces: list[Any], *, thread_id: str, resource_id: str) -> list[dict[str, Any]]:
        """The format's ``to_v2``; raises ``ValidationError`` for what it cannot express."""


class Record(NamedTuple):
    index: int
    value: Any


class _Stored(NamedTuple):
    message: dict[str, Any]  # the v2 message, wire form
    turn: int
    records: list[Record]


class _Rendered(NamedTuple):
    id: str
    role: str
    content: dict[str, Any]
    turn: int
    records: list[Record]


class _TurnRendering(NamedTuple):
    records: list[Record]
    accepted: list[Any]  # the pieces that rendered
    homes: list[int]  # for each record, the position of the message that holds it
    newest: int


class ThreadLog:
    """The records of one stream (a Strands agent, an OpenAI Agents session) in one thread."""

    def __init__(
        self,
        memory: Memory,
        *,
        thread_id: str,
        resource_id: str,
        dialect: Dialect,
        stream: str | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.memory = memory
        self.thread_id = validate_id(thread_id, "threadId")
        self.resource_id = validate_id(resource_id, "resourceId")
        self.dialect = dialect
        self.stream = stream
        self._clock = clock
        self._lock = threading.RLock()
        # The messages of the last turn, oldest first; None until read (or after a change that
        # leaves it unknown).
        self._tail: list[_Stored] | None = None
        self._last_created: datetime | None = None
        self._last_render: _TurnRendering | None = None

    # ------------------------------------------------------------ reads

    def records(self) -> list[Record]:
        """Every record, in index order (one read of the whole thread)."""
        with self._lock:
            return _flatten(self._read_all())

    def latest(self, count: int) -> list[Record]:
        """The newest ``count`` records, in index order; pages back only as far as needed."""
        with self._lock:
            if count <= 0:
                return []
            found: list[_Stored] = []
            total = 0
            page = 0
            while total < count:
                listed = self.memory.list_messages(
                    thread_id=self.thread_id, resource_id=self.resource_id,
                    page=page, per_page=max(count, _TAIL_PAGE), order_by=_NEWEST_FIRST,
                )
                for message in listed.messages:
                    stored = self._parse(message)
                    if stored is not None:
                        found.append(stored)
                        total += len(stored.records)
                if not listed.has_more:
                    break
                page += 1
            return _flatten(reversed(found))[-count:]

    def get(self, index: int) -> Any | None:
        with self._lock:
            for record in _flatten(self._tail_messages()):
                if record.index == index:
                    return record.value
            for record in self.records():
                if record.index == index:
                    return record.value
            return None

    # ------------------------------------------------------------ writes

    def append(self, values: Sequence[Any]) -> list[int]:
        """Adds ``values`` after the last record; returns their indexes."""
        with self._lock:
            tail = self._tail_messages()
            records = _flatten(tail)
            start = records[-1].index + 1 if records else 0
            added = [Record(start + offset, value) for offset, value in enumerate(values)]
            if added:
                self._tail = self._sync(tail, records + added)
            return [record.index for record in added]

    def put(self, index: int, value: Any) -> None:
        """Stores the record at ``index``, replacing one already there."""
        with self._lock:
            tail = self._tail_messages()
            records = _flatten(tail)
            # The last turn is empty only when the session is.
            if not records or index > records[-1].index:
                self._tail = self._sync(tail, records + [Record(index, value)])
                return
            self._rewrite(lambda current: _upsert(current, Record(index, value)))

    def replace(self, index: int, value: Any) -> bool:
        """Replaces the record at ``index``; False when there is none."""
        with self._lock:
            return self._rewrite(lambda current: _replaced(current, Record(index, value)))

    def pop(self) -> Record | None:
        """Removes and returns the last record (None when there are none)."""
        with self._lock:
            tail = self._tail_messages()
            records = _flatten(tail)
            if not records:
                return None
            self._tail = self._sync(tail, records[:-1]) or None
            return records[-1]

    def assume_empty(self) -> None:
        """The stream is known to hold nothing yet (a new agent): the first write reads nothing."""
        with self._lock:
            self._tail = []

    def forget(self) -> None:
        """Drop what is remembered of the thread (after it was deleted elsewhere)."""
        with self._lock:
            self._tail = None
            self._last_created = None

    # ------------------------------------------------------------ the last turn

    def _tail_messages(self) -> list[_Stored]:
        if self._tail is None:
            self._tail = self._read_tail()
        return self._tail

    def _read_tail(self) -> list[_Stored]:
        newest_first: list[_Stored] = []
        page = 0
        while True:
            listed = self.memory.list_messages(
                thread_id=self.thread_id, resource_id=self.resource_id,
                page=page, per_page=_TAIL_PAGE, order_by=_NEWEST_FIRST,
            )
            for message in listed.messages:
                stored = self._parse(message)
                if stored is None:
                    continue
                if newest_first and stored.turn != newest_first[0].turn:
                    return self._remember(list(reversed(newest_first)))
                newest_first.append(stored)
                if stored.records and stored.records[0].index == stored.turn:
                    return self._remember(list(reversed(newest_first)))
            if not listed.has_more:
                return self._remember(list(reversed(newest_first)))
            page += 1

    def _rewrite(self, change: Callable[[list[Record]], list[Record] | None]) -> bool:
        """Applies ``change`` to the last turn's records if it touches only them, else to the
        whole session's. ``change`` returns None when it has nothing to do."""
        tail = self._tail_messages()
        records = _flatten(tail)
        changed = change(records)
        if changed is not None and (not records or min(r.index for r in changed) >= records[0].index):
            self._tail = self._sync(tail, changed) or None
            return True
        everything = self._read_all()
        changed = change(_flatten(everything))
        if changed is None:
            return False
        self._sync(everything, changed)
        self._tail = None
        return True

    # ------------------------------------------------------------ storage

    def _read_all(self) -> list[_Stored]:
        listed = self.memory.list_messages(
            thread_id=self.thread_id, resource_id=self.resource_id, per_page=False, order_by=_OLDEST_FIRST
        )
        stored = [s for s in (self._parse(m) for m in listed.messages) if s is not None]
        last_turn = stored[-1].turn if stored else None
        self._remember([s for s in stored if s.turn == last_turn])
        return stored

    def _remember(self, tail: list[_Stored]) -> list[_Stored]:
        self._tail = tail
        if tail:
            newest = parse_ts(tail[-1].message["createdAt"])
            if self._last_created is None or newest > self._last_created:
                self._last_created = newest
        return tail

    def _parse(self, message: Message) -> _Stored | None:
        """The log's view of a stored message; None for messages of other streams or none."""
        wire = message.to_wire()
        metadata = wire["content"].get("metadata")
        entry = metadata.get(self.dialect.namespace) if isinstance(metadata, dict) else None
        if not isinstance(entry, dict) or entry.get("stream") != self.stream:
            return None
        where = f"message {wire['id']}: content.metadata.{self.dialect.namespace}"
        turn = entry.get("turn")
        raw_records = entry.get("records")
        if not isinstance(turn, int) or not isinstance(raw_records, list):
            raise ValidationError(f"{where} must hold an integer turn and a list of records", field=where)
        records = []
        for position, raw in enumerate(raw_records):
            if not (isinstance(raw, dict) and isinstance(raw.get("index"), int) and "value" in raw):
                raise ValidationError(f"{where}.records[{position}] must be {{index, value}}", field=where)
            records.append(Record(raw["index"], raw["value"]))
        return _Stored(wire, turn, records)

    def _sync(self, before: list[_Stored], records: list[Record]) -> list[_Stored]:
        """Stores ``records`` in place of the messages ``before``: saves what changed, deletes
        what is no longer rendered. Returns the messages of the last turn written."""
        rendered = self._render(records)
        existing = {stored.message["id"]: stored for stored in before}
        keep = {r.id for r in rendered}
        to_save: list[dict[str, Any]] = []
        written: list[_Stored] = []
        previous: datetime | None = None
        for position, message in enumerate(rendered):
            old = existing.get(message.id)
            content = {**message.content, "metadata": {self.dialect.namespace: self._entry(message)}}
            if old is not None:
                created = parse_ts(old.message["createdAt"])
            else:
                following = next((existing[r.id] for r in rendered[position + 1 :] if r.id in existing), None)
                created = self._created_between(previous, None if following is None else parse_ts(following.message["createdAt"]))
            wire = {
                "id": message.id,
                "threadId": self.thread_id,
                "resourceId": self.resource_id,
                "role": message.role,
                "type": "v2",
                "createdAt": format_ts(created),
                "content": content,
            }
            if old is None or old.message["role"] != message.role or old.message["content"] != content:
                to_save.append(wire)
            written.append(_Stored(wire, message.turn, message.records))
            previous = created
        if to_save:
            self.memory.save_messages(to_save, tenant=self.resource_id)
        gone = [message_id for message_id in existing if message_id not in keep]
        if gone:
            self.memory.delete_messages(gone, tenant=self.resource_id)
        last_turn = written[-1].turn if written else None
        return [stored for stored in written if stored.turn == last_turn]

    def _entry(self, message: _Rendered) -> dict[str, Any]:
        entry: dict[str, Any] = {}
        if self.stream is not None:
            entry["stream"] = self.stream
        entry["turn"] = message.turn
        entry["records"] = [{"index": r.index, "value": r.value} for r in message.records]
        return entry

    def _created_between(self, previous: datetime | None, following: datetime | None) -> datetime:
        """A new message's createdAt: just after the message before it when it goes between
        stored ones; at the end, no earlier than now and after anything this log wrote."""
        if following is not None:
            return previous + _MS if previous is not None else following - _MS
        candidates = [self._clock()]
        if previous is not None:
            candidates.append(previous + _MS)
        if self._last_created is not None:
            candidates.append(self._last_created + _MS)
        self._last_created = max(candidates)
        return self._last_created

    # ------------------------------------------------------------ rendering

    def _render(self, records: list[Record]) -> list[_Rendered]:
        turns: list[list[Record]] = []
        for record in sorted(records, key=lambda r: r.index):
            if not turns or self.dialect.opens_turn(record.value):
                turns.append([])
            turns[-1].append(record)
        return [message for turn in turns for message in self._render_turn(turn)]

    def _render_turn(self, records: list[Record]) -> list[_Rendered]:
        # Rendering is streaming: what a record added to the turn cannot change where the ones
        # before it landed. So an append starts from the last turn's previous rendering and
        # tries only the new records (each try renders the turn once, not once per record).
        previous = self._last_render
        if previous is not None and len(previous.records) <= len(records) and all(
            a is b for a, b in zip(previous.records, records)
        ):
            accepted, homes, newest = list(previous.accepted), list(previous.homes), previous.newest
        else:
            accepted, homes, newest = [], [], -1  # newest: the message a record lands in
        for record in records[len(homes) :]:
            for candidate in self._candidates(self.dialect.piece(record.value)):
                try:
                    newest = len(self._to_v2([*accepted, candidate])) - 1
                except ValidationError:
                    continue
                accepted.append(candidate)
                break
            homes.append(max(newest, 0))
        self._last_render = _TurnRendering(list(records), accepted, homes, newest)
        messages = self._to_v2(accepted) if accepted else []
        if not messages:
            messages = [{"role": "assistant", "content": {"format": 2, "parts": []}}]
        held: list[list[Record]] = [[] for _ in messages]
        for record, home in zip(records, homes):
            held[home].append(record)
        turn = records[0].index
        return [
            _Rendered(self._message_id(turn, position), message["role"], message["content"], turn, held[position])
            for position, message in enumerate(messages)
        ]

    def _candidates(self, piece: Any) -> Iterator[Any]:
        yield piece
        salvaged = self.dialect.salvage(piece)
        if salvaged is not None:
            yield salvaged

    def _to_v2(self, pieces: list[Any]) -> list[dict[str, Any]]:
        return self.dialect.to_v2(pieces, thread_id=self.thread_id, resource_id=self.resource_id)

    def _message_id(self, turn: int, position: int) -> str:
        parts = [self.thread_id, *([self.stream] if self.stream is not None else []), str(turn), str(position)]
        readable = ":".join(parts)
        try:
            return validate_id(readable, "message id")
        except ValidationError:
            # A stream name outside memkit's id alphabet, or a very long thread id.
            return str(uuid.uuid5(_ID_NAMESPACE, readable))


def _flatten(messages: Any) -> list[Record]:
    by_index: dict[int, Record] = {}
    for stored in messages:
        for record in stored.records:
            by_index[record.index] = record
    return [by_index[index] for index in sorted(by_index)]


def _upsert(records: list[Record], record: Record) -> list[Record]:
    return [r for r in records if r.index != record.index] + [record]


def _replaced(records: list[Record], record: Record) -> list[Record] | None:
    if not any(r.index == record.index for r in records):
        return None
    return [record if r.index == record.index else r for r in records]
