"""Typed settings, read once from the environment.

This module is the only one that reads the process environment: ``Settings.from_env()`` is
called once per container (``get_settings()`` caches it) and ``memkit.runtime`` builds the
graph of adapters from the result (docs/architecture.md). Backends are chosen by URL-like
values (``file:./memkit.db``, ``dynamodb://table``, ``pinecone://host``...). AWS endpoints and
credentials stay botocore's: it reads the standard variables (``AWS_ENDPOINT_URL_SQS``...)
itself, so the same code runs against local services and AWS. Three AWS facts are read here
because memkit needs them itself: the region (botocore reads ``AWS_DEFAULT_REGION`` but not
``AWS_REGION``, the variable Lambda sets), the DynamoDB endpoint (it keys the per-table model
cache) and whether the process is a Lambda function.

Secrets are given either directly (local) or as a reference resolved at first use through
Powertools Parameters (``memkit.clients.secrets``): ``ssm:/path/to/param`` or
``secretsmanager:<name-or-arn>``.
"""

from __future__ import annotations

import math
import os
from functools import lru_cache
from typing import Mapping, NamedTuple

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


def _in_lambda(env: Mapping[str, str]) -> bool:
    return bool(env.get("AWS_LAMBDA_FUNCTION_NAME"))


# all-MiniLM-L6-v2's size (MEMKIT_EMBEDDER=local); the others default to 256: what the lexical
# embedder was tuned at, and a size Titan v2 and OpenAI's text-embedding-3 models both produce.
LOCAL_EMBEDDING_DIMENSION = 384
OTHER_EMBEDDING_DIMENSION = 256


def default_embedding_dimension(embedder: str) -> int:
    """The vector size ``MEMKIT_EMBEDDING_DIMENSION`` defaults to for this ``MEMKIT_EMBEDDER``."""
    return LOCAL_EMBEDDING_DIMENSION if embedder.strip() == "local" else OTHER_EMBEDDING_DIMENSION


# ---------------------------------------------------------------- the grammar of URL-like settings
# Pure string checks, so that the composition root can check every setting at startup without
# importing an adapter (docs/architecture.md); the factories build from the same parse.


def model_spec(spec: str) -> tuple[str, str]:
    """``(provider, model id)`` of a language model spec: ``local``, ``openai/<model>`` or
    ``bedrock/<model-id>`` (a title model's, or ``MEMKIT_TITLE_MODEL``)."""
    provider, _, model_id = spec.strip().partition("/")
    if (provider == "local" and not model_id) or (provider in ("openai", "bedrock") and model_id):
        return provider, model_id
    raise ConfigurationError(f"unsupported model {spec!r}: use local, openai/<model> or bedrock/<model-id>")


EMBEDDER_CHOICES = "local, lexical, openai/<model> or bedrock/<model-id>"


def embedder_spec(spec: str) -> tuple[str, str]:
    """``(kind, model)`` of ``MEMKIT_EMBEDDER``: ``local``, ``lexical``, ``openai/<model>`` or
    ``bedrock/<model-id>``."""
    spec = spec.strip()
    if spec in ("local", "lexical"):
        return spec, ""
    kind, _, model = spec.partition("/")
    if kind in ("openai", "bedrock") and model:
        return kind, model
    raise ConfigurationError(f"MEMKIT_EMBEDDER must be {EMBEDDER_CHOICES}, got {spec!r}")


# The model MEMKIT_EMBEDDER=local runs (memkit.embedders.local; a test keeps the two in step).
LOCAL_EMBEDDER_MODEL = "all-MiniLM-L6-v2"


def embedder_name(spec: str) -> str:
    """The name of the embedder ``spec`` names, as the embedder reports it (``Embedder.name``),
    without building it: the identity a vector index records for the vectors it holds."""
    kind, model = embedder_spec(spec)
    if kind == "local":
        return f"local/{LOCAL_EMBEDDER_MODEL}"
    if kind == "lexical":
        return "lexical"
    return f"{kind}/{model}"


def vector_backend(url: str) -> str:
    """Which vector store ``MEMKIT_VECTOR_URL`` names: ``none``, ``libsql`` (``file:<path>``,
    ``libsql:<path>``, ``:memory:``) or ``pinecone`` (``pinecone://<index-host>``)."""
    url = url.strip()
    if url == "none":
        return "none"
    if url.startswith("pinecone://"):
        if not url[len("pinecone://") :].strip("/"):
            raise ConfigurationError("MEMKIT_VECTOR_URL=pinecone://<index-host> needs the index host")
        return "pinecone"
    if url == ":memory:" or url.startswith(("file:", "libsql:")):
        return "libsql"
    raise ConfigurationError(
        f"MEMKIT_VECTOR_URL must be none, file:<path>, :memory: or pinecone://<index-host>, got {url!r}"
    )


# Where numpy's BLAS reads its thread count: set, the local embedder leaves BLAS as it is.
BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "GOTO_NUM_THREADS")


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

    # the BLAS thread count the environment sets for numpy (BLAS_THREAD_VARIABLES); None: the
    # local embedder runs BLAS on one thread
    blas_threads: str | None = None

    # the process: AWS facts memkit needs itself (botocore reads the rest)
    aws_region: str | None = None  # AWS_REGION (Lambda's), else AWS_DEFAULT_REGION
    dynamodb_endpoint: str | None = None  # AWS_ENDPOINT_URL_DYNAMODB, else AWS_ENDPOINT_URL
    lambda_runtime: bool = False  # running as a Lambda function (AWS_LAMBDA_FUNCTION_NAME)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        lambda_runtime = _in_lambda(env)
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
            aws_region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None,
            dynamodb_endpoint=env.get("AWS_ENDPOINT_URL_DYNAMODB") or env.get("AWS_ENDPOINT_URL") or None,
            lambda_runtime=lambda_runtime,
            blas_threads=next((env[name] for name in BLAS_THREAD_VARIABLES if env.get(name)), None),
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

