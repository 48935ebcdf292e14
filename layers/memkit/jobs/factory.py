"""Build the job queue the settings name: ``sqs`` (AWS, worker Lambda) or ``inprocess``
(embedded default, a background thread). Each adapter module is imported only when chosen."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from memkit.errors import ConfigurationError
from memkit.jobs.base import JobQueue
from memkit.settings import Settings


def create_job_queue(settings: Settings, run: Callable[[dict[str, Any]], Any]) -> JobQueue:
    """``run`` runs one job for the in-process queue (the runtime's ``run_job``); only that queue
    runs jobs here, so an API process on SQS never imports the handlers."""
    if settings.jobs == "sqs":
        from memkit.jobs.sqs import SqsQueue

        return SqsQueue(settings.queue_url or "")
    if settings.jobs == "inprocess":
        from memkit.jobs.inprocess import InProcessQueue

        return InProcessQueue(run)
    raise ConfigurationError(f"MEMKIT_JOBS must be inprocess or sqs, got {settings.jobs!r}")
