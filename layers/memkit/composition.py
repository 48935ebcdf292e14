"""Building adapters from settings: the one place that does it (``docs/architecture.md``).

Two callers compose memories from what this module builds: ``memkit.runtime.Runtime`` (a
deployment's graph, one per process: what the handlers use) and a ``Memory`` built from a storage
URL (``Memory("file:./memkit.db")``, the library's one-liner), which gets its store and the
deployment's defaults from here. This module never imports ``Memory``, so neither import runs
in a circle; it is the only module besides the runtime that calls the adapter factories.

``check(settings, registry)`` is the startup check: every setting, and the configuration of
every adapter the deployment will build (storage URLs, the instance's and every agent's; the
vector URL, the embedder and title model specs; the cache and the queue; an AWS region wherever
an AWS client will be built). It is pure: no network call, no client, no adapter module
imported, so it costs a Lambda cold start nothing measurable. A misconfiguration therefore stops
``make run`` with one line and fails a Lambda function's init, instead of failing every request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from memkit.clients.secrets import is_reference
from memkit.errors import ConfigurationError
from memkit.settings import Settings, embedder_spec, get_settings, model_spec, vector_backend
from memkit.storage.factory import OTHER_DOMAINS, create_memory_storage, domain_adapter, parse_storage_url

if TYPE_CHECKING:
    from memkit.config import AgentRegistry
    from memkit.embedders.base import Embedder
    from memkit.jobs.base import JobQueue
    from memkit.llm.factory import LanguageModels
    from memkit.memory.ports import TitleModels
    from memkit.storage.composite import CompositeStore
    from memkit.storage.libsql.database import LibSQLDatabase
    from memkit.storage.memory.base import MemoryStorage
    from memkit.vector.base import VectorStore

# ---------------------------------------------------------------- the startup check


def check(settings: Settings, registry: AgentRegistry) -> None:
    """Refuse a deployment that could not serve: ``ConfigurationError`` naming the setting."""
    settings.validate()
    for url in sorted({settings.storage_url, *registry.storage_urls()}):
        if parse_storage_url(url).backend == "dynamodb":
            require_region(settings, f"storage {url}")
    embedder_kind, _ = embedder_spec(settings.embedder)
    vector = vector_backend(settings.vector_url)
    if vector == "pinecone" and not settings.pinecone_api_key:
        raise ConfigurationError("MEMKIT_VECTOR_URL=pinecone://... needs PINECONE_API_KEY")
    if vector != "none" and embedder_kind == "bedrock":
        require_region(settings, f"MEMKIT_EMBEDDER={settings.embedder}")
    models = {settings.default_title_model: "MEMKIT_TITLE_MODEL"}
    for agent_id in registry.ids():
        title = registry.get(agent_id).title_config
        if title is not None and title.model:
            models.setdefault(title.model, f"the generateTitle model of agent {agent_id}")
    for spec, where in models.items():
        if model_spec(spec)[0] == "bedrock":
            require_region(settings, f"{where} ({spec})")
    if settings.jobs == "sqs":
        require_region(settings, "MEMKIT_JOBS=sqs")
    for name, value in (
        ("MEMKIT_API_KEY", settings.api_key),
        ("UPSTASH_REDIS_REST_TOKEN", settings.upstash_token),
        ("PINECONE_API_KEY", settings.pinecone_api_key),
        ("OPENAI_API_KEY", settings.openai_api_key),
    ):
        if is_reference(value):
            require_region(settings, f"{name} (a {value.partition(':')[0]} reference)")


def require_region(settings: Settings, needed_by: str) -> None:
    """An AWS client will be built for ``needed_by``: a region must be known, from the settings
    (``AWS_REGION``, which Lambda sets) or where botocore looks itself (config files)."""
    if settings.aws_region:
        return
    from memkit.clients.aws import botocore_session

    if not botocore_session().get_config_variable("region"):
        raise ConfigurationError(f"{needed_by} needs an AWS region: set AWS_REGION")


# ---------------------------------------------------------------- adapters of a deployment


def store(settings: Settings, url: str, *, cache_window: int) -> CompositeStore:
    """Every domain on the backend ``url`` names: the memory store now, behind the cache when
    one is configured (a thread entry then keeps ``cache_window`` messages); the other domains'
    adapters (workflows, scores, observability, datasets) on first access, so a memory request
    never imports, builds or migrates them."""
    from memkit.storage.composite import CompositeStore

    inner = create_memory_storage(
        url, create_tables=settings.create_tables, region=settings.aws_region, endpoint_hint=settings.dynamodb_endpoint
    )
    memory = inner
    if settings.cache != "none":
        from memkit.cache.factory import cache_window as window_of, wrap_with_cache

        try:
            memory = wrap_with_cache(inner, settings, window=window_of(cache_window))
        except BaseException:
            inner.close()
            raise
    where = {"region": settings.aws_region, "endpoint_hint": settings.dynamodb_endpoint}
    return CompositeStore.deferred(
        memory=memory,
        **{name: _domain_builder(name, inner, where) for name in OTHER_DOMAINS},
    )


def _domain_builder(name: str, inner: MemoryStorage, where: dict[str, Any]) -> Any:
    return lambda: domain_adapter(name, inner, **where)


def job_queue(settings: Settings, run: Any) -> JobQueue:
    """The queue the settings name; ``run`` runs one job for the in-process queue."""
    from memkit.jobs.factory import create_job_queue

    return create_job_queue(settings, run)


def embedder(settings: Settings) -> Embedder | None:
    if settings.vector_url == "none":
        return None
    from memkit.embedders.factory import create_embedder

    return create_embedder(settings)


def vector_store(settings: Settings) -> VectorStore | None:
    if settings.vector_url == "none":
        return None
    from memkit.vector.factory import create_vector_store

    return create_vector_store(settings)


def language_models(settings: Settings) -> LanguageModels:
    from memkit.llm.factory import LanguageModels

    return LanguageModels(settings)


# ---------------------------------------------------------------- a Memory from a URL


class UrlMemory(NamedTuple):
    """What a ``Memory`` built from a storage URL gets besides its config."""

    storage: MemoryStorage
    title_models: TitleModels
    emit_metrics: bool


def memory_from_url(url: str, settings: Settings | None = None) -> UrlMemory:
    """The store ``url`` names (its table or schema created if missing, as a library user's
    first run needs) and the deployment's defaults from the settings (``get_settings()``
    unless given): its title models, and metrics inside Lambda. No queue: its titles and
    indexing run in the request."""
    settings = settings or get_settings()
    storage = create_memory_storage(url, region=settings.aws_region, endpoint_hint=settings.dynamodb_endpoint)
    return UrlMemory(storage, language_models(settings).get, settings.lambda_runtime)


# ---------------------------------------------------------------- re-indexing (python -m memkit reindex)


class Reindexing(NamedTuple):
    """What ``python -m memkit reindex`` works on: the libSQL vector file, the memory stores
    that hold the messages (every store the agents use), and the configured embedder."""

    database: LibSQLDatabase
    storages: list[MemoryStorage]
    embedder: Embedder
    embedder_name: str

    def close(self) -> None:
        self.database.close()
        for storage in self.storages:
            storage.close()


def reindexing(vectors_url: str | None, settings: Settings | None = None, registry: AgentRegistry | None = None) -> Reindexing:
    """The server's configuration (``get_settings()``, ``MEMKIT_CONFIG``) with the vector file
    ``vectors_url``, else ``MEMKIT_VECTOR_URL``, else the storage file."""
    from memkit.config import AgentRegistry
    from memkit.embedders.factory import create_embedder, embedder_name
    from memkit.storage.libsql.database import open_database

    settings = settings or get_settings()
    registry = registry or AgentRegistry.from_file(settings.config_path)
    url = vectors_url or _default_vectors_url(settings.vector_url, settings.storage_url)
    embedder = create_embedder(settings)
    storage_urls = [settings.storage_url, *sorted(registry.storage_urls() - {settings.storage_url})]
    storages: list[MemoryStorage] = []
    try:
        for storage_url in storage_urls:
            storages.append(
                create_memory_storage(
                    storage_url, create_tables=False, region=settings.aws_region, endpoint_hint=settings.dynamodb_endpoint
                )
            )
        database = open_database(url)
    except BaseException:
        for storage in storages:
            storage.close()
        raise
    return Reindexing(database, storages, embedder, embedder_name(settings))


LIBSQL_PREFIXES = ("file:", "libsql:")


def _default_vectors_url(vector_url: str, storage_url: str) -> str:
    if vector_url.startswith(LIBSQL_PREFIXES):
        return vector_url
    if vector_url == "none" and storage_url.startswith(LIBSQL_PREFIXES):
        return storage_url
    raise ConfigurationError(
        f"reindex rebuilds a libSQL vector table, and MEMKIT_VECTOR_URL is {vector_url!r} "
        f"(storage {storage_url!r}); name the file with --vectors file:<path>. A Pinecone index "
        "has its dimension fixed: create one for the new embedder and point MEMKIT_VECTOR_URL at it"
    )
