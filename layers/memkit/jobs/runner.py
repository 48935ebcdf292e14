"""Running one job through a table of handlers: parse it, find its handler, classify failures.

Both queues run jobs this way: the SQS worker Lambda (``functions/worker``) and the in-process
queue of the embedded default, so a job behaves the same wherever it runs. The table is not
this package's: it is given (``memkit.memory.jobs.HANDLERS``), so the job port knows no
handler and nothing it runs imports it back (``docs/architecture.md``).

A job is parsed into its model from ``memkit.jobs.types``, found by the same ``(type, v)``. A job
nobody handles, or one that does not fit its model, raises ``PermanentJobError``: it goes to the
dead-letter queue, never away.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pydantic

from memkit.errors import ConfigurationError, NotFoundError, PermanentJobError, ValidationError
from memkit.jobs.types import JobBase

#: a job's handler: the parsed job and what the handler may use (its context)
JobHandler = Callable[[Any, Any], Any]


def _job_models() -> dict[tuple[str, int], type[JobBase]]:
    return {
        (model.model_fields["type"].default, model.model_fields["v"].default): model
        for model in JobBase.__subclasses__()
    }


def run_job(job: Any, handlers: Mapping[tuple[str, int], JobHandler], context: Any) -> Any:
    """Run one job with the handler ``handlers`` names for its ``(type, v)``. Raises
    ``RetryableError`` (try again later) or ``PermanentJobError`` (dead-letter it); anything
    else is a bug and is retried like a transient failure."""
    if not isinstance(job, Mapping):
        raise PermanentJobError(f"a job must be a JSON object, got {type(job).__name__}")
    job_type, version = job.get("type"), job.get("v")
    # bool is an int in Python: {"v": true} must not pass for version 1.
    well_typed = isinstance(job_type, str) and isinstance(version, int) and not isinstance(version, bool)
    handler = handlers.get((job_type, version)) if well_typed else None
    if handler is None:
        known = ", ".join(f"{t} v{v}" for t, v in sorted(handlers))
        raise PermanentJobError(f"unknown job type {job_type!r} version {version!r} (known: {known})")
    model = _job_models().get((job_type, version))
    if model is None:
        raise ConfigurationError(f"no job model for {job_type} v{version}: add it to memkit.jobs.types")
    try:
        parsed = model.model_validate(dict(job))
    except pydantic.ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise PermanentJobError(f"malformed {job_type} v{version} job: {problems}") from None
    try:
        return handler(parsed, context)
    except (ConfigurationError, ValidationError, NotFoundError) as exc:
        # Redelivery cannot fix a bad model name, a removed agent or invalid stored data.
        raise PermanentJobError(f"{job_type} v{version} job cannot run: {exc}") from exc


def describe_job(job: Mapping[str, Any]) -> dict[str, Any]:
    """The job's identifying fields for a log line (id lists are summarised, not dumped)."""
    return {
        key: (f"{len(value)} ids" if isinstance(value, list) else value)
        for key, value in job.items()
        if key not in ("type", "v")
    }
