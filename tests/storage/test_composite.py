"""The composite store: routing domains to adapters, and create_store's shared backends."""

from __future__ import annotations

from pathlib import Path

import pytest

from memkit.errors import ConfigurationError, MemkitError
from memkit.models import ListThreadsInput, Thread
from memkit.storage.composite import CompositeStore
from memkit.storage.datasets.dynamodb import DynamoDBDatasetsStorage
from memkit.storage.factory import create_store
from memkit.storage.factory import create_memory_storage
from memkit.storage.workflows.dynamodb import DynamoDBWorkflowsStorage

from tests.storage.builders import at, unique_id
from tests.storage.conftest import DYNAMODB_DOMAINS_URL


@pytest.mark.dynamodb
def test_memory_on_libsql_and_workflows_on_dynamodb(dynamodb_endpoint):
    memory = create_memory_storage(":memory:")
    workflows = DynamoDBWorkflowsStorage(DYNAMODB_DOMAINS_URL.removeprefix("dynamodb://"), create_table=True)
    store = CompositeStore(memory=memory, workflows=workflows)
    resource_id, run_id = unique_id("res"), unique_id("run")

    store.memory.save_thread(Thread(id=unique_id("thr"), resource_id=resource_id, created_at=at(0), updated_at=at(0)))
    store.workflows.persist_snapshot("support", run_id, {"status": "running"}, resource_id)

    assert store.memory.name == "libsql" and store.workflows.name == "dynamodb"
    assert store.memory.list_threads(ListThreadsInput.build(resource_id=resource_id)).total == 1
    assert store.workflows.get_run_by_id(run_id).resource_id == resource_id
    store.close()


@pytest.mark.dynamodb
def test_datasets_on_dynamodb_beside_memory_on_libsql(dynamodb_endpoint):
    store = CompositeStore(
        default=create_store(":memory:"),
        datasets=DynamoDBDatasetsStorage(DYNAMODB_DOMAINS_URL.removeprefix("dynamodb://"), create_table=True),
    )

    dataset = store.datasets.create_dataset({"name": unique_id("set")})
    store.datasets.add_item(dataset.id, {"input": "q"})

    assert (store.memory.name, store.workflows.name, store.datasets.name) == ("libsql", "libsql", "dynamodb")
    assert store.datasets.get_dataset(dataset.id).version == 1
    with store.memory.database.connection() as conn:
        assert conn.execute("SELECT COUNT(*) FROM datasets").fetchone()[0] == 0
    store.close()


def test_each_domain_falls_back_to_the_default_store():
    default = create_store(":memory:")
    override = create_store(":memory:")
    store = CompositeStore(default=default, scores=override.scores)

    assert store.scores is override.scores
    assert store.workflows is default.workflows
    assert store.memory is default.memory
    assert store.observability is default.observability
    assert store.datasets is default.datasets
    store.close()
    override.close()


def test_a_domain_without_storage_is_a_configuration_error():
    store = CompositeStore(memory=create_memory_storage(":memory:"))

    with pytest.raises(ConfigurationError, match="'scores' domain"):
        store.scores
    with pytest.raises(ConfigurationError, match="unknown storage domain"):
        store.domain("vectors")
    store.close()


def test_libsql_domains_share_the_memory_file_and_survive_reopening(tmp_path: Path):
    url = f"file:{tmp_path / 'memkit.db'}"
    store = create_store(url)
    store.workflows.persist_snapshot("support", "run-1", {"status": "success"})
    store.scores.save_score(
        {"id": "score-1", "scorerId": "s", "runId": "run-1", "entityId": "a", "entityType": "AGENT", "score": 1, "source": "TEST"}
    )
    store.observability.create_span(
        {"traceId": "trace-1", "spanId": "root", "name": "run", "spanType": "agent_run", "startedAt": at(0)}
    )
    dataset = store.datasets.create_dataset({"id": "set-1", "name": "capitals"})
    store.datasets.add_item(dataset.id, {"input": "Capital of Portugal?"})
    with store.memory.database.connection() as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()}
    store.close()

    reopened = create_store(url)

    assert {"threads", "workflow_runs", "scores", "spans", "datasets", "dataset_items", "experiments"} <= tables
    assert reopened.workflows.load_snapshot("support", "run-1") == {"status": "success"}
    assert reopened.scores.get_score("score-1").score == 1
    assert reopened.observability.get_trace("trace-1").spans[0].name == "run"
    assert [item.input for item in reopened.datasets.list_items("set-1").items] == ["Capital of Portugal?"]
    domains = ("workflows", "scores", "observability", "datasets")
    assert {domain: reopened.memory.database.schema_version(domain) for domain in domains} == dict.fromkeys(domains, 1)
    reopened.close()


def test_closing_the_composite_closes_the_shared_libsql_connection():
    store = create_store(":memory:")
    workflows = store.workflows

    store.close()

    with pytest.raises(MemkitError, match="closed"):
        workflows.load_snapshot("support", "run-1")


@pytest.mark.dynamodb
def test_dynamodb_store_puts_every_domain_on_the_one_table(dynamodb_endpoint):
    store = create_store(DYNAMODB_DOMAINS_URL)

    domains = ("memory", "workflows", "scores", "observability", "datasets")
    assert {store.domain(name).table_name for name in domains} == {"memkit-domains"}
    store.close()


def test_unsupported_url_is_a_configuration_error():
    with pytest.raises(ConfigurationError):
        create_store("postgres://localhost/memkit")
