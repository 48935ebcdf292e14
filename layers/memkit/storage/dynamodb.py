"""The memory store on one DynamoDB table (single-table design, pynamodb).

The key design, with the requests and items each access pattern costs, is documented as a
table in ``docs/dynamodb.md``; the functions under "Keys" below are the only place key strings
are built, so that page and this code can be checked against each other. In short:

- ``THREAD#<threadId>`` is a thread's partition: its messages (``MSG#<createdAt>#<messageId>``)
  and the thread item itself (``THREAD``, which sorts after every message key). A descending
  Query over ``MSG#`` .. ``THREAD`` returns the thread first (owner, ``messageCount``) and then
  the newest messages: the last N messages with the ownership check and the total cost one
  Query reading N+1 items.
- ``MSGID#<messageId>`` is a small pointer item written in the same transaction as its
  message: strongly consistent lookups by id (BatchGetItem), and the move/re-save detection.
- ``RESOURCE#<resourceId>`` holds the resource (``RESOURCE``; metadata keys as top-level
  ``m_<key>`` attributes so a merge is one UpdateItem) and its thread counter (``THREADCOUNT``).
- Two generic indexes, ``GSI1`` and ``GSI2``, list a resource's threads by createdAt and by
  updatedAt, and ``GSI1`` also lists a resource's messages through the pointers.

Reads of the base table are strongly consistent (an agent reads right after it writes); the
index listings are eventually consistent, as DynamoDB indexes are.

Transactions are all-or-nothing per request. A save or update touching more messages than one
transaction holds (49 messages) is split; only a service failure or a concurrent delete between
two transactions can split it, and then the call raises.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import json
import os
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from typing import Any, NamedTuple, TypeVar

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    NoCredentialsError,
    NoRegionError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)
from pynamodb.attributes import (
    Attribute,
    BooleanAttribute,
    DiscriminatorAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
)
from pynamodb.constants import STRING
from pynamodb.exceptions import DoesNotExist, PynamoDBException, TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.operand import Path
from pynamodb.expressions.update import Action
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from memkit.aws import share_session_with
from memkit.errors import (
    ConfigurationError,
    ConflictError,
    MemkitError,
    NotFoundError,
    OwnershipError,
    PayloadTooLargeError,
    RetryableError,
    ValidationError,
)
from memkit.models import (
    CloneThreadInput,
    CloneThreadResult,
    DateRange,
    IncludeItem,
    ListMessagesByResourceInput,
    ListMessagesInput,
    ListThreadsInput,
    Message,
    MessagePage,
    MessageUpdate,
    Resource,
    Thread,
    ThreadPage,
    deep_merge,
    format_ts,
    page_meta,
    parse_model,
    parse_ts,
    utc_now,
    validate_id,
    validate_metadata_keys,
)
from memkit.storage.base import (
    DEFAULT_TITLES,
    UNSET,
    DeletedResource,
    DeletedThread,
    MemoryStorage,
    MessageLocation,
    SaveReceipt,
    ThreadWindow,
    WORKING_MEMORY_METADATA_KEY,
    UpdateReceipt,
    check_tenant_attribution,
    clone_message,
    clone_thread_record,
    foreign_message_error,
    validate_task_name,
)
from memkit.storage.common import dumps

T = TypeVar("T")

# ====================================================================== keys
#
# Every key string is built here. New entity types (workflow snapshots ``WF#…``, scores
# ``SCORE#…``, traces ``TRACE#…``) get their own partition prefixes and reuse GSI1/GSI2 with
# their own index partition prefixes, so they never collide with the memory domain.

THREAD_SK = "THREAD"
MESSAGE_SK_PREFIX = "MSG#"
# The thread partition reserves every sort key between "MSG#" and "THREAD" for messages, so the
# "thread item + newest messages" Query can range over exactly those.
POINTER_SK = "MSGID"
RESOURCE_SK = "RESOURCE"
THREAD_COUNTER_SK = "THREADCOUNT"
# Index sort key of the thread counter: "~" sorts after the "C#"/"U#" thread keys, so a
# descending listing reads the counter (the total) as its first item.
COUNTER_INDEX_SK = "~COUNT"
CREATED_ORDER_PREFIX = "C#"
UPDATED_ORDER_PREFIX = "U#"
RESOURCE_MESSAGE_PREFIX = "M#"
METADATA_ATTRIBUTE_PREFIX = "m_"


def thread_pk(thread_id: str) -> str:
    return f"THREAD#{thread_id}"


def message_sk(created_at: datetime, message_id: str) -> str:
    # Fixed-width timestamps make text order equal time order; the id breaks ties.
    return f"{MESSAGE_SK_PREFIX}{format_ts(created_at)}#{message_id}"


def message_id_from_sk(sk: str) -> str:
    # Ids cannot contain "#" (validate_id), and neither can the timestamp.
    return sk.split("#", 2)[2]


def pointer_pk(message_id: str) -> str:
    return f"MSGID#{message_id}"


def resource_pk(resource_id: str) -> str:
    return f"RESOURCE#{resource_id}"


def resource_threads_partition(resource_id: str) -> str:
    """GSI1PK and GSI2PK of a resource's threads (and of its thread counter)."""
    return f"RES#{resource_id}#THREADS"


def thread_created_sort_key(created_at: datetime, thread_id: str) -> str:
    return f"{CREATED_ORDER_PREFIX}{format_ts(created_at)}#{thread_id}"


def thread_updated_sort_key(updated_at: datetime, thread_id: str) -> str:
    return f"{UPDATED_ORDER_PREFIX}{format_ts(updated_at)}#{thread_id}"


def resource_messages_partition(resource_id: str) -> str:
    """GSI1PK of the pointers of a resource's messages (listMessagesByResourceId)."""
    return f"RES#{resource_id}#MSGS"


def resource_message_sort_key(created_at: datetime, message_id: str) -> str:
    return f"{RESOURCE_MESSAGE_PREFIX}{format_ts(created_at)}#{message_id}"


def metadata_attribute(key: str) -> str:
    # Metadata keys match ^[a-zA-Z_][a-zA-Z0-9_]*$ (validated), so they are safe name suffixes.
    return f"{METADATA_ATTRIBUTE_PREFIX}{key}"


def _timestamp_key_range(prefix: str, date_range: DateRange | None) -> tuple[str, str] | None:
    """Inclusive sort-key bounds ``(low, high)`` selecting ``<prefix><timestamp>#<id>`` keys whose
    timestamp lies in ``date_range``; None when the range is empty.

    "$" sorts right after "#", so ``<prefix><ts>$`` is above every key of that millisecond and
    ``<prefix><ts>`` below all of them: exclusive and inclusive bounds stay exact to the ms.
    """
    low, high = prefix, prefix[:-1] + "$"
    if date_range is not None:
        if date_range.start is not None:
            low = prefix + format_ts(date_range.start) + ("$" if date_range.start_exclusive else "")
        if date_range.end is not None:
            high = prefix + format_ts(date_range.end) + ("" if date_range.end_exclusive else "$")
    return (low, high) if low <= high else None


# ====================================================================== table


TTL_ATTRIBUTE = "ttl"
MAX_ITEM_BYTES = 400 * 1024
# A TransactWriteItems request carries at most 100 actions and 4 MB.
_MAX_TRANSACTION_ACTIONS = 100
_MAX_TRANSACTION_BYTES = 4 * 1024 * 1024 - 64 * 1024
# Two actions per message (message + pointer) plus one thread update fit in 100 actions.
MESSAGES_PER_TRANSACTION = 49
_BATCH_WRITE_LIMIT = 25
_BATCH_GET_LIMIT = 100


