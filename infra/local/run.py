"""Serve the memkit HTTP API on this machine (``make run``).

Defaults to the embedded libSQL file store and no auth. ``MEMKIT_CACHE=upstash-local``
also starts redis-server and the Upstash REST gateway over it. Services started
here are stopped when the server exits (Ctrl-C included).
"""

from __future__ import annotations

import os
import sys

from infra.local import stack

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
    from memkit.settings import Settings
    from memkit.vector.factory import create_vector_store

    settings = Settings.from_env()
    if settings.vector_url != "none":
        create_vector_store(settings).close()


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


def main() -> int:
    port = int(os.environ.get("MEMKIT_PORT") or 8000)
    _apply_defaults()
    from memkit.errors import ConfigurationError

    try:
        _check_vectors()
    except ConfigurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    started: list[stack.Service] = []
    try:
        if os.environ.get("MEMKIT_CACHE") == "upstash-local":
            _start_cache(started)
        # Imported late: uvicorn is the server, and the app reads settings once
        # from the environment completed above.
        import uvicorn

        _print_usage(f"http://127.0.0.1:{port}")
        uvicorn.run("memkit.api.app:create_app", factory=True, host="127.0.0.1", port=port)
    finally:
        for service in reversed(started):
            service.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
