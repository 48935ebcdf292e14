"""Dataset changes on DynamoDB while DynamoDB fails: a commit whose answer was lost is applied
once, a commit refused before it was applied stores nothing (the fault proxy of
``infra/local/dynamodb_faults.py``, botocore's retries off so each fault reaches memkit)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from memkit.errors import RetryableError
from memkit.storage.composite import CompositeStore
from memkit.storage.factory import create_store
from tests.support.dynamodb_faults import DynamoDBFaults, without_sdk_retries

from tests.storage.builders import unique_id
from tests.storage.conftest import DYNAMODB_DOMAINS_URL

pytestmark = pytest.mark.dynamodb


@pytest.fixture
def faults(dynamodb_faults: DynamoDBFaults) -> Iterator[DynamoDBFaults]:
    yield dynamodb_faults
    dynamodb_faults.stop()


@pytest.fixture
def store(faults: DynamoDBFaults, monkeypatch: pytest.MonkeyPatch) -> Iterator[CompositeStore]:
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", faults.url)
    # The same table as the other domain tests, behind another endpoint: named, so that the
    # store gets a client of its own (a runtime passes Settings.dynamodb_endpoint the same way).
    opened = create_store(DYNAMODB_DOMAINS_URL, endpoint_hint=faults.url)
    without_sdk_retries(opened.memory)
    yield opened
    opened.close()


def test_a_batch_whose_commit_answer_is_lost_is_applied_once(store, faults):
    datasets = store.datasets
    dataset = datasets.create_dataset({"name": unique_id("set")})
    faults.script("error-after", "error-after", "error", operations=("TransactWriteItems",))

    added = datasets.batch_insert_items(dataset.id, [{"input": index} for index in range(3)])

    # Sent four times with one ClientRequestToken: DynamoDB applied it once.
    assert faults.counts()["requests"]["TransactWriteItems"] == 4
    assert [item.dataset_version for item in added] == [1, 1, 1]
    assert datasets.get_dataset(dataset.id).version == 1
    assert sorted(item.input for item in datasets.list_items(dataset.id).items) == [0, 1, 2]


def test_a_result_whose_commit_answer_is_lost_is_stored_once_and_answered(store, faults):
    datasets = store.datasets
    dataset = datasets.create_dataset({"name": unique_id("set")})
    item = datasets.add_item(dataset.id, {"input": "q"})
    experiment = datasets.create_experiment(dataset.id, {})
    faults.script("error-after", operations=("TransactWriteItems",))

    result = datasets.add_experiment_result(dataset.id, experiment.id, {"itemId": item.id, "output": "o"})

    assert datasets.get_experiment_result(dataset.id, experiment.id, result.id).to_wire() == result.to_wire()
    assert datasets.list_experiment_results(dataset.id, experiment.id).pagination.total == 1


def test_a_commit_throttled_before_it_was_applied_raises_retryable_and_stores_nothing(store, faults):
    datasets = store.datasets
    dataset = datasets.create_dataset({"name": unique_id("set")})
    faults.script("throttle", operations=("TransactWriteItems",))

    with pytest.raises(RetryableError):
        datasets.add_item(dataset.id, {"input": "q"})

    assert datasets.get_dataset(dataset.id).version == 0
    assert datasets.list_items(dataset.id).pagination.total == 0
