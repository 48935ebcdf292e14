"""Lambda handler for direct memory operations: Lambda invoke, Step Functions, EventBridge.

``{"op": "saveMessages", "agentId": "...", "args": {...}}`` -> ``{"ok": true, "result": ...}``
or ``{"ok": false, "status": 400, "error": "..."}``; see ``memkit.operations.invoke``.
"""

# First, before the imports below allocate their objects: see memkit.lambda_lifecycle.
from memkit.lambda_lifecycle import freeze_after_first_invocation, hold_collection_until_first_invocation

hold_collection_until_first_invocation()

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from memkit.operations.invoke import dispatch, requested_op
from memkit.runtime import Runtime

logger = Logger(service="memkit")
metrics = Metrics(namespace="memkit", service="ops")
runtime = Runtime()


@freeze_after_first_invocation
@metrics.log_metrics(capture_cold_start_metric=True)
@logger.inject_lambda_context
def handler(event, context):
    op = requested_op(event) or "unknown"
    logger.append_keys(op=op)
    outcome = dispatch(event, runtime)
    metrics.add_dimension(name="op", value=op)
    metrics.add_metric(name="Operations", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="OperationErrors", unit=MetricUnit.Count, value=0 if outcome["ok"] else 1)
    if not outcome["ok"]:
        logger.info("operation failed", extra={"status": outcome["status"], "error": outcome["error"]})
    return outcome
