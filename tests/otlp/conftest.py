"""The ``otlp_endpoint`` fixture: ``sdk.OtlpEndpoint`` served once per test session."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.otlp.sdk import Exchange, OtlpEndpoint, answer


@pytest.fixture(scope="session")
def otlp_endpoint() -> Iterator[OtlpEndpoint]:
    exchanges: list[Exchange] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = self._body()
            content_type, encoding = self.headers.get("Content-Type"), self.headers.get("Content-Encoding")
            status, result, response, response_type = answer(content_type, encoding, body)
            exchanges.append(Exchange(content_type, encoding, body, status, result, response))
            self.send_response(status)
            self.send_header("Content-Type", response_type)
            self.send_header("Content-Length", str(len(response)))
            self.end_headers()
            self.wfile.write(response)

        def _body(self) -> bytes:
            """The request body; Node's HTTP client sends it chunked, without a Content-Length."""
            if self.headers.get("Transfer-Encoding", "").lower() != "chunked":
                return self.rfile.read(int(self.headers.get("Content-Length", "0")))
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0], 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            self.rfile.readline()
            return b"".join(chunks)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: pytest shows the test's own output."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield OtlpEndpoint(f"http://127.0.0.1:{server.server_port}/v1/traces", exchanges)
    server.shutdown()
    server.server_close()
    thread.join()
