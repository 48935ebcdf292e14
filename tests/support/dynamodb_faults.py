"""Steering the fault-injecting DynamoDB proxy (``infra/local/dynamodb_faults.py``) through its
``/_faults`` API, and a store that talks to DynamoDB through it with no SDK retries."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from memkit.storage.memory.dynamodb.store import DynamoDBStore


@dataclass
class DynamoDBFaults:
    url: str

    @property
    def _control(self) -> str:
        return f"{self.url}/_faults"

    def inject(
        self,
        rate: float,
        *,
        seed: int,
        kinds: tuple[str, ...] = ("throttle", "error", "error-after"),
        operations: tuple[str, ...] | None = None,
    ) -> None:
        """Fail ``rate`` of the requests (of ``operations`` only, when given) from now on."""
        config = {"rate": rate, "seed": seed, "kinds": list(kinds), "operations": None if operations is None else list(operations)}
        httpx.put(self._control, json=config, timeout=5).raise_for_status()

    def script(self, *steps: str, operations: tuple[str, ...] | None = None) -> None:
        """The outcomes of the next requests (of ``operations`` only, when given), in order:
        ``"throttle"``, ``"error"``, ``"error-after"`` or ``"pass"``; then everything passes."""
        config = {"script": list(steps), "operations": None if operations is None else list(operations)}
        httpx.put(self._control, json=config, timeout=5).raise_for_status()

    def stop(self) -> None:
        httpx.delete(self._control, timeout=5).raise_for_status()

    def counts(self) -> dict[str, Any]:
        """``{"requests": {operation: n}, "injected": {kind: {operation: n}}, ...}``"""
        response = httpx.get(self._control, timeout=5)
        response.raise_for_status()
        return response.json()

    @contextlib.contextmanager
    def injecting(self, rate: float, **options: Any) -> Iterator[DynamoDBFaults]:
        self.inject(rate, **options)
        try:
            yield self
        finally:
            self.stop()


def without_sdk_retries(store: DynamoDBStore) -> None:
    """Turn botocore's retries off for ``store``'s client (shared by every store on the same
    table and endpoint), so each injected fault reaches memkit instead of being retried away.
    botocore registers its retry handler under this id (botocore.retries.standard)."""
    store.botocore_client.meta.events.unregister("needs-retry.dynamodb", unique_id="retry-config-dynamodb")
