"""The requests every DynamoDB adapter makes beyond single-item calls: transactions applied at
most once, strongly consistent batch reads, delete sweeps, batched writes, conditional writes,
and parallel reads. One ``TableRequests`` per adapter holds its thread pool.
"""

from __future__ import annotations

import functools
import random
import time
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from botocore.exceptions import ClientError
from pynamodb.exceptions import PynamoDBException, TransactWriteError
from pynamodb.transactions import TransactWrite

from memkit.errors import RetryableError
from memkit.storage.dynamodb.errors import (
    RETRYABLE_CODES,
    RETRYABLE_REASONS,
    is_condition_failure,
    outcome_unknown,
    transient,
    translated_errors,
)
from memkit.storage.dynamodb.table import TableModels

T = TypeVar("T")

# A TransactWriteItems request carries at most 100 actions and 4 MB.
MAX_TRANSACTION_ACTIONS = 100
MAX_TRANSACTION_BYTES = 4 * 1024 * 1024 - 64 * 1024
BATCH_GET_LIMIT = 100
UNPROCESSED_DEADLINE_SECONDS = 30.0
# How long a transaction whose outcome is unknown is sent again before the caller hears 503.
UNKNOWN_OUTCOME_DEADLINE_SECONDS = 10.0


def backoff(attempt: int) -> None:
    # Full jitter: concurrent writers retrying the same item spread out instead of colliding again.
    time.sleep(random.uniform(0, min(1.0, 0.02 * (2**attempt))))


class TableRequests:
    """Multi-item requests on one table, for one adapter (which closes it with itself)."""

    def __init__(self, models: TableModels, *, max_workers: int = 8):
        self.models = models
        self.table_name = models.table_name
        self._max_workers = max_workers
        self._executor: ThreadPoolExecutor | None = None
        self._executor_lock = threading.Lock()

    def close(self) -> None:
        with self._executor_lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)

    def parallel(self, calls: Sequence[Callable[[], T]]) -> list[T]:
        """Run independent reads concurrently (one round trip of latency instead of several)."""
        if len(calls) <= 1:
            return [call() for call in calls]
        with self._executor_lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self._max_workers, thread_name_prefix="memkit-dynamodb")
            executor = self._executor
        futures: list[Future[T]] = [executor.submit(call) for call in calls]
        return [future.result() for future in futures]

    def transact(self, fill: Callable[[TransactWrite], None]) -> None:
        """One TransactWriteItems of what ``fill`` adds, applied at most once (``transact``)."""
        transact(self.models.table_connection.connection, fill)

    def batch_get(self, keys: Iterable[tuple[str, str]]) -> list[Any]:
        """BatchGetItem (strongly consistent) in pages of 100, retrying unprocessed keys."""
        unique = list(dict.fromkeys(keys))
        connection = self.models.table_connection
        found: list[Any] = []
        for start in range(0, len(unique), BATCH_GET_LIMIT):
            pending: list[Any] = [{"PK": pk, "SK": sk} for pk, sk in unique[start : start + BATCH_GET_LIMIT]]
            deadline = time.monotonic() + UNPROCESSED_DEADLINE_SECONDS
            attempt = 0
            while pending:
                data = connection.batch_get_item(pending, consistent_read=True)
                found.extend(self.models.item.from_raw_data(raw) for raw in data["Responses"].get(self.table_name, []))
                pending = data.get("UnprocessedKeys", {}).get(self.table_name, {}).get("Keys", [])
                if pending:
                    if time.monotonic() > deadline:
                        raise RetryableError(f"DynamoDB left {len(pending)} keys unread (throttled), retry later")
                    backoff(attempt)
                    attempt += 1
        return found

    def batch_delete(self, keys: Sequence[tuple[str, str]]) -> None:
        """Delete keys in transactions of up to 100, sent in parallel.

        Why transactions rather than BatchWriteItem: every message has an id-pointer item, so a
        thread of N messages is 2N keys. In 25-key batch writes that is ⌈2N/25⌉ requests; in
        100-action transactions it is ⌈N/50⌉, inside the ⌈N/25⌉ delete budget of
        ``docs/dynamodb.md``. The price is two write units per deleted item instead of one, paid
        only on deletes, which are rare next to reads and saves. A transaction also has no
        "unprocessed items" to resend.
        """
        chunks = [
            list(keys[start : start + MAX_TRANSACTION_ACTIONS])
            for start in range(0, len(keys), MAX_TRANSACTION_ACTIONS)
        ]
        self.parallel([functools.partial(self._delete_in_transaction, chunk) for chunk in chunks])

    def _delete_in_transaction(self, keys: list[tuple[str, str]]) -> None:
        # pynamodb's TransactWrite needs a model instance per key; raw Delete actions keep a
        # 100-key sweep to one small request body.
        actions = [
            {"Delete": {"TableName": self.table_name, "Key": {"PK": {"S": pk}, "SK": {"S": sk}}}}
            for pk, sk in keys
        ]
        deadline = time.monotonic() + UNPROCESSED_DEADLINE_SECONDS
        attempt = 0
        while True:
            try:
                self.models.client.transact_write_items(TransactItems=actions)
                return
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code")
                reasons = {
                    reason.get("Code")
                    for reason in error.response.get("CancellationReasons", [])
                    if reason.get("Code") not in (None, "None")
                }
                if code not in RETRYABLE_CODES and not reasons & RETRYABLE_REASONS:
                    raise
                if time.monotonic() > deadline:
                    raise RetryableError(f"DynamoDB kept refusing a delete sweep ({code}: {reasons}), retry later") from error
                # Throttled, or a concurrent write touched one of these items: deletes are
                # idempotent, so the same transaction can simply be sent again.
                backoff(attempt)
                attempt += 1


def transact(connection: Any, fill: Callable[[TransactWrite], None]) -> None:
    """One TransactWriteItems of what ``fill`` adds on ``connection`` (a pynamodb connection),
    applied at most once however often it is sent.

    Every attempt carries the same ClientRequestToken, and DynamoDB answers a repeated token
    (for 10 minutes) with success without applying it again; that makes botocore's own
    retries safe. A 5xx or a broken connection leaves the outcome unknown: the commit may
    have happened and only its answer got lost. The same transaction is then sent again
    until DynamoDB answers it (for up to 10 s), rather than reporting a write that may have
    been applied as failed; a throttle before that (nothing written) is raised as it is.
    Errors stay pynamodb's."""
    token = str(uuid.uuid4())
    deadline = time.monotonic() + UNKNOWN_OUTCOME_DEADLINE_SECONDS
    unknown = False
    attempt = 0
    while True:
        try:
            with TransactWrite(connection=connection, client_request_token=token) as transaction:
                fill(transaction)
            return
        except TransactWriteError as error:
            unknown = unknown or outcome_unknown(error)
            if not (unknown and (outcome_unknown(error) or transient(error))) or time.monotonic() > deadline:
                raise
            backoff(attempt)
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
