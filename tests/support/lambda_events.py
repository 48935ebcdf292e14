"""API Gateway HTTP API (payload 2.0) events and a Lambda context, for driving the real handler.

The event has the shape of ``sam local generate-event apigateway http-api-proxy``; only the
request line, headers, body and (for jwt mode) the authorizer claims vary.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode


def http_api_event(
    method: str,
    path: str,
    *,
    query: dict[str, Any] | str | None = None,
    body: Any = None,
    headers: dict[str, str] | None = None,
    claims: dict[str, str] | None = None,
    base64_body: bool = False,
) -> dict[str, Any]:
    """``query`` as a dict is urlencoded (values already JSON strings where the client would send
    JSON); as a string it is used verbatim (for bracketed keys in a chosen order)."""
    raw_query = query if isinstance(query, str) else urlencode(query or {})
    all_headers = {"user-agent": "memkit-tests", "host": "api-id.execute-api.us-east-1.amazonaws.com"}
    if body is not None:
        all_headers["content-type"] = "application/json"
    all_headers.update(headers or {})
    request_context: dict[str, Any] = {
        "accountId": "123456789012",
        "apiId": "api-id",
        "domainName": "api-id.execute-api.us-east-1.amazonaws.com",
        "domainPrefix": "api-id",
        "http": {
            "method": method,
            "path": path,
            "protocol": "HTTP/1.1",
            "sourceIp": "192.168.0.1",
            "userAgent": "memkit-tests",
        },
        "requestId": f"req-{uuid.uuid4().hex[:12]}",
        "routeKey": "$default",
        "stage": "$default",
        "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
        "timeEpoch": int(time.time() * 1000),
    }
    if claims is not None:
        request_context["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": all_headers,
        "requestContext": request_context,
        "isBase64Encoded": False,
    }
    if raw_query:
        # API Gateway joins repeated names with commas here; Mangum reads rawQueryString.
        event["queryStringParameters"] = dict(pair.split("=", 1) if "=" in pair else (pair, "") for pair in raw_query.split("&"))
    if body is not None:
        text = body if isinstance(body, str) else json.dumps(body)
        if base64_body:
            event["body"] = base64.b64encode(text.encode()).decode()
            event["isBase64Encoded"] = True
        else:
            event["body"] = text
    return event


@dataclass
class LambdaContext:
    function_name: str = "memkit-api"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:memkit-api"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@dataclass
class LambdaResponse:
    status: int
    headers: dict[str, str]
    body: Any

    @classmethod
    def from_result(cls, result: dict[str, Any]) -> LambdaResponse:
        raw = result.get("body") or ""
        if result.get("isBase64Encoded"):
            raw = base64.b64decode(raw).decode()
        return cls(status=result["statusCode"], headers=result.get("headers", {}), body=json.loads(raw) if raw else None)
