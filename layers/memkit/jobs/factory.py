"""Build the job queue the settings name: ``sqs`` (AWS, worker Lambda) or ``inprocess``
(embedded default, a background thread). Each adapter module is imported only when chosen."""

from __future__ import annotations

from typing import TYPE_CHECKING

from memkit.errors import ConfigurationError
from memkit.jobs.base import JobQueue
from memkit.settings import Settings

if TYPE_CHECKING:
    # Only the in-process queue runs jobs here; an API process on SQS never imports the handlers.
    from memkit.jobs.handlers import JobContext


def create_job_queue(settings: Settings, context: JobContext) -> JobQueue:
    """``context`` gives the in-process worker each agent's Memory (the Runtime does)."""
    if settings.jobs == "sqs":
        from memkit.jobs.sqs import SqsQueue

        return SqsQueue(settings.queue_url or "")
    if settings.jobs == "inprocess":
        from memkit.jobs.inprocess import InProcessQueue

        return InProcessQueue(context)
    raise ConfigurationError(f"MEMKIT_JOBS must be inprocess or sqs, got {settings.jobs!r}")
