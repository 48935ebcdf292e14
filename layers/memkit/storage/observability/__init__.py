"""Observability domain: tracing spans and traces. The port and shapes live in ``base``;
adapters (``libsql``, ``dynamodb``) are imported only by whoever selects them."""

from memkit.storage.observability.base import ObservabilityStorage, Span, Trace, TracePage

__all__ = ["ObservabilityStorage", "Span", "Trace", "TracePage"]
