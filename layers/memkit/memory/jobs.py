"""The follow-up jobs and their handlers, by ``(type, v)``: the table the job runner is given.

``handle_job(job, context)`` runs one job (``memkit.jobs.runner``). Its callers are the job
queues' consumers: the runtime's ``run_job`` (the SQS worker and the in-process queue) and a
``Memory`` without a queue, which runs its title jobs in the request (``follow_up.py``). An API
container whose jobs go to SQS never imports this module.

Adding a job: its model in ``memkit.jobs.types`` and its handler in ``HANDLERS``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from memkit.jobs.runner import JobHandler, run_job
from memkit.memory.indexing import IndexReport, delete_vectors, index_messages
from memkit.titles.job import generate_title

if TYPE_CHECKING:
    from memkit.jobs.types import DeleteVectorsJob, GenerateTitleJob, IndexMessagesJob
    from memkit.memory.ports import JobContext

logger = logging.getLogger("memkit.recall")


def handle_generate_title(job: GenerateTitleJob, context: JobContext) -> str:
    return generate_title(job, context.agent(job.agent_id), context.title_model)


def handle_index_messages(job: IndexMessagesJob, context: JobContext) -> IndexReport:
    return index_messages(context.agent(job.agent_id), job.resource_id, job.message_ids)


def handle_delete_vectors(job: DeleteVectorsJob, context: JobContext) -> None:
    vector = context.agent(job.agent_id).vector
    if vector is None:
        logger.info("agent %s has no vector store; nothing to delete for resource %s", job.agent_id, job.resource_id)
        return
    delete_vectors(vector, job)


HANDLERS: dict[tuple[str, int], JobHandler] = {
    ("generate_title", 1): handle_generate_title,
    ("index_messages", 1): handle_index_messages,
    ("delete_vectors", 1): handle_delete_vectors,
}


def handle_job(job: Any, context: JobContext) -> Any:
    """Run one job; see ``memkit.jobs.runner.run_job`` for what it raises."""
    return run_job(job, HANDLERS, context)
