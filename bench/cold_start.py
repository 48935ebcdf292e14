"""Cold start of the API function, next to ``import boto3`` on the same machine in the same run.

Each sample is a fresh interpreter timed from outside (wall milliseconds, so interpreter
start-up counts on both sides):

- ``import boto3``: the reference (every Python function pays it);
- the API handler: import ``functions/api/app.py`` as Lambda does, then serve the first request
  (``GET /api/memory/threads?resourceId=r`` as an API Gateway HTTP API event, api-key auth)
  against DynamoDB Local. The target is defined on this request;
- for comparison: the floor (the same request served by the required parts alone, no memkit),
  and two other first requests an agent makes (list a thread's messages, save two messages).

Target: handler / boto3 <= 1.8 in whole-process milliseconds (start to exit). Next to it, the
same ratio up to the moment each child has done its work ("to response": start until the
import, or the first response, is complete), which is what a Lambda cold start consists of:
a Lambda process is frozen after answering, never torn down in front of a caller. Samples
alternate between the cases so that machine noise hits both alike; medians are reported, with
the children's CPU time (user + sys, whole process) because it varies much less on a busy
machine.

The children run what the deployed function runs: the memkit layer, built by
``layers/Makefile``'s own recipe for this machine instead of arm64 (the pinned dependencies,
botocore trimmed to the services memkit calls, unchecked-hash bytecode), on the interpreter
the venv was made from, so nothing outside the layer (no test dependency) can be imported;
and the ApiFunction's environment from ``template.yaml`` (SQS jobs, Powertools names, no
pydantic plugins; a test keeps the two in step). ``import boto3`` runs on the same path, so
both sides import the same boto3.

The handler keeps the garbage collector off during its init and first invocation, then
freezes what they built (``memkit.lambda_lifecycle``), which also spares the interpreter's
final collection at exit: that is why the handler's whole-process time is barely above its
"to response" time (~10 ms), while ``import boto3`` spends about 35 ms tearing down. The warm-up
run also checks that the first request makes exactly one DynamoDB call (no DescribeTable or
other hidden round trip).
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.local.stack import LOCAL_AWS_ENVIRONMENT

REPO_ROOT = Path(__file__).resolve().parents[1]
API_HANDLER = REPO_ROOT / "functions" / "api" / "app.py"
LAYER_SOURCE = REPO_ROOT / "layers"
TABLE_URL = "dynamodb://memkit-bench-cold-start"
TARGET_RATIO = 1.8

# Each child writes one byte to BENCH_READY_FD once its work is done (the "to response" time).
BOTO3 = "import boto3\nimport os; os.write(int(os.environ['BENCH_READY_FD']), b'.')"

# Runs in the child: import the handler by path (as Lambda's bootstrap does), then per mode:
# "request" serves the first request, "import" stops there, "count" (warm-up only) checks the
# first request's DynamoDB calls. The request is argv[3]: "threads" (the target's), "messages"
# and "save" (other first requests an agent makes, reported next to it) or "setup" (creates the
# thread those two use). Exits non-zero unless the request succeeded, so a broken handler can
# never pass for a fast one.
HANDLER_CHILD = r"""
import importlib.util, json, os, sys, uuid
spec = importlib.util.spec_from_file_location("app", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
def two_messages():
    return [{"id": str(uuid.uuid4()), "threadId": "bench-thread", "resourceId": "r", "role": "user", "type": "v2",
             "createdAt": "2026-01-01T00:00:00.000Z", "content": {"format": 2, "parts": [{"type": "text", "text": "hello"}]}}
            for _ in range(2)]
METHOD, PATH, BODY = {
    "threads": ("GET", "/api/memory/threads", None),
    "messages": ("GET", "/api/memory/threads/bench-thread/messages", None),
    "save": ("POST", "/api/memory/save-messages", {"messages": two_messages()}),
    "setup": ("POST", "/api/memory/threads", {"resourceId": "r", "threadId": "bench-thread", "title": "bench"}),
}[sys.argv[3]]
event = {
    "version": "2.0", "routeKey": "$default", "rawPath": PATH,
    "rawQueryString": "resourceId=r", "queryStringParameters": {"resourceId": "r"},
    "headers": {"x-api-key": "bench-key", "host": "api-id.execute-api.us-east-1.amazonaws.com", "content-type": "application/json"},
    "requestContext": {"accountId": "123456789012", "apiId": "api-id", "domainName": "api-id.execute-api.us-east-1.amazonaws.com",
        "domainPrefix": "api-id", "http": {"method": METHOD, "path": PATH, "protocol": "HTTP/1.1",
        "sourceIp": "192.168.0.1", "userAgent": "bench"}, "requestId": "bench", "routeKey": "$default",
        "stage": "$default", "time": "01/Jan/2025:00:00:00 +0000", "timeEpoch": 1735689600000},
    "isBase64Encoded": False,
}
if BODY is not None:
    event["body"] = json.dumps(BODY)
class Context:
    function_name = "memkit-api"; memory_limit_in_mb = 512; aws_request_id = "bench"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:memkit-api"
    def get_remaining_time_in_millis(self): return 30000
def first_request():
    response = module.handler(event, Context())
    if response["statusCode"] != 200:
        sys.exit(f"first request answered {response['statusCode']}: {response.get('body')}")
if sys.argv[2] == "request":
    first_request()
elif sys.argv[2] == "count":
    # Not timed. The client is built before the request so that its calls can be counted;
    # building it calls nothing, so this is the count a cold first request makes. The counter
    # is a bench instrument, not part of the layer: the repository root goes last on the path.
    sys.path.append(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(sys.argv[1])))))
    from bench.instruments import RequestCounter
    with RequestCounter(module.app.state.runtime.storage(), consumed_capacity=False) as counter:
        first_request()
    if counter.operations() != ["Query"]:
        sys.exit(f"the first request should make exactly one DynamoDB call (a Query), made {counter.operations()}")
