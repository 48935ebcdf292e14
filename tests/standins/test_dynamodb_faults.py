"""The fault-injecting DynamoDB proxy: transparent until told, then failing a seeded share of
requests before or after DynamoDB Local applies them, as botocore and memkit see it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from memkit.errors import RetryableError
from memkit.storage.memory.dynamodb.store import DynamoDBStore
from tests.support.dynamodb_faults import DynamoDBFaults, without_sdk_retries

pytestmark = pytest.mark.dynamodb

TABLE = "faults-probe"


def client(endpoint: str, *, attempts: int = 1) -> Any:
    return botocore.session.get_session().create_client(
        "dynamodb", endpoint_url=endpoint, config=Config(retries={"total_max_attempts": attempts, "mode": "standard"})
    )


@pytest.fixture(scope="module")
def table(dynamodb_local: Any) -> Iterator[str]:
    direct = client(dynamodb_local.url)
    direct.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    yield TABLE
    direct.delete_table(TableName=TABLE)


@pytest.fixture
def faults(dynamodb_faults: DynamoDBFaults) -> Iterator[DynamoDBFaults]:
    yield dynamodb_faults
    dynamodb_faults.stop()


def put(endpoint_client: Any, key: str) -> None:
    endpoint_client.put_item(TableName=TABLE, Item={"pk": {"S": key}})


def read_outcomes(endpoint: str, reads: int) -> list[str]:
    """What each of ``reads`` GetItems through ``endpoint`` met: "ok" or the error code."""
    endpoint_client = client(endpoint)
    seen = []
    for _ in range(reads):
        try:
            endpoint_client.get_item(TableName=TABLE, Key={"pk": {"S": "absent"}})
            seen.append("ok")
        except ClientError as error:
            seen.append(error.response["Error"]["Code"])
    return seen


def stored(dynamodb_local: Any, key: str) -> bool:
    return "Item" in client(dynamodb_local.url).get_item(TableName=TABLE, Key={"pk": {"S": key}}, ConsistentRead=True)


def test_it_passes_requests_through_until_told_to_inject(faults: DynamoDBFaults, table: str, dynamodb_local: Any) -> None:
    key = uuid.uuid4().hex
    faults.inject(0.0, seed=1)

    put(client(faults.url), key)

    assert stored(dynamodb_local, key)
    assert faults.counts()["requests"] == {"PutItem": 1}


def test_a_throttle_is_a_400_and_writes_nothing(faults: DynamoDBFaults, table: str, dynamodb_local: Any) -> None:
    key = uuid.uuid4().hex
    faults.inject(1.0, seed=1, kinds=("throttle",))

    with pytest.raises(ClientError) as raised:
        put(client(faults.url), key)

    assert raised.value.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert not stored(dynamodb_local, key)


def test_an_error_after_forwarding_is_a_500_for_a_write_that_happened(
    faults: DynamoDBFaults, table: str, dynamodb_local: Any
) -> None:
    key = uuid.uuid4().hex
    faults.inject(1.0, seed=1, kinds=("error-after",))

    with pytest.raises(ClientError) as raised:
        put(client(faults.url), key)

    assert raised.value.response["Error"]["Code"] == "InternalServerError"
    assert stored(dynamodb_local, key)
    assert faults.counts()["injected"]["error-after"] == {"PutItem": 1}


def test_only_the_named_operations_fail(faults: DynamoDBFaults, table: str, dynamodb_local: Any) -> None:
    key = uuid.uuid4().hex
    faults.inject(1.0, seed=1, kinds=("error",), operations=("GetItem",))

    put(client(faults.url), key)

    assert stored(dynamodb_local, key)
    with pytest.raises(ClientError):
        client(faults.url).get_item(TableName=TABLE, Key={"pk": {"S": key}})


def test_the_same_seed_fails_the_same_requests(faults: DynamoDBFaults, table: str) -> None:
    def outcomes() -> list[str]:
        faults.inject(0.5, seed=42)
        return read_outcomes(faults.url, 30)

    first, second = outcomes(), outcomes()

    assert first == second
    assert {"ok", "ProvisionedThroughputExceededException", "InternalServerError"} <= set(first)


def test_a_store_without_sdk_retries_meets_each_fault_once(
    faults: DynamoDBFaults, dynamodb_local: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a memkit store that reaches DynamoDB through the proxy, with botocore's retries off
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", faults.url)
    store = DynamoDBStore("memkit-faults-probe", create_table=True)
    without_sdk_retries(store)
    faults.inject(1.0, seed=1, kinds=("error",), operations=("GetItem",))

    # When one read fails
    with pytest.raises(RetryableError):
        store.get_thread("some-thread")

    # Then it was sent once: the fault reached memkit rather than being retried away
    assert faults.counts()["requests"]["GetItem"] == 1


def test_a_script_gives_the_next_outcomes_in_order_then_passes(faults: DynamoDBFaults, table: str) -> None:
    faults.script("error", "pass", "throttle", operations=("GetItem",))

    seen = read_outcomes(faults.url, 4)

    assert seen == ["InternalServerError", "ok", "ProvisionedThroughputExceededException", "ok"]
