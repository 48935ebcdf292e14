"""The job worker: an SQS-triggered Lambda that runs memkit jobs (titles today, indexing later).

It answers with ``batchItemFailures`` (ReportBatchItemFailures), so only the records that failed
come back. Every failure fails its record and nothing is deleted by hand: SQS redelivers after
the visibility timeout and, after ``maxReceiveCount`` receives, moves the message to the DLQ.
That covers transient errors (throttling, 5xx: a later receive may succeed) and permanent ones
(unknown job, bad request to the model, a body that is not JSON), which reach the DLQ with their
reason logged on every receive. Jobs are idempotent, so a redelivered message is harmless.
"""

from __future__ import annotations

# First, before the imports below allocate their objects: see memkit.lambda_lifecycle.
from memkit.lambda_lifecycle import freeze_after_first_invocation, hold_collection_until_first_invocation

hold_collection_until_first_invocation()

import json
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from memkit.cache.base import request_scope
from memkit.errors import PermanentJobError, RetryableError
from memkit.jobs.runner import describe_job
from memkit.runtime import Runtime

logger = Logger(service="memkit-worker")
# A batch whose every record failed is still answered with the list of failures rather than an
# exception: the outcome for SQS is the same, and the invocation is not reported as an error.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

# Built at init and kept for the container's life; its adapters (clients, connections) are built
# on the first job that needs them. A misconfigured deployment fails the init here.
_runtime = Runtime()


def runtime() -> Runtime:
    return _runtime


def process_record(record: SQSRecord) -> Any:
    logger.set_correlation_id(record.message_id)
    receive = {"message_id": record.message_id, "receive_count": record.attributes.approximate_receive_count}
    try:
        job = json.loads(record.body)
    except ValueError as exc:
        logger.error("job rejected: body is not JSON", extra={**receive, "reason": str(exc)})
        raise PermanentJobError(f"message {record.message_id} is not JSON: {exc}") from exc
    fields = {
        **receive,
        "job_type": job.get("type") if isinstance(job, dict) else None,
        "job_version": job.get("v") if isinstance(job, dict) else None,
        "job": describe_job(job) if isinstance(job, dict) else None,
    }
    try:
        # One job, one cache view (see memkit.cache.base.request_scope).
        with request_scope():
            outcome = runtime().run_job(job)
    except PermanentJobError as exc:
        logger.error(
            "job rejected permanently; it reaches the DLQ after the queue's receive limit",
            extra={**fields, "reason": str(exc)},
        )
        raise
    except RetryableError as exc:
        logger.warning("job failed transiently; SQS will redeliver it", extra={**fields, "reason": str(exc)})
        raise
    except Exception:
        logger.exception("job failed unexpectedly; SQS will redeliver it", extra=fields)
        raise
    logger.info("job done", extra={**fields, "outcome": outcome})
    return outcome


@freeze_after_first_invocation
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(
        event=event, record_handler=process_record, processor=processor, context=context
    )
