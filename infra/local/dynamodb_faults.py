"""A fault-injecting HTTP proxy in front of DynamoDB Local.

Every DynamoDB request (``POST /`` with ``X-Amz-Target: DynamoDB_20120810.<Operation>``) is
forwarded to the upstream unchanged, except a configurable share of them, chosen by a seeded
random sequence, which fail in one of three ways:

* ``throttle``: answered at once with 400 ``ProvisionedThroughputExceededException``; nothing is
  forwarded, so nothing is written (what DynamoDB means by a throttle);
* ``error``: answered at once with 500 ``InternalServerError``; nothing is written, but the
  client cannot tell that from the next kind;
* ``error-after``: forwarded, and the upstream's answer replaced by 500 ``InternalServerError``:
  the write happened, the client sees a failure (a lost response).

The error bodies are DynamoDB's JSON 1.0 error shape, so SDKs parse them as the real service's.
Decisions are drawn in arrival order from ``random.Random(seed)``: one sequence of requests
meets the same faults every time.

Tests steer it through ``/_faults`` (never called by production code):

* ``PUT /_faults`` ``{"rate": 0.6, "seed": 7, "kinds": ["throttle", "error", "error-after"],
  "operations": ["TransactWriteItems"]}`` starts injecting (``operations`` absent or null: all);
  ``"script": ["error-after", "pass", "error"]`` instead gives the outcomes of the next eligible
  requests in order, then passes everything. The counts start again from zero;
* ``GET /_faults`` answers the configuration and the counts: ``requests`` and ``injected`` by
  kind, each also by operation;
* ``DELETE /_faults`` stops injecting (the counts stay readable).

Run it from the repo root::

    python -m infra.local.dynamodb_faults --port 8001 --upstream http://127.0.0.1:8000
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import threading
import uuid
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

from infra.local.http_support import StandInRequestHandler, StandInServer, serve_until_terminated

CONTROL_PATH = "/_faults"
KINDS = ("throttle", "error", "error-after")
TARGET_PREFIX = "DynamoDB_20120810."
# Not forwarded: they describe one hop, and the proxy frames its own answers.
HOP_HEADERS = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length", "host"})

_ERRORS = {
    "throttle": (
        400,
        "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
        "The level of configured provisioned throughput for the table was exceeded (injected fault)",
    ),
    "error": (500, "com.amazon.coral.service#InternalServerError", "Internal server error (injected fault)"),
    "error-after": (
        500,
        "com.amazon.coral.service#InternalServerError",
        "Internal server error (injected fault, after the request was applied)",
    ),
}


class FaultPlan:
    """Which requests fail, and how; the counts of what happened. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.rate = 0.0
        self.seed: int | None = None
        self.kinds: tuple[str, ...] = KINDS
        self.operations: frozenset[str] | None = None
        self._random = random.Random()
        self._script: list[str] = []
        self.requests: Counter[str] = Counter()
        self.injected: dict[str, Counter[str]] = {kind: Counter() for kind in KINDS}

    def configure(self, config: dict[str, Any]) -> None:
        rate = config.get("rate", 0.0)
        kinds = tuple(config.get("kinds") or KINDS)
        operations = config.get("operations")
        script = list(config.get("script") or [])
        if any(step not in (*KINDS, "pass") for step in script):
            raise ValueError(f"script steps must be some of {(*KINDS, 'pass')}, got {script!r}")
        if not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
            raise ValueError(f"rate must be between 0 and 1, got {rate!r}")
        if not kinds or any(kind not in KINDS for kind in kinds):
            raise ValueError(f"kinds must be some of {KINDS}, got {kinds!r}")
        if operations is not None and not (isinstance(operations, list) and all(isinstance(o, str) for o in operations)):
            raise ValueError(f"operations must be a list of DynamoDB operation names, got {operations!r}")
        with self._lock:
            self.rate = float(rate)
            self.seed = config.get("seed")
            self.kinds = kinds
            self.operations = None if operations is None else frozenset(operations)
            self._random = random.Random(self.seed)
            self._script = script
            self.requests = Counter()
            self.injected = {kind: Counter() for kind in KINDS}

    def stop(self) -> None:
        with self._lock:
            self.rate = 0.0
            self._script = []

    def decide(self, operation: str) -> str | None:
        """The fault for the next request (None: forward it untouched), counted."""
        with self._lock:
            self.requests[operation] += 1
            if self.operations is not None and operation not in self.operations:
                return None
            if self._script:
                step = self._script.pop(0)
                if step == "pass":
                    return None
                self.injected[step][operation] += 1
                return step
            if self.rate == 0:
                return None
            # Two draws per eligible request whatever the outcome, so the sequence of decisions
            # depends only on the seed and the order of eligible requests.
            failing = self._random.random() < self.rate
            kind = self.kinds[self._random.randrange(len(self.kinds))]
            if not failing:
                return None
            self.injected[kind][operation] += 1
            return kind

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {
                "rate": self.rate,
                "seed": self.seed,
                "kinds": list(self.kinds),
                "operations": None if self.operations is None else sorted(self.operations),
                "script": list(self._script),
                "requests": dict(self.requests),
                "injected": {kind: dict(counts) for kind, counts in self.injected.items()},
            }


