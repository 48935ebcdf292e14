"""Plumbing shared by the DynamoDB adapters of the workflows, scores, observability and datasets
domains.

They live in the memory store's single table (``memkit.storage.dynamodb.table_definition``:
``PK``/``SK``, ``GSI1``, ``GSI2``; nothing added) under their own key prefixes, and reuse its
pynamodb model factory, so every domain on one table shares one botocore client and pool.
Each domain declares its items as subclasses of the table's polymorphic ``Item`` base (see
``entity_class``). Key design per domain: ``docs/domains.md``.

Listing pages with a ``total``: DynamoDB has no cheap count, so a page costs one
``Select=COUNT`` Query per index partition (it reads the matching keys' items but returns
none) plus one Query that stops after ``offset + limit`` items. Counts and GSI listings are
eventually consistent, as every GSI read is.
"""

from __future__ import annotations

import functools
import time
import types
import uuid
from collections.abc import Callable, Sequence
from itertools import islice
from typing import Any

from pynamodb.exceptions import PynamoDBException, TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.transactions import TransactWrite

from memkit.errors import PayloadTooLargeError, RetryableError

# Table resolution, the AWS error mapping, the item size rule and the JSON and timestamp
# attributes are the memory adapter's, reused (and offered to the domain adapters from here)
# rather than copied, so each exists in one place.
from memkit.storage.dynamodb import (
    _UNKNOWN_OUTCOME_DEADLINE_SECONDS,
    MAX_ITEM_BYTES,
    TableModels,
    _backoff,
    _item_size,
    _JSONTextAttribute as JSONTextAttribute,
    _outcome_unknown,
    _query_limit as query_limit,
    _read_exactly as read_exactly,
    _TimestampAttribute as TimestampAttribute,
    _transient,
    is_condition_failure,
    open_table,
    translated_errors,
)

__all__ = [
    "FILTERED_PAGE_SIZE",
    "JSONTextAttribute",
    "TimestampAttribute",
    "and_all",
    "batch_write",
    "checked_size",
    "entity_class",
    "key_range",
    "open_table",
    "page_across",
    "query_limit",
    "read_exactly",
    "transact",
    "timestamp_range",
    "translated_errors",
    "write_if",
]

# Items a filtered listing reads per Query request (before filtering).
FILTERED_PAGE_SIZE = 500


def entity_class(models: TableModels, name: str, attributes: dict[str, Any]) -> type:
    """A subclass of the table's ``Item`` with discriminator ``name`` (the item's ``entity``
    attribute) and the given pynamodb attributes. Build it once per table (``functools.cache``
    the caller): pynamodb registers each discriminator on the base class."""
    class_name = f"{name.title().replace('_', '')}Item"
    return types.new_class(class_name, (models.item,), {"discriminator": name}, lambda body: body.update(attributes))


def checked_size(item: Any, what: str) -> int:
    """The item's size in bytes as DynamoDB counts it; ``PayloadTooLargeError`` naming
    ``what`` when it is over the 400 KB item limit (check before writing anything)."""
    size = _item_size(item.serialize())
    if size > MAX_ITEM_BYTES:
        raise PayloadTooLargeError(f"{what} is {size} bytes as a DynamoDB item, over DynamoDB's 400 KB item limit")
    return size


def transact(connection: Any, fill: Callable[[TransactWrite], None]) -> None:
    """One TransactWriteItems of what ``fill`` adds, applied at most once however often it is
    sent, as the memory store sends its own: every attempt carries the same ClientRequestToken
    (a repeated token is answered with success and not applied again, which makes botocore's
    retries safe), and an answer that leaves the outcome unknown (a 5xx, a broken connection)
    sends it again until DynamoDB answers, for up to 10 s. Errors stay pynamodb's."""
    token = str(uuid.uuid4())
    deadline = time.monotonic() + _UNKNOWN_OUTCOME_DEADLINE_SECONDS
    unknown, attempt = False, 0
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


def write_if(write: Callable[[], Any], table_name: str) -> bool:
    """Run a conditional write; False (not an error) when its condition did not hold."""
    with translated_errors(table_name):
        try:
            write()
        except PynamoDBException as error:
            if is_condition_failure(error):
                return False
            raise
    return True


def batch_write(model: Any, table_name: str, *, puts: Sequence[Any] = (), deletes: Sequence[Any] = ()) -> None:
    """BatchWriteItem requests of 25 (pynamodb resends unprocessed items a few times). Each
    request is all or nothing, the whole call is not. Items are built by the caller first, so
    a bad one fails before anything is sent."""
    batch = model.batch_write()
    with translated_errors(table_name):
        try:
            for item in puts:
                batch.save(item)
            for item in deletes:
                batch.delete(item)
            batch.commit()
        except PynamoDBException as error:
            if batch.failed_operations:
                raise RetryableError(
                    f"DynamoDB left {len(batch.failed_operations)} writes unprocessed (throttled), retry later"
                ) from error
            raise


def page_across(
    index: Any,
    partitions: Sequence[tuple[str, Condition | None]],
    filter_condition: Condition | None,
    offset: int,
    limit: int | None,
    *,
    oldest_first: bool = False,
) -> tuple[int, list[Any]]:
    """``(total, items)``: items ``offset .. offset+limit`` (``limit`` None: all the rest) of
    ``partitions`` read newest first (descending sort key; ascending with ``oldest_first``),
    one partition after the other.

    ``index`` is a model class (base table) or a GSI; each partition is a hash key with an
    optional sort-key condition. Partitions before the page are only counted."""
    counts = [index.count(key, range_condition, filter_condition) for key, range_condition in partitions]
    items: list[Any] = []
    skip = offset
    for (key, range_condition), count in zip(partitions, counts):
        if limit is not None and len(items) >= limit:
            break
        if skip >= count:
            skip -= count
            continue
        want = None if limit is None else skip + limit - len(items)
        results = index.query(
            key,
            range_condition,
            filter_condition,
            scan_index_forward=oldest_first,
            limit=want,
            # Unfiltered, read exactly what is needed. Filtered, a request's Limit counts items
            # read before filtering, so read more per request than the page needs (up to 1 MB)
            # rather than walk the partition ``want`` items at a time.
            page_size=query_limit(want if filter_condition is None or want is None else max(want, FILTERED_PAGE_SIZE)),
        )
        items += islice(results, skip, None)
        skip = 0
    return sum(counts), items


def key_range(sort_key: Any, low: str | None, high: str | None) -> Condition | None:
    """A sort-key condition for ``low <= key <= high``, either bound optional (a key condition
    allows one comparison per key, so two bounds must be BETWEEN)."""
    if low is not None and high is not None:
        return sort_key.between(low, high)
    if low is not None:
        return sort_key >= low
    return None if high is None else sort_key <= high


def timestamp_range(sort_key: Any, start: str | None, end: str | None) -> Condition | None:
    """A condition selecting ``<timestamp>#...`` sort keys with ``start <= timestamp <= end``
    (stored-format timestamps, either optional). "$" sorts right after "#", so ``<end>$`` is
    above every key of the end's millisecond: the upper bound stays inclusive to the ms."""
    return key_range(sort_key, start, None if end is None else end + "$")


def and_all(conditions: Sequence[Condition | None]) -> Condition | None:
    """The AND of the given conditions (None entries skipped); None when there are none."""
    present = [condition for condition in conditions if condition is not None]
    return functools.reduce(lambda left, right: left & right, present) if present else None
