"""A Strands agent on AWS Lambda whose conversations live in memkit.

Each request is one turn of one conversation: the agent is built for the session (its history,
state and tool calls come back from memkit's table), answers with Claude on Amazon Bedrock,
and everything the turn added is saved as it happens. Any container, cold or warm, resumes any
session. The memory stack's API (and @mastra/client-js) reads the same conversation.

Request (a Lambda function URL or API Gateway payload 2.0 body, or a direct invoke's event):
    {"sessionId": "trip-1", "userId": "user-1", "message": "Plan a weekend in Lisbon"}
The user is the JWT's ``sub`` when an authorizer sent one; ``userId`` is for trusted callers.
Response: {"sessionId": "trip-1", "reply": "..."}; bad input is a 400 naming the field.
"""

from __future__ import annotations

import json
import os
from datetime import date
from typing import Any

from memkit import Runtime
from memkit.errors import OwnershipError, ValidationError
from memkit.integrations.strands import MemkitSessionManager
from strands import Agent, tool

SYSTEM_PROMPT = "You are a concise travel planner. Use the tools for dates and keep answers short."

# Built once per container from the same MEMKIT_* settings as the memory stack's functions
# (table, jobs queue, cache), so titles, recall indexing and cache invalidation work as for
# any other writer.
runtime = Runtime()
memory = runtime.memory()


def create_model() -> Any:
    from strands.models import BedrockModel

    # Converse, not ConverseStream: the reply is returned whole, and the role needs only
    # bedrock:InvokeModel.
    return BedrockModel(model_id=os.environ["MODEL_ID"], streaming=False)


@tool
def trip_length(start: str, end: str) -> int:
    """Number of nights between two ISO dates (YYYY-MM-DD)."""
    return (date.fromisoformat(end) - date.fromisoformat(start)).days


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        request = _request(event)
        manager = MemkitSessionManager(session_id=request["sessionId"], resource_id=request["userId"], memory=memory)
    except ValidationError as error:
        return _response(400, {"error": str(error), "field": error.field})
    except OwnershipError:
        return _response(403, {"error": "this session belongs to another user"})
    agent = Agent(
        model=create_model(),
        system_prompt=SYSTEM_PROMPT,
        tools=[trip_length],
        session_manager=manager,
        callback_handler=None,
    )
    result = agent(request["message"])
    return _response(200, {"sessionId": request["sessionId"], "reply": str(result).strip()})


def _request(event: dict[str, Any]) -> dict[str, str]:
    body: Any = event
    if "body" in event:
        try:
            body = json.loads(event["body"] or "")
        except json.JSONDecodeError:
            raise ValidationError("the body must be JSON", field="body") from None
    if not isinstance(body, dict):
        raise ValidationError("the body must be a JSON object", field="body")
    claims = ((event.get("requestContext") or {}).get("authorizer") or {}).get("jwt", {}).get("claims") or {}
    request = {**body, "userId": claims.get("sub", body.get("userId"))}
    for field in ("sessionId", "userId", "message"):
        if not isinstance(request.get(field), str) or not request[field].strip():
            raise ValidationError(f"{field} must be a non-empty string", field=field)
    return request


def _response(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"content-type": "application/json"}, "body": json.dumps(body)}
