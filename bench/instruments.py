"""Instruments for the benches and the tests: counting what a store asks of its backend.

``RequestCounter`` records every DynamoDB call made through a store's botocore client, with the
items it read and the capacity it consumed. The request budgets of ``docs/dynamodb.md`` and
``docs/domains.md`` are asserted with it (``tests/storage/dynamodb/test_request_budgets.py``)
and ``make bench`` prints its counts. It lives here, not in the library, so the shipped layer
never defines it.
"""

from __future__ import annotations

import threading
from typing import Any, NamedTuple

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
    ``store`` is anything with a ``botocore_client``: the memory store, or a domain adapter's.

    It hooks the botocore client's event system (``before-parameter-build`` / ``after-call``),
    so it sees pynamodb's calls and raw client calls alike, from any thread::

        with RequestCounter(store) as counter:
            store.list_messages(...)
        assert counter.count("Query") == 1

    With ``consumed_capacity`` (the default) every data call asks for
    ``ReturnConsumedCapacity=TOTAL`` (pynamodb already does for its own calls).
    """

    def __init__(self, store: Any, *, consumed_capacity: bool = True):
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