class FaultProxyServer(StandInServer):
    def __init__(self, address: tuple[str, int], upstream: str):
        super().__init__(address, FaultProxyHandler)
        parts = urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname or not parts.port:
            raise ValueError(f"--upstream must be http://host:port, got {upstream!r}")
        self.upstream = (parts.hostname, parts.port)
        self.plan = FaultPlan()


class FaultProxyHandler(StandInRequestHandler):
    server: FaultProxyServer

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        if self.path == CONTROL_PATH:
            self._send_json(200, self.server.plan.describe())
        else:
            self._forward(self._body())

    def do_PUT(self) -> None:  # noqa: N802
        body = self._body()
        if self.path != CONTROL_PATH:
            self._send_json(404, {"message": f"no such control path {self.path}"})
            return
        try:
            self.server.plan.configure(json.loads(body or b"{}"))
        except (ValueError, json.JSONDecodeError) as exc:
            self._send_json(400, {"message": str(exc)})
            return
        self._send_json(200, self.server.plan.describe())

    def do_DELETE(self) -> None:  # noqa: N802
        self._body()
        if self.path != CONTROL_PATH:
            self._send_json(404, {"message": f"no such control path {self.path}"})
            return
        self.server.plan.stop()
        self._send_json(200, self.server.plan.describe())

    def do_POST(self) -> None:  # noqa: N802
        body = self._body()
        target = self.headers.get("X-Amz-Target", "")
        operation = target.removeprefix(TARGET_PREFIX) if target.startswith(TARGET_PREFIX) else "unknown"
        fault = self.server.plan.decide(operation)
        if fault == "error-after":
            # Applied upstream; the answer is lost on the way back.
            self._exchange(body)
        if fault is not None:
            status, error_type, message = _ERRORS[fault]
            self._send_json(status, {"__type": error_type, "message": message}, amz_json=True)
            return
        self._forward(body)

    # ------------------------------------------------------------ plumbing

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _upstream(self) -> http.client.HTTPConnection:
        # One keep-alive connection per handler thread (one per client connection).
        connection = getattr(self, "_connection", None)
        if connection is None:
            host, port = self.server.upstream
            connection = self._connection = http.client.HTTPConnection(host, port, timeout=30)
        return connection

    def _exchange(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        headers = {name: value for name, value in self.headers.items() if name.lower() not in HOP_HEADERS}
        for attempt in (1, 2):
            connection = self._upstream()
            try:
                connection.request(self.command, self.path, body=body, headers=headers)
                response = connection.getresponse()
                return response.status, response.getheaders(), response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # The upstream closed an idle keep-alive connection: reconnect once.
                connection.close()
                self._connection = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _forward(self, body: bytes) -> None:
        status, headers, payload = self._exchange(body)
        self.send_response(status)
        for name, value in headers:
            if name.lower() not in HOP_HEADERS:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _send_json(self, status: int, payload: Any, *, amz_json: bool = False) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.0" if amz_json else "application/json")
        self.send_header("x-amzn-RequestId", uuid.uuid4().hex)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--port", type=int, required=True, help="HTTP port; 0 picks a free one")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--upstream", required=True, help="DynamoDB Local's URL, http://host:port")
    args = parser.parse_args(argv)

    server = FaultProxyServer((args.host, args.port), args.upstream)
    host, port = server.server_address[:2]
    serve_until_terminated(server, f"ready dynamodb-faults http://{host}:{port} upstream={args.upstream}")


if __name__ == "__main__":
    main()
