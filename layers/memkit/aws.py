"""boto3 clients for the adapters that talk to one AWS service each (SQS, Bedrock).

A client is built on first use, importing boto3 only then: most API requests never enqueue or
call a model, and ``import boto3`` is a third of a cold start. Building clients from boto3's
default session is not thread-safe, and the API serves requests from a thread pool, hence the
lock; the client itself is thread-safe once built and is shared.
"""

from __future__ import annotations

import threading
from typing import Any


class LazyClient:
    def __init__(self, service: str, *, client: Any = None, **config: Any):
        self._service = service
        self._config = config
        self._client = client
        self._lock = threading.Lock()

    def get(self) -> Any:
        with self._lock:
            if self._client is None:
                import boto3
                from botocore.config import Config

                self._client = boto3.client(self._service, config=Config(**self._config))
            return self._client
