"""Typed settings, read once from the environment.

Handlers and adapters never read ``os.environ`` themselves: ``Settings.from_env()`` is called
once per container (``get_settings()`` caches it) and the result builds the graph of adapters.
Backends are chosen by URL-like values (``file:./memkit.db``, ``dynamodb://table``,
``pinecone://host``...). AWS endpoints, region and credentials are *not* here: boto3/botocore
read the standard variables (``AWS_ENDPOINT_URL_DYNAMODB``, ``AWS_ENDPOINT_URL_SQS``,
``AWS_REGION``...) themselves, so the same code runs against local services and AWS.

Secrets are given either directly (local) or as a reference resolved through Powertools
Parameters: ``ssm:/path/to/param`` or ``secretsmanager:<name-or-arn>``.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from functools import lru_cache
from typing import Any, Mapping, NamedTuple

from memkit.errors import ConfigurationError

AUTH_MODES = ("none", "api-key", "jwt")


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigurationError(f"expected a boolean (1/0/true/false), got {value!r}")


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be an integer, got {raw!r}") from None


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a number, got {raw!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise ConfigurationError(f"{name} must be a positive number, got {raw!r}")
    return value


def in_lambda(env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return bool(env.get("AWS_LAMBDA_FUNCTION_NAME"))


# all-MiniLM-L6-v2's size (MEMKIT_EMBEDDER=local); the others default to 256: what the lexical
# embedder was tuned at, and a size Titan v2 and OpenAI's text-embedding-3 models both produce.
LOCAL_EMBEDDING_DIMENSION = 384
OTHER_EMBEDDING_DIMENSION = 256


def default_embedding_dimension(embedder: str) -> int:
    """The vector size ``MEMKIT_EMBEDDING_DIMENSION`` defaults to for this ``MEMKIT_EMBEDDER``."""
    return LOCAL_EMBEDDING_DIMENSION if embedder.strip() == "local" else OTHER_EMBEDDING_DIMENSION


# Direct values of these may be secrets: repr() and describe() mask them.
SECRET_FIELDS = frozenset({"api_key", "upstash_token", "pinecone_api_key", "openai_api_key"})


class Settings(NamedTuple):
    """Immutable; derive a variant with ``settings._replace(...)``. A NamedTuple rather than a
    frozen dataclass because it is defined on every cold start: 0.1 ms instead of 1.9 for
    a few dozen fields (a frozen dataclass generates and compiles per-field code)."""

    # storage
    storage_url: str = "file:./memkit.db"
    create_tables: bool = True
    config_path: str | None = None  # memkit.toml with the agent registry

    # HTTP API
    auth_mode: str = "none"
    auth_force_none: bool = False
    api_key: str | None = None  # direct value (local) or ssm:/secretsmanager: reference
    jwt_resource_claim: str = "sub"
    max_body_bytes: int = 5 * 1024 * 1024
    tracing: bool = False
    # json: Powertools' JSON lines (CloudWatch); text: one readable line per request (make run)
    log_format: str = "json"
    # CloudWatch metrics (EMF); off outside Lambda, where nothing collects them
    metrics: bool = True
    explorer: bool = False  # serve the memory explorer page at /explorer

    # cache
    cache: str = "none"  # none | upstash
    upstash_url: str | None = None
    upstash_token: str | None = None  # direct value or reference
    cache_timeout_seconds: float = 0.5

    # jobs
    jobs: str = "inprocess"  # inprocess | sqs
    queue_url: str | None = None

    # semantic recall
    vector_url: str = "none"  # none | file:<path> (same libSQL file) | pinecone://<index-host>
    pinecone_api_key: str | None = None  # direct value or reference
    embedder: str = "local"  # local | lexical | openai/<model> | bedrock/<model-id>
    embedding_dimension: int | None = None  # None: the embedder's own (vector_dimension())
    indexing: str = "async"  # async | sync

    # LLM / OpenAI-compatible endpoints
    openai_base_url: str | None = None
    openai_api_key: str | None = None  # direct value or reference
    default_title_model: str = "local"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        lambda_runtime = in_lambda(env)
        queue_url = env.get("MEMKIT_QUEUE_URL") or None
        embedder = env.get("MEMKIT_EMBEDDER") or "local"
        settings = cls(
            storage_url=env.get("MEMKIT_STORAGE_URL") or "file:./memkit.db",
            # In AWS the table comes from template.yaml; creating it at runtime would need
            # dynamodb:CreateTable on the function role, which least privilege forbids.
            create_tables=_flag(env.get("MEMKIT_CREATE_TABLES"), not lambda_runtime),
            config_path=env.get("MEMKIT_CONFIG") or None,
            auth_mode=(env.get("MEMKIT_AUTH") or "none").strip().lower(),
            auth_force_none=_flag(env.get("MEMKIT_AUTH_FORCE_NONE"), False),
            api_key=env.get("MEMKIT_API_KEY") or None,
            jwt_resource_claim=env.get("MEMKIT_JWT_RESOURCE_CLAIM") or "sub",
            max_body_bytes=_int(env, "MEMKIT_MAX_BODY_BYTES", 5 * 1024 * 1024),
            tracing=_flag(env.get("MEMKIT_TRACING"), False),
            log_format=(env.get("MEMKIT_LOG_FORMAT") or ("json" if lambda_runtime else "text")).strip().lower(),
            metrics=_flag(env.get("MEMKIT_METRICS"), lambda_runtime),
            # A debugging page for whoever runs the agents, not part of the deployed API.
            explorer=_flag(env.get("MEMKIT_EXPLORER"), not lambda_runtime),
            cache=(env.get("MEMKIT_CACHE") or "none").strip().lower(),
            upstash_url=env.get("UPSTASH_REDIS_REST_URL") or None,
            upstash_token=env.get("UPSTASH_REDIS_REST_TOKEN") or None,
            cache_timeout_seconds=_float(env, "MEMKIT_CACHE_TIMEOUT_SECONDS", 0.5),
            jobs=(env.get("MEMKIT_JOBS") or ("sqs" if queue_url else "inprocess")).strip().lower(),
            queue_url=queue_url,
            vector_url=env.get("MEMKIT_VECTOR_URL") or "none",
            pinecone_api_key=env.get("PINECONE_API_KEY") or None,
            embedder=embedder,
            embedding_dimension=_int(env, "MEMKIT_EMBEDDING_DIMENSION", default_embedding_dimension(embedder)),
            indexing=(env.get("MEMKIT_INDEXING") or "async").strip().lower(),
            openai_base_url=env.get("MEMKIT_OPENAI_BASE_URL") or None,
            openai_api_key=env.get("OPENAI_API_KEY") or None,
            default_title_model=env.get("MEMKIT_TITLE_MODEL") or "local",
        )
        settings.validate()
        return settings

    def validate(self) -> None:
        # The HTTP auth settings are checked by memkit.api.auth.Authenticator, which only the
        # API builds: the ops and worker functions serve no HTTP and need no auth settings.
        # (`make run` also understands MEMKIT_CACHE=upstash-local: it starts redis and the local
        # gateway, then hands the app plain "upstash", so the library never sees a stand-in.)
        if self.cache not in ("none", "upstash"):
            raise ConfigurationError(f"MEMKIT_CACHE must be none or upstash, got {self.cache!r}")
        if self.cache != "none" and not (self.upstash_url and self.upstash_token):
            raise ConfigurationError("MEMKIT_CACHE=upstash needs UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN")
        if self.jobs not in ("inprocess", "sqs"):
            raise ConfigurationError(f"MEMKIT_JOBS must be inprocess or sqs, got {self.jobs!r}")
        if self.jobs == "sqs" and not self.queue_url:
            raise ConfigurationError("MEMKIT_JOBS=sqs needs MEMKIT_QUEUE_URL")
        if self.log_format not in ("json", "text"):
            raise ConfigurationError(f"MEMKIT_LOG_FORMAT must be json or text, got {self.log_format!r}")
        if self.indexing not in ("async", "sync"):
            raise ConfigurationError(f"MEMKIT_INDEXING must be async or sync, got {self.indexing!r}")
        if self.embedding_dimension is not None and self.embedding_dimension <= 0:
            raise ConfigurationError("MEMKIT_EMBEDDING_DIMENSION must be positive")
        if self.max_body_bytes <= 0:
            raise ConfigurationError("MEMKIT_MAX_BODY_BYTES must be positive")

    def vector_dimension(self) -> int:
        """The size of the vectors: ``MEMKIT_EMBEDDING_DIMENSION``, else the embedder's own. The
        embedder and the vector store are both built with it."""
        if self.embedding_dimension is not None:
            return self.embedding_dimension
        return default_embedding_dimension(self.embedder)

    def describe(self) -> dict[str, object]:
        """Settings without secret values, for logs and /api/memory/status."""
        return {
            name: "***" if name in SECRET_FIELDS and value else value
            for name, value in zip(self._fields, self)
        }

    def __repr__(self) -> str:
        return "Settings(" + ", ".join(f"{name}={value!r}" for name, value in self.describe().items()) + ")"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_env()


SECRET_REFERENCE_PREFIXES = ("ssm:", "secretsmanager:")
# Fetches started by prefetch_secret, by reference, until a resolve_secret waits for them.
_prefetches: dict[str, threading.Thread] = {}
_prefetch_lock = threading.Lock()
logger = logging.getLogger("memkit.settings")


def resolve_secret(value: str | None) -> str | None:
    """A direct value, or ``ssm:/name`` / ``secretsmanager:name`` fetched (and cached for
    5 minutes) through Powertools Parameters. Imported lazily: only deployments that use
    references pay for it."""
    if value is None or not value.startswith(SECRET_REFERENCE_PREFIXES):
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
    if value is None or not value.startswith(SECRET_REFERENCE_PREFIXES):
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

    from memkit.aws import create_client

    provider = SSMProvider if service == "ssm" else SecretsProvider
    return provider(boto3_client=create_client(service))
