"""The graph of adapters for one process (one Lambda container, one ``make run`` server).

``Runtime`` is built once from ``Settings`` and the agent registry, and hands out a ``Memory``
per agent. Clients and connections are created lazily on first use and then reused, so a
cold start pays only for what the first request touches (STYLE: cold start is a feature).
"""

from __future__ import annotations

import threading
from functools import cached_property
from typing import TYPE_CHECKING, Any

from memkit.config import AgentRegistry
from memkit.memory import Memory
from memkit.settings import Settings, get_settings
from memkit.storage.memory.base import MemoryStorage

if TYPE_CHECKING:
    from memkit.embedders.base import Embedder
    from memkit.jobs.base import JobQueue
    from memkit.vector.base import VectorStore


class Runtime:
    def __init__(self, settings: Settings | None = None, registry: AgentRegistry | None = None):
        self.settings = settings or get_settings()
        self.registry = registry or AgentRegistry.from_file(self.settings.config_path)
        self._lock = threading.Lock()
        self._jobs_lock = threading.Lock()
        self._jobs: "JobQueue | None" = None
        self._stores: dict[str, MemoryStorage] = {}
        self._memories: dict[str, Memory] = {}

    # ------------------------------------------------------------ adapters

    def storage(self, url: str | None = None) -> MemoryStorage:
        """The store for ``url`` (default: the instance-level MEMKIT_STORAGE_URL), wrapped in the
        cache when one is configured. One instance per URL per process."""
        url = url or self.settings.storage_url
        with self._lock:
            store = self._stores.get(url)
            if store is None:
                from memkit.storage.factory import create_memory_storage

                store = create_memory_storage(
                    url,
                    create_tables=self.settings.create_tables,
                    region=self.settings.aws_region,
                    endpoint_hint=self.settings.dynamodb_endpoint,
                )
                if self.settings.cache != "none":
                    from memkit.cache.factory import wrap_with_cache

                    store = wrap_with_cache(store, self.settings, self.registry)
                self._stores[url] = store
            return store

    @property
    def jobs(self) -> "JobQueue":
        # Not a cached_property: since Python 3.12 it takes no lock, so two first requests in the
        # server's threadpool could each build an in-process queue, and close() would drain only
        # the one kept while the other's jobs die with the process.
        with self._jobs_lock:
            if self._jobs is None:
                from memkit.jobs.factory import create_job_queue

                self._jobs = create_job_queue(self.settings, self)
            return self._jobs

    @cached_property
    def embedder(self) -> "Embedder | None":
        if self.settings.vector_url == "none":
            return None
        from memkit.embedders.factory import create_embedder

        return create_embedder(self.settings)

    @cached_property
    def vector(self) -> "VectorStore | None":
        if self.settings.vector_url == "none":
            return None
        from memkit.vector.factory import create_vector_store

        return create_vector_store(self.settings)

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
                emit_metrics=self.settings.lambda_runtime,
            )
            self._memories[key] = memory
        return memory

    def describe(self) -> dict[str, Any]:
        return {"settings": self.settings.describe(), "agents": self.registry.ids()}

    def close(self) -> None:
        if self._jobs is not None:
            self._jobs.close(drain=True)
        if self.__dict__.get("vector") is not None:
            self.vector.close()
        for store in self._stores.values():
            store.close()