os.write(int(os.environ["BENCH_READY_FD"]), b".")
"""

# The floor: the same request served by only the parts the API is required to use (a pydantic
# model, Starlette behind Mangum, Powertools Logger and Metrics, one pynamodb Query), with the
# same collector freeze, and no memkit. The distance from it to the handler is memkit's own cost.
FLOOR_CHILD = r"""
import gc, json, os, sys, uuid
from aws_lambda_powertools import Logger, Metrics
from mangum import Mangum
from pydantic import BaseModel, ConfigDict
from pynamodb.attributes import UnicodeAttribute
from pynamodb.models import Model
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
logger, metrics = Logger(), Metrics()
class Item(Model):
    class Meta:
        table_name = os.environ["MEMKIT_STORAGE_URL"].removeprefix("dynamodb://")
    pk = UnicodeAttribute(hash_key=True, attr_name="PK")
    sk = UnicodeAttribute(range_key=True, attr_name="SK")
class Thread(BaseModel):
    model_config = ConfigDict(defer_build=True)
    id: str
    resourceId: str
async def threads(request):
    found = [Thread(id=i.sk, resourceId=i.pk).model_dump() for i in Item.query(request.query_params["resourceId"], limit=10)]
    return JSONResponse({"threads": found})
asgi = Mangum(Starlette(routes=[Route("/api/memory/threads", threads)]), lifespan="off")
@metrics.log_metrics
@logger.inject_lambda_context
def handler(event, context):
    return asgi(event, context)
