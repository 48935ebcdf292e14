"""Secret references: a setting given as ``ssm:/path/to/param`` or ``secretsmanager:<name-or-arn>``
is read through Powertools Parameters when an adapter first needs it, so a cold start that never
uses the Pinecone key (say) never fetches it. A plain value passes through unchanged.

Adapters hold the setting as given and call ``resolve_secret`` at first use; the API's
authenticator starts the fetch of its key early with ``prefetch_secret`` (see ``docs/deploy.md``
for where each secret lives).
"""

from __future__ import annotations

import logging
import threading
from functools import lru_cache
from typing import Any

SECRET_REFERENCE_PREFIXES = ("ssm:", "secretsmanager:")
# Fetches started by prefetch_secret, by reference, until a resolve_secret waits for them.
_prefetches: dict[str, threading.Thread] = {}
_prefetch_lock = threading.Lock()
logger = logging.getLogger("memkit.secrets")


def is_reference(value: str | None) -> bool:
    return value is not None and value.startswith(SECRET_REFERENCE_PREFIXES)


def resolve_secret(value: str | None) -> str | None:
    """A direct value, or ``ssm:/name`` / ``secretsmanager:name`` fetched (and cached for
    5 minutes) through Powertools Parameters. Imported lazily: only deployments that use
    references pay for it."""
    if value is None or not is_reference(value):
        return value
    with _prefetch_lock:
        prefetch = _prefetches.pop(value, None)
    if prefetch is not None:
        prefetch.join()
    # Served from the provider's cache when the prefetch got the value less than 5 minutes
    # ago; fetched again when it is older (a rotated key is picked up) or the prefetch failed.
    return _fetch(value)


def prefetch_secret(value: str | None) -> None:
    """Start fetching a reference in the background, so that the round trip to SSM or Secrets
    Manager overlaps the rest of a cold start instead of delaying the first request, which
    then finds the value in the provider's cache.

    The provider (Powertools and boto3 imports, the client) is built here, in the caller's
    thread: only the call itself runs in the background, so two threads never import the same
    modules at once."""
    if value is None or not is_reference(value):
        return
    _parameter_provider(value.partition(":")[0])

    def fetch() -> None:
        try:
            _fetch(value)
        except Exception as error:
            # Not lost: the first resolve_secret fetches again and raises if it fails too.
            logger.warning("prefetching %s failed, fetching it again on first use: %r", value, error)

    thread = threading.Thread(target=fetch, name="memkit-secret-prefetch", daemon=True)
    # Started before it is published: a thread can only be joined once started.
    thread.start()
    with _prefetch_lock:
        _prefetches[value] = thread


def _fetch(reference: str) -> str | None:
    service, _, name = reference.partition(":")
    if service == "ssm":
        return _parameter_provider("ssm").get(name, decrypt=True, max_age=300)
    return _parameter_provider("secretsmanager").get(name, max_age=300)


@lru_cache(maxsize=None)
def _parameter_provider(service: str) -> Any:
    """Powertools' provider for ``service`` on a client from memkit's one botocore session
    (Powertools' own default providers would each start a boto3 session of their own)."""
    from aws_lambda_powertools.utilities.parameters import SecretsProvider, SSMProvider

    from memkit.clients.aws import create_client

    provider = SSMProvider if service == "ssm" else SecretsProvider
    return provider(boto3_client=create_client(service))
