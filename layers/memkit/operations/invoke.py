"""Memory operations from a Lambda event: direct invocation, Step Functions, EventBridge.

The event names one operation of ``memkit.operations.calls`` with its camelCase ``args``::

    {"op": "saveMessages", "agentId": "support", "args": {"messages": [...]}}
    -> {"ok": true, "result": {"messages": [...]}}
    -> {"ok": false, "status": 400, "error": "messages.0.resourceId: Field required"}

Errors are returned rather than raised so that a Step Functions Choice state can branch on
``status``. The exception is an EventBridge event with a server-side failure (5xx): nobody reads
an async invocation's return value, so it is raised to let Lambda retry and then dead-letter.
Invoking the function is authorized by IAM, so its caller may address any resource.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from memkit.cache.base import request_scope
from memkit.errors import ValidationError
from memkit.operations.calls import OPERATIONS, run
from memkit.operations.principal import Principal
from memkit.operations.replies import describe_error

if TYPE_CHECKING:
    from memkit.runtime import Runtime

INVOKE_PRINCIPAL = Principal.trusted("ops")



def _is_eventbridge(event: Any) -> bool:
    return isinstance(event, Mapping) and "detail-type" in event and "detail" in event


def _request(event: Any) -> Any:
    return event["detail"] if _is_eventbridge(event) else event


def requested_op(event: Any) -> str | None:
    """The known operation an event asks for, else None (safe as a metric dimension)."""
    request = _request(event)
    name = request.get("op") if isinstance(request, Mapping) else None
    return name if isinstance(name, str) and name in OPERATIONS else None


def dispatch(event: Mapping[str, Any], runtime: Runtime) -> dict[str, Any]:
    """Run the operation an invoke / Step Functions / EventBridge event asks for."""
    try:
        request = _request(event)
        if not isinstance(request, Mapping):
            raise ValidationError("The event must be a JSON object {op, agentId?, args}", field="event")
        args = request.get("args")
        if args is None:
            args = {}
        if not isinstance(args, Mapping):
            raise ValidationError("args must be a JSON object", field="args")
        agent_id = request.get("agentId", args.get("agentId"))
        if agent_id is not None and not isinstance(agent_id, str):
            raise ValidationError("agentId must be a string", field="agentId")
        name = request.get("op")
        if not isinstance(name, str):
            raise ValidationError(f"op must be one of {', '.join(OPERATIONS)}", field="op")
        with request_scope():
            result = run(name, runtime.memory(agent_id), INVOKE_PRINCIPAL, args)
    except Exception as exc:
        reply = describe_error(exc)
        if reply.status >= 500 and _is_eventbridge(event):
            raise
        return {"ok": False, "status": reply.status, "error": reply.message}
    return {"ok": True, "result": result}
