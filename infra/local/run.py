"""Serve the memkit HTTP API on this machine (``make run``).

Defaults to the embedded libSQL file store and no auth. ``MEMKIT_CACHE=upstash-local``
also starts redis-server and the Upstash REST gateway over it. Services started
here are stopped when the server exits (Ctrl-C included).
"""

from __future__ import annotations

import errno
import os
import socket
import sys

from infra.local import stack
from memkit.errors import ConfigurationError

DEFAULTS = {
    "MEMKIT_STORAGE_URL": "file:./memkit.db",
    "MEMKIT_AUTH": "none",
}
LOCAL_AGENT_CONFIG = "memkit.toml"


def _apply_defaults() -> None:
    for name, value in DEFAULTS.items():
        os.environ.setdefault(name, value)
    # The repository's memkit.toml turns on titles, working memory and semantic recall, so a
    # fresh `make run` shows the whole memory model with no servers.
    if os.path.exists(LOCAL_AGENT_CONFIG):
        os.environ.setdefault("MEMKIT_CONFIG", LOCAL_AGENT_CONFIG)
    storage_url = os.environ["MEMKIT_STORAGE_URL"]
    if storage_url.startswith("file:"):
        # Vectors live in the same libSQL file as the messages.
        os.environ.setdefault("MEMKIT_VECTOR_URL", storage_url)


def _start_cache(started: list[stack.Service]) -> None:
    redis = stack.start_redis()
    started.append(redis)
    gateway = stack.start_upstash_gateway(redis_port=redis.port)
    started.append(gateway)
    os.environ.update(gateway.env)
    # From here the app sees an ordinary Upstash database: "upstash-local" only tells this
    # launcher to start one, so production code never has to know about the stand-in.
    os.environ["MEMKIT_CACHE"] = "upstash"
    print(f"cache: Upstash gateway {gateway.url} over redis-server on port {redis.port}")


def _check_vectors() -> None:
    """Open the vector index before serving: one that another embedder made (a ./memkit.db
    indexed before the embedded default became the local model) stops the server here, with the
    command that re-indexes it, instead of failing every request with a 500."""
    from memkit.composition import vector_store
    from memkit.settings import Settings

    vectors = vector_store(Settings.from_env())
    if vectors is not None:
        vectors.close()


def _print_usage(base_url: str) -> None:
    print(
        f"memkit API on {base_url}  (storage {os.environ['MEMKIT_STORAGE_URL']}, "
        f"auth {os.environ['MEMKIT_AUTH']}, cache {os.environ.get('MEMKIT_CACHE', 'none')})\n"
        "try:\n"
        f"  curl -s -X POST {base_url}/api/memory/threads -H 'content-type: application/json' "
        "-d '{\"resourceId\":\"user-1\",\"title\":\"Hello\"}'\n"
        f"  curl -s '{base_url}/api/memory/threads?resourceId=user-1'\n",
        flush=True,
    )


class StartupError(Exception):
    """A reason not to serve, said in one line."""


def _port() -> int:
    raw = os.environ.get("MEMKIT_PORT") or "8000"
    try:
        port = int(raw)
    except ValueError:
        raise StartupError(f"MEMKIT_PORT must be a port number, got {raw!r}") from None
    if not 0 < port < 65536:
        raise StartupError(f"MEMKIT_PORT must be between 1 and 65535, got {port}")
    return port


def _bind(port: int) -> socket.socket:
    """The listening socket, bound before the banner says where to connect."""
    # IPPROTO_TCP spelled out: asyncio turns Nagle's algorithm off only on sockets whose
    # protocol says TCP, and with 0 every answer on a kept-alive connection waited ~40 ms.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise StartupError(
                f"port {port} is already in use (another make run?): stop it or choose another with MEMKIT_PORT=8001 make run"
            ) from None
        raise StartupError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}") from None
    sock.listen(2048)
    return sock


def main() -> int:
    started: list[stack.Service] = []
    try:
        port = _port()
        _apply_defaults()
        if os.environ.get("MEMKIT_CACHE") == "upstash-local":
            _start_cache(started)
        # Imported late: the app reads settings once from the environment completed above.
        import uvicorn

        from memkit.api.app import create_app

        # Built before the port is bound: a bad setting stops here, with its one line, and so
        # does a vector index another embedder made (with the command that re-indexes it).
        _check_vectors()
        app = create_app()
        sock = _bind(port)
        _print_usage(f"http://127.0.0.1:{port}")
        # memkit writes one line per request itself; uvicorn's access line would be a second.
        config = uvicorn.Config(app, access_log=False, log_level="warning")
        uvicorn.Server(config).run(sockets=[sock])
    except (StartupError, ConfigurationError) as exc:
        print(f"make run: {exc}", file=sys.stderr)
        return 1
    finally:
        for service in reversed(started):
            service.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