def table_definition(table_name: str) -> dict[str, Any]:
    """The CreateTable request of the memkit table: the one source of truth for its schema.

    ``template.yaml`` declares the same table (its test compares the two). The TTL attribute,
    which CreateTable cannot set, is ``TTL_ATTRIBUTE``.
    """
    key = [{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}]

    def index(name: str) -> dict[str, Any]:
        return {
            "IndexName": name,
            "KeySchema": [
                {"AttributeName": f"{name}PK", "KeyType": "HASH"},
                {"AttributeName": f"{name}SK", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        }

    return {
        "TableName": table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": name, "AttributeType": "S"}
            for name in ("PK", "SK", "GSI1PK", "GSI1SK", "GSI2PK", "GSI2SK")
        ],
        "KeySchema": key,
        "GlobalSecondaryIndexes": [index("GSI1"), index("GSI2")],
    }


# ====================================================================== pynamodb models


class _TimestampAttribute(Attribute[datetime]):
    """``format_ts`` text: sorts as time and round-trips to the millisecond."""

    attr_type = STRING

    def serialize(self, value: datetime) -> str:
        return format_ts(value)

    def deserialize(self, value: str) -> datetime:
        return parse_ts(value)


class _JSONTextAttribute(Attribute[Any]):
    """JSON as a string attribute: numbers come back as the ints and floats that went in
    (no Decimal drift) and unknown fields round-trip untouched."""

    attr_type = STRING

    def serialize(self, value: Any) -> str:
        return dumps(value)

    def deserialize(self, value: str) -> Any:
        return json.loads(value)


class _Gsi1(GlobalSecondaryIndex):
    class Meta:
        index_name = "GSI1"
        projection = AllProjection()

    partition = UnicodeAttribute(hash_key=True, attr_name="GSI1PK")
    sort = UnicodeAttribute(range_key=True, attr_name="GSI1SK")


class _Gsi2(GlobalSecondaryIndex):
    class Meta:
        index_name = "GSI2"
        projection = AllProjection()

    partition = UnicodeAttribute(hash_key=True, attr_name="GSI2PK")
    sort = UnicodeAttribute(range_key=True, attr_name="GSI2SK")


class TableModels(NamedTuple):
    """The pynamodb classes bound to one table. ``item`` is the polymorphic base: reading
    through it yields the subclass named by each item's ``entity`` attribute."""

    item: Any
    thread: Any
    message: Any
    pointer: Any
    resource: Any
    thread_counter: Any

    @property
    def table_connection(self) -> Any:
        return self.item._get_connection()


@functools.lru_cache(maxsize=None)
def table_models(table_name: str, region: str | None, host: str | None, endpoint_hint: str | None) -> TableModels:
    """One set of model classes per table (pynamodb binds table and endpoint on ``Meta``; a
    global ``Meta`` must never be mutated). ``endpoint_hint`` only keys the cache: botocore
    resolves ``AWS_ENDPOINT_URL_DYNAMODB`` itself when ``host`` is None."""
    meta = type(
        "Meta",
        (),
        {"table_name": table_name, "region": region, "host": host, "max_pool_connections": 32},
    )

    class Item(Model):
        Meta = meta
        pk = UnicodeAttribute(hash_key=True, attr_name="PK")
        sk = UnicodeAttribute(range_key=True, attr_name="SK")
        entity = DiscriminatorAttribute()
        ttl = TTLAttribute(null=True, attr_name=TTL_ATTRIBUTE)
        gsi1_pk = UnicodeAttribute(null=True, attr_name="GSI1PK")
        gsi1_sk = UnicodeAttribute(null=True, attr_name="GSI1SK")
        gsi2_pk = UnicodeAttribute(null=True, attr_name="GSI2PK")
        gsi2_sk = UnicodeAttribute(null=True, attr_name="GSI2SK")
        gsi1 = _Gsi1()
        gsi2 = _Gsi2()

    class ThreadItem(Item, discriminator="thread"):
        resource_id = UnicodeAttribute(attr_name="resourceId")
        title = UnicodeAttribute(null=True)
        metadata = _JSONTextAttribute(null=True)
        created_at = _TimestampAttribute(attr_name="createdAt")
        updated_at = _TimestampAttribute(attr_name="updatedAt")
        last_message_at = _TimestampAttribute(null=True, attr_name="lastMessageAt")
        message_count = NumberAttribute(default=0, attr_name="messageCount")
        # Messages attributed to another resource. While it is 0 (nearly always), listing the
        # thread for its owner needs no resource filter, so messageCount is the exact total.
        foreign_message_count = NumberAttribute(default=0, attr_name="foreignMessageCount")
        # One-off tasks started for the thread (claim_thread_task); not part of the Thread shape.
        claimed_tasks = UnicodeSetAttribute(null=True, attr_name="claimedTasks")

    class MessageItem(Item, discriminator="message"):
        message_id = UnicodeAttribute(attr_name="id")
        thread_id = UnicodeAttribute(attr_name="threadId")
        resource_id = UnicodeAttribute(attr_name="resourceId")
        role = UnicodeAttribute()
        message_type = UnicodeAttribute(attr_name="type")
        created_at = _TimestampAttribute(attr_name="createdAt")
        content = _JSONTextAttribute()

    class PointerItem(Item, discriminator="msgid"):
        thread_id = UnicodeAttribute(attr_name="threadId")
        resource_id = UnicodeAttribute(attr_name="resourceId")
        message_sk = UnicodeAttribute(attr_name="sk")
        role = UnicodeAttribute()
        foreign = BooleanAttribute(default=False)

    class ResourceItem(Item, discriminator="resource"):
        working_memory = UnicodeAttribute(null=True, attr_name="workingMemory")
        # Distinguishes "metadata {}" from "no metadata" once the m_<key> attributes are read.
        has_metadata = BooleanAttribute(null=True, attr_name="hasMetadata")
        created_at = _TimestampAttribute(attr_name="createdAt")
        updated_at = _TimestampAttribute(attr_name="updatedAt")

    class ThreadCounterItem(Item, discriminator="threadcount"):
        thread_count = NumberAttribute(default=0, attr_name="count")

    # Build the connection on the base class first: the subclasses inherit it, so the whole
    # table shares one botocore client (one connection pool, one place to hook instruments).
    share_session_with(Item._get_connection().connection)
    return TableModels(
        item=Item,
        thread=ThreadItem,
        message=MessageItem,
        pointer=PointerItem,
        resource=ResourceItem,
        thread_counter=ThreadCounterItem,
    )


def _set_or_remove(attribute: Any, value: Any) -> Action:
    # pynamodb turns set(None) into a NULL value; an absent attribute is what reads back as None.
    return attribute.remove() if value is None else attribute.set(value)


def _item_size(serialized: dict[str, dict[str, Any]]) -> int:
    """DynamoDB's item size: attribute names plus values (strings in UTF-8 bytes)."""
    size = 0
    for name, typed in serialized.items():
        size += len(name.encode())
        for kind, value in typed.items():
            if kind == "S":
                size += len(value.encode())
            elif kind == "N":
                size += len(value) // 2 + 2
            else:
                size += 1
    return size


# ====================================================================== errors

_RETRYABLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        # DynamoDB Local's name for a 500; the service itself says InternalServerError.
        "InternalFailure",
        "ServiceUnavailable",
        "TransactionInProgressException",
        "TransactionConflictException",
    }
)
_RETRYABLE_REASONS = frozenset({"ThrottlingError", "ProvisionedThroughputExceeded", "TransactionConflict"})


def response_code(error: PynamoDBException) -> str | None:
    """The service's error code, None when there was no answer. pynamodb's own
    ``cause_response_code`` raises AttributeError for a timeout (a cause with ``response = None``)."""
    response = getattr(error.cause, "response", None)
    return response.get("Error", {}).get("Code") if isinstance(response, dict) else None


def _response_message(error: PynamoDBException) -> str | None:
    response = getattr(error.cause, "response", None)
    return response.get("Error", {}).get("Message") if isinstance(response, dict) else None


def _cancellation_codes(error: PynamoDBException) -> set[str]:
    if isinstance(error, TransactWriteError):
        return {reason.code for reason in error.cancellation_reasons if reason is not None}
    return set()


def is_condition_failure(error: PynamoDBException) -> bool:
    return response_code(error) == "ConditionalCheckFailedException" or bool(
        _cancellation_codes(error) & {"ConditionalCheckFailed", "TransactionConflict"}
    )


def _is_item_too_large(error: PynamoDBException) -> bool:
    message = (_response_message(error) or "").lower()
    return "item size" in message or "maximum allowed size" in message


def domain_error(error: PynamoDBException, table_name: str) -> MemkitError | None:
    """The domain exception for a DynamoDB failure (the one place AWS codes are mapped), or
    None when it is not a known service condition (a bug: let it propagate)."""
    code = response_code(error)
    reasons = _cancellation_codes(error)
    detail = _response_message(error) or str(error)
    if _is_item_too_large(error):
        return PayloadTooLargeError(f"An item exceeds DynamoDB's 400 KB item limit: {detail}")
    if code in _RETRYABLE_CODES or reasons & _RETRYABLE_REASONS:
        return RetryableError(f"DynamoDB is busy, retry later ({code}: {detail})")
    if code == "ConditionalCheckFailedException" or "ConditionalCheckFailed" in reasons:
        return ConflictError(f"A concurrent write changed the item first ({detail})")
    if code == "ResourceNotFoundException":
        return ConfigurationError(
            f"DynamoDB table {table_name!r} does not exist: deploy template.yaml or set MEMKIT_CREATE_TABLES=1"
        )
    cause = error.cause
    if isinstance(cause, (NoCredentialsError, NoRegionError)):
        return ConfigurationError(f"DynamoDB client is not configured: {cause}")
    if isinstance(cause, (BotoConnectionError, HTTPClientError)):
        # Unreachable, or no answer in time (a read timeout is an HTTPClientError, not a
        # ConnectionError): the caller may retry.
        return RetryableError(f"DynamoDB is unreachable or did not answer: {cause}")
    return None


@contextmanager
def translated_errors(table_name: str) -> Iterator[None]:
    """pynamodb failures as memkit domain errors (ConflictError, RetryableError, ...); an
    unknown failure propagates as it is."""
    try:
        yield
    except PynamoDBException as error:
        mapped = domain_error(error, table_name)
        if mapped is None:
            raise
        raise mapped from error


def _translating_errors(method: Callable[..., T]) -> Callable[..., T]:
    @functools.wraps(method)
    def wrapper(self: DynamoDBStore, *args: Any, **kwargs: Any) -> T:
        with translated_errors(self.table_name):
            return method(self, *args, **kwargs)

    return wrapper


class _StalePlan(Exception):
    """A conditional write found the state it was planned against changed: re-read, re-plan."""


class _FoundItems(NamedTuple):
    """What one ``_get_items`` read found, split by type (keys that do not exist are absent)."""

    #: id pointer items by message id
    pointers: dict[str, Any]
    messages: list[Message]
    #: thread items by thread id
    threads: dict[str, Any]


def _backoff(attempt: int) -> None:
    # Full jitter: concurrent writers retrying the same item spread out instead of colliding again.
    time.sleep(random.uniform(0, min(1.0, 0.02 * (2**attempt))))


_MAX_PLAN_ATTEMPTS = 8
_UNPROCESSED_DEADLINE_SECONDS = 30.0
# How long a transaction whose outcome is unknown is sent again before the caller hears 503.
_UNKNOWN_OUTCOME_DEADLINE_SECONDS = 10.0
# Answers after which a transaction may or may not have been applied.
_UNKNOWN_OUTCOME_CODES = frozenset({"InternalServerError", "ServiceUnavailable", "TransactionInProgressException"})


def _outcome_unknown(error: TransactWriteError) -> bool:
    return response_code(error) in _UNKNOWN_OUTCOME_CODES or isinstance(
        error.cause, (BotoConnectionError, HTTPClientError)
    )


def _transient(error: TransactWriteError) -> bool:
    return response_code(error) in _RETRYABLE_CODES or bool(_cancellation_codes(error) & _RETRYABLE_REASONS)


# ====================================================================== request counter


_DATA_OPERATIONS = frozenset(
    {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactGetItems",
        "TransactWriteItems",
    }
)


class DynamoDBCall(NamedTuple):
    """One API call as the client saw it (HTTP retries inside botocore are ``retries``)."""

    operation: str
    items_read: int
    capacity_units: float | None
    retries: int
    error_code: str | None


def _items_read(operation: str, parsed: dict[str, Any]) -> int:
    if operation in ("Query", "Scan"):
        return int(parsed.get("ScannedCount", parsed.get("Count", 0)))
    if operation == "GetItem":
        return 1 if parsed.get("Item") else 0
    if operation == "BatchGetItem":
        return sum(len(items) for items in parsed.get("Responses", {}).values())
    if operation == "TransactGetItems":
        return sum(1 for response in parsed.get("Responses", []) if response.get("Item"))
    return 0


def _capacity_units(parsed: dict[str, Any]) -> float | None:
    consumed = parsed.get("ConsumedCapacity")
    if consumed is None:
        return None
    if isinstance(consumed, dict):
        consumed = [consumed]
    return float(sum(entry.get("CapacityUnits", 0.0) for entry in consumed))


