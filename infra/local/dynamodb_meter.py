"""A counting HTTP proxy in front of DynamoDB Local: what a server asks of DynamoDB, seen from outside.

Point any DynamoDB client at it (``AWS_ENDPOINT_URL_DYNAMODB``, the AWS SDK's ``endpoint``) and
it forwards every request unchanged but for one field: each data-plane request is sent with
``ReturnConsumedCapacity: TOTAL`` (unless the client asked for more), so every response carries
the capacity units DynamoDB charged. It counts requests by operation (the ``X-Amz-Target``
header) and sums the units, split into read and write units by operation, since on-demand
prices them differently. The response goes back as DynamoDB Local sent it; clients ignore a
``ConsumedCapacity`` they did not ask for, and its checksum still matches.

Changing the body invalidates the request's SigV4 signature. DynamoDB Local does not verify
signatures (the bench's harness test relies on that and would fail if it started to).

    GET  /_meter          {"requests": {"PutItem": 3}, "read_units": 1.5, "write_units": 3.0, ...}
    POST /_meter/reset    zero the counters

Run it from the repo root::

    python -m infra.local.dynamodb_meter --port 8001 --upstream http://127.0.0.1:8000
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
import threading
from typing import Any
from urllib.parse import urlsplit

from infra.local import stack
from infra.local.http_support import StandInRequestHandler, StandInServer, serve_until_terminated

METER_PATH = "/_meter"

READ_OPERATIONS = frozenset({"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"})
WRITE_OPERATIONS = frozenset(
    {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
)
# PartiQL statements may read or write; their units are counted apart.
STATEMENT_OPERATIONS = frozenset({"ExecuteStatement", "BatchExecuteStatement", "ExecuteTransaction"})
CAPACITY_OPERATIONS = READ_OPERATIONS | WRITE_OPERATIONS | STATEMENT_OPERATIONS

# Headers http.client sets itself, or that must not pass a hop.
_HOP_HEADERS = frozenset(
    {"host", "content-length", "connection", "keep-alive", "transfer-encoding", "accept-encoding", "expect"}
)


def operation_of(target: str | None) -> str:
    """``DynamoDB_20120810.PutItem`` -> ``PutItem``; a request without the header is counted as ``(none)``."""
    if not target:
        return "(none)"
    return target.rsplit(".", 1)[-1]


def capacity_units(response: Any) -> float:
    """Units in a response's ``ConsumedCapacity``: one object, or a list (batch and transaction calls)."""
    if not isinstance(response, dict):
        return 0.0
    consumed = response.get("ConsumedCapacity")
    entries = consumed if isinstance(consumed, list) else [consumed] if isinstance(consumed, dict) else []
    return float(sum(entry.get("CapacityUnits", 0) or 0 for entry in entries))


def with_capacity_requested(operation: str, body: bytes) -> bytes:
    """The request body asking for capacity figures, or the body unchanged when it cannot carry the field."""
    if operation not in CAPACITY_OPERATIONS or not body:
        return body
    try:
        request = json.loads(body)
    except ValueError:
        return body  # DynamoDB Local will answer the malformed body itself
    if not isinstance(request, dict) or request.get("ReturnConsumedCapacity") in ("TOTAL", "INDEXES"):
        return body
    request["ReturnConsumedCapacity"] = "TOTAL"
    return json.dumps(request, separators=(",", ":")).encode()


