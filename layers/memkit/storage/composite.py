"""Route each storage domain to its own adapter (Mastra's ``MastraCompositeStore``).

``create_store(url)`` gives every domain on one backend: on libSQL the domains' tables live in
the memory store's file and share its connection; on DynamoDB they share the table. Mixing
backends is explicit::

    memory = create_memory_storage("file:./memkit.db")
    store = CompositeStore(
        default=create_store("dynamodb://memkit"),  # workflows, scores, traces, datasets on DynamoDB
        memory=memory,                                # conversations in the local file
    )

Adapter modules are imported only when a backend is selected (cold start: a Lambda never
imports libsql, the embedded server never imports pynamodb for the other domains).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from memkit.errors import ConfigurationError

if TYPE_CHECKING:
    from memkit.storage.base import MemoryStorage
    from memkit.storage.datasets.base import DatasetsStorage
    from memkit.storage.dynamodb import DynamoDBStore
    from memkit.storage.libsql import LibSQLStore
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

    def domain(self, name: str) -> Any:
        """The adapter serving domain ``name`` (one of ``DOMAINS``)."""
        if name not in DOMAINS:
            raise ConfigurationError(f"unknown storage domain {name!r}; domains are {', '.join(DOMAINS)}")
        if name in self._overrides:
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
        """Close the overriding adapters, then the default store. The memory adapter goes
        last: on libSQL it owns the connection the other domains borrow."""
        ordered = sorted(self._overrides.items(), key=lambda entry: entry[0] == "memory")
        for _, adapter in ordered:
            adapter.close()
        if self._default is not None:
            self._default.close()


def create_store(url: str, *, create_tables: bool = True) -> CompositeStore:
    """Every domain on the backend ``url`` selects (``file:<path>``, ``:memory:``,
    ``dynamodb://<table>``), sharing the memory store's file or table."""
    from memkit.storage.factory import create_memory_storage

    memory = create_memory_storage(url, create_tables=create_tables)
    try:
        return CompositeStore(memory=memory, **_other_domains(memory))
    except BaseException:
        memory.close()
        raise


def _other_domains(memory: MemoryStorage) -> dict[str, Any]:
    """The other domains' adapters on the memory store's file or table."""
    if memory.name == "libsql":
        from memkit.storage.datasets.libsql import LibSQLDatasetsStorage
        from memkit.storage.observability.libsql import LibSQLObservabilityStorage
        from memkit.storage.scores.libsql import LibSQLScoresStorage
        from memkit.storage.workflows.libsql import LibSQLWorkflowsStorage

        database = cast("LibSQLStore", memory)
        return {
            "workflows": LibSQLWorkflowsStorage(database),
            "scores": LibSQLScoresStorage(database),
            "observability": LibSQLObservabilityStorage(database),
            "datasets": LibSQLDatasetsStorage(database),
        }
    if memory.name == "dynamodb":
        from memkit.storage.datasets.dynamodb import DynamoDBDatasetsStorage
        from memkit.storage.observability.dynamodb import DynamoDBObservabilityStorage
        from memkit.storage.scores.dynamodb import DynamoDBScoresStorage
        from memkit.storage.workflows.dynamodb import DynamoDBWorkflowsStorage

        # The memory store already created the table if asked to.
        table = cast("DynamoDBStore", memory).table_name
        return {
            "workflows": DynamoDBWorkflowsStorage(table),
            "scores": DynamoDBScoresStorage(table),
            "observability": DynamoDBObservabilityStorage(table),
            "datasets": DynamoDBDatasetsStorage(table),
        }
    raise ConfigurationError(f"the {memory.name!r} memory store has no adapters for the other domains")
