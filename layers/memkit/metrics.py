"""Counts of things that went wrong without failing a request, as CloudWatch metrics.

A count is a Powertools metric (CloudWatch EMF) in the ``memkit`` namespace; the handlers'
``log_metrics`` flushes it with the invocation's other metrics (Powertools keeps one metric set
per process). Callers record one only inside Lambda (``Settings.lambda_runtime``, handed to them
by the runtime as ``emit_metrics``): elsewhere nothing collects it, and the caller also logs what
happened and keeps its own counter for tests and ``make run``.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

logger = logging.getLogger("memkit.metrics")

NAMESPACE = "memkit"

_metrics: dict[str, Any] = {}
_lock = threading.Lock()


def count_metric(name: str, *, service: str) -> None:
    """Add 1 to the metric ``name``. Never raises: telemetry must not fail the work it reports on."""
    try:
        from aws_lambda_powertools import Metrics
        from aws_lambda_powertools.metrics import MetricUnit

        with _lock:
            metrics = _metrics.get(service)
            if metrics is None:
                metrics = _metrics[service] = Metrics(namespace=NAMESPACE, service=service)
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
    except Exception as exc:
        logger.debug("could not record metric %s: %s", name, exc)