class Meter:
    """Counters shared by the proxy's request threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._requests: dict[str, int] = {}
            self._units: dict[str, float] = {}
            self._errors: dict[str, int] = {}

    def record(self, operation: str, units: float, failed: bool) -> None:
        with self._lock:
            self._requests[operation] = self._requests.get(operation, 0) + 1
            self._units[operation] = self._units.get(operation, 0.0) + units
            if failed:
                self._errors[operation] = self._errors.get(operation, 0) + 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            units = dict(self._units)
            return {
                "requests": dict(self._requests),
                "units": units,
                "errors": dict(self._errors),
                "total_requests": sum(self._requests.values()),
                "read_units": sum(v for op, v in units.items() if op in READ_OPERATIONS),
                "write_units": sum(v for op, v in units.items() if op in WRITE_OPERATIONS),
                "statement_units": sum(v for op, v in units.items() if op in STATEMENT_OPERATIONS),
            }


class MeterHandler(StandInRequestHandler):
    server: MeterServer

    def do_GET(self) -> None:
        if self.path == METER_PATH:
            self._answer_json(self.server.meter.snapshot())
        else:
            self._forward()

    def do_POST(self) -> None:
        if self.path == f"{METER_PATH}/reset":
            self.server.meter.reset()
            self._answer_json({"reset": True})
        else:
            self._forward()

    def _answer_json(self, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        operation = operation_of(self.headers.get("X-Amz-Target"))
        body = with_capacity_requested(operation, body)
        headers = {name: value for name, value in self.headers.items() if name.lower() not in _HOP_HEADERS}
        try:
            status, reason, response_headers, response_body = self.server.upstream(self.command, self.path, body, headers)
        except (OSError, http.client.HTTPException) as unreachable:
            self.server.meter.record(operation, 0.0, failed=True)
            self.send_error(502, f"DynamoDB Local did not answer: {unreachable}")
            return

        units = 0.0
        if operation in CAPACITY_OPERATIONS and status == 200:
            try:
                units = capacity_units(json.loads(response_body))
            except ValueError:
                units = 0.0
        self.server.meter.record(operation, units, failed=status >= 400)

        self.send_response(status, reason)
        for name, value in response_headers:
            if name.lower() not in _HOP_HEADERS:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response_body)))
        self.end_headers()
        self.wfile.write(response_body)


class MeterServer(StandInServer):
    def __init__(self, port: int, upstream_url: str) -> None:
        super().__init__((stack.LOOPBACK, port), MeterHandler)
        parts = urlsplit(upstream_url)
        if parts.scheme != "http" or not parts.hostname or not parts.port:
            raise ValueError(f"--upstream must be http://host:port, not {upstream_url!r}")
        self._upstream_address = (parts.hostname, parts.port)
        self._connections = threading.local()
        self.meter = Meter()

    def upstream(
        self, method: str, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, str, list[tuple[str, str]], bytes]:
        """One round trip to DynamoDB Local on this thread's kept-alive connection (reopened once if it went stale)."""
        for attempt in (1, 2):
            connection = getattr(self._connections, "connection", None)
            if connection is None:
                connection = http.client.HTTPConnection(*self._upstream_address, timeout=60)
                self._connections.connection = connection
            try:
                connection.request(method, path, body=body, headers=headers)
                response = connection.getresponse()
                return response.status, response.reason, response.getheaders(), response.read()
            except (OSError, http.client.HTTPException):
                connection.close()
                self._connections.connection = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def start(upstream_url: str, port: int | None = None) -> stack.Service:
    """The proxy as a local service in front of ``upstream_url``; clients use ``env["AWS_ENDPOINT_URL_DYNAMODB"]``."""
    port = port or stack.free_port()
    url = f"http://{stack.LOOPBACK}:{port}"
    return stack.Service(
        name="dynamodb-meter",
        argv=[sys.executable, "-m", "infra.local.dynamodb_meter", "--port", str(port), "--upstream", upstream_url],
        port=port,
        url=url,
        env={"AWS_ENDPOINT_URL_DYNAMODB": url},
        cwd=stack.REPO_ROOT,
        child_env={
            "PYTHONPATH": os.pathsep.join(filter(None, [str(stack.REPO_ROOT), os.environ.get("PYTHONPATH")])),
            "PYTHONUNBUFFERED": "1",
        },
    ).start()


def read_meter(url: str) -> dict[str, Any]:
    connection = http.client.HTTPConnection(urlsplit(url).hostname, urlsplit(url).port, timeout=10)
    try:
        connection.request("GET", METER_PATH)
        return json.loads(connection.getresponse().read())
    finally:
        connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="DynamoDB Local's URL, http://host:port")
    args = parser.parse_args()
    server = MeterServer(args.port, args.upstream)
    serve_until_terminated(server, f"dynamodb meter on {stack.LOOPBACK}:{args.port} -> {args.upstream}")


if __name__ == "__main__":
    main()