class RequestCounter:
    """Records every DynamoDB call a store makes while active (for budget tests and the bench).

    It hooks the botocore client's event system (``before-parameter-build`` / ``after-call``),
    so it sees pynamodb's calls and raw client calls alike, from any thread::

        with RequestCounter(store) as counter:
            store.list_messages(...)
        assert counter.count("Query") == 1

    With ``consumed_capacity`` (the default) every data call asks for
    ``ReturnConsumedCapacity=TOTAL`` (pynamodb already does for its own calls).
    """

    def __init__(self, store: DynamoDBStore, *, consumed_capacity: bool = True):
        self._events = store.botocore_client.meta.events
        self._consumed_capacity = consumed_capacity
        self._lock = threading.Lock()
        self._calls: list[DynamoDBCall] = []
        self._hook_id = f"memkit-request-counter-{id(self)}"

    def __enter__(self) -> RequestCounter:
        self._events.register(
            "before-parameter-build.dynamodb", self._before_parameter_build, unique_id=self._hook_id + "-params"
        )
        self._events.register("after-call.dynamodb", self._after_call, unique_id=self._hook_id + "-call")
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._events.unregister("before-parameter-build.dynamodb", unique_id=self._hook_id + "-params")
        self._events.unregister("after-call.dynamodb", unique_id=self._hook_id + "-call")

    def _before_parameter_build(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if self._consumed_capacity and model.name in _DATA_OPERATIONS:
            params.setdefault("ReturnConsumedCapacity", "TOTAL")

    def _after_call(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        call = DynamoDBCall(
            operation=model.name,
            items_read=_items_read(model.name, parsed),
            capacity_units=_capacity_units(parsed),
            retries=int(parsed.get("ResponseMetadata", {}).get("RetryAttempts", 0)),
            error_code=parsed.get("Error", {}).get("Code"),
        )
        with self._lock:
            self._calls.append(call)

    @property
    def calls(self) -> list[DynamoDBCall]:
        with self._lock:
            return list(self._calls)

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()

    def count(self, operation: str | None = None) -> int:
        return sum(1 for call in self.calls if operation is None or call.operation == operation)

    def operations(self) -> list[str]:
        return [call.operation for call in self.calls]

    @property
    def items_read(self) -> int:
        return sum(call.items_read for call in self.calls)

    @property
    def capacity_units(self) -> float:
        return sum(call.capacity_units or 0.0 for call in self.calls)


# ====================================================================== write planning
# Plain classes with __slots__, not dataclasses: they are defined on every cold start, where a
# dataclass costs about half a millisecond of generated code, and only write paths use them.


class _ThreadEffect:
    """What one message write does to one thread."""

    __slots__ = ("thread_id", "count", "foreign", "newest")

    def __init__(self, thread_id: str, count: int = 0, foreign: int = 0, newest: datetime | None = None):
        self.thread_id = thread_id
        self.count = count
        self.foreign = foreign
        self.newest = newest


_UNKNOWN: Any = object()


class _ThreadGuard:
    """What a transaction may assume about a thread it updates.

    ``owner``: add ``resourceId = owner`` to the condition (the fast path's proof that its
    messages are not foreign). ``updated_at`` / ``last_message_at``: the values read, or
    ``_UNKNOWN``; an unknown timestamp is always set, under a never-backwards condition, and a
    known one only when the new value is later (DynamoDB has no max())."""

    __slots__ = ("owner", "updated_at", "last_message_at")

    def __init__(self, owner: str | None = None, updated_at: Any = _UNKNOWN, last_message_at: Any = _UNKNOWN):
        self.owner = owner
        self.updated_at = updated_at
        self.last_message_at = last_message_at

    @classmethod
    def read(cls, thread: Any) -> _ThreadGuard:
        return cls(updated_at=thread.updated_at, last_message_at=thread.last_message_at)


def _later(new: datetime, known: Any) -> bool:
    return known is _UNKNOWN or known is None or new > known


class _MessageChange:
    """The item writes of one message, planned against a known (or assumed) state."""

    __slots__ = (
        "message_id", "put_message", "delete_message_key", "put_pointer",
        "delete_pointer", "pointer_condition", "effects", "size",
    )

    def __init__(
        self,
        message_id: str,
        put_message: Any = None,
        delete_message_key: tuple[str, str] | None = None,
        put_pointer: Any = None,
        delete_pointer: bool = False,
        pointer_condition: Condition | None = None,
        effects: list[_ThreadEffect] | None = None,
        size: int = 0,
    ):
        self.message_id = message_id
        self.put_message = put_message
        self.delete_message_key = delete_message_key
        self.put_pointer = put_pointer
        self.delete_pointer = delete_pointer
        self.pointer_condition = pointer_condition
        self.effects: list[_ThreadEffect] = [] if effects is None else effects
        self.size = size

    @property
    def action_count(self) -> int:
        return sum(
            (
                self.put_message is not None,
                self.delete_message_key is not None,
                self.put_pointer is not None,
                self.delete_pointer,
            )
        )


def _chunk_changes(changes: Sequence[_MessageChange]) -> list[list[_MessageChange]]:
    """Split into transactions: ≤49 messages, ≤100 actions (thread updates included), ≤4 MB."""
    chunks: list[list[_MessageChange]] = []
    current: list[_MessageChange] = []
    actions = size = 0
    threads: set[str] = set()
    for change in changes:
        new_threads = {effect.thread_id for effect in change.effects} - threads
        fits = (
            len(current) < MESSAGES_PER_TRANSACTION
            and actions + change.action_count + len(threads) + len(new_threads) <= _MAX_TRANSACTION_ACTIONS
            and size + change.size <= _MAX_TRANSACTION_BYTES
        )
        if current and not fits:
            chunks.append(current)
            current, actions, size, threads = [], 0, 0, set()
            new_threads = {effect.thread_id for effect in change.effects}
        current.append(change)
        actions += change.action_count
        size += change.size
        threads |= new_threads
    if current:
        chunks.append(current)
    return chunks


def _merge_effects(changes: Iterable[_MessageChange]) -> dict[str, _ThreadEffect]:
    merged: dict[str, _ThreadEffect] = {}
    for change in changes:
        for effect in change.effects:
            total = merged.setdefault(effect.thread_id, _ThreadEffect(effect.thread_id))
            total.count += effect.count
            total.foreign += effect.foreign
            if effect.newest is not None and (total.newest is None or effect.newest > total.newest):
                total.newest = effect.newest
    return merged


def _message_order_key(message: Message) -> tuple[datetime, str]:
    return (message.created_at, message.id)


# ====================================================================== the store


class DynamoDBStore(MemoryStorage):
    """``MemoryStorage`` on one DynamoDB table; see the module docstring and docs/dynamodb.md."""

    name = "dynamodb"

    def __init__(
        self,
        table_name: str,
        *,
        create_table: bool = False,
        region: str | None = None,
        endpoint_url: str | None = None,
        max_workers: int = 8,
    ):
        self.table_name = table_name
        self._models = open_table(table_name, create_table=create_table, region=region, endpoint_url=endpoint_url)
        self._max_workers = max_workers
        self._executor: ThreadPoolExecutor | None = None
        self._executor_lock = threading.Lock()

    # ------------------------------------------------------------ plumbing

    @property
    def botocore_client(self) -> Any:
        """The table's botocore client (shared by every store on the same table), for instruments."""
        return self._models.table_connection.connection.client

    def close(self) -> None:
        with self._executor_lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)

    def _parallel(self, calls: Sequence[Callable[[], T]]) -> list[T]:
        """Run independent reads concurrently (one round trip of latency instead of several)."""
        if len(calls) <= 1:
            return [call() for call in calls]
        with self._executor_lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self._max_workers, thread_name_prefix="memkit-dynamodb")
            executor = self._executor
        futures: list[Future[T]] = [executor.submit(call) for call in calls]
        return [future.result() for future in futures]

    def _transact(self, fill: Callable[[TransactWrite], None]) -> None:
        """One TransactWriteItems, applied at most once however often it is sent.

        Every attempt carries the same ClientRequestToken, and DynamoDB answers a repeated token
        (for 10 minutes) with success without applying it again; that makes botocore's own
        retries safe. A 5xx or a broken connection leaves the outcome unknown: the commit may
        have happened and only its answer got lost. The same transaction is then sent again
        until DynamoDB answers it (for up to 10 s), rather than reporting a write that may have
        been applied as failed; a throttle before that (nothing written) is raised as it is."""
        connection = self._models.table_connection.connection
        token = str(uuid.uuid4())
        deadline = time.monotonic() + _UNKNOWN_OUTCOME_DEADLINE_SECONDS
        unknown = False
        attempt = 0
        while True:
            try:
                with TransactWrite(connection=connection, client_request_token=token) as transaction:
                    fill(transaction)
                return
            except TransactWriteError as error:
                unknown = unknown or _outcome_unknown(error)
                if not (unknown and (_outcome_unknown(error) or _transient(error))) or time.monotonic() > deadline:
                    raise
                _backoff(attempt)
                attempt += 1

    def _batch_get(self, keys: Iterable[tuple[str, str]]) -> list[Any]:
        """BatchGetItem (strongly consistent) in pages of 100, retrying unprocessed keys."""
        unique = list(dict.fromkeys(keys))
        connection = self._models.table_connection
        found: list[Any] = []
        for start in range(0, len(unique), _BATCH_GET_LIMIT):
            pending: list[Any] = [{"PK": pk, "SK": sk} for pk, sk in unique[start : start + _BATCH_GET_LIMIT]]
            deadline = time.monotonic() + _UNPROCESSED_DEADLINE_SECONDS
            attempt = 0
            while pending:
                data = connection.batch_get_item(pending, consistent_read=True)
                found.extend(self._models.item.from_raw_data(raw) for raw in data["Responses"].get(self.table_name, []))
                pending = data.get("UnprocessedKeys", {}).get(self.table_name, {}).get("Keys", [])
                if pending:
                    if time.monotonic() > deadline:
                        raise RetryableError(f"DynamoDB left {len(pending)} keys unread (throttled), retry later")
                    _backoff(attempt)
                    attempt += 1
        return found

    def _batch_delete(self, keys: Sequence[tuple[str, str]]) -> None:
        """Delete keys in transactions of up to 100, sent in parallel.

        Why transactions rather than BatchWriteItem: every message has an id-pointer item, so a
        thread of N messages is 2N keys. In 25-key batch writes that is ⌈2N/25⌉ requests; in
        100-action transactions it is ⌈N/50⌉, inside the issue's ⌈N/25⌉ budget. The price is two
        write units per deleted item instead of one, paid only on deletes, which are rare next to
        reads and saves. A transaction also has no "unprocessed items" to resend.
        """
        chunks = [
            list(keys[start : start + _MAX_TRANSACTION_ACTIONS])
            for start in range(0, len(keys), _MAX_TRANSACTION_ACTIONS)
        ]
        self._parallel([functools.partial(self._delete_in_transaction, chunk) for chunk in chunks])

    def _delete_in_transaction(self, keys: list[tuple[str, str]]) -> None:
        # pynamodb's TransactWrite needs a model instance per key; raw Delete actions keep a
        # 100-key sweep to one small request body.
        actions = [
            {"Delete": {"TableName": self.table_name, "Key": {"PK": {"S": pk}, "SK": {"S": sk}}}}
            for pk, sk in keys
        ]
        deadline = time.monotonic() + _UNPROCESSED_DEADLINE_SECONDS
        attempt = 0
        while True:
            try:
                self.botocore_client.transact_write_items(TransactItems=actions)
                return
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code")
                reasons = {
                    reason.get("Code")
                    for reason in error.response.get("CancellationReasons", [])
                    if reason.get("Code") not in (None, "None")
                }
                if code not in _RETRYABLE_CODES and not reasons & _RETRYABLE_REASONS:
                    raise
                if time.monotonic() > deadline:
                    raise RetryableError(f"DynamoDB kept refusing a delete sweep ({code}: {reasons}), retry later") from error
                # Throttled, or a concurrent write touched one of these items: deletes are
                # idempotent, so the same transaction can simply be sent again.
                _backoff(attempt)
                attempt += 1

    # ------------------------------------------------------------ conversions

    def _thread_from_item(self, item: Any) -> Thread:
        return Thread(
            id=item.pk[len("THREAD#") :],
            resource_id=item.resource_id,
            title=item.title,
            metadata=item.metadata,
            created_at=item.created_at,
            updated_at=item.updated_at,
            last_message_at=item.last_message_at,
        )

    def _message_from_item(self, item: Any) -> Message:
        return Message(
            id=item.message_id,
            thread_id=item.thread_id,
            resource_id=item.resource_id,
            role=item.role,
            type=item.message_type,
            created_at=item.created_at,
            content=item.content,
        )

    def _thread_item(self, thread: Thread) -> Any:
        models = self._models
        partition = resource_threads_partition(thread.resource_id)
        item = models.thread(
            thread_pk(thread.id),
            THREAD_SK,
            resource_id=thread.resource_id,
            title=thread.title,
            metadata=thread.metadata,
            created_at=thread.created_at,
            updated_at=thread.updated_at,
            last_message_at=thread.last_message_at,
            gsi1_pk=partition,
            gsi1_sk=thread_created_sort_key(thread.created_at, thread.id),
            gsi2_pk=partition,
            gsi2_sk=thread_updated_sort_key(thread.updated_at, thread.id),
        )
        size = _item_size(item.serialize())
        if size > MAX_ITEM_BYTES:
            raise PayloadTooLargeError(
                f"Thread {thread.id} is {size} bytes as a DynamoDB item, over DynamoDB's 400 KB item limit"
            )
        return item

    def _message_item(self, message: Message) -> tuple[Any, int]:
        item = self._models.message(
            thread_pk(message.thread_id),
            message_sk(message.created_at, message.id),
            message_id=message.id,
            thread_id=message.thread_id,
            resource_id=message.resource_id,
            role=message.role,
            message_type=message.type,
            created_at=message.created_at,
            content=message.content.model_dump(mode="json"),
        )
        size = _item_size(item.serialize())
        if size > MAX_ITEM_BYTES:
            raise PayloadTooLargeError(
                f"Message {message.id} is {size} bytes as a DynamoDB item, over DynamoDB's 400 KB item limit"
            )
        return item, size

    def _pointer_item(self, message: Message, *, foreign: bool) -> Any:
        return self._models.pointer(
            pointer_pk(message.id),
            POINTER_SK,
            thread_id=message.thread_id,
            resource_id=message.resource_id,
            message_sk=message_sk(message.created_at, message.id),
            role=message.role,
            foreign=foreign,
            gsi1_pk=resource_messages_partition(message.resource_id),
            gsi1_sk=resource_message_sort_key(message.created_at, message.id),
        )

    @staticmethod
    def _check_owner(thread_id: str, owner: str, resource_id: str | None) -> None:
        if resource_id is not None and owner != resource_id:
            raise OwnershipError(thread_id, owner, resource_id)

    @staticmethod
    def _check_tenant(
        tenant: str | None, target_thread_ids: set[str], pointers: Mapping[str, Any], threads: Mapping[str, Any]
    ) -> None:
        """A tenant-bound write may touch only the tenant's threads: those it writes into
        (``OwnershipError``) and those its existing messages live in now (``ForbiddenError``).
        The plan's transaction pins each pointer's thread, and a thread never changes owner, so
        what is checked here still holds when the write commits."""
        if tenant is None:
            return
        for message_id, pointer in sorted(pointers.items()):
            thread = threads.get(pointer.thread_id)
            if thread is not None:
                owner = thread.resource_id
            else:
                # Not read: the pointer of a message attributed to its thread's owner names it.
                owner = None if pointer.foreign else pointer.resource_id
            if owner != tenant:
                raise foreign_message_error(message_id)
        for thread_id in sorted(target_thread_ids):
            DynamoDBStore._check_owner(thread_id, threads[thread_id].resource_id, tenant)

    def _check_pointers_for_tenant(self, pointers: Mapping[str, Any], tenant: str) -> None:
        """``_check_tenant`` for messages alone: only the threads of messages foreign to their
        thread need reading (the others' pointers name the owner)."""
        foreign_threads = {p.thread_id for p in pointers.values() if p.foreign}
        self._check_tenant(tenant, set(), pointers, self._get_threads(foreign_threads) if foreign_threads else {})

    # ------------------------------------------------------------ reads of single items

    def _get_thread_item(self, thread_id: str) -> Any | None:
        try:
            return self._models.thread.get(thread_pk(thread_id), THREAD_SK, consistent_read=True)
        except DoesNotExist:
            return None

    def _get_items(
        self,
        *,
        message_ids: Iterable[str] = (),
        pointers: Iterable[Any] = (),
        thread_ids: Iterable[str] = (),
    ) -> _FoundItems:
        """One BatchGetItem (per 100 keys) for whatever a plan needs that is already known: the id
        pointers of ``message_ids``, the messages ``pointers`` point at, the threads ``thread_ids``."""
        keys = [(pointer_pk(message_id), POINTER_SK) for message_id in message_ids]
        keys += [(thread_pk(pointer.thread_id), pointer.message_sk) for pointer in pointers]
        keys += [(thread_pk(thread_id), THREAD_SK) for thread_id in thread_ids]
        models = self._models
        found = _FoundItems(pointers={}, messages=[], threads={})
        for item in self._batch_get(keys):
            if isinstance(item, models.pointer):
                found.pointers[item.pk[len("MSGID#") :]] = item
            elif isinstance(item, models.message):
                found.messages.append(self._message_from_item(item))
            elif isinstance(item, models.thread):
                found.threads[item.pk[len("THREAD#") :]] = item
        return found

    def _get_threads(self, thread_ids: Iterable[str]) -> dict[str, Any]:
        return self._get_items(thread_ids=thread_ids).threads

    def _get_pointers(self, message_ids: Iterable[str]) -> dict[str, Any]:
        return self._get_items(message_ids=message_ids).pointers

    # ------------------------------------------------------------ threads

    @_translating_errors
    def get_thread(self, thread_id: str, resource_id: str | None = None) -> Thread | None:
        item = self._get_thread_item(validate_id(thread_id, "threadId"))
        if item is None:
            return None
        self._check_owner(thread_id, item.resource_id, resource_id)
        return self._thread_from_item(item)

    @_translating_errors
    def save_thread(self, thread: Thread) -> Thread:
        item = self._thread_item(thread)
        for attempt in range(_MAX_PLAN_ATTEMPTS):
            existing = self._create_thread(item, thread.resource_id)
            if existing is None:
                return thread
            self._check_owner(thread.id, existing.resource_id, thread.resource_id)
            if self._overwrite_thread(item, thread):
                return thread
            _backoff(attempt)
        raise ConflictError(f"Thread {thread.id} kept changing while it was being saved; retry")

    def _create_thread(self, item: Any, resource_id: str) -> Any | None:
        """Put a new thread and count it, in one transaction. Returns None when created, or the
        thread item already stored under that id (nothing written)."""
        models = self._models

        def fill(transaction: TransactWrite) -> None:
            transaction.save(item, condition=models.thread.pk.does_not_exist(), return_values="ALL_OLD")
            transaction.update(
                models.thread_counter(resource_pk(resource_id), THREAD_COUNTER_SK),
                actions=self._counter_actions(resource_id, +1),
            )

        try:
            self._transact(fill)
            return None
        except TransactWriteError as error:
            if not is_condition_failure(error):
                raise
            for reason in error.cancellation_reasons:
                if reason is not None and reason.raw_item:
                    return models.thread.from_raw_data(reason.raw_item)
            # Cancelled without the old item (a conflicting transaction): read it.
            return self._get_thread_item(item.pk[len("THREAD#") :]) or self._create_thread(item, resource_id)

    def _counter_actions(self, resource_id: str, delta: int) -> list[Action]:
        counter = self._models.thread_counter
        partition = resource_threads_partition(resource_id)
        return [
            counter.thread_count.add(delta),
            counter.entity.set(counter),
            counter.gsi1_pk.set(partition),
            counter.gsi1_sk.set(COUNTER_INDEX_SK),
            counter.gsi2_pk.set(partition),
            counter.gsi2_sk.set(COUNTER_INDEX_SK),
        ]

    def _overwrite_thread(self, item: Any, thread: Thread) -> bool:
        """Overwrite an existing thread's own fields, keeping its counters. False if it vanished
        meanwhile (the caller then creates it)."""
        thread_model = self._models.thread
        actions: list[Action] = [
            _set_or_remove(thread_model.title, thread.title),
            _set_or_remove(thread_model.metadata, thread.metadata),
            thread_model.created_at.set(thread.created_at),
            thread_model.updated_at.set(thread.updated_at),
            thread_model.gsi1_sk.set(item.gsi1_sk),
            thread_model.gsi2_sk.set(item.gsi2_sk),
        ]
        if thread.last_message_at is not None:
            actions.append(thread_model.last_message_at.set(thread.last_message_at))
        try:
            thread_model(item.pk, THREAD_SK).update(
                actions=actions,
                condition=thread_model.pk.exists() & (thread_model.resource_id == thread.resource_id),
            )
            return True
        except PynamoDBException as error:
            if not is_condition_failure(error):
                raise
        current = self._get_thread_item(thread.id)
        if current is not None:
            self._check_owner(thread.id, current.resource_id, thread.resource_id)
        return False

    @_translating_errors
    def update_thread(
        self,
        thread_id: str,
        *,
        title: str | None = UNSET,
        metadata: dict[str, Any] | None = None,
        resource_id: str | None = None,
    ) -> Thread:
        validate_metadata_keys(metadata)
        merge = None if metadata is None else lambda current: {**(current or {}), **metadata}
        return self._update_thread(thread_id, title=title, merge_metadata=merge, resource_id=resource_id)

    @_translating_errors
    def modify_thread_working_memory(
        self, thread_id: str, modify: Callable[[Any], str], *, resource_id: str | None = None
    ) -> Thread:
        def merge(current: dict[str, Any] | None) -> dict[str, Any]:
            current = current or {}
            return {**current, WORKING_MEMORY_METADATA_KEY: modify(current.get(WORKING_MEMORY_METADATA_KEY))}

        return self._update_thread(thread_id, title=UNSET, merge_metadata=merge, resource_id=resource_id)

    def _update_thread(
        self,
        thread_id: str,
        *,
        title: str | None,
        merge_metadata: Callable[[dict[str, Any] | None], dict[str, Any]] | None,
        resource_id: str | None,
    ) -> Thread:
        """Read, then write conditionally on what was read; ``merge_metadata`` maps the stored
        metadata to the new one and is called again after a concurrent change."""
        validate_id(thread_id, "threadId")
        thread_model = self._models.thread
        for attempt in range(_MAX_PLAN_ATTEMPTS):
            current = self._get_thread_item(thread_id)
            if current is None:
                raise NotFoundError(f"Thread with id {thread_id} not found")
            self._check_owner(thread_id, current.resource_id, resource_id)
            now = max(utc_now(), current.updated_at)
            actions: list[Action] = [
                thread_model.updated_at.set(now),
                thread_model.gsi2_sk.set(thread_updated_sort_key(now, thread_id)),
            ]
            if title is not UNSET:
                actions.append(_set_or_remove(thread_model.title, title))
            condition = thread_model.pk.exists() & (thread_model.updated_at <= now)
            if merge_metadata is not None:
                merged = merge_metadata(current.metadata)
                actions.append(thread_model.metadata.set(merged))
                # Optimistic concurrency on the metadata text: a concurrent merge makes this
                # write fail and re-read, so no update loses another's keys.
                if current.metadata is None:
                    condition &= thread_model.metadata.does_not_exist()
                else:
                    condition &= thread_model.metadata == current.metadata
                # Size check only: a merge must not grow the thread past the item limit.
                self._thread_item(self._thread_from_item(current).model_copy(update={"metadata": merged}))
            updated = thread_model(thread_pk(thread_id), THREAD_SK)
            try:
                updated.update(actions=actions, condition=condition)
                return self._thread_from_item(updated)
            except PynamoDBException as error:
                if not is_condition_failure(error):
                    raise
            _backoff(attempt)
        raise ConflictError(f"Thread {thread_id} kept changing while it was being updated; retry")

    @_translating_errors
    def set_title_if_untitled(self, thread_id: str, title: str) -> bool:
        thread_model = self._models.thread
        item = thread_model(thread_pk(validate_id(thread_id, "threadId")), THREAD_SK)
        untitled = thread_model.pk.exists() & (
            thread_model.title.does_not_exist() | thread_model.title.is_in(*sorted(DEFAULT_TITLES))
        )
        now = utc_now()
        bump = [thread_model.updated_at.set(now), thread_model.gsi2_sk.set(thread_updated_sort_key(now, thread_id))]
        # updatedAt never goes backwards and DynamoDB has no max(): the usual write bumps it; only
        # when that fails is a second write tried, for a thread whose updatedAt is ahead of us.
        attempts = [
            (bump, untitled & (thread_model.updated_at <= now)),
            ([], untitled & (thread_model.updated_at > now)),
        ]
        for extra_actions, condition in attempts:
            try:
                item.update(actions=[thread_model.title.set(title), *extra_actions], condition=condition)
                return True
            except PynamoDBException as error:
                if response_code(error) != "ConditionalCheckFailedException":
                    raise
        return False

    @_translating_errors
    def claim_thread_task(self, thread_id: str, task: str) -> bool:
        validate_task_name(task)
        thread_model = self._models.thread
        try:
            thread_model(thread_pk(validate_id(thread_id, "threadId")), THREAD_SK).update(
                actions=[thread_model.claimed_tasks.add({task})],
                condition=thread_model.pk.exists() & ~thread_model.claimed_tasks.contains(task),
            )
            return True
        except PynamoDBException as error:
            if response_code(error) == "ConditionalCheckFailedException":
                return False
            raise

    @_translating_errors
    def release_thread_task(self, thread_id: str, task: str) -> None:
        validate_task_name(task)
        thread_model = self._models.thread
        try:
            thread_model(thread_pk(validate_id(thread_id, "threadId")), THREAD_SK).update(
                actions=[thread_model.claimed_tasks.delete({task})],
                condition=thread_model.pk.exists(),
            )
        except PynamoDBException as error:
            # A thread deleted meanwhile has nothing left to release.
            if response_code(error) != "ConditionalCheckFailedException":
                raise

    @_translating_errors
    def delete_thread(self, thread_id: str, resource_id: str | None = None) -> DeletedThread | None:
        validate_id(thread_id, "threadId")
        current = self._get_thread_item(thread_id)
        if current is not None:
            self._check_owner(thread_id, current.resource_id, resource_id)
            self._delete_thread_item(current)
        # Always sweep, so a delete interrupted after the thread item went is finished by a retry.
        message_resources = self._sweep_thread_messages(thread_id)
        if current is None:
            return None
        return DeletedThread(thread=self._thread_from_item(current), message_resources=message_resources)

    def _delete_thread_item(self, item: Any, *, count: bool = True) -> None:
        """Delete a thread item already read, before its messages are swept: from then on no
        save can add messages to it (saves require the thread), so the sweep is complete.

        ``count`` decrements the resource's thread counter in the same transaction. A resource
        delete passes False: it deletes the counter itself, so one DeleteItem is enough."""
        models = self._models
        thread = models.thread(item.pk, THREAD_SK)
        if not count:
            thread.delete()
            return
        try:
            self._transact(
                lambda transaction: (
                    transaction.delete(thread, condition=models.thread.pk.exists()),
                    transaction.update(
                        models.thread_counter(resource_pk(item.resource_id), THREAD_COUNTER_SK),
                        actions=self._counter_actions(item.resource_id, -1),
                    ),
                )
            )
        except TransactWriteError as error:
            # Deleted concurrently: the other delete owns the counter; the sweep still runs.
            if not is_condition_failure(error):
                raise

    def _sweep_thread_messages(self, thread_id: str) -> frozenset[str]:
        """Delete every message left in the thread's partition, and their id pointers; return
        the resources those messages were attributed to (projected by the key query itself)."""
        models = self._models
        swept = list(
            models.message.query(
                thread_pk(thread_id),
                models.item.sk.startswith(MESSAGE_SK_PREFIX),
                consistent_read=True,
                attributes_to_get=["PK", "SK", "resourceId"],
            )
        )
        keys = [(item.pk, item.sk) for item in swept]
        deletes = keys + [(pointer_pk(message_id_from_sk(sk)), POINTER_SK) for _, sk in keys]
        self._batch_delete(deletes)
        return frozenset(item.resource_id for item in swept)

    @_translating_errors
    def list_threads(self, query: ListThreadsInput) -> ThreadPage:
        if query.resource_id is None:
            raise ValidationError(
                "resourceId is required to list threads on DynamoDB (no table scans)", field="resourceId"
            )
        resource_id = query.resource_id
        forward = query.order_by.direction == "ASC"
        by_created = query.order_by.field == "createdAt"
        index = self._models.item.gsi1 if by_created else self._models.item.gsi2
        sort_attribute = self._models.item.gsi1_sk if by_created else self._models.item.gsi2_sk
        thread_keys = sort_attribute.startswith(CREATED_ORDER_PREFIX if by_created else UPDATED_ORDER_PREFIX)
        partition = resource_threads_partition(resource_id)
        page, per_page = query.page, query.per_page

        def fetch(forward_: bool, limit: int | None) -> list[Thread]:
            items = index.query(partition, thread_keys, scan_index_forward=forward_, limit=_query_limit(limit))
            return [self._thread_from_item(item) for item in items]

        if query.metadata:
            # Metadata lives in a JSON attribute: filter the resource's threads in code.
            wanted = query.metadata
            threads = [
                thread
                for thread in fetch(forward, None)
                if all((thread.metadata or {}).get(key, _UNKNOWN) == value for key, value in wanted.items())
            ]
            return self._thread_page(threads, len(threads), page, per_page)
        if per_page is None:
            threads = fetch(forward, None)
            return self._thread_page(threads, len(threads), page, per_page)
        if per_page == 0:
            return self._thread_page([], self._thread_count(resource_id), page, per_page, sliced=True)
        if page == 0 and not forward and per_page > 0:
            # One Query: the counter sorts last, so descending it comes first with the total.
            items = list(index.query(partition, scan_index_forward=False, limit=_query_limit(per_page + 1)))
            total = None
            if items and isinstance(items[0], self._models.thread_counter):
                total = int(items.pop(0).thread_count)
            threads = [
                self._thread_from_item(item) for item in items[:per_page] if isinstance(item, self._models.thread)
            ]
            return self._thread_page(threads, len(threads) if total is None else total, page, per_page, sliced=True)
        if page == 0:
            total, threads = self._parallel([lambda: self._thread_count(resource_id), lambda: fetch(forward, per_page)])
            return self._thread_page(threads, total, page, per_page, sliced=True)
        total = self._thread_count(resource_id)
        threads = _page_from_nearer_end(fetch, total, page * per_page, per_page, forward)
        return self._thread_page(threads, total, page, per_page, sliced=True)

    def _thread_count(self, resource_id: str) -> int:
        try:
            counter = self._models.thread_counter.get(resource_pk(resource_id), THREAD_COUNTER_SK, consistent_read=True)
        except DoesNotExist:
            return 0
        return int(counter.thread_count)

    @staticmethod
    def _thread_page(
        threads: list[Thread], total: int, page: int, per_page: int | None, *, sliced: bool = False
    ) -> ThreadPage:
        if per_page is not None and not sliced:
            threads = threads[page * per_page : page * per_page + per_page]
        return ThreadPage(threads=threads, **page_meta(total, page, per_page, len(threads)))

    # ------------------------------------------------------------ saving messages

    def save_messages(self, messages: Sequence[Message], *, tenant: str | None = None) -> list[Message]:
        return self.save_messages_with_receipt(messages, tenant=tenant).messages

    @_translating_errors
    def save_messages_with_receipt(self, messages: Sequence[Message], *, tenant: str | None = None) -> SaveReceipt:
        """The fast path's pointer conditions prove its ids new; the read path knows the rest.
        With a tenant the fast path needs no extra condition: every message is the tenant's, so
        each thread's owner condition already requires the tenant's thread."""
        if not messages:
            return SaveReceipt(messages=[], previous={})
        check_tenant_attribution(messages, tenant)
        # Validate everything before the first write: a bad message must leave nothing behind.
        latest = {message.id: message for message in messages}
        sized = {message_id: self._message_item(message) for message_id, message in latest.items()}
        now = utc_now()

        owners: dict[str, set[str]] = {}
        for message in latest.values():
            owners.setdefault(message.thread_id, set()).add(message.resource_id)
        if any(len(resources) > 1 for resources in owners.values()):
            # Mixed attribution in one thread: the fast path cannot prove which are foreign.
            previous = self._save_with_reads(list(latest.values()), now, tenant=tenant)
            return SaveReceipt(messages=list(messages), bumped_at=now, previous=previous)

        guards = {thread_id: _ThreadGuard(owner=next(iter(resources))) for thread_id, resources in owners.items()}
        pointer_model = self._models.pointer
        changes = []
        for message in latest.values():
            item, size = sized[message.id]
            changes.append(
                _MessageChange(
                    message_id=message.id,
                    put_message=item,
                    put_pointer=self._pointer_item(message, foreign=False),
                    pointer_condition=pointer_model.pk.does_not_exist(),
                    effects=[_ThreadEffect(message.thread_id, count=1, newest=message.created_at)],
                    size=size + 512,
                )
            )
        chunks = _chunk_changes(changes)
        if tenant is not None and len(chunks) > 1:
            # A later transaction refusing another tenant's id would leave the earlier ones
            # written: check the ids that exist before the first write.
            self._check_pointers_for_tenant(self._get_pointers(latest), tenant)
        # A multi-transaction save checks every thread in its first transaction, so a missing
        # thread fails the save before anything is written.
        first_threads = set(_merge_effects(chunks[0]))
        other_threads = [thread_id for thread_id in guards if thread_id not in first_threads]
        first_actions = sum(change.action_count for change in chunks[0]) + len(first_threads)
        if first_actions + len(other_threads) > _MAX_TRANSACTION_ACTIONS:
            missing = set(other_threads) - set(self._get_threads(other_threads))
            if missing:
                raise NotFoundError(f"Thread with id {sorted(missing)[0]} not found")
            other_threads = []
        previous: dict[str, MessageLocation] = {}
        for position, chunk in enumerate(chunks):
            checks = other_threads if position == 0 else []
            try:
                self._commit_changes(chunk, guards, now, thread_checks=checks)
            except _StalePlan:
                # Re-saves, moves, foreign attribution, a backdated lastMessageAt or a missing
                # thread: read the pointers and threads, then write exactly what is needed.
                if checks:
                    missing = set(checks) - set(self._get_threads(checks))
                    if missing:
                        raise NotFoundError(f"Thread with id {sorted(missing)[0]} not found") from None
                previous.update(
                    self._save_with_reads([latest[change.message_id] for change in chunk], now, tenant=tenant)
                )
        return SaveReceipt(messages=list(messages), bumped_at=now, previous=previous)

    def _save_with_reads(
        self, messages: Sequence[Message], now: datetime, *, tenant: str | None = None
    ) -> dict[str, MessageLocation]:
        """Save after reading the messages' pointers and threads; retried if the state moves.
        Returns where each id that already existed was before its transaction committed."""
        previous: dict[str, MessageLocation] = {}
        committed: set[str] = set()
        target_thread_ids = {message.thread_id for message in messages}
        for attempt in range(_MAX_PLAN_ATTEMPTS):
            found = self._get_items(message_ids=[message.id for message in messages], thread_ids=target_thread_ids)
            pointers, threads = found.pointers, found.threads
            # Only a move needs the thread it leaves, which the pointer read has just named.
            if left_threads := {p.thread_id for p in pointers.values()} - target_thread_ids:
                threads |= self._get_threads(left_threads)
            for message in messages:
                if message.thread_id not in threads:
                    raise NotFoundError(f"Thread with id {message.thread_id} not found")
            self._check_tenant(tenant, {m.thread_id for m in messages}, pointers, threads)
            changes = [self._planned_save(message, pointers.get(message.id), threads) for message in messages]
            guards = {thread_id: _ThreadGuard.read(item) for thread_id, item in threads.items()}
            try:
                for chunk in _chunk_changes(changes):
                    self._commit_changes(chunk, guards, now)
                    # A retry re-plans chunks that already landed; their "before" is this one.
                    for change in chunk:
                        if change.message_id not in committed:
                            committed.add(change.message_id)
                            if (pointer := pointers.get(change.message_id)) is not None:
                                previous[change.message_id] = MessageLocation(pointer.thread_id, pointer.resource_id)
                return previous
            except _StalePlan:
                _backoff(attempt)
        raise ConflictError("Messages kept changing while they were being saved; retry")

    def _planned_save(self, message: Message, pointer: Any | None, threads: dict[str, Any]) -> _MessageChange:
        item, size = self._message_item(message)
        foreign = message.resource_id != threads[message.thread_id].resource_id
        change = _MessageChange(
            message_id=message.id,
            put_message=item,
            put_pointer=self._pointer_item(message, foreign=foreign),
            size=size + 512,
        )
        pointer_model = self._models.pointer
        if pointer is None:
            change.pointer_condition = pointer_model.pk.does_not_exist()
            change.effects.append(
                _ThreadEffect(message.thread_id, count=1, foreign=int(foreign), newest=message.created_at)
            )
            return change
        change.pointer_condition = (pointer_model.thread_id == pointer.thread_id) & (
            pointer_model.message_sk == pointer.message_sk
        )
        old_key = (thread_pk(pointer.thread_id), pointer.message_sk)
        if old_key != (item.pk, item.sk):
            change.delete_message_key = old_key
        if pointer.thread_id == message.thread_id:
            change.effects.append(
                _ThreadEffect(message.thread_id, foreign=int(foreign) - int(pointer.foreign), newest=message.created_at)
            )
        else:
            if pointer.thread_id in threads:
                change.effects.append(_ThreadEffect(pointer.thread_id, count=-1, foreign=-int(pointer.foreign)))
            change.effects.append(
                _ThreadEffect(message.thread_id, count=1, foreign=int(foreign), newest=message.created_at)
            )
        return change

    def _commit_changes(
        self,
        changes: Sequence[_MessageChange],
        guards: dict[str, _ThreadGuard],
        now: datetime,
        *,
        thread_checks: Sequence[str] = (),
    ) -> None:
        """One TransactWriteItems: the items of ``changes`` plus one update per touched thread
        (counts, updatedAt, lastMessageAt never backwards). Raises ``_StalePlan`` when a
        condition shows the state differs from what was planned."""
        models = self._models
        thread_model = models.thread
        effects = _merge_effects(changes)

        def fill(transaction: TransactWrite) -> None:
            for change in changes:
                if change.delete_message_key is not None:
                    transaction.delete(models.message(*change.delete_message_key))
                if change.put_message is not None:
                    transaction.save(change.put_message)
                if change.put_pointer is not None:
                    transaction.save(change.put_pointer, condition=change.pointer_condition)
                elif change.delete_pointer:
                    transaction.delete(
                        models.pointer(pointer_pk(change.message_id), POINTER_SK), condition=change.pointer_condition
                    )
            for thread_id, effect in effects.items():
                actions, condition = self._thread_bump(effect, guards.get(thread_id, _ThreadGuard()), now)
                transaction.update(thread_model(thread_pk(thread_id), THREAD_SK), actions=actions, condition=condition)
            for thread_id in thread_checks:
                transaction.condition_check(
                    thread_model, thread_pk(thread_id), THREAD_SK, condition=thread_model.pk.exists()
                )

        try:
            self._transact(fill)
        except TransactWriteError as error:
            if is_condition_failure(error):
                raise _StalePlan() from error
            raise

    def _thread_bump(self, effect: _ThreadEffect, guard: _ThreadGuard, now: datetime) -> tuple[list[Action], Condition]:
        thread_model = self._models.thread
        actions: list[Action] = []
        condition = thread_model.pk.exists()
        if _later(now, guard.updated_at):
            actions += [
                thread_model.updated_at.set(now),
                thread_model.gsi2_sk.set(thread_updated_sort_key(now, effect.thread_id)),
            ]
            condition &= thread_model.updated_at <= now
        if effect.count:
            actions.append(thread_model.message_count.add(effect.count))
        if effect.foreign:
            actions.append(thread_model.foreign_message_count.add(effect.foreign))
        if guard.owner is not None:
            condition &= thread_model.resource_id == guard.owner
        newest = effect.newest
        if newest is not None and _later(newest, guard.last_message_at):
            actions.append(thread_model.last_message_at.set(newest))
            condition &= thread_model.last_message_at.does_not_exist() | (thread_model.last_message_at <= newest)
        if not actions:
            # Nothing moves forward (a back-dated update of a thread touched in the future):
            # still require the thread, as a no-op write.
            actions.append(thread_model.message_count.add(0))
        return actions, condition

    # ------------------------------------------------------------ listing messages

    def _messages_query(
        self,
        thread_id: str,
        key_range: tuple[str, str],
        *,
        forward: bool,
        limit: int | None,
        filter_condition: Condition | None = None,
    ) -> list[Message]:
        models = self._models
        items = models.message.query(
            thread_pk(thread_id),
            models.message.sk.between(*key_range),
            filter_condition=filter_condition,
            scan_index_forward=forward,
            limit=_query_limit(limit),
            consistent_read=True,
        )
        return [self._message_from_item(item) for item in _read_exactly(items, limit)]

    def _thread_and_messages(
        self, thread_id: str, *, forward: bool, limit: int | None
    ) -> tuple[Any | None, list[Message]]:
        """One Query over ``MSG#`` .. ``THREAD``: descending, the thread item comes first."""
        models = self._models
        thread = None
        messages = []
        items = models.item.query(
            thread_pk(thread_id),
            models.item.sk.between(MESSAGE_SK_PREFIX, THREAD_SK),
            scan_index_forward=forward,
            limit=_query_limit(limit),
            consistent_read=True,
        )
        for item in _read_exactly(items, limit):
            if isinstance(item, models.thread):
                thread = item
            else:
                messages.append(self._message_from_item(item))
        return thread, messages

    @_translating_errors
    def load_thread_window(self, thread_id: str, limit: int) -> ThreadWindow:
        """One Query: the thread item (with its counters) and the newest ``limit`` messages."""
        thread, messages = self._thread_and_messages(validate_id(thread_id, "threadId"), forward=False, limit=limit + 1)
        if thread is None:
            return ThreadWindow(thread=None, messages=[], total=0, foreign=0)
        return ThreadWindow(
            thread=self._thread_from_item(thread),
            messages=messages,
            total=int(thread.message_count),
            foreign=int(thread.foreign_message_count),
        )

    @_translating_errors
    def list_messages(self, query: ListMessagesInput) -> MessagePage:
        forward = query.order_by.direction == "ASC"
        thread_ids = list(dict.fromkeys(query.thread_ids))
        filtered = query.filter.date_range is not None or bool(query.filter.roles)
        result: tuple[list[Message], int] | None = None
        if len(thread_ids) == 1 and not filtered:
            result = self._unfiltered_thread_page(thread_ids[0], query, forward)
        if result is None:
            result = self._filtered_page(thread_ids, query, forward)
        page_messages, total = result
        messages = page_messages
        if query.include:
            seen = {message.id for message in page_messages}
            extra = [m for m in self._include_windows(query.include, query.resource_id) if m.id not in seen]
            if extra:
                messages = sorted(
                    {m.id: m for m in page_messages + extra}.values(), key=_message_order_key, reverse=not forward
                )
        return MessagePage(messages=messages, **page_meta(total, query.page, query.per_page, len(page_messages)))

    def _unfiltered_thread_page(
        self, thread_id: str, query: ListMessagesInput, forward: bool
    ) -> tuple[list[Message], int] | None:
        """Pages served from ``messageCount``; None when the resource filter has real work to
        do (the thread holds messages of other resources)."""
        resource_id = query.resource_id
        page, per_page = query.page, query.per_page
        everything = (MESSAGE_SK_PREFIX, "MSG$")

        def needs_resource_filter(thread: Any) -> bool:
            return resource_id is not None and int(thread.foreign_message_count) > 0

        if per_page is None:
            thread, messages = self._thread_and_messages(thread_id, forward=forward, limit=None)
            if thread is None:
                return [], 0
            self._check_owner(thread_id, thread.resource_id, resource_id)
            if needs_resource_filter(thread):
                messages = [message for message in messages if message.resource_id == resource_id]
            return messages, len(messages)
        if page == 0 and not forward and per_page > 0:
            thread, messages = self._thread_and_messages(thread_id, forward=False, limit=per_page + 1)
            if thread is None:
                return [], 0
            self._check_owner(thread_id, thread.resource_id, resource_id)
            if needs_resource_filter(thread):
                return None
            return messages, int(thread.message_count)
        if page == 0 and per_page > 0:
            thread, first = self._parallel(
                [
                    lambda: self._get_thread_item(thread_id),
                    lambda: self._messages_query(thread_id, everything, forward=forward, limit=per_page),
                ]
            )
            if thread is None:
                return [], 0
            self._check_owner(thread_id, thread.resource_id, resource_id)
            if needs_resource_filter(thread):
                return None
            return first, int(thread.message_count)
        thread = self._get_thread_item(thread_id)
        if thread is None:
            return [], 0
        self._check_owner(thread_id, thread.resource_id, resource_id)
        if needs_resource_filter(thread):
            return None
        total = int(thread.message_count)

        def fetch(forward_: bool, limit: int | None) -> list[Message]:
            return self._messages_query(thread_id, everything, forward=forward_, limit=limit)

        return _page_from_nearer_end(fetch, total, page * per_page, per_page, forward), total

    def _filtered_page(
        self, thread_ids: list[str], query: ListMessagesInput, forward: bool
    ) -> tuple[list[Message], int]:
        """Date ranges, roles, several threads, or a resource filter over a thread with foreign
        messages. Totals come from COUNT queries over the selected range (which read it)."""
        resource_id = query.resource_id
        threads = self._get_threads(thread_ids)
        present = [thread_id for thread_id in thread_ids if thread_id in threads]
        for thread_id in present:
            self._check_owner(thread_id, threads[thread_id].resource_id, resource_id)
        key_range = _timestamp_key_range(MESSAGE_SK_PREFIX, query.filter.date_range)
        if key_range is None or not present:
            return [], 0
        message_model = self._models.message

        def filter_for(thread: Any) -> Condition | None:
            condition = None
            if query.filter.roles:
                condition = message_model.role.is_in(*query.filter.roles)
            if resource_id is not None and int(thread.foreign_message_count) > 0:
                by_resource = message_model.resource_id == resource_id
                condition = by_resource if condition is None else condition & by_resource
            return condition

        def thread_total(thread_id: str) -> int:
            thread = threads[thread_id]
            condition = filter_for(thread)
            if condition is None and query.filter.date_range is None:
                return int(thread.message_count)
            return message_model.count(
                thread_pk(thread_id),
                message_model.sk.between(*key_range),
                filter_condition=condition,
                consistent_read=True,
            )

        def fetcher(thread_id: str) -> Callable[[bool, int | None], list[Message]]:
            condition = filter_for(threads[thread_id])
            return lambda forward_, limit: self._messages_query(
                thread_id, key_range, forward=forward_, limit=limit, filter_condition=condition
            )

        total = sum(self._parallel([functools.partial(thread_total, thread_id) for thread_id in present]))
        page, per_page = query.page, query.per_page
        if per_page == 0:
            return [], total
        if len(present) == 1:
            fetch = fetcher(present[0])
            if per_page is None:
                return fetch(forward, None), total
            return _page_from_nearer_end(fetch, total, page * per_page, per_page, forward), total
        # Several threads: each contributes at most the first offset+perPage of its own order.
        limit = None if per_page is None else page * per_page + per_page
        per_thread = self._parallel([functools.partial(fetcher(t), forward, limit) for t in present])
        merged = list(heapq.merge(*per_thread, key=_message_order_key, reverse=not forward))
        if per_page is None:
            return merged, total
        return merged[page * per_page : page * per_page + per_page], total

    def _include_windows(self, includes: Sequence[IncludeItem], resource_id: str | None) -> list[Message]:
        """1 BatchGetItem for the targets' pointers, then per target one Query before (target
        included, ≤ prev+1 items) and one after (≤ next items), all in parallel. With a
        resource filter, messages of other resources in the thread are read past as well."""
        pointers = self._get_pointers(include.id for include in includes)
        # With a resource filter the neighbours are counted among that resource's messages
        # only, so a window skips over (not stops at) messages attributed to someone else.
        # pynamodb keeps paging until ``limit`` items pass the filter.
        same_resource = None if resource_id is None else self._models.message.resource_id == resource_id
        reads: list[Callable[[], list[Message]]] = []
        for include in includes:
            pointer = pointers.get(include.id)
            if pointer is None:
                continue
            # A target outside the named thread, or another resource's, contributes nothing
            # (not even its neighbours).
            if include.thread_id is not None and include.thread_id != pointer.thread_id:
                continue
            if resource_id is not None and pointer.resource_id != resource_id:
                continue
            reads.append(
                functools.partial(
                    self._messages_query,
                    pointer.thread_id,
                    (MESSAGE_SK_PREFIX, pointer.message_sk),
                    forward=False,
                    limit=_query_limit(include.with_previous_messages + 1),
                    filter_condition=same_resource,
                )
            )
            if include.with_next_messages > 0:
                reads.append(
                    functools.partial(self._messages_after, pointer, include.with_next_messages, same_resource)
                )
        return list(itertools.chain.from_iterable(self._parallel(reads)))

    def _messages_after(self, pointer: Any, count: int, filter_condition: Condition | None = None) -> list[Message]:
        models = self._models
        items = models.item.query(
            thread_pk(pointer.thread_id),
            models.item.sk > pointer.message_sk,
            filter_condition=filter_condition,
            scan_index_forward=True,
            limit=_query_limit(count),
            consistent_read=True,
        )
        # The thread item sorts after the messages; it can only end the window.
        return [self._message_from_item(item) for item in items if isinstance(item, models.message)]

    @_translating_errors
    def list_messages_by_id(self, message_ids: Sequence[str]) -> list[Message]:
        ids = [message_id for message_id in dict.fromkeys(message_ids) if isinstance(message_id, str) and message_id]
        if not ids:
            return []
        pointers = self._get_pointers(ids)
        return sorted(self._messages_for_pointers(pointers.values()), key=_message_order_key)

    def _messages_for_pointers(self, pointers: Iterable[Any]) -> list[Message]:
        return self._get_items(pointers=pointers).messages

    @_translating_errors
    def list_messages_by_resource_id(self, query: ListMessagesByResourceInput) -> MessagePage:
        models = self._models
        forward = query.order_by.direction == "ASC"
        key_range = _timestamp_key_range(RESOURCE_MESSAGE_PREFIX, query.filter.date_range)
        if key_range is None:
            return MessagePage(messages=[], **page_meta(0, query.page, query.per_page, 0))
        partition = resource_messages_partition(query.resource_id)
        range_condition = models.item.gsi1_sk.between(*key_range)
        role_filter = models.pointer.role.is_in(*query.filter.roles) if query.filter.roles else None

        def fetch(forward_: bool, limit: int | None) -> list[Any]:
            return list(
                models.pointer.gsi1.query(
                    partition, range_condition, filter_condition=role_filter, scan_index_forward=forward_, limit=_query_limit(limit)
                )
            )

        page, per_page = query.page, query.per_page
        if per_page is None:
            pointers = fetch(forward, None)
            total = len(pointers)
        else:
            # The pointer index holds ~200-byte items, so counting reads ~40 per 4 KB unit.
            total = models.pointer.gsi1.count(partition, range_condition, filter_condition=role_filter)
            pointers = _page_from_nearer_end(fetch, total, page * per_page, per_page, forward) if per_page else []
        messages = sorted(self._messages_for_pointers(pointers), key=_message_order_key, reverse=not forward)
        return MessagePage(messages=messages, **page_meta(total, page, per_page, len(messages)))

    # ------------------------------------------------------------ updating and deleting messages

    def update_messages(self, updates: Sequence[MessageUpdate], *, tenant: str | None = None) -> list[Message]:
        return self.update_messages_with_receipt(updates, tenant=tenant).messages

    @_translating_errors
    def update_messages_with_receipt(
        self, updates: Sequence[MessageUpdate], *, tenant: str | None = None
    ) -> UpdateReceipt:
        if not updates:
            return UpdateReceipt([], {})
        for update in updates:
            validate_id(update.id, "message id")
        for attempt in range(_MAX_PLAN_ATTEMPTS):
            pointers = self._get_pointers(update.id for update in updates)
            # Every thread an update touches is known now (where each message is, where it moves
            # to), so the threads come in the same BatchGetItem as the messages.
            thread_ids = {pointer.thread_id for pointer in pointers.values()}
            thread_ids |= {u.thread_id for u in updates if u.thread_id is not None and u.id in pointers}
            found = self._get_items(pointers=pointers.values(), thread_ids=thread_ids)
            current = {message.id: message for message in found.messages}
            threads = found.threads
            updated: dict[str, Message] = {}
            for update in updates:
                base = updated.get(update.id) or current.get(update.id)
                if base is not None:
                    updated[update.id] = _apply_update(base, update)
            if not updated:
                return UpdateReceipt([], {})
            for message in updated.values():
                if message.thread_id not in threads:
                    raise NotFoundError(f"Thread with id {message.thread_id} not found")
            self._check_tenant(tenant, {m.thread_id for m in updated.values()}, pointers, threads)
            check_tenant_attribution(list(updated.values()), tenant)
            now = utc_now()
            changes = [
                self._planned_save(message, pointers[message_id], threads) for message_id, message in updated.items()
            ]
            # An update without a move still bumps its thread's updatedAt.
            guards = {thread_id: _ThreadGuard.read(item) for thread_id, item in threads.items()}
            try:
                for chunk in _chunk_changes(changes):
                    self._commit_changes(chunk, guards, now)
            except _StalePlan:
                _backoff(attempt)
                continue
            previous = {
                message_id: MessageLocation(current[message_id].thread_id, current[message_id].resource_id)
                for message_id in updated
            }
            return UpdateReceipt(list(updated.values()), previous)
        raise ConflictError("Messages kept changing while they were being updated; retry")

    @_translating_errors
    def delete_messages(self, message_ids: Sequence[str], *, tenant: str | None = None) -> dict[str, MessageLocation]:
        ids = [message_id for message_id in dict.fromkeys(message_ids) if isinstance(message_id, str) and message_id]
        if not ids:
            return {}
        pointer_model = self._models.pointer
        known_threads: dict[str, Any] | None = None
        guards: dict[str, _ThreadGuard] = {}
        for attempt in range(_MAX_PLAN_ATTEMPTS):
            pointers = self._get_pointers(ids)
            if not pointers:
                return {}
            if tenant is not None:
                self._check_pointers_for_tenant(pointers, tenant)
            if attempt > 0:
                # A condition failed: learn which threads still exist before planning again.
                known_threads = self._get_threads({p.thread_id for p in pointers.values()})
                guards = {thread_id: _ThreadGuard.read(item) for thread_id, item in known_threads.items()}
            changes = []
            for message_id, pointer in pointers.items():
                change = _MessageChange(
                    message_id=message_id,
                    delete_message_key=(thread_pk(pointer.thread_id), pointer.message_sk),
                    delete_pointer=True,
                    pointer_condition=(pointer_model.thread_id == pointer.thread_id)
                    & (pointer_model.message_sk == pointer.message_sk),
                    size=256,
                )
                if known_threads is None or pointer.thread_id in known_threads:
                    change.effects.append(_ThreadEffect(pointer.thread_id, count=-1, foreign=-int(pointer.foreign)))
                changes.append(change)
            try:
                for chunk in _chunk_changes(changes):
                    self._commit_changes(chunk, guards, utc_now())
                return {
                    message_id: MessageLocation(pointer.thread_id, pointer.resource_id)
                    for message_id, pointer in pointers.items()
                }
            except _StalePlan:
                _backoff(attempt)
        raise ConflictError("Messages kept changing while they were being deleted; retry")

    # ------------------------------------------------------------ resources

    def _resource_from_raw(self, raw: dict[str, Any]) -> Resource:
        item = self._models.resource.from_raw_data(raw)
        metadata = {
            name[len(METADATA_ATTRIBUTE_PREFIX) :]: json.loads(value["S"])
            for name, value in raw.items()
            if name.startswith(METADATA_ATTRIBUTE_PREFIX)
        }
        return Resource(
            id=item.pk[len("RESOURCE#") :],
            working_memory=item.working_memory,
            metadata=metadata if metadata or item.has_metadata else None,
            created_at=item.created_at,
            updated_at=item.updated_at,
        )

    @_translating_errors
    def get_resource(self, resource_id: str) -> Resource | None:
        data = self._models.table_connection.get_item(
            resource_pk(validate_id(resource_id, "resourceId")), RESOURCE_SK, consistent_read=True
        )
        raw = data.get("Item")
        return None if raw is None else self._resource_from_raw(raw)

    @_translating_errors
    def save_resource(self, resource: Resource) -> Resource:
        item = self._models.resource(
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
        size = _item_size(attributes)
        if size > MAX_ITEM_BYTES:
            raise PayloadTooLargeError(
                f"Resource {resource.id} is {size} bytes as a DynamoDB item, over DynamoDB's 400 KB item limit"
            )
        # A Put (not an update): saving replaces the resource, dropping metadata keys it no
        # longer has. pynamodb models cannot declare the dynamic m_<key> attributes, so the
        # serialized item goes through the table connection.
        self._models.table_connection.put_item(item.pk, item.sk, attributes=attributes)
        return resource

    @_translating_errors
    def update_resource(
        self,
        resource_id: str,
        *,
        working_memory: str | None = UNSET,
        metadata: dict[str, Any] | None = None,
    ) -> Resource:
        validate_id(resource_id, "resourceId")
        validate_metadata_keys(metadata)
        resource_model = self._models.resource
        now = utc_now()
        # One UpdateItem, no read: each metadata key is its own attribute, so concurrent merges
        # of different keys both land, and createdAt is set only by the first write.
        actions: list[Action] = [
            resource_model.entity.set(resource_model),
            resource_model.updated_at.set(now),
            resource_model.created_at.set(resource_model.created_at | now),
        ]
        if working_memory is not UNSET:
            actions.append(_set_or_remove(resource_model.working_memory, working_memory))
        if metadata is not None:
            actions.append(resource_model.has_metadata.set(True))
            actions.extend(Path(metadata_attribute(key)).set(dumps(value)) for key, value in metadata.items())
        data = resource_model(resource_pk(resource_id), RESOURCE_SK).update(actions=actions)
        return self._resource_from_raw(data["Attributes"])

    @_translating_errors
    def modify_resource_working_memory(self, resource_id: str, modify: Callable[[str | None], str]) -> Resource:
        """A consistent read, then one UpdateItem conditional on the working memory read."""
        validate_id(resource_id, "resourceId")
        resource_model = self._models.resource
        for attempt in range(_MAX_PLAN_ATTEMPTS):
            current = self.get_resource(resource_id)
            before = None if current is None else current.working_memory
            value = modify(before)
            now = utc_now()
            actions: list[Action] = [
                resource_model.entity.set(resource_model),
                resource_model.updated_at.set(now),
                resource_model.created_at.set(resource_model.created_at | now),
                _set_or_remove(resource_model.working_memory, value),
            ]
            condition = (
                resource_model.working_memory.does_not_exist()
                if before is None
                else resource_model.working_memory == before
            )
            try:
                data = resource_model(resource_pk(resource_id), RESOURCE_SK).update(actions=actions, condition=condition)
                return self._resource_from_raw(data["Attributes"])
            except PynamoDBException as error:
                if not is_condition_failure(error):
                    raise
            _backoff(attempt)
        raise ConflictError(f"The working memory of resource {resource_id} kept changing while it was being updated; retry")

    @_translating_errors
    def delete_resource(self, resource_id: str) -> DeletedResource:
        validate_id(resource_id, "resourceId")
        models = self._models
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
            self._delete_thread_item(item, count=False)
            message_resources |= self._sweep_thread_messages(thread_id)
        self._batch_delete([(resource_pk(resource_id), RESOURCE_SK), (resource_pk(resource_id), THREAD_COUNTER_SK)])
        return DeletedResource(thread_ids, frozenset(message_resources))

    # ------------------------------------------------------------ clone

    @_translating_errors
    def clone_thread(self, request: CloneThreadInput) -> CloneThreadResult:
        """One Query reads the source thread and its messages; the returned thread is derived
        from what was written, not read back."""
        source_item, messages = self._thread_and_messages(request.source_thread_id, forward=True, limit=None)
        if source_item is None:
            raise NotFoundError(f"Source thread with id {request.source_thread_id} not found")
        originals = _select_clone_messages(messages, request)
        new_thread_id = request.new_thread_id or str(uuid.uuid4())
        now = utc_now()
        thread = clone_thread_record(self._thread_from_item(source_item), request, new_thread_id, originals, now)
        copies = [clone_message(message, thread, request.resource_id) for message in originals]
        for message in copies:
            self._message_item(message)
        # Created without lastMessageAt: the copies' save sets it per transaction, never backwards,
        # so a value already at the newest copy would cancel the first transaction of a long clone.
        created = thread.model_copy(update={"last_message_at": None})
        if self._create_thread(self._thread_item(created), thread.resource_id) is not None:
            raise ConflictError(f"Thread with id {new_thread_id} already exists")
        if not copies:
            return CloneThreadResult(thread=thread, cloned_messages=[])
        try:
            receipt = self.save_messages_with_receipt(copies)
        except Exception:
            # A clone is all or nothing: the thread had to exist before its messages could be
            # saved, so take it back (with whatever messages landed) and let the error surface.
            self.delete_thread(new_thread_id)
            raise
        # The save moved updatedAt to its bump time, unless that was not later than the creation.
        updated_at = max(now, receipt.bumped_at or now)
        return CloneThreadResult(thread=thread.model_copy(update={"updated_at": updated_at}), cloned_messages=copies)


# ====================================================================== helpers


# DynamoDB's Query Limit is a 32-bit integer. No partition holds more items than that, so a
# larger count (a page size or offset a caller may legally ask for) reads the same items.
_MAX_QUERY_LIMIT = 2**31 - 1


def _query_limit(limit: int | None) -> int | None:
    return None if limit is None else min(limit, _MAX_QUERY_LIMIT)


def _read_exactly(items: Any, limit: int | None) -> Iterator[Any]:
    """Items of a pynamodb query, at most ``limit``, reading no more than that from DynamoDB.

    pynamodb sends the same ``Limit`` with every page request, so a read that spans DynamoDB's
    1 MB pages would read a whole further ``limit`` items on its last page (a deep page of a
    5,000-message thread read 4,443 items for 2,520 wanted). Each page asks for what is still
    missing instead."""
    if limit is None:
        yield from items
        return
    remaining = limit
    for item in items:
        yield item
        remaining -= 1
        if remaining <= 0:
            return
        items.page_iter.page_size = _query_limit(remaining)


def _page_from_nearer_end(
    fetch: Callable[[bool, int | None], list[T]], total: int, offset: int, per_page: int, forward: bool
) -> list[T]:
    """Items ``[offset, offset+per_page)`` of the ``forward`` order, reading from whichever end
    of the range is nearer: a deep page reads the keys up to the offset, but never more than
    half the range."""
    if per_page <= 0 or offset >= total:
        return []
    end = min(offset + per_page, total)
    if offset <= total - end:
        return fetch(forward, end)[offset:end]
    from_other_end = fetch(not forward, total - offset)
    return list(reversed(from_other_end[total - end :]))


def _apply_update(message: Message, update: MessageUpdate) -> Message:
    """``content.metadata`` deep-merges; every other given field replaces."""
    changes: dict[str, Any] = {}
    for name in ("thread_id", "resource_id", "role", "type", "created_at"):
        value = getattr(update, name)
        if value is not None:
            changes[name] = value
    data = message.model_dump(mode="json", by_alias=True)
    if update.content is not None:
        patch = update.content.model_dump(mode="json", exclude_unset=True)
        content = dict(data["content"])
        for key, value in patch.items():
            if key == "metadata" and isinstance(value, dict):
                content["metadata"] = deep_merge(content.get("metadata"), value)
            else:
                content[key] = value
        data["content"] = content
    for name, value in changes.items():
        data[_CAMEL.get(name, name)] = value
    return parse_model(Message, data, what=f"update of message {message.id}")


_CAMEL = {"thread_id": "threadId", "resource_id": "resourceId", "created_at": "createdAt"}


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


def open_table(
    table_name: str, *, create_table: bool = False, region: str | None = None, endpoint_url: str | None = None
) -> TableModels:
    """The table's pynamodb models, resolved the same way for every store on the table (the
    memory store and the domain adapters), so they share the cached models and their client."""
    # botocore reads AWS_DEFAULT_REGION but not AWS_REGION (the variable Lambda sets).
    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    endpoint_hint = endpoint_url or os.environ.get("AWS_ENDPOINT_URL_DYNAMODB") or os.environ.get("AWS_ENDPOINT_URL")
    models = table_models(table_name, region, endpoint_url, endpoint_hint)
    if create_table:
        with translated_errors(table_name):
            ensure_table(models, table_name)
    return models


# ====================================================================== table creation

_ensured_tables: set[tuple[int, str]] = set()
_ensure_lock = threading.Lock()


def ensure_table(models: TableModels, table_name: str) -> None:
    """Create the table if missing (idempotent; waits until ACTIVE), once per process.

    Uses the botocore client directly: ``table_definition`` is the plain CreateTable request
    that template.yaml is tested against, while pynamodb's ``create_table`` derives its own
    request from the model classes, which could drift from it."""
    with _ensure_lock:
        key = (id(models), table_name)
        if key in _ensured_tables:
            return
        client = models.table_connection.connection.client
        try:
            _create_table_if_missing(client, table_name)
        except (BotoCoreError, ClientError) as error:
            raise ConfigurationError(f"Could not create or find DynamoDB table {table_name!r}: {error}") from error
        _ensured_tables.add(key)


def _create_table_if_missing(client: Any, table_name: str) -> None:
    try:
        client.describe_table(TableName=table_name)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        try:
            client.create_table(**table_definition(table_name))
        except ClientError as create_error:
            # Another process won the race: wait for its table like ours.
            if create_error.response.get("Error", {}).get("Code") != "ResourceInUseException":
                raise
    client.get_waiter("table_exists").wait(TableName=table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    ttl = client.describe_time_to_live(TableName=table_name).get("TimeToLiveDescription", {})
    if ttl.get("TimeToLiveStatus") in (None, "DISABLED"):
        client.update_time_to_live(
            TableName=table_name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
        )


__all__ = [
    "DynamoDBCall",
    "DynamoDBStore",
    "RequestCounter",
    "TableModels",
    "open_table",
    "table_definition",
    "table_models",
    "translated_errors",
    "TTL_ATTRIBUTE",
    "MAX_ITEM_BYTES",
]
