"""Jobs on Amazon SQS, run by the worker Lambda (``functions/worker``).

The client is built on the first enqueue, not with the queue (most API requests never enqueue),
from memkit's one botocore session (``memkit.clients.aws``). botocore picks the endpoint up from
``AWS_ENDPOINT_URL_SQS``, and region and credentials from the usual variables.

A failed send raises, never drops: throttling, 5xx and connection failures as
``RetryableError`` (the API answers 503 and the client may retry), anything else as
``ConfigurationError`` (a missing queue or a denied send is a deployment problem).
"""

from __future__ import annotations

import json
from typing import Any, Mapping

from memkit.clients.aws import LazyClient
from memkit.errors import ConfigurationError, RetryableError
from memkit.jobs.base import JobQueue

RETRYABLE_CODES = frozenset(
    {
        "ThrottlingException",
        "RequestThrottled",
        "AWS.SimpleQueueService.RequestThrottled",
        "KmsThrottled",
        "ServiceUnavailable",
        "InternalError",
        "InternalFailure",
    }
)


class SqsQueue(JobQueue):
    name = "sqs"

    def __init__(self, queue_url: str, *, client: Any = None):
        if not queue_url:
            raise ConfigurationError("the SQS job queue needs a queue URL (MEMKIT_QUEUE_URL)")
        self.queue_url = queue_url
        self._client = LazyClient(
            "sqs",
            client=client,
            connect_timeout=2,
            read_timeout=5,
            retries={"mode": "standard", "max_attempts": 3},
        )

    @property
    def client(self) -> Any:
        return self._client.get()

    def enqueue(self, job: Mapping[str, Any]) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.send_message(QueueUrl=self.queue_url, MessageBody=_body(job))
        except ClientError as exc:
            raise self._classify(exc, what=f"job {job.get('type')}") from exc
        except BotoCoreError as exc:
            raise RetryableError(f"SQS queue {self.queue_url} unreachable: {exc}") from exc

    def _classify(self, exc: Any, *, what: str) -> Exception:
        error = exc.response.get("Error", {})
        code = error.get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        message = f"SQS refused {what} for {self.queue_url}: {code or status}: {error.get('Message', exc)}"
        if code in RETRYABLE_CODES or status == 429 or status >= 500:
            return RetryableError(message)
        return ConfigurationError(message)


def _body(job: Mapping[str, Any]) -> str:
    return json.dumps(dict(job), separators=(",", ":"), ensure_ascii=False)
