"""The memkit HTTP API as an ASGI app: uvicorn serves it locally, Mangum on Lambda.

Why Starlette and not FastAPI: cold start. Whole-process milliseconds on the dev machine
(median of 7 fresh interpreters, Python 3.13, defining one route and a Mangum handler):

    import boto3            187 ms   (the reference the cold-start target is measured against)
    starlette + mangum      104 ms
    fastapi + mangum        306 ms

FastAPI would cost about 200 ms more on every cold start for request validation and OpenAPI
generation that memkit gets from its own pydantic models anyway (``openapi.py``).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Match, Route

from memkit.api.auth import Authenticator
from memkit.api.observability import Observability, ObservabilityMiddleware
from memkit.api.routes import starlette_routes
from memkit.runtime import Runtime


def allowed_methods(request: Request) -> str:
    """Every method served at the request's path, as an ``Allow`` header. Each route serves one
    method, so Starlette's own 405 names only the first route matching the path."""
    methods = {"OPTIONS"}
    for route in request.app.routes:
        match, _ = route.matches(request.scope)
        if match is not Match.NONE and isinstance(route, Route):
            methods |= route.methods or set()
    return ", ".join(sorted(methods))


async def _http_error(request: Request, exc: Exception) -> Response:
    # Unknown paths (404) and wrong methods (405) get the same JSON error shape as the rest.
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        # A path exists but not with this method: OPTIONS asks which methods it has.
        allow = {"Allow": allowed_methods(request)}
        if request.method == "OPTIONS":
            return Response(status_code=204, headers=allow)
        return JSONResponse({"error": exc.detail}, status_code=405, headers=allow)
    return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)


async def _explorer(request: Request) -> Response:
    # Imported on the first page request, so the API's cold path never loads the explorer.
    from memkit.api.explorer import serve

    return serve(request)


EXPLORER_ROUTES = [Route("/explorer", _explorer, methods=["GET"]), Route("/explorer/{asset}", _explorer, methods=["GET"])]


def create_app(
    runtime: Runtime | None = None,
    *,
    flush_metrics_per_request: bool = True,
    handlers_in_threadpool: bool = True,
) -> Starlette:
    """The API over ``runtime`` (default: one built from the environment).

    ``flush_metrics_per_request`` is turned off by the Lambda handler, whose ``log_metrics``
    decorator flushes once per invocation instead.

    ``handlers_in_threadpool``: route handlers call synchronous store SDKs, so a server runs them
    in worker threads to keep serving other requests meanwhile. The Lambda handler turns it off:
    Mangum serves one event per process at a time, so the event loop has nothing else to do,
    and the first hop to a worker thread costs about 17 ms of cold start (anyio's thread
    machinery). Handlers must then not start an event loop of their own.
    """
    owns_runtime = runtime is None
    runtime = runtime or Runtime()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        # Drains the in-process job queue (titles, indexing) before the server exits.
        if owns_runtime:
            runtime.close()

    observability = Observability(runtime.settings, flush_metrics_per_request=flush_metrics_per_request)
    routes = starlette_routes() + (EXPLORER_ROUTES if runtime.settings.explorer else [])
    app = Starlette(
        routes=routes,
        middleware=[Middleware(ObservabilityMiddleware, observability=observability)],
        exception_handlers={HTTPException: _http_error},
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    app.state.authenticator = Authenticator(runtime.settings)
    app.state.observability = observability
    app.state.handlers_in_threadpool = handlers_in_threadpool
    return app
