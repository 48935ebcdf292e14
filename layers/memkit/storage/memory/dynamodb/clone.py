"""Cloning a thread on DynamoDB: one Query reads the source thread and its messages, the new
thread is created with its counter, and the copies are saved like any save; a failure takes
the new thread back, so a clone is all or nothing.
"""

from __future__ import annotations

import uuid

from memkit.errors import ConflictError, NotFoundError
from memkit.models import CloneThreadInput, CloneThreadResult, Message, utc_now
from memkit.storage.memory.dynamodb.access import MemoryPart, MemoryTable
from memkit.storage.memory.dynamodb.items import message_item, thread_from_item, thread_item
from memkit.storage.memory.dynamodb.message_reads import MessageReads
from memkit.storage.memory.dynamodb.message_writes import MessageWrites
from memkit.storage.memory.dynamodb.threads import Threads
from memkit.storage.memory.rules import clone_message, clone_thread_record


class Clones(MemoryPart):
    def __init__(self, table: MemoryTable, reads: MessageReads, threads: Threads, writes: MessageWrites):
        super().__init__(table)
        self.reads = reads
        self.threads = threads
        self.writes = writes

    def clone_thread(self, request: CloneThreadInput) -> CloneThreadResult:
        """One Query reads the source thread and its messages; the returned thread is derived
        from what was written, not read back."""
        source_item, messages = self.reads.thread_and_messages(request.source_thread_id, forward=True, limit=None)
        if source_item is None:
            raise NotFoundError(f"Source thread with id {request.source_thread_id} not found")
        originals = _select_clone_messages(messages, request)
        new_thread_id = request.new_thread_id or str(uuid.uuid4())
        now = utc_now()
        thread = clone_thread_record(thread_from_item(source_item), request, new_thread_id, originals, now)
        copies = [clone_message(message, thread, request.resource_id) for message in originals]
        for message in copies:
            message_item(self.items, message)
        # Created without lastMessageAt: the copies' save sets it per transaction, never backwards,
        # so a value already at the newest copy would cancel the first transaction of a long clone.
        created = thread.model_copy(update={"last_message_at": None})
        if self.threads.create_thread(thread_item(self.items, created), thread.resource_id) is not None:
            raise ConflictError(f"Thread with id {new_thread_id} already exists")
        if not copies:
            return CloneThreadResult(thread=thread, cloned_messages=[])
        try:
            receipt = self.writes.save_messages_with_receipt(copies)
        except Exception:
            # A clone is all or nothing: the thread had to exist before its messages could be
            # saved, so take it back (with whatever messages landed) and let the error surface.
            self.threads.delete_thread(new_thread_id)
            raise
        # The save moved updatedAt to its bump time, unless that was not later than the creation.
        updated_at = max(now, receipt.bumped_at or now)
        return CloneThreadResult(thread=thread.model_copy(update={"updated_at": updated_at}), cloned_messages=copies)


def _select_clone_messages(messages: list[Message], request: CloneThreadInput) -> list[Message]:
    options = request.options
    if options is None:
        return messages
    selected = messages
    message_filter = options.message_filter
    if message_filter is not None:
        if message_filter.start_date is not None:
            selected = [m for m in selected if m.created_at >= message_filter.start_date]
        if message_filter.end_date is not None:
            selected = [m for m in selected if m.created_at <= message_filter.end_date]
        if message_filter.message_ids:
            wanted = set(message_filter.message_ids)
            selected = [m for m in selected if m.id in wanted]
    # A limit of 0 or none copies everything, as in Mastra.
    if options.message_limit:
        selected = selected[-options.message_limit :]
    return selected
