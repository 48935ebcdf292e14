"""The ``generate_title`` job: a title for a new thread from its first user message.

The job is idempotent, so a redelivered message ends in the same state:

1. a thread that is gone, or already has a real title, is done (a user rename wins);
2. the thread's first user message is the only input (no user message yet: done);
3. the configured model answers, and its answer is cleaned (``rules.clean_title``); an answer
   with nothing usable left falls back to the extractive title, which needs no model;
4. the write is conditional (``set_title_if_untitled``): a title a user set while the model
   was thinking is never overwritten, and losing that race is a success.

The job is given its models (``title_models``: a model for a spec), never looks them up: no
models, or a model of None, means the extractive title.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from memkit.models import ListMessagesInput
from memkit.titles.rules import build_prompt, clean_title, extractive_title, is_untitled

if TYPE_CHECKING:
    from memkit.jobs.types import GenerateTitleJob
    from memkit.memory.ports import AgentPorts, TitleModels

logger = logging.getLogger("memkit.titles")

# Room for a short title, plus slack for models that think out loud before answering.
TITLE_MAX_TOKENS = 256
# How many of a thread's first user messages the job reads to find one with words (a user may
# open with an image alone).
FIRST_USER_MESSAGES_READ = 10


def generate_title(job: GenerateTitleJob, ports: AgentPorts, title_models: TitleModels | None) -> str:
    """Runs one title job; returns what happened (for logs and tests)."""
    storage = ports.storage
    thread = storage.get_thread(job.thread_id)
    if thread is None:
        return "thread_missing"
    if not is_untitled(thread.title):
        return "already_titled"
    config = ports.config.title_config
    if config is None:
        # generateTitle was switched off after the job was queued.
        return "disabled"
    page = storage.list_messages(
        ListMessagesInput.build(
            thread_id=thread.id,
            resource_id=thread.resource_id,
            filter={"roles": ["user"]},
            page=0,
            per_page=FIRST_USER_MESSAGES_READ,
            order_by={"field": "createdAt", "direction": "ASC"},
        )
    )
    first_text = next((text for m in page.messages if (text := m.text()).strip()), "")
    if not first_text.strip():
        # Saves claim a title only with a user's words, so they were deleted or edited away
        # since: give the claim back, and the next save with some asks again.
        storage.release_thread_task(thread.id, "title")
        return "no_user_message"

    system, prompt = build_prompt(config.instructions, first_text)
    model = title_models(config.model) if title_models is not None else None
    if model is None:
        title = extractive_title(prompt)
    else:
        title = clean_title(model.complete(system=system, prompt=prompt, max_tokens=TITLE_MAX_TOKENS))
        if title is None:
            logger.warning(
                "model %s gave no usable title for thread %s; using the extractive title", model.name, thread.id
            )
            title = extractive_title(prompt)
    if title is None:
        storage.release_thread_task(thread.id, "title")
        return "no_usable_title"
    if storage.set_title_if_untitled(thread.id, title):
        return "written"
    return "kept_user_title"
