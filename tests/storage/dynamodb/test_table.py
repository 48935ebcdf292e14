"""The shared table on DynamoDB Local: created from ``table_definition`` exactly, once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from memkit.storage.dynamodb.table import TTL_ATTRIBUTE, _create_table_if_missing, table_definition
from memkit.storage.memory.dynamodb.store import DynamoDBStore
from tests.storage.dynamodb.support import TABLE, new_thread, open_budget_store

pytestmark = pytest.mark.dynamodb


@pytest.fixture(scope="module")
def store(dynamodb_endpoint: str) -> Iterator[DynamoDBStore]:
    yield from open_budget_store()


def test_created_table_matches_table_definition(store: DynamoDBStore):
    # Given the table the store created on first use
    client = store.botocore_client
    described = client.describe_table(TableName=TABLE)["Table"]
    wanted = table_definition(TABLE)

    # Then keys, attribute types, indexes and billing are exactly the definition
    assert described["KeySchema"] == wanted["KeySchema"]
    assert sorted(described["AttributeDefinitions"], key=lambda a: a["AttributeName"]) == sorted(
        wanted["AttributeDefinitions"], key=lambda a: a["AttributeName"]
    )
    indexes = {
        index["IndexName"]: (index["KeySchema"], index["Projection"]) for index in described["GlobalSecondaryIndexes"]
    }
    assert indexes == {
        index["IndexName"]: (index["KeySchema"], index["Projection"]) for index in wanted["GlobalSecondaryIndexes"]
    }
    assert described["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"

    # And TTL is on the ttl attribute
    ttl = client.describe_time_to_live(TableName=TABLE)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", TTL_ATTRIBUTE)


def test_creating_the_table_again_is_a_no_op(store: DynamoDBStore):
    # Given a table holding a thread
    thread = new_thread(store)
    client = store.botocore_client
    created = client.describe_table(TableName=TABLE)["Table"]["CreationDateTime"]

    # When another container asks for the same table (the per-process memo of tables already
    # ensured is bypassed: a new container does not have it)
    _create_table_if_missing(client, TABLE)
    DynamoDBStore(TABLE, create_table=True).close()

    # Then the table was neither recreated nor emptied
    assert client.describe_table(TableName=TABLE)["Table"]["CreationDateTime"] == created
    assert store.get_thread(thread.id) == thread
