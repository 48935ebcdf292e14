"""Lambda handler for the memkit HTTP API: API Gateway (HTTP API, payload v2) -> Mangum -> Starlette.

The app, its settings and the agent registry are built once per container, at import; store
clients are created on the first request that needs them. Invalid settings (for instance
``MEMKIT_AUTH=none`` inside Lambda) fail the init, so a misconfigured function never serves.
"""

# First, before the imports below allocate their objects: see memkit.lambda_lifecycle.
from memkit.lambda_lifecycle import freeze_after_first_invocation, hold_collection_until_first_invocation

hold_collection_until_first_invocation()

from aws_lambda_powertools.logging import correlation_paths
from mangum import Mangum

from memkit.api.app import create_app
from memkit.api.observability import logger

# One event at a time per process: route handlers run on the event loop, no worker thread.
app = create_app(flush_metrics_per_request=False, handlers_in_threadpool=False)
observability = app.state.observability
metrics = observability.metrics
asgi_handler = Mangum(app, lifespan="off")


@metrics.log_metrics(capture_cold_start_metric=True)
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def handler(event, context):
    return asgi_handler(event, context)


if observability.tracing:
    handler = observability.tracer.capture_lambda_handler(handler)
handler = freeze_after_first_invocation(handler)
