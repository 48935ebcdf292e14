"""The job handler registry: one place maps a job's ``(type, v)`` to the code that runs it.

Both queues run jobs through ``handle_job``: the SQS worker Lambda (``functions/worker``) and the
in-process queue of the embedded default, so a job behaves the same wherever it runs.

A handler is registered from its own module with the decorator, and receives the job parsed
into its model from ``memkit.jobs.types`` (looked up by the same ``(type, v)``)::

    @job_handler("index_messages", 1)
    def index_messages(job: IndexMessagesJob, context: JobContext) -> None: ...

and its module is added to ``HANDLER_MODULES`` below. A job nobody registered, or one that does
not fit its model, raises ``PermanentJobError``: it goes to the dead-letter queue, never away.
"""

from __future__ import annotations

import importlib
import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping, Protocol

import pydantic

from memkit.errors import ConfigurationError, NotFoundError, PermanentJobError, ValidationError
from memkit.jobs.types import JobBase

if TYPE_CHECKING:
    from memkit.memory import Memory
    from memkit.settings import Settings

logger = logging.getLogger("memkit.jobs")

# Modules that register handlers, imported on the first job rather than at import time so that
# an API container that only enqueues never pays for them. Add one line per module. A module
# that fails to import is a broken install: it raises, rather than dead-lettering its jobs.
HANDLER_MODULES: tuple[str, ...] = (
    "memkit.titles",
    "memkit.recall.indexing",
)


class JobContext(Protocol):
    """What a handler may use. ``memkit.runtime.Runtime`` is one."""

    @property
    def settings(self) -> "Settings": ...

    def memory(self, agent_id: str | None = None) -> "Memory": ...


JobHandler = Callable[[Any, JobContext], Any]


@dataclass(frozen=True)
class _Registration:
    model: type[JobBase]
    handler: JobHandler


_registry: dict[tuple[str, int], _Registration] = {}
_load_lock = threading.Lock()
_loaded = False


def _job_models() -> dict[tuple[str, int], type[JobBase]]:
    return {
        (model.model_fields["type"].default, model.model_fields["v"].default): model
        for model in JobBase.__subclasses__()
    }


def job_handler(job_type: str, version: int) -> Callable[[JobHandler], JobHandler]:
    key = (job_type, version)
    model = _job_models().get(key)
    if model is None:
        raise ConfigurationError(
            f"no job model for {job_type} v{version}: add it to memkit.jobs.types before registering a handler"
        )

    def register(handler: JobHandler) -> JobHandler:
        existing = _registry.get(key)
        if existing is not None and existing.handler is not handler:
            raise ConfigurationError(f"two handlers for {job_type} v{version}: {existing.handler} and {handler}")
        _registry[key] = _Registration(model=model, handler=handler)
        return handler

    return register


def _load_handler_modules() -> None:
    global _loaded
    if _loaded:
        return
    with _load_lock:
        if _loaded:
            return
        for module in HANDLER_MODULES:
            importlib.import_module(module)
        _loaded = True


def handle_job(job: Any, context: JobContext) -> Any:
    """Run one job. Raises ``RetryableError`` (try again later) or ``PermanentJobError``
    (dead-letter it); anything else is a bug and is retried like a transient failure."""
    if not isinstance(job, Mapping):
        raise PermanentJobError(f"a job must be a JSON object, got {type(job).__name__}")
    job_type, version = job.get("type"), job.get("v")
    _load_handler_modules()
    # bool is an int in Python: {"v": true} must not pass for version 1.
    well_typed = isinstance(job_type, str) and isinstance(version, int) and not isinstance(version, bool)
    registration = _registry.get((job_type, version)) if well_typed else None
    if registration is None:
        known = ", ".join(f"{t} v{v}" for t, v in sorted(_registry))
        raise PermanentJobError(f"unknown job type {job_type!r} version {version!r} (known: {known})")
    try:
        parsed = registration.model.model_validate(dict(job))
    except pydantic.ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise PermanentJobError(f"malformed {job_type} v{version} job: {problems}") from None
    try:
        return registration.handler(parsed, context)
    except (ConfigurationError, ValidationError, NotFoundError) as exc:
        # Redelivery cannot fix a bad model name, a removed agent or invalid stored data.
        raise PermanentJobError(f"{job_type} v{version} job cannot run: {exc}") from exc


class _SingleMemoryContext:
    """A ``JobContext`` for a ``Memory`` used without a queue (``Memory(jobs=None)``)."""

    def __init__(self, memory: "Memory", settings: "Settings"):
        self._memory = memory
        self._settings = settings

    @property
    def settings(self) -> "Settings":
        return self._settings

    def memory(self, agent_id: str | None = None) -> "Memory":
        if agent_id not in (None, self._memory.agent_id):
            raise PermanentJobError(
                f"job for agent {agent_id} reached the memory of agent {self._memory.agent_id}"
            )
        return self._memory


def run_job_inline(memory: "Memory", job: Mapping[str, Any], settings: "Settings | None" = None) -> bool:
    """Run a job right away, in the caller's thread, for a ``Memory`` that has no job queue
    (a library user's ``Memory("file:...")``). The caller's write has already succeeded, so a
    failed follow-up job is logged with its reason instead of failing that write.
    Returns whether the job succeeded."""
    if settings is None:
        from memkit.settings import get_settings

        settings = get_settings()
    try:
        handle_job(job, _SingleMemoryContext(memory, settings))
    except Exception:
        logger.exception("inline job %s v%s failed: %s", job.get("type"), job.get("v"), describe_job(job))
        return False
    return True


def describe_job(job: Mapping[str, Any]) -> dict[str, Any]:
    """The job's identifying fields for a log line (id lists are summarised, not dumped)."""
    return {
        key: (f"{len(value)} ids" if isinstance(value, list) else value)
        for key, value in job.items()
        if key not in ("type", "v")
    }

