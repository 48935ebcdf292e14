"""Fixtures and helpers of the job queue, worker and title tests (their conftests import them).

Everything runs against real local services from ``tests/conftest.py``: moto's server for SQS,
DynamoDB Local, and the OpenAI-compatible stand-in (the `openai` fixture, tests/support/openai_stub.py).
Each SQS test gets its own queue and DLQ; threads and resources have unique ids, so the
DynamoDB table is shared by the whole session.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import boto3
import pytest

from memkit.config import AgentRegistry, MemoryConfig
from memkit.jobs.types import GenerateTitleJob
from memkit.models import Message, Thread, utc_now
from memkit.runtime import Runtime
from memkit.settings import Settings
from tests.support.lambda_events import LambdaContext

DYNAMODB_URL = "dynamodb://memkit-jobs-tests"
OPENAI_TEST_KEY = "test-key"
BASE_TIME = datetime(2025, 1, 1, tzinfo=timezone.utc)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def message(thread_id: str, resource_id: str, text: str, *, role: str = "user", offset_ms: int = 0) -> dict[str, Any]:
    """A Mastra v2 message in wire shape, ``offset_ms`` after a fixed base time."""
    return {
        "id": unique("msg"),
        "threadId": thread_id,
        "resourceId": resource_id,
        "role": role,
        "type": "v2",
        "createdAt": (BASE_TIME + timedelta(milliseconds=offset_ms)).isoformat().replace("+00:00", "Z"),
        "content": {"format": 2, "parts": [{"type": "text", "text": text}]},
    }


def wait_for(predicate: Callable[[], Any], *, timeout: float = 10.0, what: str) -> Any:
    """Poll until ``predicate`` returns something truthy, which is returned."""
    deadline = time.monotonic() + timeout
    interval = 0.02
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)
        interval = min(interval * 2, 0.2)


def make_runtime(storage_url: str, *, agents: dict[str, dict[str, Any]], **settings: Any) -> Runtime:
    """A Runtime as a container would build it, from explicit settings and agent configs."""
    base = {"storage_url": storage_url, "openai_api_key": OPENAI_TEST_KEY}
    registry = AgentRegistry({name: MemoryConfig.model_validate(config) for name, config in agents.items()})
    return Runtime(Settings(**{**base, **settings}), registry)


def seed_thread(runtime: Runtime, *texts: tuple[str, str], title: str | None = None) -> Thread:
    """A thread with messages written straight to the store, so no job is queued by the save."""
    store = runtime.memory().storage
    resource_id = unique("res")
    now = utc_now()
    thread = store.save_thread(
        Thread(id=unique("thr"), resource_id=resource_id, title=title, created_at=now, updated_at=now)
    )
    if texts:
        store.save_messages(
            [
                Message.model_validate(message(thread.id, resource_id, text, role=role, offset_ms=10 * i))
                for i, (role, text) in enumerate(texts)
            ]
        )
    return thread


def title_job(thread: Thread, agent_id: str = "default") -> dict[str, Any]:
    return GenerateTitleJob(agent_id=agent_id, thread_id=thread.id, resource_id=thread.resource_id).to_message()


def stored_title(runtime: Runtime, thread: Thread) -> str | None:
    stored = runtime.memory().storage.get_thread(thread.id)
    assert stored is not None
    return stored.title


# ------------------------------------------------------------------ SQS on moto


@pytest.fixture(scope="session")
def sqs(sqs_endpoint: str) -> Any:
    return boto3.client("sqs", endpoint_url=sqs_endpoint)


@dataclass
class QueuePair:
    url: str
    arn: str
    dlq_url: str
    client: Any
    received: list[dict[str, Any]] = field(default_factory=list)

    def receive(self, *, max_messages: int = 10, visibility_timeout: int = 30) -> list[dict[str, Any]]:
        response = self.client.receive_message(
            QueueUrl=self.url,
            MaxNumberOfMessages=max_messages,
            VisibilityTimeout=visibility_timeout,
            WaitTimeSeconds=0,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return response.get("Messages", [])

    def receive_exactly(self, count: int, *, visibility_timeout: int = 30, timeout: float = 10.0) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []

        def enough() -> bool:
            messages.extend(self.receive(max_messages=min(10, count - len(messages)), visibility_timeout=visibility_timeout))
            return len(messages) >= count

        wait_for(enough, timeout=timeout, what=f"{count} messages on {self.url}")
        assert len(messages) == count, f"expected {count} messages, got {len(messages)}"
        return messages

    def depth(self, url: str | None = None) -> int:
        """Visible plus in-flight messages (moto reports both exactly)."""
        attributes = self.client.get_queue_attributes(
            QueueUrl=url or self.url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])

    def send(self, body: str) -> str:
        return self.client.send_message(QueueUrl=self.url, MessageBody=body)["MessageId"]


@pytest.fixture
def queues(sqs: Any) -> Iterator[QueuePair]:
    """A jobs queue and its DLQ, wired like template.yaml: maxReceiveCount 3."""
    name = unique("memkit-jobs")
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": "30",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"}),
        },
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    yield QueuePair(url=url, arn=arn, dlq_url=dlq_url, client=sqs)
    sqs.delete_queue(QueueUrl=url)
    sqs.delete_queue(QueueUrl=dlq_url)


def sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """The event Lambda's SQS poller would deliver for these received messages."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": m.get("MessageAttributes", {}),
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": "us-east-1",
            }
            for m in messages
        ]
    }


@pytest.fixture
def invoke_worker(monkeypatch: pytest.MonkeyPatch) -> Callable[[Runtime, dict[str, Any]], dict[str, Any]]:
    """Calls the worker Lambda's handler with ``event``, its container built around ``runtime``."""
    from functions.worker import app as worker

    def invoke(runtime: Runtime, event: dict[str, Any]) -> dict[str, Any]:
        monkeypatch.setattr(worker, "_runtime", runtime)
        return worker.handler(event, LambdaContext(function_name="memkit-worker"))

    return invoke


# ------------------------------------------------------------------ stores


@pytest.fixture
def file_db(tmp_path: Path) -> str:
    return f"file:{tmp_path / 'memkit.db'}"


@pytest.fixture(params=["libsql", pytest.param("dynamodb", marks=pytest.mark.dynamodb)])
def storage_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each store that backs title jobs: the embedded file and DynamoDB Local."""
    if request.param == "dynamodb":
        request.getfixturevalue("dynamodb_endpoint")
        return DYNAMODB_URL
    return f"file:{tmp_path / 'memkit.db'}"


@pytest.fixture
def runtimes() -> Iterator[Callable[..., Runtime]]:
    """``make_runtime`` whose runtimes are closed (queues drained) after the test."""
    built: list[Runtime] = []

    def build(storage_url: str, **kwargs: Any) -> Runtime:
        runtime = make_runtime(storage_url, **kwargs)
        built.append(runtime)
        return runtime

    yield build
    for runtime in built:
        runtime.close()
