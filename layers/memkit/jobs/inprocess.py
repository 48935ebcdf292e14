"""Jobs run by a background thread of the same process: the embedded default (``make run``,
a library user's server), where there is no SQS and no worker Lambda.

It keeps the SQS path's semantics, running each job with the callable it is given (the
runtime's ``run_job``, the same handlers as the worker): a job that fails transiently is
tried up to three times (with exponential backoff instead of visibility timeouts), then
dead-lettered; a permanent failure is dead-lettered at once. A dead letter is logged at ERROR
with the whole job (jobs carry ids, never message text) so it can be replayed, and the last
few are kept in ``dead_letters`` for inspection.

The queue is bounded: when ``max_pending`` jobs are waiting, ``enqueue`` raises
``RetryableError`` rather than growing without limit. ``close(drain=True)`` finishes the queued
jobs before the process exits; jobs it cannot finish in time are dead-lettered, not lost.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from memkit.errors import PermanentJobError, RetryableError
from memkit.jobs.base import JobQueue

logger = logging.getLogger("memkit.jobs")


@dataclass(frozen=True)
class DeadLetter:
    job: dict[str, Any]
    reason: str
    attempts: int


class InProcessQueue(JobQueue):
    name = "inprocess"

    def __init__(
        self,
        run: Callable[[dict[str, Any]], Any],
        *,
        max_pending: int = 1000,
        max_attempts: int = 3,
        base_delay: float = 0.5,
        max_delay: float = 10.0,
        dead_letters_kept: int = 100,
    ):
        self._run_job = run
        self.max_pending = max_pending
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.dead_letters: deque[DeadLetter] = deque(maxlen=dead_letters_kept)
        self._cond = threading.Condition()
        # A heap of (due time, sequence, job, attempts so far); the sequence keeps FIFO order
        # among jobs due at the same moment and spares comparing the job dicts.
        self._scheduled: list[tuple[float, int, dict[str, Any], int]] = []
        self._sequence = itertools.count()
        self._unfinished = 0  # scheduled + running: the bound and the drain both count these
        self._closed = False
        self._stopping = False
        self._worker: threading.Thread | None = None

    # ------------------------------------------------------------ port

    def enqueue(self, job: Mapping[str, Any]) -> None:
        snapshot = dict(job)  # the caller's dict may change after we return
        with self._cond:
            if self._closed:
                raise RetryableError("the in-process job queue is shutting down")
            if self._unfinished >= self.max_pending:
                raise RetryableError(
                    f"the in-process job queue is full ({self.max_pending} jobs waiting); try again shortly"
                )
            self._schedule(snapshot, attempts=0, delay=0.0)
            self._unfinished += 1
            if self._worker is None:
                # Started on the first job, so a process that never enqueues has no thread.
                self._worker = threading.Thread(target=self._run, name="memkit-jobs", daemon=True)
                self._worker.start()

    def close(self, *, drain: bool = True, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            self._closed = True
            if drain:
                self._wait_idle_locked(deadline)
            abandoned = [(job, attempts) for _, _, job, attempts in self._scheduled]
            self._scheduled.clear()
            self._unfinished -= len(abandoned)
            self._stopping = True
            self._cond.notify_all()
        for job, attempts in abandoned:
            self._dead_letter(job, "the queue was closed before the job ran", attempts)
        worker = self._worker
        if worker is not None:
            worker.join(max(0.0, deadline - time.monotonic()))
            if worker.is_alive():
                logger.error("a job was still running when the in-process queue closed; it may not finish")

    # ------------------------------------------------------------ inspection

    def wait_idle(self, timeout: float) -> bool:
        """Block until no job is waiting or running; False if ``timeout`` passed first."""
        with self._cond:
            return self._wait_idle_locked(time.monotonic() + timeout)

    # ------------------------------------------------------------ worker

    def _wait_idle_locked(self, deadline: float) -> bool:
        while self._unfinished:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._cond.wait(remaining)
        return True

    def _schedule(self, job: dict[str, Any], *, attempts: int, delay: float) -> None:
        heapq.heappush(self._scheduled, (time.monotonic() + delay, next(self._sequence), job, attempts))
        self._cond.notify_all()

    def _next_due(self) -> tuple[dict[str, Any], int] | None:
        """The next job whose time has come, waiting for it; None once the queue stops."""
        with self._cond:
            while not self._stopping:
                if self._scheduled:
                    wait = self._scheduled[0][0] - time.monotonic()
                    if wait <= 0:
                        _, _, job, attempts = heapq.heappop(self._scheduled)
                        return job, attempts
                    self._cond.wait(wait)
                else:
                    self._cond.wait()
            return None

    def _run(self) -> None:
        while (due := self._next_due()) is not None:
            job, attempts = due
            self._attempt(job, attempts + 1)

    def _attempt(self, job: dict[str, Any], attempt: int) -> None:
        try:
            self._run_job(job)
        except PermanentJobError as exc:
            self._dead_letter(job, str(exc), attempt)
            self._finish()
            return
        except Exception as exc:
            # RetryableError, and anything unexpected too: the SQS worker retries every failure
            # until the receive limit, and this queue behaves the same.
            if not isinstance(exc, RetryableError):
                logger.exception("job %s v%s failed unexpectedly (attempt %d)", job.get("type"), job.get("v"), attempt)
            if attempt >= self.max_attempts:
                self._dead_letter(job, f"{type(exc).__name__}: {exc}", attempt)
                self._finish()
                return
            delay = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
            logger.warning(
                "job %s v%s failed (attempt %d of %d), retrying in %.1fs: %s",
                job.get("type"), job.get("v"), attempt, self.max_attempts, delay, exc,
            )
            with self._cond:
                if not self._stopping:
                    self._schedule(job, attempts=attempt, delay=delay)
                    return
            self._dead_letter(job, f"the queue closed before a retry after: {exc}", attempt)
            self._finish()
            return
        self._finish()

    def _finish(self) -> None:
        # After any dead letter is recorded, so whoever waits for idle sees it.
        with self._cond:
            self._unfinished -= 1
            self._cond.notify_all()

    def _dead_letter(self, job: dict[str, Any], reason: str, attempts: int) -> None:
        self.dead_letters.append(DeadLetter(job=job, reason=reason, attempts=attempts))
        logger.error(
            "dead letter: job %s v%s after %d attempt(s): %s; job=%s",
            job.get("type"), job.get("v"), attempts, reason, json.dumps(job, default=str),
        )
