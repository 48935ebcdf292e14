"""Build storage adapters from URL-like settings: the memory store alone, or every domain.

``file:./memkit.db`` and ``:memory:`` select the embedded libSQL file, ``dynamodb://<table>`` the
single DynamoDB table. Adapter modules are imported only when selected, so a Lambda container
never pays for libsql and the embedded server never pays for botocore. ``memkit.runtime`` is
the one caller inside the library (docs/architecture.md); library users call these directly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple, cast

from memkit.errors import ConfigurationError
from memkit.storage.composite import CompositeStore

if TYPE_CHECKING:
    from memkit.storage.memory.base import MemoryStorage
    from memkit.storage.memory.dynamodb.store import DynamoDBStore
    from memkit.storage.memory.libsql.store import LibSQLStore

MIN_TABLE_NAME = 3
#: the domains that live beside the memory domain, on its file or table
OTHER_DOMAINS = ("workflows", "scores", "observability", "datasets")


class StorageLocation(NamedTuple):
    """What a storage URL names, checked without opening anything."""

    backend: str  # "libsql" | "dynamodb"
    target: str  # the libSQL URL, or the DynamoDB table name


def parse_storage_url(url: str) -> StorageLocation:
    """The backend and file or table ``url`` names; ``ConfigurationError`` for anything else."""
    if url == ":memory:" or url.startswith("file:") or url.startswith("libsql:"):
        from memkit.storage.libsql.database import resolve_path

        resolve_path(url)  # a remote libsql:// URL, or no path at all, is refused here
        return StorageLocation("libsql", url)
    if url.startswith("dynamodb://"):
        table = url[len("dynamodb://") :].strip("/")
        if len(table) < MIN_TABLE_NAME:
            raise ConfigurationError(f"dynamodb:// URL needs a table name of 3+ characters, got {url!r}")
        return StorageLocation("dynamodb", table)
    raise ConfigurationError(
        f"Unsupported storage URL {url!r}: use file:<path>, :memory: or dynamodb://<table>"
    )


def create_memory_storage(
    url: str, *, create_tables: bool = True, region: str | None = None, endpoint_hint: str | None = None
) -> MemoryStorage:
    """The memory store ``url`` names. ``region`` and ``endpoint_hint`` matter on DynamoDB only
    (``DynamoDBStore``); None leaves the region to botocore."""
    location = parse_storage_url(url)
    if location.backend == "libsql":
        from memkit.storage.memory.libsql.store import LibSQLStore

        return LibSQLStore(location.target)
    from memkit.storage.memory.dynamodb.store import DynamoDBStore

    return DynamoDBStore(location.target, create_table=create_tables, region=region, endpoint_hint=endpoint_hint)


def create_store(
    url: str, *, create_tables: bool = True, region: str | None = None, endpoint_hint: str | None = None
) -> CompositeStore:
    """Every domain on the backend ``url`` selects (``file:<path>``, ``:memory:``,
    ``dynamodb://<table>``), sharing the memory store's file or table."""
    memory = create_memory_storage(url, create_tables=create_tables, region=region, endpoint_hint=endpoint_hint)
    try:
        return CompositeStore(memory=memory, **other_domains(memory, region=region, endpoint_hint=endpoint_hint))
    except BaseException:
        memory.close()
        raise


def other_domains(memory: MemoryStorage, *, region: str | None = None, endpoint_hint: str | None = None) -> dict[str, Any]:
    """The other domains' adapters (workflows, scores, observability, datasets) on the memory
    store's file or table."""
    return {
        name: domain_adapter(name, memory, region=region, endpoint_hint=endpoint_hint)
        for name in OTHER_DOMAINS
    }


def domain_adapter(name: str, memory: MemoryStorage, *, region: str | None = None, endpoint_hint: str | None = None) -> Any:
    """The adapter of domain ``name`` on the memory store's libSQL file or DynamoDB table."""
    if memory.name == "libsql":
        database = cast("LibSQLStore", memory).database
        if name == "workflows":
            from memkit.storage.workflows.libsql import LibSQLWorkflowsStorage

            return LibSQLWorkflowsStorage(database)
        if name == "scores":
            from memkit.storage.scores.libsql import LibSQLScoresStorage

            return LibSQLScoresStorage(database)
        if name == "observability":
            from memkit.storage.observability.libsql import LibSQLObservabilityStorage

            return LibSQLObservabilityStorage(database)
        if name == "datasets":
            from memkit.storage.datasets.libsql import LibSQLDatasetsStorage

            return LibSQLDatasetsStorage(database)
    elif memory.name == "dynamodb":
        # The memory store already created the table if asked to.
        table = cast("DynamoDBStore", memory).table_name
        if name == "workflows":
            from memkit.storage.workflows.dynamodb import DynamoDBWorkflowsStorage

            return DynamoDBWorkflowsStorage(table, region=region, endpoint_hint=endpoint_hint)
        if name == "scores":
            from memkit.storage.scores.dynamodb import DynamoDBScoresStorage

            return DynamoDBScoresStorage(table, region=region, endpoint_hint=endpoint_hint)
        if name == "observability":
            from memkit.storage.observability.dynamodb import DynamoDBObservabilityStorage

            return DynamoDBObservabilityStorage(table, region=region, endpoint_hint=endpoint_hint)
        if name == "datasets":
            from memkit.storage.datasets.dynamodb import DynamoDBDatasetsStorage

            return DynamoDBDatasetsStorage(table, region=region, endpoint_hint=endpoint_hint)
    else:
        raise ConfigurationError(f"the {memory.name!r} memory store has no adapters for the other domains")
    raise ConfigurationError(f"unknown storage domain {name!r}")
