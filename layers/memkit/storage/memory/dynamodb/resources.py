"""Resources on DynamoDB: one item per resource whose metadata keys are top-level ``m_<key>``
attributes, so a metadata merge is one UpdateItem with no read; working memory updates that
merge are a read and one conditional UpdateItem. Deleting a resource erases its threads too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pynamodb.exceptions import PynamoDBException
from pynamodb.expressions.operand import Path
from pynamodb.expressions.update import Action

from memkit.errors import ConflictError, PayloadTooLargeError
from memkit.models import Resource, utc_now, validate_id, validate_metadata_keys
from memkit.storage.common import dumps
from memkit.storage.dynamodb.errors import is_condition_failure
from memkit.storage.dynamodb.requests import backoff
from memkit.storage.dynamodb.table import MAX_ITEM_BYTES, item_size, set_or_remove
from memkit.storage.memory.base import UNSET, DeletedResource
from memkit.storage.memory.dynamodb.access import MAX_PLAN_ATTEMPTS, MemoryPart, MemoryTable
from memkit.storage.memory.dynamodb.items import resource_from_raw
from memkit.storage.memory.dynamodb.keys import (
    CREATED_ORDER_PREFIX,
    RESOURCE_SK,
    THREAD_COUNTER_SK,
    metadata_attribute,
    resource_pk,
    resource_threads_partition,
)
from memkit.storage.memory.dynamodb.threads import Threads


class Resources(MemoryPart):
    def __init__(self, table: MemoryTable, threads: Threads):
        super().__init__(table)
        self.threads = threads

    def get_resource(self, resource_id: str) -> Resource | None:
        data = self.items.table_connection.get_item(
            resource_pk(validate_id(resource_id, "resourceId")), RESOURCE_SK, consistent_read=True
        )
        raw = data.get("Item")
        return None if raw is None else resource_from_raw(self.items, raw)

    def save_resource(self, resource: Resource) -> Resource:
        item = self.items.resource(
            resource_pk(resource.id),
            RESOURCE_SK,
            working_memory=resource.working_memory,
            has_metadata=resource.metadata is not None,
            created_at=resource.created_at,
            updated_at=resource.updated_at,
        )
        attributes = item.serialize()
        for key, value in (resource.metadata or {}).items():
            attributes[metadata_attribute(key)] = {"S": dumps(value)}
        size = item_size(attributes)
        if size > MAX_ITEM_BYTES:
            raise PayloadTooLargeError(
                f"Resource {resource.id} is {size} bytes as a DynamoDB item, over DynamoDB's 400 KB item limit"
            )
        # A Put (not an update): saving replaces the resource, dropping metadata keys it no
        # longer has. pynamodb models cannot declare the dynamic m_<key> attributes, so the
        # serialized item goes through the table connection.
        self.items.table_connection.put_item(item.pk, item.sk, attributes=attributes)
        return resource

    def update_resource(
        self,
        resource_id: str,
        *,
        working_memory: str | None = UNSET,
        metadata: dict[str, Any] | None = None,
    ) -> Resource:
        validate_id(resource_id, "resourceId")
        validate_metadata_keys(metadata)
        resource_model = self.items.resource
        now = utc_now()
        # One UpdateItem, no read: each metadata key is its own attribute, so concurrent merges
        # of different keys both land, and createdAt is set only by the first write.
        actions: list[Action] = [
            resource_model.entity.set(resource_model),
            resource_model.updated_at.set(now),
            resource_model.created_at.set(resource_model.created_at | now),
        ]
        if working_memory is not UNSET:
            actions.append(set_or_remove(resource_model.working_memory, working_memory))
        if metadata is not None:
            actions.append(resource_model.has_metadata.set(True))
            actions.extend(Path(metadata_attribute(key)).set(dumps(value)) for key, value in metadata.items())
        data = resource_model(resource_pk(resource_id), RESOURCE_SK).update(actions=actions)
        return resource_from_raw(self.items, data["Attributes"])

    def modify_resource_working_memory(self, resource_id: str, modify: Callable[[str | None], str]) -> Resource:
        """A consistent read, then one UpdateItem conditional on the working memory read."""
        validate_id(resource_id, "resourceId")
        resource_model = self.items.resource
        for attempt in range(MAX_PLAN_ATTEMPTS):
            current = self.get_resource(resource_id)
            before = None if current is None else current.working_memory
            value = modify(before)
            now = utc_now()
            actions: list[Action] = [
                resource_model.entity.set(resource_model),
                resource_model.updated_at.set(now),
                resource_model.created_at.set(resource_model.created_at | now),
                set_or_remove(resource_model.working_memory, value),
            ]
            condition = (
                resource_model.working_memory.does_not_exist()
                if before is None
                else resource_model.working_memory == before
            )
            try:
                data = resource_model(resource_pk(resource_id), RESOURCE_SK).update(actions=actions, condition=condition)
                return resource_from_raw(self.items, data["Attributes"])
            except PynamoDBException as error:
                if not is_condition_failure(error):
                    raise
            backoff(attempt)
        raise ConflictError(f"The working memory of resource {resource_id} kept changing while it was being updated; retry")

    def delete_resource(self, resource_id: str) -> DeletedResource:
        validate_id(resource_id, "resourceId")
        models = self.items
        # GSI1 projects whole items: the listing is the thread items themselves, read once.
        thread_items = list(
            models.thread.gsi1.query(
                resource_threads_partition(resource_id), models.item.gsi1_sk.startswith(CREATED_ORDER_PREFIX)
            )
        )
        thread_ids = [item.pk[len("THREAD#") :] for item in thread_items]
        # One after another: each sweep already runs its delete transactions in the pool, and
        # pool tasks waiting on pool tasks could starve it.
        message_resources: set[str] = set()
        for item, thread_id in zip(thread_items, thread_ids):
            self.threads.delete_thread_item(item, count=False)
            message_resources |= self.threads.sweep_thread_messages(thread_id)
        self.requests.batch_delete([(resource_pk(resource_id), RESOURCE_SK), (resource_pk(resource_id), THREAD_COUNTER_SK)])
        return DeletedResource(thread_ids, frozenset(message_resources))
