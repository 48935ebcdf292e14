"""What the stand-in servers in infra/local/ share: the threaded HTTP server and its main loop.

Standard library only, like ``stack``: the stand-ins must start before anything else is known
to work.
"""

from __future__ import annotations

import signal
import socket
import sys
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class StandInServer(ThreadingHTTPServer):
    """A threaded server for many small loopback requests from SDK clients."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = super().get_request()
        # Headers and body go out in separate writes; with Nagle on, the body
        # waits for the client's delayed ACK and every call stalls ~40 ms.
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection, address


class StandInRequestHandler(BaseHTTPRequestHandler):
    # Keep-alive, as the SDKs' connection pools expect.
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        # One line per request would bury the service log that stack.py quotes on failure.
        pass


def serve_until_terminated(server: StandInServer, ready_line: str, *, cleanup: Callable[[], None] | None = None) -> None:
    """Print ``ready_line`` for whoever reads the log, then serve until SIGTERM or Ctrl-C."""
    # SystemExit unwinds serve_forever() on the main thread; shutdown() from a
    # signal handler would deadlock waiting for that same loop.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(ready_line, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        # Ctrl-C is how a developer stops a stand-in run by hand: a clean exit, not an error.
        pass
    finally:
        server.server_close()
        if cleanup is not None:
            cleanup()