""" + HANDLER_CHILD[HANDLER_CHILD.index("def two_messages"):HANDLER_CHILD.index("if sys.argv[2]")].replace(
    "module.handler", "handler"
).replace("}[sys.argv[3]]", '}["threads"]') + """
first_request()
gc.freeze()
os.write(int(os.environ["BENCH_READY_FD"]), b".")
"""


def _lambda_env(dynamodb_endpoint: str, *, create_tables: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEMKIT_", "AWS_", "POWERTOOLS_"))}
    env.update(
        {
            # What template.yaml sets on ApiFunction (Globals plus its own variables).
            "PYDANTIC_DISABLE_PLUGINS": "1",
            "POWERTOOLS_SERVICE_NAME": "memkit",
            "POWERTOOLS_METRICS_NAMESPACE": "memkit",
            "POWERTOOLS_LOG_LEVEL": "INFO",
            "MEMKIT_TRACING": "0",
            "MEMKIT_JOBS": "sqs",
            # Never sent to: the first request enqueues nothing, and the SQS client is lazy.
            "MEMKIT_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/memkit-bench-jobs",
            "MEMKIT_TITLE_MODEL": "local",
            "AWS_LAMBDA_FUNCTION_NAME": "memkit-api",
            **LOCAL_AWS_ENVIRONMENT,
            "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_endpoint,
            "MEMKIT_STORAGE_URL": TABLE_URL,
            "MEMKIT_AUTH": "api-key",
            "MEMKIT_API_KEY": "bench-key",
            # In AWS the table comes from the template; only the warm-up run creates it here.
            "MEMKIT_CREATE_TABLES": "1" if create_tables else "0",
        }
    )
    return env


def build_layer(artifacts: Path) -> Path:
    """The memkit layer as ``sam build`` makes it, for this machine's platform; returns its
    ``python`` directory (what Lambda mounts at /opt/python)."""
    result = subprocess.run(
        [
            "make", "-s", "-C", str(LAYER_SOURCE), "build-MemkitLayer",
            f"ARTIFACTS_DIR={artifacts}", "PLATFORM_FLAGS=", f"PYTHON={sys.executable}",
        ],
        capture_output=True, text=True, check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"building the layer failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return artifacts / "python"


def runtime_python() -> str:
    """The interpreter this venv was made from: the same Python, without the venv's packages."""
    base = Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    if not base.is_file():
        raise RuntimeError(f"{base} does not exist: cannot run the children outside the venv")
    return str(base)


@dataclass(frozen=True)
class Sample:
    whole_ms: float  # start to exit
    to_response_ms: float  # start until the child reported its work done
    cpu_ms: float  # user + sys of the whole process


def _timed(argv: list[str], env: dict[str, str]) -> Sample:
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    ready_read, ready_write = os.pipe()
    # stderr to a file, not a pipe: a chatty child must not block on a full pipe before exiting.
    with tempfile.TemporaryFile() as stderr:
        started = time.perf_counter()
        try:
            child = subprocess.Popen(
                argv, env={**env, "BENCH_READY_FD": str(ready_write)}, cwd=REPO_ROOT,
                stdout=subprocess.DEVNULL, stderr=stderr, pass_fds=(ready_write,),
            )
        finally:
            os.close(ready_write)
        with os.fdopen(ready_read, "rb") as ready:
            signalled = ready.read(1)  # empty if the child exited without reporting
        to_response_ms = (time.perf_counter() - started) * 1000
        returncode = child.wait()
        whole_ms = (time.perf_counter() - started) * 1000
        if returncode != 0 or not signalled:
            stderr.seek(0)
            raise RuntimeError(f"{argv[:3]} failed ({returncode}):\n{stderr.read().decode(errors='replace')[-2000:]}")
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_ms = (cpu_after.ru_utime - cpu_before.ru_utime + cpu_after.ru_stime - cpu_before.ru_stime) * 1000
    return Sample(whole_ms=whole_ms, to_response_ms=to_response_ms, cpu_ms=cpu_ms)


def _row(case: str, samples: list[Sample], reference: list[Sample] | None = None) -> dict[str, Any]:
    whole = [s.whole_ms for s in samples]
    row: dict[str, Any] = {
        "case": case,
        "median ms": statistics.median(whole),
        "min ms": min(whole),
        "max ms": max(whole),
        "to response ms": statistics.median(s.to_response_ms for s in samples),
        "cpu ms": statistics.median(s.cpu_ms for s in samples),
        "runs": len(samples),
    }
    if reference is not None:
        row.update(_ratios(samples, reference))
    return row


def _ratios(samples: list[Sample], reference: list[Sample]) -> dict[str, str]:
    # Formatted here: the table prints floats with one decimal, too coarse against a 1.8 target.
    def ratio(metric: str) -> str:
        median = statistics.median(getattr(s, metric) for s in samples)
        return f"{median / statistics.median(getattr(s, metric) for s in reference):.2f}"

    return {"x boto3": ratio("whole_ms"), "x boto3 to response": ratio("to_response_ms"), "x boto3 cpu": ratio("cpu_ms")}


SECRET_NAME = "memkit-bench-api-key"


