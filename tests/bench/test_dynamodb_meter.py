"""The counting proxy in front of DynamoDB Local counts what passes through it exactly, from outside
the client: requests by operation and the capacity units DynamoDB charged for them."""

from __future__ import annotations

import json
import uuid
from typing import Any

import botocore.session
import pytest

from infra.local import dynamodb_meter, stack

pytestmark = [pytest.mark.dynamodb]


@pytest.fixture(scope="module")
def client(dynamodb_meter_service: stack.Service) -> Any:
    return botocore.session.get_session().create_client(
        "dynamodb",
        endpoint_url=dynamodb_meter_service.url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


@pytest.fixture(scope="module")
def table(client: Any) -> str:
    name = f"meter-{uuid.uuid4().hex[:8]}"
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def counted(meter_url: str, action: Any) -> dict[str, Any]:
    before = dynamodb_meter.read_meter(meter_url)
    action()
    after = dynamodb_meter.read_meter(meter_url)
    return {
        "requests": {op: n - before["requests"].get(op, 0) for op, n in after["requests"].items() if n != before["requests"].get(op, 0)},
        "read_units": after["read_units"] - before["read_units"],
        "write_units": after["write_units"] - before["write_units"],
        "errors": sum(after["errors"].values()) - sum(before["errors"].values()),
    }


def test_meter_counts_requests_by_operation_with_the_units_dynamodb_charged(
    client: Any, table: str, dynamodb_meter_service: stack.Service
) -> None:
    def work() -> None:
        client.put_item(TableName=table, Item={"pk": {"S": "a"}})
        client.get_item(TableName=table, Key={"pk": {"S": "a"}})
        client.transact_write_items(
            TransactItems=[{"Put": {"TableName": table, "Item": {"pk": {"S": key}}}} for key in ("b", "c")]
        )

    # The request bodies were changed on the way (their signatures no longer match), and
    # DynamoDB Local served them all the same.
    seen = counted(dynamodb_meter_service.url, work)

    assert seen == {
        "requests": {"PutItem": 1, "GetItem": 1, "TransactWriteItems": 1},
        "read_units": 0.5,  # an eventually consistent read of a small item
        "write_units": 1.0 + 4.0,  # a put; a transaction of two puts, each billed twice
        "errors": 0,
    }


def test_meter_counts_refused_requests_as_errors(client: Any, dynamodb_meter_service: stack.Service) -> None:
    def missing_table() -> None:
        with pytest.raises(client.exceptions.ResourceNotFoundException):
            client.get_item(TableName=f"absent-{uuid.uuid4().hex[:8]}", Key={"pk": {"S": "a"}})

    seen = counted(dynamodb_meter_service.url, missing_table)

    assert seen["requests"] == {"GetItem": 1}
    assert seen["errors"] == 1
    assert seen["read_units"] == 0


def test_capacity_is_requested_only_where_the_operation_takes_it_and_never_narrowed() -> None:
    plain = json.dumps({"TableName": "t", "Key": {"pk": {"S": "a"}}}).encode()
    indexes = json.dumps({"TableName": "t", "ReturnConsumedCapacity": "INDEXES"}).encode()

    assert json.loads(dynamodb_meter.with_capacity_requested("GetItem", plain))["ReturnConsumedCapacity"] == "TOTAL"
    assert dynamodb_meter.with_capacity_requested("GetItem", indexes) == indexes
    assert dynamodb_meter.with_capacity_requested("DescribeTable", plain) == plain


def test_capacity_units_add_up_batch_and_transaction_responses() -> None:
    assert dynamodb_meter.capacity_units({"ConsumedCapacity": {"TableName": "t", "CapacityUnits": 1.5}}) == 1.5
    assert dynamodb_meter.capacity_units({"ConsumedCapacity": [{"CapacityUnits": 4.0}, {"CapacityUnits": 2.0}]}) == 6.0
    assert dynamodb_meter.capacity_units({"Item": {}}) == 0.0
