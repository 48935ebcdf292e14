"""The SQS adapter of the job queue port, on moto's server."""

from __future__ import annotations

import json
import socket

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber

from memkit.errors import ConfigurationError, RetryableError
from memkit.jobs.factory import create_job_queue
from memkit.jobs.inprocess import InProcessQueue
from memkit.jobs.sqs import SqsQueue
from memkit.settings import Settings

from tests.support.jobs import QueuePair

pytestmark = pytest.mark.sqs

JOB = {"type": "generate_title", "v": 1, "agent_id": "default", "thread_id": "thr-1", "resource_id": "res-1"}


def test_enqueue_sends_the_job_as_its_json_body(queues: QueuePair) -> None:
    SqsQueue(queues.url).enqueue(JOB)

    [received] = queues.receive_exactly(1)
    assert json.loads(received["Body"]) == JOB


def test_missing_queue_is_a_configuration_error_not_a_silent_drop(queues: QueuePair) -> None:
    missing = queues.url.rsplit("/", 1)[0] + "/no-such-queue"

    with pytest.raises(ConfigurationError, match="no-such-queue"):
        SqsQueue(missing).enqueue(JOB)


@pytest.mark.parametrize(("code", "status"), [("ThrottlingException", 400), ("InternalError", 500), ("KmsThrottled", 400)])
def test_throttling_and_server_errors_are_retryable(code: str, status: int) -> None:
    client = boto3.client("sqs", region_name="us-east-1")
    queue = SqsQueue("https://sqs.us-east-1.amazonaws.com/123456789012/jobs", client=client)
    with Stubber(client) as stubber:
        stubber.add_client_error("send_message", service_error_code=code, service_message="slow down", http_status_code=status)

        with pytest.raises(RetryableError, match=f"{code}: slow down"):
            queue.enqueue(JOB)


def test_unreachable_endpoint_is_retryable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    client = boto3.client(
        "sqs", endpoint_url=f"http://127.0.0.1:{closed_port}", config=Config(retries={"max_attempts": 1})
    )

    with pytest.raises(RetryableError, match="unreachable"):
        SqsQueue(f"http://127.0.0.1:{closed_port}/123456789012/jobs", client=client).enqueue(JOB)


def test_factory_picks_the_queue_the_settings_name(queues: QueuePair) -> None:
    sqs_queue = create_job_queue(Settings(jobs="sqs", queue_url=queues.url), run=print)
    in_process = create_job_queue(Settings(jobs="inprocess"), run=print)

    assert isinstance(sqs_queue, SqsQueue) and sqs_queue.queue_url == queues.url
    assert isinstance(in_process, InProcessQueue)
