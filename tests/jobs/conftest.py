"""The job fixtures (``tests/support/jobs.py``): SQS queues on moto, runtimes, the stores."""

from tests.support.jobs import file_db, invoke_worker, queues, runtimes, sqs, storage_url  # noqa: F401
