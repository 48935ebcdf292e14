"""Route each storage domain to its own adapter (Mastra's ``MastraCompositeStore``).

``create_store(url)`` (``storage/factory.py``) gives every domain on one backend: on libSQL the
domains' tables live in the memory store's file and share its connection; on DynamoDB they
share the table. Mixing backends is explicit::

    memory = create_memory_storage("file:./memkit.db")
    store = CompositeStore(
        default=create_store("dynamodb://memkit"),  # workflows, scores, traces, datasets on DynamoDB
        memory=memory,                                # conversations in the local file
    )

``CompositeStore.deferred`` takes builders instead of adapters for the domains other than
memory and builds each on first access: the runtime's store for a deployment, so that a memory
request never imports, builds or migrates the other domains.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from memkit.errors import ConfigurationError

if TYPE_CHECKING:
    from memkit.storage.datasets.base import DatasetsStorage
    from memkit.storage.memory.base import MemoryStorage
    from memkit.storage.observability.base import ObservabilityStorage
    from memkit.storage.scores.base import ScoresStorage
    from memkit.storage.workflows.base import WorkflowsStorage

DOMAINS = ("memory", "workflows", "scores", "observability", "datasets")


class CompositeStore:
    """One adapter per domain: each given domain overrides the ``default`` store's."""

    def __init__(
        self,
        *,
        default: CompositeStore | None = None,
        memory: MemoryStorage | None = None,
        workflows: WorkflowsStorage | None = None,
        scores: ScoresStorage | None = None,
        observability: ObservabilityStorage | None = None,
        datasets: DatasetsStorage | None = None,
    ):
        given = {
            "memory": memory,
            "workflows": workflows,
            "scores": scores,
            "observability": observability,
            "datasets": datasets,
        }
        self._default = default
        self._overrides = {domain: adapter for domain, adapter in given.items() if adapter is not None}
        self._builders: dict[str, Callable[[], Any]] = {}
        self._lock = threading.Lock()

    @classmethod
    def deferred(cls, *, memory: MemoryStorage, **builders: Callable[[], Any]) -> CompositeStore:
        """``memory`` now, every other domain from its builder on first access (once)."""
        unknown = set(builders) - set(DOMAINS)
        if unknown:
            raise ConfigurationError(f"unknown storage domain(s) {sorted(unknown)}; domains are {', '.join(DOMAINS)}")
        store = cls(memory=memory)
        store._builders = dict(builders)
        return store

    def domain(self, name: str) -> Any:
        """The adapter serving domain ``name`` (one of ``DOMAINS``)."""
        if name not in DOMAINS:
            raise ConfigurationError(f"unknown storage domain {name!r}; domains are {', '.join(DOMAINS)}")
        if name in self._overrides:
            return self._overrides[name]
        if name in self._builders:
            with self._lock:
                if name not in self._overrides:
                    self._overrides[name] = self._builders[name]()
                return self._overrides[name]
        if self._default is not None:
            return self._default.domain(name)
        raise ConfigurationError(f"no storage is configured for the {name!r} domain")

    @property
    def memory(self) -> MemoryStorage:
        return self.domain("memory")

    @property
    def workflows(self) -> WorkflowsStorage:
        return self.domain("workflows")

    @property
    def scores(self) -> ScoresStorage:
        return self.domain("scores")

    @property
    def observability(self) -> ObservabilityStorage:
        return self.domain("observability")

    @property
    def datasets(self) -> DatasetsStorage:
        return self.domain("datasets")

    def close(self) -> None:
        """Close the overriding adapters (those built, of a deferred store), then the default
        store. The memory adapter goes last: on libSQL it owns the connection the other domains
        borrow."""
        with self._lock:
            ordered = sorted(self._overrides.items(), key=lambda entry: entry[0] == "memory")
        for _, adapter in ordered:
            adapter.close()
        if self._default is not None:
            self._default.close()
