"""``DynamoDBStore``: the memory storage port on the single DynamoDB table.

The store is a thin facade: each port method translates DynamoDB's errors into memkit's
(``storage/dynamodb/errors.py``) and hands the call to the part that owns it, each in a
module named after what it does:

=====================  ===============================================================
part                   owns
=====================  ===============================================================
``threads.py``         get, save, update, title, task claims, delete, list threads
``message_writes.py``  save, update and delete messages (write planning, transactions)
``message_reads.py``   list messages (pages, include windows), by id, by resource
``resources.py``       get, save, update, merge and delete resources
``clone.py``           clone a thread with its messages
=====================  ===============================================================

They share a ``MemoryTable`` (``access.py``): the table's memory item classes (``items.py``,
keys in ``keys.py``), its requests and the reads and ownership checks every part makes. Each
part is built on first use, so a cold read loads the modules of its own part only.

Reads of the base table are strongly consistent (an agent reads right after it writes); the
index listings are eventually consistent, as DynamoDB indexes are. The key design, with the
requests and items each access pattern costs, is ``docs/dynamodb.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

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
from memkit.storage.dynamodb.errors import translating_errors
from memkit.storage.dynamodb.table import open_table
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
from memkit.storage.memory.dynamodb.access import MemoryTable

if TYPE_CHECKING:
    from memkit.storage.memory.dynamodb.clone import Clones
    from memkit.storage.memory.dynamodb.message_reads import MessageReads
    from memkit.storage.memory.dynamodb.message_writes import MessageWrites
    from memkit.storage.memory.dynamodb.resources import Resources
    from memkit.storage.memory.dynamodb.threads import Threads


class DynamoDBStore(MemoryStorage):
    """``MemoryStorage`` on one DynamoDB table; see the module docstring and docs/dynamodb.md.

    ``region`` None leaves the region to botocore (``AWS_DEFAULT_REGION``, config files); the
    runtime passes the deployment's (``Settings.aws_region``, which also reads Lambda's
    ``AWS_REGION``). ``endpoint_hint`` names the endpoint botocore resolves, so stores of one
    table name behind two endpoints never share a client."""

    name = "dynamodb"

    def __init__(
        self,
        table_name: str,
        *,
        create_table: bool = False,
        region: str | None = None,
        endpoint_url: str | None = None,
        endpoint_hint: str | None = None,
        max_workers: int = 8,
    ):
        self.table_name = table_name
        models = open_table(
            table_name, create_table=create_table, region=region, endpoint_url=endpoint_url, endpoint_hint=endpoint_hint
        )
        self.table = MemoryTable(models, max_workers=max_workers)

    @property
    def botocore_client(self) -> Any:
        """The table's botocore client (shared by every store on the same table), for instruments."""
        return self.table.models.client

    def close(self) -> None:
        self.table.close()

    # ------------------------------------------------------------ parts, each built on first use
    # (a race builds one twice, harmlessly: parts hold no state beyond the shared table)

    @cached_property
    def threads(self) -> Threads:
        from memkit.storage.memory.dynamodb.threads import Threads

        return Threads(self.table)

    @cached_property
    def reads(self) -> MessageReads:
        from memkit.storage.memory.dynamodb.message_reads import MessageReads

        return MessageReads(self.table)

    @cached_property
    def writes(self) -> MessageWrites:
        from memkit.storage.memory.dynamodb.message_writes import MessageWrites

        return MessageWrites(self.table)

    @cached_property
    def resources(self) -> Resources:
        from memkit.storage.memory.dynamodb.resources import Resources

        return Resources(self.table, self.threads)

    @cached_property
    def clones(self) -> Clones:
        from memkit.storage.memory.dynamodb.clone import Clones

        return Clones(self.table, self.reads, self.threads, self.writes)

    # ------------------------------------------------------------ threads

    @translating_errors
    def get_thread(self, thread_id: str, resource_id: str | None = None) -> Thread | None:
        return self.threads.get_thread(thread_id, resource_id)

    @translating_errors
    def save_thread(self, thread: Thread) -> Thread:
        return self.threads.save_thread(thread)

    @translating_errors
    def update_thread(
        self,
        thread_id: str,
        *,
        title: str | None = UNSET,
        metadata: dict[str, Any] | None = None,
        resource_id: str | None = None,
    ) -> Thread:
        return self.threads.update_thread(thread_id, title=title, metadata=metadata, resource_id=resource_id)

    @translating_errors
    def modify_thread_working_memory(
        self, thread_id: str, modify: Callable[[Any], str], *, resource_id: str | None = None
    ) -> Thread:
        return self.threads.modify_thread_working_memory(thread_id, modify, resource_id=resource_id)

    @translating_errors
    def set_title_if_untitled(self, thread_id: str, title: str) -> bool:
        return self.threads.set_title_if_untitled(thread_id, title)

    @translating_errors
    def claim_thread_task(self, thread_id: str, task: str) -> bool:
        return self.threads.claim_thread_task(thread_id, task)

    @translating_errors
    def release_thread_task(self, thread_id: str, task: str) -> None:
        self.threads.release_thread_task(thread_id, task)

    @translating_errors
    def delete_thread(self, thread_id: str, resource_id: str | None = None) -> DeletedThread | None:
        return self.threads.delete_thread(thread_id, resource_id)

    @translating_errors
    def list_threads(self, query: ListThreadsInput) -> ThreadPage:
        return self.threads.list_threads(query)

    # ------------------------------------------------------------ messages

    def save_messages(self, messages: Sequence[Message], *, tenant: str | None = None) -> list[Message]:
        return self.save_messages_with_receipt(messages, tenant=tenant).messages

    @translating_errors
    def save_messages_with_receipt(self, messages: Sequence[Message], *, tenant: str | None = None) -> SaveReceipt:
        return self.writes.save_messages_with_receipt(messages, tenant=tenant)

    @translating_errors
    def load_thread_window(self, thread_id: str, limit: int) -> ThreadWindow:
        return self.reads.load_thread_window(thread_id, limit)

    @translating_errors
    def list_messages(self, query: ListMessagesInput) -> MessagePage:
        return self.reads.list_messages(query)

    @translating_errors
    def list_messages_by_id(self, message_ids: Sequence[str]) -> list[Message]:
        return self.reads.list_messages_by_id(message_ids)

    @translating_errors
    def list_messages_by_resource_id(self, query: ListMessagesByResourceInput) -> MessagePage:
        return self.reads.list_messages_by_resource_id(query)

    def update_messages(self, updates: Sequence[MessageUpdate], *, tenant: str | None = None) -> list[Message]:
        return self.update_messages_with_receipt(updates, tenant=tenant).messages

    @translating_errors
    def update_messages_with_receipt(
        self, updates: Sequence[MessageUpdate], *, tenant: str | None = None
    ) -> UpdateReceipt:
        return self.writes.update_messages_with_receipt(updates, tenant=tenant)

    @translating_errors
    def delete_messages(self, message_ids: Sequence[str], *, tenant: str | None = None) -> dict[str, MessageLocation]:
        return self.writes.delete_messages(message_ids, tenant=tenant)

    # ------------------------------------------------------------ resources

    @translating_errors
    def get_resource(self, resource_id: str) -> Resource | None:
        return self.resources.get_resource(resource_id)

    @translating_errors
    def save_resource(self, resource: Resource) -> Resource:
        return self.resources.save_resource(resource)

    @translating_errors
    def update_resource(
        self,
        resource_id: str,
        *,
        working_memory: str | None = UNSET,
        metadata: dict[str, Any] | None = None,
    ) -> Resource:
        return self.resources.update_resource(resource_id, working_memory=working_memory, metadata=metadata)

    @translating_errors
    def modify_resource_working_memory(self, resource_id: str, modify: Callable[[str | None], str]) -> Resource:
        return self.resources.modify_resource_working_memory(resource_id, modify)

    @translating_errors
    def delete_resource(self, resource_id: str) -> DeletedResource:
        return self.resources.delete_resource(resource_id)

    # ------------------------------------------------------------ clone

    @translating_errors
    def clone_thread(self, request: CloneThreadInput) -> CloneThreadResult:
        return self.clones.clone_thread(request)
