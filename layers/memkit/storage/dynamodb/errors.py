"""DynamoDB's failures as memkit's domain errors: the one place AWS error codes are read.

Every DynamoDB adapter (each domain's, on the shared table) runs its calls inside
``translated_errors``: throttling and conflicts between transactions become ``RetryableError``
(503, a retry helps), a failed condition ``ConflictError``, an oversized item
``PayloadTooLargeError``, a missing table or client configuration ``ConfigurationError``, and an
unreachable endpoint ``RetryableError``. A failure it does not know propagates as it is (a bug).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)
from botocore.exceptions import (
    HTTPClientError,
    NoCredentialsError,
    NoRegionError,
)
from pynamodb.exceptions import PynamoDBException, TransactWriteError

from memkit.errors import (
    ConfigurationError,
    ConflictError,
    MemkitError,
    PayloadTooLargeError,
    RetryableError,
)

T = TypeVar("T")

RETRYABLE_CODES = frozenset(
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
RETRYABLE_REASONS = frozenset({"ThrottlingError", "ProvisionedThroughputExceeded", "TransactionConflict"})

# Answers after which a transaction may or may not have been applied.
UNKNOWN_OUTCOME_CODES = frozenset({"InternalServerError", "ServiceUnavailable", "TransactionInProgressException"})


def response_code(error: PynamoDBException) -> str | None:
    """The service's error code, None when there was no answer. pynamodb's own
    ``cause_response_code`` raises AttributeError for a timeout (a cause with ``response = None``)."""
    response = getattr(error.cause, "response", None)
    return response.get("Error", {}).get("Code") if isinstance(response, dict) else None


def response_message(error: PynamoDBException) -> str | None:
    response = getattr(error.cause, "response", None)
    return response.get("Error", {}).get("Message") if isinstance(response, dict) else None


def cancellation_codes(error: PynamoDBException) -> set[str]:
    if isinstance(error, TransactWriteError):
        return {reason.code for reason in error.cancellation_reasons if reason is not None}
    return set()


def is_condition_failure(error: PynamoDBException) -> bool:
    return response_code(error) == "ConditionalCheckFailedException" or bool(
        cancellation_codes(error) & {"ConditionalCheckFailed", "TransactionConflict"}
    )


def is_item_too_large(error: PynamoDBException) -> bool:
    message = (response_message(error) or "").lower()
    return "item size" in message or "maximum allowed size" in message


def domain_error(error: PynamoDBException, table_name: str) -> MemkitError | None:
    """The domain exception for a DynamoDB failure (the one place AWS codes are mapped), or
    None when it is not a known service condition (a bug: let it propagate)."""
    code = response_code(error)
    reasons = cancellation_codes(error)
    detail = response_message(error) or str(error)
    if is_item_too_large(error):
        return PayloadTooLargeError(f"An item exceeds DynamoDB's 400 KB item limit: {detail}")
    if code in RETRYABLE_CODES or reasons & RETRYABLE_REASONS:
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


def translating_errors(method: Callable[..., T]) -> Callable[..., T]:
    """``translated_errors`` around a method of an adapter that has a ``table_name``."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> T:
        with translated_errors(self.table_name):
            return method(self, *args, **kwargs)

    return wrapper


def outcome_unknown(error: TransactWriteError) -> bool:
    return response_code(error) in UNKNOWN_OUTCOME_CODES or isinstance(
        error.cause, (BotoConnectionError, HTTPClientError)
    )


def transient(error: TransactWriteError) -> bool:
    return response_code(error) in RETRYABLE_CODES or bool(cancellation_codes(error) & RETRYABLE_REASONS)
