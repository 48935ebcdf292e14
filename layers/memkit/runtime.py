"""The graph of adapters for one process (one Lambda container, one ``make run`` server).

``Runtime`` is built once from ``Settings`` and the agent registry, checks them (a
misconfiguration fails here, at startup: ``composition.check``), and is the one object the
handlers use: a ``Memory`` per agent, the composite store of every domain per storage URL, the
job queue, and the context the follow-up jobs run in. Adapters are built by
``memkit.composition`` on first use and then reused, so a cold start pays only for what the
first request touches (``docs/architecture.md``: cold start is a feature).

``open_memory(url)`` is the library's way to one ``Memory`` without a deployment (the same as
``Memory(url)``).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any

from memkit import composition
from memkit.config import AgentRegistry, MemoryConfig
from memkit.memory import Memory
from memkit.settings import Settings, get_settings

if TYPE_CHECKING:
    from memkit.embedders.base import Embedder
    from memkit.jobs.base import JobQueue
    from memkit.llm.base import LanguageModel
    from memkit.llm.factory import LanguageModels
    from memkit.memory.ports import AgentPorts
    from memkit.storage.composite import CompositeStore
    from memkit.storage.memory.base import MemoryStorage
    from memkit.vector.base import VectorStore


class Runtime:
    def __init__(self, settings: Settings | None = None, registry: AgentRegistry | None = None):
        self.settings = settings or get_settings()
        self.registry = registry or AgentRegistry.from_file(self.settings.config_path)
        composition.check(self.settings, self.registry)
        self._lock = threading.Lock()
        self._jobs_lock = threading.Lock()
        self._jobs: JobQueue | None = None
        self._stores: dict[str, CompositeStore] = {}
        self._memories: dict[str, Memory] = {}

    # ------------------------------------------------------------ adapters

    def store(self, url: str | None = None) -> CompositeStore:
        """Every storage domain on the backend ``url`` names (default: the instance-level
        MEMKIT_STORAGE_URL): the memory domain behind the cache when one is configured, the
        other domains built on first access. One per URL per process."""
        url = url or self.settings.storage_url
        with self._lock:
            store = self._stores.get(url)
            if store is None:
                window = self.registry.max_last_messages()
                store = self._stores[url] = composition.store(self.settings, url, cache_window=window)
            return store

    def storage(self, url: str | None = None) -> MemoryStorage:
        """The memory store for ``url``: ``store(url).memory``."""
        return self.store(url).memory

    @property
    def jobs(self) -> JobQueue:
        # Not a cached_property: since Python 3.12 it takes no lock, so two first requests in the
        # server's threadpool could each build an in-process queue, and close() would drain only
        # the one kept while the other's jobs die with the process.
        with self._jobs_lock:
            if self._jobs is None:
                self._jobs = composition.job_queue(self.settings, self.run_job)
            return self._jobs

    @cached_property
    def embedder(self) -> Embedder | None:
        return composition.embedder(self.settings)

    @cached_property
    def vector(self) -> VectorStore | None:
        return composition.vector_store(self.settings)

    @cached_property
    def language_models(self) -> LanguageModels:
        return composition.language_models(self.settings)

    # ------------------------------------------------------------ memories

    def memory(self, agent_id: str | None = None) -> Memory:
        config = self.registry.get(agent_id)
        key = agent_id if agent_id not in (None, "", "undefined") else AgentRegistry.DEFAULT_AGENT
        memory = self._memories.get(key)
        if memory is None:
            # Every agent gets the deployment's vector store and embedder (built once per process):
            # one without semanticRecall indexes nothing (Memory.recall_enabled), but deleting
            # its threads must still remove vectors that another agent sharing the storage, or
            # a memoryConfig override on search, relies on.
            memory = Memory(
                self.storage(config.storage_url),
                config=config,
                agent_id=key,
                jobs=self.jobs,
                vector=self.vector,
                embedder=self.embedder,
                indexing=self.settings.indexing,
                title_models=self.title_model,
                emit_metrics=self.settings.lambda_runtime,
            )
            self._memories[key] = memory
        return memory

    # ------------------------------------------------------------ the context of follow-up jobs

    def agent(self, agent_id: str | None) -> AgentPorts:
        """An agent's ports, for the job handlers (``memkit.memory.ports.JobContext``)."""
        return self.memory(agent_id).ports

    def title_model(self, spec: str | None) -> LanguageModel:
        """The model for ``spec``; None: the deployment's (``MEMKIT_TITLE_MODEL``)."""
        return self.language_models.get(spec)

    def run_job(self, job: Mapping[str, Any]) -> Any:
        """Run one follow-up job here: how the worker and the in-process queue run jobs."""
        from memkit.memory.jobs import handle_job

        return handle_job(job, self)

    # ------------------------------------------------------------ lifecycle

    def describe(self) -> dict[str, Any]:
        return {"settings": self.settings.describe(), "agents": self.registry.ids()}

    def close(self) -> None:
        if self._jobs is not None:
            self._jobs.close(drain=True)
        if self.__dict__.get("vector") is not None:
            self.vector.close()
        for store in self._stores.values():
            store.close()


def open_memory(
    storage: str = "file:./memkit.db",
    *,
    config: MemoryConfig | Mapping[str, Any] | None = None,
    agent_id: str = "default",
    settings: Settings | None = None,
) -> Memory:
    """One ``Memory`` on the store ``storage`` names, with the deployment's defaults (title
    model, metrics) from ``settings`` (default: the environment's). No queue: titles and
    indexing run in the request. ``Memory(storage)`` with a URL does the same."""
    built = composition.memory_from_url(storage, settings)
    return Memory(
        built.storage, config=config, agent_id=agent_id, title_models=built.title_models, emit_metrics=built.emit_metrics
    )
