"""The job fixtures (``tests/support/jobs.py``) the title tests run on."""

from tests.support.jobs import file_db, invoke_worker, queues, runtimes, sqs, storage_url  # noqa: F401
