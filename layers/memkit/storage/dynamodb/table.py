"""The one DynamoDB table every domain shares: its definition, the pynamodb ``Item`` base bound
to it, and creating it.

The table is ``PK``/``SK`` with two generic indexes, ``GSI1`` and ``GSI2`` (``table_definition``;
``template.yaml`` declares the same table and a test compares the two). Each domain declares its
items as subclasses of the table's polymorphic ``Item`` (``entity_class``), told apart by their
``entity`` attribute, under key prefixes of its own (the table in this package's docstring).
Every adapter on one table shares one ``TableModels``, hence one botocore client and pool.
"""

from __future__ import annotations

import functools
import json
import threading
import types
from datetime import datetime
from typing import Any, NamedTuple

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.attributes import Attribute, DiscriminatorAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.constants import STRING
from pynamodb.expressions.update import Action
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from memkit.clients.aws import share_session_with
from memkit.errors import ConfigurationError, PayloadTooLargeError
from memkit.models import format_ts, parse_ts
from memkit.storage.common import dumps
from memkit.storage.dynamodb.errors import translated_errors

TTL_ATTRIBUTE = "ttl"
MAX_ITEM_BYTES = 400 * 1024


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


class TimestampAttribute(Attribute[datetime]):
    """``format_ts`` text: sorts as time and round-trips to the millisecond."""

    attr_type = STRING

    def serialize(self, value: datetime) -> str:
        return format_ts(value)

    def deserialize(self, value: str) -> datetime:
        return parse_ts(value)


class JSONTextAttribute(Attribute[Any]):
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

    @property
    def table_name(self) -> str:
        return self.item.Meta.table_name

    @property
    def table_connection(self) -> Any:
        return self.item._get_connection()

    @property
    def client(self) -> Any:
        """The table's botocore client, shared by every adapter on the table."""
        return self.table_connection.connection.client


@functools.lru_cache(maxsize=None)
def table_models(table_name: str, region: str | None, host: str | None, endpoint_hint: str | None) -> TableModels:
    """One ``Item`` base per table (pynamodb binds table and endpoint on ``Meta``; a global
    ``Meta`` must never be mutated). ``endpoint_hint`` only keys the cache: botocore resolves
    ``AWS_ENDPOINT_URL_DYNAMODB`` itself when ``host`` is None."""
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

    # Build the connection on the base class first: the domains' item classes inherit it, so the
    # whole table shares one botocore client (one connection pool, one place to hook instruments).
    share_session_with(Item._get_connection().connection)
    return TableModels(item=Item)


def entity_class(models: TableModels, name: str, attributes: dict[str, Any]) -> type:
    """A subclass of the table's ``Item`` with discriminator ``name`` (the item's ``entity``
    attribute) and the given pynamodb attributes. Build it once per table (``functools.cache``
    the caller): pynamodb registers each discriminator on the base class."""
    class_name = f"{name.title().replace('_', '')}Item"
    return types.new_class(class_name, (models.item,), {"discriminator": name}, lambda body: body.update(attributes))


def set_or_remove(attribute: Any, value: Any) -> Action:
    # pynamodb turns set(None) into a NULL value; an absent attribute is what reads back as None.
    return attribute.remove() if value is None else attribute.set(value)


def item_size(serialized: dict[str, dict[str, Any]]) -> int:
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


def checked_size(item: Any, what: str) -> int:
    """The item's size in bytes as DynamoDB counts it; ``PayloadTooLargeError`` naming
    ``what`` when it is over the 400 KB item limit (check before writing anything)."""
    size = item_size(item.serialize())
    if size > MAX_ITEM_BYTES:
        raise PayloadTooLargeError(f"{what} is {size} bytes as a DynamoDB item, over DynamoDB's 400 KB item limit")
    return size


def open_table(
    table_name: str,
    *,
    create_table: bool = False,
    region: str | None = None,
    endpoint_url: str | None = None,
    endpoint_hint: str | None = None,
) -> TableModels:
    """The table's pynamodb models, resolved the same way for every adapter on the table (the
    memory store and the other domains), so they share the cached models and their client.

    ``region`` None leaves it to botocore (``AWS_DEFAULT_REGION``, config files); the composition
    root passes ``Settings.aws_region``. ``endpoint_hint`` keys the model cache by the endpoint
    botocore will resolve (``Settings.dynamodb_endpoint``), so tables of the same name behind two
    endpoints never share a client; ``endpoint_url`` sets the endpoint itself."""
    models = table_models(table_name, region, endpoint_url, endpoint_url or endpoint_hint)
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
        client = models.client
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
