"""How DynamoDB failures become domain errors: what a client may retry (503) is retryable."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError
from pynamodb.exceptions import QueryError

from memkit.errors import ConflictError, RetryableError
from memkit.storage.dynamodb.errors import domain_error


def client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"{code} happened"}}, "Query")


@pytest.mark.parametrize(
    "cause",
    [
        ReadTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com"),
        EndpointConnectionError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com"),
        client_error("InternalServerError"),
        client_error("InternalFailure"),
        client_error("ThrottlingException"),
    ],
    ids=["read-timeout", "unreachable", "internal-server-error", "internal-failure", "throttled"],
)
def test_failures_a_retry_can_fix_are_retryable(cause: Exception) -> None:
    assert isinstance(domain_error(QueryError("Failed to query items", cause), "memkit"), RetryableError)


def test_a_failed_condition_is_a_conflict() -> None:
    error = QueryError("Failed", client_error("ConditionalCheckFailedException"))
    assert isinstance(domain_error(error, "memkit"), ConflictError)


def test_an_unknown_failure_is_left_to_propagate() -> None:
    assert domain_error(QueryError("Failed", client_error("ValidationException")), "memkit") is None
