"""Logs, metrics and traces for the HTTP API, as one ASGI middleware.

- **Logger** (Powertools, JSON): one access line per request, with the correlation id taken
  from API Gateway's ``requestContext.requestId`` or the ``x-request-id`` header. The logger is
  the ``memkit`` logger, so every ``memkit.*`` module's records carry the same keys. With
  ``MEMKIT_LOG_FORMAT=text`` (the default outside Lambda) the same logger writes one readable
  line per request instead: a person reads ``make run``'s output, CloudWatch reads JSON.
- **Metrics** (Powertools, CloudWatch EMF): ``Requests``, ``Errors`` (status >= 500) and
  ``ClientErrors`` counts and ``Latency`` per route template (never the raw path, whose ids
  would explode cardinality). In Lambda the handler's ``log_metrics`` decorator flushes once
  per invocation; a long-running server flushes after each request, and records none unless
  ``MEMKIT_METRICS`` is on (nothing collects EMF blobs from a terminal).
- **Tracer** (X-Ray): only with ``MEMKIT_TRACING``, because importing it costs about 400 ms of
  cold start. Metrics and Tracer are imported on first use for the same reason.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger

from memkit.settings import Settings

SERVICE = "memkit"
METRICS_NAMESPACE = "memkit"

logger = Logger(service=SERVICE)


def use_text_log_lines() -> None:
    """Plain lines instead of JSON for the ``memkit`` logger (its one Powertools handler)."""
    from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

    class TextLineFormatter(LambdaPowertoolsFormatter):
        # A Powertools formatter still, so per-request keys (the correlation id) can be
        # appended as in JSON mode; only the rendering differs.
        _plain = logging.Formatter("%(asctime)s %(levelname)-7s %(message)s", datefmt="%H:%M:%S")

        def format(self, record: logging.LogRecord) -> str:
            return self._plain.format(record)

    logger.registered_handler.setFormatter(TextLineFormatter())


def correlation_id(scope: dict[str, Any]) -> str:
    event = scope.get("aws.event")
    if isinstance(event, dict):
        request_id = (event.get("requestContext") or {}).get("requestId")
        if request_id:
            return str(request_id)
    for name, value in scope.get("headers") or ():
        if name in (b"x-request-id", b"x-amzn-requestid", b"x-correlation-id"):
            # Bounded: the value is caller-controlled and lands in every log line.
            return value.decode("latin-1")[:128]
    return uuid.uuid4().hex


def route_label(scope: dict[str, Any]) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return f"{scope.get('method', '?')} {path}" if path else "unmatched"


class Observability:
    """The per-process telemetry objects, created on first use."""

    def __init__(self, settings: Settings, *, flush_metrics_per_request: bool):
        self.tracing = settings.tracing
        self.text_logs = settings.log_format == "text"
        self.metrics_enabled = settings.metrics
        self.flush_metrics_per_request = flush_metrics_per_request
        if self.text_logs:
            use_text_log_lines()
        self._metrics: Any = None
        self._tracer: Any = None

    @property
    def metrics(self) -> Any:
        if self._metrics is None:
            from aws_lambda_powertools import Metrics

            # Powertools shares one metric set per process, so the Lambda handler's
            # log_metrics decorator flushes what this instance records.
            self._metrics = Metrics(namespace=METRICS_NAMESPACE, service="api")
        return self._metrics

    @property
    def tracer(self) -> Any:
        if self._tracer is None and self.tracing:
            from aws_lambda_powertools import Tracer

            self._tracer = Tracer(service=SERVICE)
        return self._tracer

    def record(self, *, route: str, status: int, latency_ms: float) -> None:
        if self.metrics_enabled:
            self._record_metrics(route=route, status=status, latency_ms=latency_ms)
        tracer = self.tracer
        if tracer is not None:
            tracer.put_annotation(key="route", value=route)
            tracer.put_annotation(key="status", value=status)

    def _record_metrics(self, *, route: str, status: int, latency_ms: float) -> None:
        from aws_lambda_powertools.metrics import MetricUnit

        metrics = self.metrics
        metrics.add_dimension(name="route", value=route)
        metrics.add_metric(name="Requests", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="Errors", unit=MetricUnit.Count, value=1 if status >= 500 else 0)
        metrics.add_metric(name="ClientErrors", unit=MetricUnit.Count, value=1 if 400 <= status < 500 else 0)
        metrics.add_metric(name="Latency", unit=MetricUnit.Milliseconds, value=round(latency_ms, 3))
        if self.flush_metrics_per_request:
            metrics.flush_metrics()


class ObservabilityMiddleware:
    """Pure ASGI middleware (no BaseHTTPMiddleware: it would buffer and copy every body)."""

    def __init__(self, app: Callable[..., Any], observability: Observability):
        self.app = app
        self.observability = observability

    async def __call__(self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = correlation_id(scope)
        # A context-local key, not set_correlation_id (a process-wide one): concurrent requests
        # on one server each run in their own asyncio task and worker-thread context, so every
        # log line carries the id of the request that wrote it.
        logger.thread_safe_append_keys(correlation_id=request_id)
        started = time.perf_counter()
        status = 500  # if the app dies before answering, that is what the caller sees

        async def send_with_request_id(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode("latin-1"))]
            await send(message)

        try:
            await self.app(scope, receive, send_with_request_id)
        finally:
            latency_ms = (time.perf_counter() - started) * 1000
            route = route_label(scope)
            if self.observability.text_logs:
                # The path itself, ids included: locally that is what a person looks for.
                logger.info(f"{scope.get('method')} {scope.get('path')} {status} {latency_ms:.1f} ms")
            else:
                logger.info(
                    "request",
                    extra={"method": scope.get("method"), "route": route, "status": status, "latency_ms": round(latency_ms, 1)},
                )
            self.observability.record(route=route, status=status, latency_ms=latency_ms)