def _store_api_key(secrets_endpoint: str) -> None:
    """The API key where template.yaml's default deployment keeps it: in Secrets Manager."""
    import boto3

    client = boto3.client("secretsmanager", endpoint_url=secrets_endpoint)
    try:
        client.create_secret(Name=SECRET_NAME, SecretString="bench-key")
    except client.exceptions.ResourceExistsException:
        client.put_secret_value(SecretId=SECRET_NAME, SecretString="bench-key")


def measure(runs: int = 15, *, dynamodb_endpoint: str, secrets_endpoint: str) -> list[dict[str, Any]]:
    """Median whole-process ms of each case, plus the handler/boto3 ratios against the target:
    with the API key given directly, and read from Secrets Manager as the template deploys it."""
    _store_api_key(secrets_endpoint)
    with tempfile.TemporaryDirectory(prefix="memkit-bench-layer-") as scratch:
        layer = build_layer(Path(scratch))
        return _measure(runs, dynamodb_endpoint=dynamodb_endpoint, secrets_endpoint=secrets_endpoint, layer=layer)


def _measure(runs: int, *, dynamodb_endpoint: str, secrets_endpoint: str, layer: Path) -> list[dict[str, Any]]:
    python = runtime_python()
    env = {**_lambda_env(dynamodb_endpoint, create_tables=False), "PYTHONPATH": str(layer)}
    secret_env = {
        **env,
        "MEMKIT_API_KEY": f"secretsmanager:{SECRET_NAME}",
        # botocore's variable for the "Secrets Manager" service id.
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": secrets_endpoint,
    }
    def child(mode: str, request: str = "threads") -> list[str]:
        return [python, "-c", HANDLER_CHILD, str(API_HANDLER), mode, request]

    origins = subprocess.run(
        [python, "-c", "import boto3, botocore, memkit, pydantic; print(boto3.__file__, botocore.__file__, memkit.__file__, pydantic.__file__)"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout.split()
    outside = [origin for origin in origins if not Path(origin).is_relative_to(layer)]
    if outside:
        raise RuntimeError(f"the children would import {outside} from outside the layer in {layer}")
    # Warm-up (not counted): creates the table and the thread the other requests use, checks
    # the first request's DynamoDB calls, and loads every child's files into the page cache.
    _timed(child("request", "setup"), {**_lambda_env(dynamodb_endpoint, create_tables=True), "PYTHONPATH": str(layer)})
    _timed(child("count"), env)
    floor = [python, "-c", FLOOR_CHILD]
    cases = {
        "boto3": ([python, "-c", BOTO3], env),
        "handler": (child("request"), env),
        "secret": (child("request"), secret_env),
        "import": (child("import"), env),
        "floor": (floor, env),
        "messages": (child("request", "messages"), env),
        "save": (child("request", "save"), env),
    }
    for argv, case_env in cases.values():
        _timed(argv, case_env)

    samples: dict[str, list[Sample]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, (argv, case_env) in cases.items():
            samples[name].append(_timed(argv, case_env))

    def verdict(case: str, name: str) -> dict[str, Any]:
        ratios = _ratios(samples[name], samples["boto3"])
        met = float(ratios["x boto3"]) <= TARGET_RATIO
        return {"case": f"ratio {case} / boto3 (target <= {TARGET_RATIO})", **ratios,
                "verdict": "meets target" if met else "OVER TARGET"}

    return [
        _row("python -c 'import boto3'", samples["boto3"], samples["boto3"]),
        _row("API handler: import only", samples["import"], samples["boto3"]),
        _row("API handler: import + first request (DynamoDB)", samples["handler"], samples["boto3"]),
        _row("same, API key read from Secrets Manager (template default)", samples["secret"], samples["boto3"]),
        _row("floor: the required parts alone, same request (no memkit)", samples["floor"], samples["boto3"]),
        _row("other first requests: list a thread's messages", samples["messages"], samples["boto3"]),
        _row("other first requests: save 2 messages", samples["save"], samples["boto3"]),
        verdict("handler, key given directly or jwt", "handler"),
        verdict("handler, key from Secrets Manager", "secret"),
    ]


def run(stack: Any) -> list[tuple[str, list[dict[str, Any]]]]:
    return [(
        "Cold start: API function vs import boto3 (whole-process ms)",
        measure(dynamodb_endpoint=stack.dynamodb_endpoint, secrets_endpoint=stack.aws_endpoint),
    )]
