"""Cold start of the API function, next to ``import boto3`` on the same machine in the same run.

Each sample is a fresh interpreter timed from outside (whole-process wall milliseconds, so
interpreter start-up counts on both sides):

- ``import boto3``: the reference (the Lambda runtime ships boto3, every Python function pays it);
- the API handler: import ``functions/api/app.py`` as Lambda does, then serve the first request
  (``GET /api/memory/threads?resourceId=r`` as an API Gateway HTTP API event, api-key auth)
  against DynamoDB Local.

Target: handler / boto3 <= 1.8. Samples alternate between the cases so that machine noise
hits both alike; medians are reported.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
API_HANDLER = REPO_ROOT / "functions" / "api" / "app.py"
TABLE_URL = "dynamodb://memkit-bench-cold-start"
TARGET_RATIO = 1.8

BOTO3 = "import boto3"

# Runs in the child: import the handler by path (as Lambda's bootstrap does) and, unless
# told otherwise, serve one request. Exits non-zero unless the request succeeded, so a broken
# handler can never pass for a fast one.
HANDLER_CHILD = r"""
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("app", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
if sys.argv[2] == "request":
    event = {
        "version": "2.0", "routeKey": "$default", "rawPath": "/api/memory/threads",
        "rawQueryString": "resourceId=r", "queryStringParameters": {"resourceId": "r"},
        "headers": {"x-api-key": "bench-key", "host": "api-id.execute-api.us-east-1.amazonaws.com"},
        "requestContext": {"accountId": "123456789012", "apiId": "api-id", "domainName": "api-id.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "api-id", "http": {"method": "GET", "path": "/api/memory/threads", "protocol": "HTTP/1.1",
            "sourceIp": "192.168.0.1", "userAgent": "bench"}, "requestId": "bench", "routeKey": "$default",
            "stage": "$default", "time": "01/Jan/2025:00:00:00 +0000", "timeEpoch": 1735689600000},
        "isBase64Encoded": False,
    }
    class Context:
        function_name = "memkit-api"; memory_limit_in_mb = 512; aws_request_id = "bench"
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:memkit-api"
        def get_remaining_time_in_millis(self): return 30000
    response = module.handler(event, Context())
    if response["statusCode"] != 200:
        sys.exit(f"first request answered {response['statusCode']}: {response.get('body')}")
"""


def _lambda_env(dynamodb_endpoint: str, *, create_tables: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEMKIT_", "AWS_", "POWERTOOLS_"))}
    env.update(
        {
            "AWS_LAMBDA_FUNCTION_NAME": "memkit-api",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_endpoint,
            "MEMKIT_STORAGE_URL": TABLE_URL,
            "MEMKIT_AUTH": "api-key",
            "MEMKIT_API_KEY": "bench-key",
            # In AWS the table comes from the template; only the warm-up run creates it here.
            "MEMKIT_CREATE_TABLES": "1" if create_tables else "0",
        }
    )
    return env


def _timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(argv, env=env, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
    elapsed_ms = (time.perf_counter() - started) * 1000
    if result.returncode != 0:
        raise RuntimeError(f"{argv[:3]} failed ({result.returncode}):\n{result.stderr[-2000:]}")
    return elapsed_ms


def _row(case: str, samples: list[float], reference: float | None = None) -> dict[str, Any]:
    median = statistics.median(samples)
    row: dict[str, Any] = {"case": case, "median ms": median, "min ms": min(samples), "max ms": max(samples), "runs": len(samples)}
    if reference is not None:
        row["x boto3"] = round(median / reference, 2)
    return row


def measure(runs: int = 5, *, dynamodb_endpoint: str) -> list[dict[str, Any]]:
    """Median whole-process ms of each case, plus the handler/boto3 ratio against the target."""
    python = sys.executable
    env = _lambda_env(dynamodb_endpoint, create_tables=False)
    handler = [python, "-c", HANDLER_CHILD, str(API_HANDLER), "request"]
    import_only = [python, "-c", HANDLER_CHILD, str(API_HANDLER), "import"]
    # Warm-up (not counted): creates the table, and writes the bytecode caches both sides reuse.
    _timed(handler, _lambda_env(dynamodb_endpoint, create_tables=True))
    _timed([python, "-c", BOTO3], env)

    samples: dict[str, list[float]] = {"boto3": [], "handler": [], "import": []}
    for _ in range(runs):
        samples["boto3"].append(_timed([python, "-c", BOTO3], env))
        samples["handler"].append(_timed(handler, env))
        samples["import"].append(_timed(import_only, env))

    reference = statistics.median(samples["boto3"])
    ratio = statistics.median(samples["handler"]) / reference
    return [
        _row("python -c 'import boto3'", samples["boto3"], reference),
        _row("API handler: import only", samples["import"], reference),
        _row("API handler: import + first request (DynamoDB)", samples["handler"], reference),
        {"case": f"ratio handler / boto3 (target <= {TARGET_RATIO})", "x boto3": round(ratio, 2),
         "verdict": "meets target" if ratio <= TARGET_RATIO else "OVER TARGET"},
    ]


def run(stack: Any) -> list[tuple[str, list[dict[str, Any]]]]:
    return [("Cold start: API function vs import boto3 (whole-process ms)", measure(dynamodb_endpoint=stack.dynamodb_endpoint))]
