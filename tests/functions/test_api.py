"""The Lambda path: API Gateway HTTP API v2 events through ``functions/api/app.handler``, on both
stores, with the handler imported the way Lambda imports it (environment first)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from memkit.errors import ConfigurationError
from tests.api.support import API_HANDLER_PATH, LambdaApi, message, uid


def test_every_route_through_the_lambda_handler(lambda_api: Callable[..., LambdaApi], store: str) -> None:
    api = lambda_api()
    resource_id, thread_id = uid("res"), uid("thr")
    agent = {"agentId": "default"}

    # Given a thread with three messages
    created = api.request("POST", "/api/memory/threads", query=agent, body={"resourceId": resource_id, "threadId": thread_id, "title": "t"})
    assert created.status == 200, created.body
    assert created.body["id"] == thread_id
    messages = [message(thread_id, resource_id, f"m{i}", at_ms=i) for i in range(3)]
    saved = api.request("POST", "/api/memory/save-messages", query=agent, body={"agentId": "default", "messages": messages})
    assert saved.status == 200 and len(saved.body["messages"]) == 3

    # Then every read route answers in Mastra's shapes
    listed = api.request(
        "GET", "/api/memory/threads",
        query=f"resourceId={resource_id}&agentId=default&page=0&perPage=10&orderBy%5Bfield%5D=updatedAt&orderBy%5Bdirection%5D=DESC",
    )
    assert listed.status == 200, listed.body
    assert [t["id"] for t in listed.body["threads"]] == [thread_id]
    assert api.request("GET", f"/api/memory/threads/{thread_id}", query={"resourceId": resource_id}).body["title"] == "t"
    page = api.request(
        "GET", f"/api/memory/threads/{thread_id}/messages",
        query={"resourceId": resource_id, "perPage": "1", "orderBy": json.dumps({"field": "createdAt", "direction": "DESC"}),
               "include": json.dumps([{"id": messages[0]["id"], "withNextMessages": 1}])},
    )
    assert page.status == 200, page.body
    assert {m["id"] for m in page.body["messages"]} == {m["id"] for m in messages}
    assert (page.body["total"], page.body["hasMore"], page.body["uiMessages"]) == (3, True, None)
    assert api.request("GET", "/api/memory/status", query=agent).body == {"result": True, "memoryType": store}
    assert api.request("GET", "/api/memory/config", query=agent).body["config"]["lastMessages"] == 10

    # And every write route works
    patched = api.request("PATCH", f"/api/memory/threads/{thread_id}", query=agent, body={"title": "renamed"})
    assert patched.body["title"] == "renamed"
    wm_path = f"/api/memory/threads/{thread_id}/working-memory"
    assert api.request("POST", wm_path, query=agent, body={"workingMemory": "# Ada", "resourceId": resource_id}).body == {"success": True}
    assert api.request("GET", wm_path, query={**agent, "resourceId": "undefined"}).body["workingMemory"] == "# Ada"
    clone = api.request("POST", f"/api/memory/threads/{thread_id}/clone", query=agent, body={"title": "copy"})
    assert clone.status == 200 and len(clone.body["clonedMessages"]) == 3
    deleted = api.request("POST", "/api/memory/messages/delete", query=agent, body={"messageIds": [{"id": messages[0]["id"]}]})
    assert deleted.body == {"success": True, "message": "1 message(s) deleted successfully"}
    assert api.request("DELETE", f"/api/memory/threads/{thread_id}", query=agent).body == {"result": "Thread deleted"}
    missing = api.request("GET", f"/api/memory/threads/{thread_id}")
    assert (missing.status, missing.body) == (404, {"error": "Thread not found"})
    erased = api.request("DELETE", f"/api/memkit/resources/{resource_id}")
    assert erased.status == 200 and erased.body["deletedThreadIds"] == [clone.body["thread"]["id"]]
    assert api.request("GET", "/health").body == {"status": "ok"}
    assert api.request("GET", "/openapi.json").body["openapi"] == "3.1.0"


def test_base64_encoded_body_is_decoded(lambda_api: Callable[..., LambdaApi]) -> None:
    api = lambda_api()
    resource_id = uid("res")
    response = api.request("POST", "/api/memory/threads", body={"resourceId": resource_id, "title": "b64"}, base64_body=True)
    assert response.status == 200, response.body
    assert response.body["title"] == "b64"


def test_errors_through_lambda_are_json_with_status(lambda_api: Callable[..., LambdaApi]) -> None:
    api = lambda_api(MEMKIT_MAX_BODY_BYTES="512")
    resource_id = uid("res")

    too_big = api.request("POST", "/api/memory/threads", body={"resourceId": resource_id, "title": "x" * 1000})
    malformed = api.request("POST", "/api/memory/threads", body='{"resourceId": ')
    bad_page = api.request("GET", "/api/memory/threads", query={"resourceId": resource_id, "page": "-1"})

    assert (too_big.status, malformed.status, bad_page.status) == (413, 400, 400)
    assert too_big.headers["content-type"] == "application/json"
    assert "page" in bad_page.body["error"]
    assert api.request("GET", "/api/memory/threads", query={"resourceId": resource_id}).body["total"] == 0


def test_response_carries_the_api_gateway_request_id(lambda_api: Callable[..., LambdaApi]) -> None:
    api = lambda_api()
    event_response = api.request("GET", "/health")
    assert event_response.headers["x-request-id"].startswith("req-")


def test_auth_none_refuses_to_start_in_lambda(lambda_api: Callable[..., LambdaApi]) -> None:
    with pytest.raises(ConfigurationError, match="refuses to run inside Lambda"):
        lambda_api(MEMKIT_AUTH="none")


def test_auth_none_starts_in_lambda_when_forced(lambda_api: Callable[..., LambdaApi]) -> None:
    api = lambda_api(MEMKIT_AUTH="none", MEMKIT_AUTH_FORCE_NONE="1")
    assert api.request("GET", "/api/memory/threads", query={"resourceId": uid("res")}).status == 200


def test_tracing_on_wraps_the_handler_and_still_serves(lambda_api: Callable[..., LambdaApi]) -> None:
    api = lambda_api(MEMKIT_TRACING="1")
    response = api.request("GET", "/api/memory/threads", query={"resourceId": uid("res")})
    assert response.status == 200, response.body
    assert api.module.observability.tracer is not None


def test_handler_import_leaves_heavy_modules_for_later(tmp_path: Path) -> None:
    # Cold start: with tracing off, importing the handler must not pull in the X-Ray SDK, and no
    # store SDK or AWS client machinery is imported before the first request needs one.
    # (Powertools itself imports the bare botocore package and its own tracing module; both are
    # cheap, and aws_xray_sdk is what costs.)
    probe = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('app', {str(API_HANDLER_PATH)!r})\n"
        "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)\n"
        "heavy = ['aws_xray_sdk', 'botocore.session', 'botocore.client', 'boto3', 'pynamodb', 'libsql',\n"
        "         'memkit.storage.memory.dynamodb.store', 'memkit.api.openapi']\n"
        "print(','.join(name for name in heavy if name in sys.modules))\n"
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MEMKIT_")},
        "AWS_LAMBDA_FUNCTION_NAME": "memkit-api",
        "MEMKIT_STORAGE_URL": "dynamodb://memkit-api-tests",
        "MEMKIT_AUTH": "api-key",
        "MEMKIT_API_KEY": "k",
    }
    result = subprocess.run([sys.executable, "-c", probe], env=env, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    imported_early = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert imported_early == "", result.stdout


FUNCTIONS = {
    "api": API_HANDLER_PATH,
    "operations": API_HANDLER_PATH.parents[1] / "operations" / "app.py",
    "worker": API_HANDLER_PATH.parents[1] / "worker" / "app.py",
}


@pytest.mark.parametrize("function", FUNCTIONS)
@pytest.mark.parametrize(
    ("env", "reason"),
    [
        ({"MEMKIT_STORAGE_URL": "foo://x"}, "Unsupported storage URL 'foo://x': use file:<path>, :memory: or dynamodb://<table>"),
        ({"MEMKIT_EMBEDDER": "foo"}, "MEMKIT_EMBEDDER must be local, lexical, openai/<model> or bedrock/<model-id>, got 'foo'"),
        (
            {"AWS_REGION": None, "AWS_DEFAULT_REGION": None, "AWS_CONFIG_FILE": "/nonexistent/aws-config"},
            "storage dynamodb://memkit-api-tests needs an AWS region: set AWS_REGION",
        ),
    ],
)
def test_a_misconfigured_function_fails_its_init_with_the_reason_in_the_log(
    tmp_path: Path, function: str, env: dict[str, str | None], reason: str
) -> None:
    # Given a function's environment with one bad setting, as Lambda would start it
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MEMKIT_")},
        "AWS_LAMBDA_FUNCTION_NAME": f"memkit-{function}",
        "MEMKIT_STORAGE_URL": "dynamodb://memkit-api-tests",
        "MEMKIT_AUTH": "api-key",
        "MEMKIT_API_KEY": "k",
        **env,
    }
    environment = {name: value for name, value in environment.items() if value is not None}
    probe = (
        "import importlib.util\n"
        f"spec = importlib.util.spec_from_file_location('app', {str(FUNCTIONS[function])!r})\n"
        "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)\n"
    )

    # When Lambda imports the handler (its init)
    result = subprocess.run([sys.executable, "-c", probe], env=environment, cwd=tmp_path, capture_output=True, text=True)

    # Then the init fails, and what the log shows last is the reason, in one line
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1] == f"memkit.errors.ConfigurationError: {reason}"
