"""The HTTP routes: Mastra's memory routes under ``/api/memory`` plus memkit's own.

Each route reads as a straight line: authenticate, read the query/body into an operation's
``args`` (``params.py`` knows the client's quirks), run the operation from ``memkit.operations.calls`` on the
agent's ``Memory`` in the thread pool (the store SDKs are synchronous), answer JSON. Errors of
any kind go through ``memkit.operations.replies.describe_error``, the one mapping to statuses.

``ROUTES`` is the single table: the Starlette router and the OpenAPI document are both built
from it, so the published document cannot drift from what is served.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from memkit.api.auth import Authenticator
from memkit.api.params import Query, drop_absent, read_json_object
from memkit.cache.base import request_scope
from memkit.errors import AuthenticationError, ValidationError
from memkit.memory import Memory
from memkit.operations import calls
from memkit.operations.principal import Principal
from memkit.operations.replies import describe_error
from memkit.runtime import Runtime


class Call(NamedTuple):
    """One authenticated request, parsed far enough for a route handler."""

    runtime: Runtime
    #: None on public routes, which touch no data
    principal: Principal | None
    query: Query
    path: dict[str, str]
    body: dict[str, Any]

    @property
    def agent_id(self) -> str | None:
        from_query = self.query.text("agentId")
        if from_query is not None:
            return from_query
        from_body = self.body.get("agentId")
        if from_body is not None and not isinstance(from_body, str):
            raise ValidationError("agentId must be a string", field="agentId")
        return from_body or None

    @property
    def caller(self) -> Principal:
        if self.principal is None:
            raise AuthenticationError("This route is public and may not touch memory data")
        return self.principal

    def memory(self) -> Memory:
        return self.runtime.memory(self.agent_id)

    def body_with_path(self) -> dict[str, Any]:
        """The body as args, plus the path parameters (which win) and a resourceId from the
        query when the body has none. The body is passed as sent: ``{"title": null}`` clears."""
        args = {**self.body, **self.path}
        if args.get("resourceId") is None and (from_query := self.query.text("resourceId")) is not None:
            args["resourceId"] = from_query
        return args


Handler = Callable[[Call], Any]
NO_QUERY: Mapping[str, str] = MappingProxyType({})


class ApiRoute(NamedTuple):
    method: str
    path: str
    handler: Handler
    summary: str
    #: the operation (``memkit.operations.calls``) whose args model documents the input
    op: str | None = None
    reads_body: bool = False
    #: query parameters, for the OpenAPI document: name -> description
    query: Mapping[str, str] = NO_QUERY
    #: no authentication (health checks, the API description)
    public: bool = False
    #: query or body parameters the operation cannot do without (for the OpenAPI document; a
    #: caller bound to a resource in jwt mode may leave out resourceId, which is its own)
    required: frozenset[str] = frozenset()


def _handle_in_request_scope(handler: Callable[[Call], Any], call: Call) -> Any:
    # One request, one cache view: the first cached read fetches the thread, its recent window
    # and the resource in one round trip and later reads in the request reuse it. Entered in the
    # thread that runs the handler, since the view lives in a context variable.
    with request_scope():
        return handler(call)


def endpoint(route: ApiRoute) -> Callable[[Request], Awaitable[Response]]:
    async def asgi_endpoint(request: Request) -> Response:
        try:
            runtime: Runtime = request.app.state.runtime
            authenticator: Authenticator = request.app.state.authenticator
            # Before the body is read, so an unauthenticated caller cannot make us buffer it.
            principal = None if route.public else authenticator.authenticate(request.scope, request.headers)
            body = await read_json_object(request, runtime.settings.max_body_bytes) if route.reads_body else {}
            call = Call(
                runtime=runtime,
                principal=principal,
                query=Query(request.query_params),
                path=dict(request.path_params),
                body=body,
            )
            if request.app.state.handlers_in_threadpool:
                result = await run_in_threadpool(_handle_in_request_scope, route.handler, call)
            else:
                result = _handle_in_request_scope(route.handler, call)
        except Exception as exc:
            reply = describe_error(exc)
            return JSONResponse(reply.body(), status_code=reply.status)
        return JSONResponse(result)

    asgi_endpoint.__name__ = route.handler.__name__
    return asgi_endpoint


def run_op(name: str, call: Call, args: dict[str, Any]) -> Any:
    return calls.run(name, call.memory(), call.caller, args)


# ---------------------------------------------------------------- /api/memory


def memory_status(call: Call) -> dict[str, Any]:
    call.caller.resource_for(call.query.text("resourceId"))
    return {"result": True, "memoryType": call.memory().storage.name}


def memory_config(call: Call) -> dict[str, Any]:
    return {"config": call.memory().config.describe()}


def list_threads(call: Call) -> Any:
    q = call.query
    return run_op(
        "listThreads",
        call,
        drop_absent(
            {
                "resourceId": q.text("resourceId"),
                "metadata": q.json("metadata", dict),
                "page": q.integer("page"),
                "perPage": q.per_page(),
                "orderBy": q.order_by(),
            }
        ),
    )


def create_thread(call: Call) -> Any:
    return run_op("createThread", call, call.body)


def get_thread(call: Call) -> Any:
    return run_op("getThread", call, drop_absent({"threadId": call.path["threadId"], "resourceId": call.query.text("resourceId")}))


def update_thread(call: Call) -> Any:
    return run_op("updateThread", call, call.body_with_path())


def delete_thread(call: Call) -> Any:
    return run_op("deleteThread", call, drop_absent({"threadId": call.path["threadId"], "resourceId": call.query.text("resourceId")}))


def list_messages(call: Call) -> Any:
    q = call.query
    return run_op(
        "listMessages",
        call,
        drop_absent(
            {
                "threadId": call.path["threadId"],
                "resourceId": q.text("resourceId"),
                "page": q.integer("page"),
                "perPage": q.per_page(),
                "orderBy": q.order_by(),
                "filter": q.json("filter", dict),
                "include": q.json("include", list),
                "includeSystemReminders": q.boolean("includeSystemReminders"),
            }
        ),
    )


def save_messages(call: Call) -> Any:
    return run_op("saveMessages", call, call.body)


def delete_messages(call: Call) -> Any:
    return run_op("deleteMessages", call, call.body)


def get_working_memory(call: Call) -> Any:
    return run_op(
        "getWorkingMemory", call, drop_absent({"threadId": call.path["threadId"], "resourceId": call.query.text("resourceId")})
    )


def update_working_memory(call: Call) -> Any:
    return run_op("updateWorkingMemory", call, call.body_with_path())


def clone_thread(call: Call) -> Any:
    return run_op("cloneThread", call, call.body_with_path())


def search_memory(call: Call) -> Any:
    q = call.query
    return run_op(
        "searchMemory",
        call,
        drop_absent(
            {
                "searchQuery": q.text("searchQuery"),
                "resourceId": q.text("resourceId"),
                "threadId": q.text("threadId"),
                "limit": q.integer("limit"),
                "memoryConfig": q.json("memoryConfig", dict),
            }
        ),
    )


# ---------------------------------------------------------------- memkit's own routes


def health(call: Call) -> dict[str, Any]:
    # Deliberately touches no store: a health check must not turn a cold start into a
    # database connection, and a load balancer only needs to know the process answers.
    return {"status": "ok"}


def openapi_document(call: Call) -> Any:
    from memkit.api.openapi import openapi_json

    return openapi_json(ROUTES)


def erase_resource(call: Call) -> Any:
    return run_op("eraseResource", call, {"resourceId": call.path["resourceId"]})


AGENT = {"agentId": "Agent whose memory configuration applies (default agent when absent)"}
RESOURCE = {"resourceId": "Owner of the data; checked against the thread's owner (403 on mismatch)"}
PAGINATION = {"page": "0-based page number", "perPage": "Page size, or false for everything"}

ROUTES: list[ApiRoute] = [
    ApiRoute("GET", "/api/memory/status", memory_status, "Memory status", query={**AGENT, **RESOURCE, "threadId": "Thread"}),
    ApiRoute("GET", "/api/memory/config", memory_config, "The agent's memory configuration", query=AGENT),
    ApiRoute(
        "GET",
        "/api/memory/threads",
        list_threads,
        "List threads",
        op="listThreads",
        query={
            **AGENT,
            **RESOURCE,
            "metadata": "JSON object: threads whose metadata has all these key/values",
            **PAGINATION,
            "orderBy[field]": "createdAt | updatedAt",
            "orderBy[direction]": "ASC | DESC",
        },
        # DynamoDB lists threads per resource only (no table scans); the embedded libSQL store
        # can also list every thread, which the document does not promise.
        required=frozenset({"resourceId"}),
    ),
    ApiRoute(
        "POST", "/api/memory/threads", create_thread, "Create a thread", op="createThread", reads_body=True, query=AGENT,
        required=frozenset({"resourceId"}),
    ),
    ApiRoute("GET", "/api/memory/threads/{threadId}", get_thread, "Get a thread", op="getThread", query={**AGENT, **RESOURCE}),
    ApiRoute(
        "PATCH", "/api/memory/threads/{threadId}", update_thread, "Update a thread", op="updateThread", reads_body=True, query=AGENT
    ),
    ApiRoute(
        "DELETE", "/api/memory/threads/{threadId}", delete_thread, "Delete a thread and its messages", op="deleteThread",
        query={**AGENT, **RESOURCE},
    ),
    ApiRoute(
        "GET",
        "/api/memory/threads/{threadId}/messages",
        list_messages,
        "List a thread's messages",
        op="listMessages",
        query={
            **AGENT,
            **RESOURCE,
            **PAGINATION,
            "orderBy": "JSON object {field, direction}",
            "filter": "JSON object {dateRange: {start, end, startExclusive, endExclusive}, roles: [...]}",
            "include": "JSON array [{id, threadId?, withPreviousMessages?, withNextMessages?}]",
            "includeSystemReminders": "Accepted for compatibility; memkit stores no system reminders",
        },
    ),
    ApiRoute("POST", "/api/memory/save-messages", save_messages, "Save messages", op="saveMessages", reads_body=True, query=AGENT),
    ApiRoute(
        "POST", "/api/memory/messages/delete", delete_messages, "Delete messages", op="deleteMessages", reads_body=True, query=AGENT
    ),
    ApiRoute(
        "GET", "/api/memory/threads/{threadId}/working-memory", get_working_memory, "Get working memory", op="getWorkingMemory",
        query={**AGENT, **RESOURCE},
    ),
    ApiRoute(
        "POST", "/api/memory/threads/{threadId}/working-memory", update_working_memory, "Update working memory",
        op="updateWorkingMemory", reads_body=True, query=AGENT,
    ),
    ApiRoute(
        "POST", "/api/memory/threads/{threadId}/clone", clone_thread, "Clone a thread", op="cloneThread", reads_body=True, query=AGENT
    ),
    ApiRoute(
        "GET",
        "/api/memory/search",
        search_memory,
        "Semantic search over a resource's messages (needs semantic recall and a vector store)",
        query={
            **AGENT,
            "searchQuery": "What to search for",
            "resourceId": "Whose messages to search (required)",
            "threadId": "With semanticRecall.scope thread: search only this thread",
            "limit": "Most results to return (1-100, default 20)",
            "memoryConfig": "JSON object merged over the agent's memory config, e.g. {\"semanticRecall\": {\"scope\": \"thread\"}}",
        },
        required=frozenset({"resourceId"}),
    ),
    ApiRoute("GET", "/health", health, "Liveness check", public=True),
    ApiRoute("GET", "/openapi.json", openapi_document, "This API's OpenAPI 3.1 document", public=True),
    ApiRoute(
        "DELETE", "/api/memkit/resources/{resourceId}", erase_resource,
        "Erase a resource: its working memory, threads, messages and vectors", op="eraseResource", query=AGENT,
    ),
]


def starlette_routes() -> list[Route]:
    return [Route(r.path, endpoint(r), methods=[r.method]) for r in ROUTES]
