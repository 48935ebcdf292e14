"""One botocore session per process, and the clients memkit builds from it.

Every AWS client memkit makes (the table's, SQS, Bedrock, and the Secrets Manager / SSM client
that reads ``secretsmanager:``/``ssm:`` settings) comes from this one session, so endpoint
data, the credential chain and the configuration are loaded once per process instead of once
per client: on a cold start that read a key from Secrets Manager, a second session cost about
9 ms. The clients are plain botocore clients, which is all boto3's ``boto3.client`` returns
too, so nothing here imports boto3 (a third of a cold start).

botocore sessions are not safe for concurrent client creation and the API serves requests
from a thread pool, hence the lock around every ``create_client``; a client, once built, is
thread-safe and shared.
"""

from __future__ import annotations

import threading
from typing import Any

_session: Any = None
_session_lock = threading.RLock()


def botocore_session() -> Any:
    """The process's botocore session (credentials, region and endpoints from the standard
    AWS variables and files, as boto3's default session reads them)."""
    global _session
    with _session_lock:
        if _session is None:
            from botocore.session import get_session

            _session = get_session()
        return _session


def create_client(service: str, **config: Any) -> Any:
    """A new botocore client for ``service`` from the process session; ``config`` are
    ``botocore.config.Config`` options."""
    from botocore.config import Config

    with _session_lock:
        return botocore_session().create_client(service, config=Config(**config) if config else None)


def share_session_with(connection: Any) -> Any:
    """Make a pynamodb ``Connection`` build its client from the process session, and build it
    now, under the lock (pynamodb would otherwise make a session of its own per thread, and
    create its client lazily without a lock). Returns the client."""
    with _session_lock:
        # pynamodb keeps its session in a thread-local and only makes one when it finds none.
        connection._local.session = botocore_session()
        return connection.client


class LazyClient:
    """A client built on first use: most API requests never enqueue or call a model."""

    def __init__(self, service: str, *, client: Any = None, **config: Any):
        self._service = service
        self._config = config
        self._client = client
        self._lock = threading.Lock()

    def get(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = create_client(self._service, **self._config)
            return self._client
