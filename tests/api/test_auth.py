"""Auth modes: api-key (in process and through Lambda), jwt claim binding (through Lambda, where
the claims come from), forged claims outside API Gateway, and ``none`` inside Lambda."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.parameters import GetParameterError

from memkit.clients import secrets as secrets_module
from memkit.api.auth import Authenticator
from memkit.errors import ConfigurationError
from memkit.settings import Settings
from tests.api.conftest import API_KEY
from tests.api.support import ApiClient, LambdaApi, message, uid

# ---------------------------------------------------------------- api-key


@pytest.fixture
def keyed_api(make_api: Callable[..., ApiClient]) -> ApiClient:
    return make_api(auth_mode="api-key", api_key=API_KEY)


@pytest.mark.parametrize(
    "headers", [{"x-api-key": API_KEY}, {"authorization": f"Bearer {API_KEY}"}, {"Authorization": f"bearer {API_KEY}"}]
)
def test_api_key_in_either_header_is_accepted(keyed_api: ApiClient, headers: dict[str, str]) -> None:
    response = keyed_api.get("/api/memory/threads", params={"resourceId": uid("res")}, headers=headers)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"x-api-key": ""},
        {"x-api-key": API_KEY + "x"},
        {"x-api-key": API_KEY[:-1]},
        {"authorization": f"Basic {API_KEY}"},
        {"authorization": "Bearer "},
    ],
    ids=["missing", "empty", "longer", "shorter", "basic-scheme", "empty-bearer"],
)
def test_missing_or_wrong_api_key_is_401_and_writes_nothing(keyed_api: ApiClient, headers: dict[str, str]) -> None:
    resource_id = uid("res")
    response = keyed_api.post("/api/memory/threads", json={"resourceId": resource_id}, headers=headers)
    assert response.status_code == 401
    assert "API key" in response.json()["error"]
    listing = keyed_api.get("/api/memory/threads", params={"resourceId": resource_id}, headers={"x-api-key": API_KEY})
    assert listing.json()["total"] == 0


def test_api_key_is_checked_before_the_body_is_read(keyed_api: ApiClient) -> None:
    response = keyed_api.post("/api/memory/threads", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 401


def test_health_and_openapi_need_no_key(keyed_api: ApiClient) -> None:
    assert keyed_api.get("/health").status_code == 200
    assert keyed_api.get("/openapi.json").status_code == 200


def test_api_key_through_lambda(lambda_api: Callable[..., LambdaApi]) -> None:
    api = lambda_api()
    resource_id = uid("res")
    assert api.request("GET", "/api/memory/threads", query={"resourceId": resource_id}).status == 200
    denied = api.request("GET", "/api/memory/threads", query={"resourceId": resource_id}, headers={"x-api-key": "wrong"})
    assert (denied.status, denied.body) == (401, {"error": "Invalid API key"})


def test_api_key_from_an_ssm_parameter(
    make_api: Callable[..., ApiClient], sqs_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # moto's server speaks SSM as well as SQS: the key is fetched through Powertools Parameters.
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", sqs_endpoint)
    name = f"/memkit/tests/{uid('key')}"
    boto3.client("ssm").put_parameter(Name=name, Value="key-from-ssm", Type="SecureString")
    api = make_api(auth_mode="api-key", api_key=f"ssm:{name}")

    assert api.get("/api/memory/threads", params={"resourceId": uid("r")}, headers={"x-api-key": "key-from-ssm"}).status_code == 200
    assert api.get("/api/memory/threads", params={"resourceId": uid("r")}, headers={"x-api-key": f"ssm:{name}"}).status_code == 401


@pytest.fixture
def secrets_provider(sqs_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """memkit's Secrets Manager provider, on moto (which serves Secrets Manager next to SQS)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", sqs_endpoint)
    secrets_module._parameter_provider.cache_clear()
    yield secrets_module._parameter_provider("secretsmanager")
    secrets_module._parameter_provider.cache_clear()


def _record_calls(provider: Any, operation: str) -> tuple[list[str], threading.Event]:
    calls: list[str] = []
    called = threading.Event()

    def record(params: dict[str, Any], **_: Any) -> None:
        calls.append(params["SecretId"])
        called.set()

    provider.client.meta.events.register(f"before-parameter-build.secrets-manager.{operation}", record)
    return calls, called


def test_a_key_in_secrets_manager_is_fetched_at_init_and_not_again_by_the_first_request(
    make_api: Callable[..., ApiClient], secrets_provider: Any
) -> None:
    name = f"memkit/tests/{uid('key')}"
    secrets_provider.client.create_secret(Name=name, SecretString="key-from-secrets-manager")
    calls, called = _record_calls(secrets_provider, "GetSecretValue")

    api = make_api(auth_mode="api-key", api_key=f"secretsmanager:{name}")
    # Building the app (a Lambda container's init) started the fetch; no request was made yet.
    assert called.wait(10)

    for _ in range(2):
        ok = api.get("/api/memory/threads", params={"resourceId": uid("r")}, headers={"x-api-key": "key-from-secrets-manager"})
        assert ok.status_code == 200, ok.text
    assert api.get("/api/memory/threads", params={"resourceId": uid("r")}, headers={"x-api-key": "other"}).status_code == 401
    assert calls == [name]


def test_a_failed_prefetch_is_logged_and_the_key_is_fetched_again_on_first_use(
    secrets_provider: Any, caplog: pytest.LogCaptureFixture
) -> None:
    reference = f"secretsmanager:memkit/tests/{uid('late')}"
    calls, _ = _record_calls(secrets_provider, "GetSecretValue")
    with caplog.at_level(logging.WARNING, logger="memkit.secrets"):
        secrets_module.prefetch_secret(reference)
        # The secret does not exist yet: the first use fetches again and fails loudly too.
        with pytest.raises(GetParameterError):
            secrets_module.resolve_secret(reference)
    assert any("prefetching" in record.getMessage() for record in caplog.records)
    assert len(calls) == 2

    secrets_provider.client.create_secret(Name=reference.partition(":")[2], SecretString="created-later")
    assert secrets_module.resolve_secret(reference) == "created-later"


# ---------------------------------------------------------------- none


def test_auth_none_is_refused_inside_lambda_unless_forced() -> None:
    lambda_env = {"AWS_LAMBDA_FUNCTION_NAME": "memkit-api", "MEMKIT_AUTH": "none"}
    with pytest.raises(ConfigurationError, match="refuses to run inside Lambda"):
        Authenticator(Settings.from_env(lambda_env), lambda_runtime=True)
    forced = Authenticator(Settings.from_env({**lambda_env, "MEMKIT_AUTH_FORCE_NONE": "1"}), lambda_runtime=True)
    assert forced.mode == "none"
    # Outside Lambda (make run) none needs no forcing.
    assert Authenticator(Settings.from_env({"MEMKIT_AUTH": "none"}), lambda_runtime=False).mode == "none"


@pytest.mark.parametrize(
    ("env", "fragment"),
    [({"MEMKIT_AUTH": "api-key"}, "needs MEMKIT_API_KEY"), ({"MEMKIT_AUTH": "cookie"}, "MEMKIT_AUTH must be one of")],
)
def test_the_api_refuses_auth_settings_it_cannot_serve(env: dict[str, str], fragment: str) -> None:
    with pytest.raises(ConfigurationError, match=fragment):
        Authenticator(Settings.from_env(env), lambda_runtime=False)


# ---------------------------------------------------------------- jwt


@pytest.fixture
def jwt_api(lambda_api: Callable[..., LambdaApi]) -> LambdaApi:
    return lambda_api(MEMKIT_AUTH="jwt", MEMKIT_API_KEY=None)


class Caller:
    """One end user behind API Gateway's JWT authorizer."""

    def __init__(self, api: LambdaApi, claims: dict[str, str]):
        self.api = api
        self.claims = claims

    def __call__(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.api.request(method, path, claims=self.claims, **kwargs)


@pytest.fixture
def alice(jwt_api: LambdaApi) -> Caller:
    return Caller(jwt_api, {"sub": uid("alice"), "iss": "https://issuer.example"})


@pytest.fixture
def bob(jwt_api: LambdaApi) -> Caller:
    return Caller(jwt_api, {"sub": uid("bob")})


def own_thread(caller: Caller, *texts: str) -> tuple[str, list[str]]:
    created = caller("POST", "/api/memory/threads", body={"title": "mine"})
    assert created.status == 200, created.body
    thread_id = created.body["id"]
    messages = [message(thread_id, caller.claims["sub"], text, at_ms=i) for i, text in enumerate(texts)]
    if messages:
        saved = caller("POST", "/api/memory/save-messages", body={"messages": messages})
        assert saved.status == 200, saved.body
    return thread_id, [m["id"] for m in messages]


def test_jwt_binds_the_caller_to_the_sub_claim(alice: Caller) -> None:
    thread_id, _ = own_thread(alice, "hi")

    created = alice("GET", f"/api/memory/threads/{thread_id}")
    listed = alice("GET", "/api/memory/threads")

    assert created.body["resourceId"] == alice.claims["sub"]
    assert [t["id"] for t in listed.body["threads"]] == [thread_id]


def test_jwt_listing_without_resource_id_is_scoped_to_the_caller(alice: Caller, bob: Caller) -> None:
    own_thread(alice)
    bobs_thread, _ = own_thread(bob)
    listed = bob("GET", "/api/memory/threads", query={"resourceId": "undefined"})
    assert [t["id"] for t in listed.body["threads"]] == [bobs_thread]


def test_jwt_other_resource_id_anywhere_is_403(alice: Caller, bob: Caller) -> None:
    bobs_thread, bobs_messages = own_thread(bob, "secret")
    bob_id = bob.claims["sub"]
    alices_thread, _ = own_thread(alice)

    attempts = {
        "list by query": alice("GET", "/api/memory/threads", query={"resourceId": bob_id}),
        "create in body": alice("POST", "/api/memory/threads", body={"resourceId": bob_id}),
        "get with query": alice("GET", f"/api/memory/threads/{bobs_thread}", query={"resourceId": bob_id}),
        "get without resourceId": alice("GET", f"/api/memory/threads/{bobs_thread}"),
        "list messages": alice("GET", f"/api/memory/threads/{bobs_thread}/messages"),
        "message resourceId": alice(
            "POST", "/api/memory/save-messages", body={"messages": [message(alices_thread, bob_id, "spoof")]}
        ),
        "own message into another's thread": alice(
            "POST", "/api/memory/save-messages", body={"messages": [message(bobs_thread, alice.claims["sub"], "intrude")]}
        ),
        "update thread": alice("PATCH", f"/api/memory/threads/{bobs_thread}", body={"title": "pwned"}),
        "delete messages": alice("POST", "/api/memory/messages/delete", body={"messageIds": bobs_messages}),
        "working memory read": alice("GET", f"/api/memory/threads/{bobs_thread}/working-memory"),
        "working memory write": alice(
            "POST", f"/api/memory/threads/{alices_thread}/working-memory", body={"workingMemory": "x", "resourceId": bob_id}
        ),
        "clone": alice("POST", f"/api/memory/threads/{bobs_thread}/clone", body={}),
        "delete thread": alice("DELETE", f"/api/memory/threads/{bobs_thread}"),
        "erase": alice("DELETE", f"/api/memkit/resources/{bob_id}"),
    }

    assert {name: r.status for name, r in attempts.items()} == {name: 403 for name in attempts}
    # Bob's data is untouched.
    thread = bob("GET", f"/api/memory/threads/{bobs_thread}").body
    assert thread["title"] == "mine"
    assert [m["id"] for m in bob("GET", f"/api/memory/threads/{bobs_thread}/messages").body["messages"]] == bobs_messages
    assert alice("GET", f"/api/memory/threads/{alices_thread}/messages").body["total"] == 0


def test_jwt_caller_can_do_everything_with_own_data(alice: Caller) -> None:
    thread_id, message_ids = own_thread(alice, "one", "two")
    wm = f"/api/memory/threads/{thread_id}/working-memory"

    assert alice("POST", wm, body={"workingMemory": "# me"}).status == 200
    assert alice("GET", wm).body["workingMemory"] == "# me"
    assert alice("POST", f"/api/memory/threads/{thread_id}/clone", body={}).status == 200
    assert alice("POST", "/api/memory/messages/delete", body={"messageIds": message_ids[0]}).body["message"] == (
        "1 message(s) deleted successfully"
    )
    assert alice("DELETE", f"/api/memory/threads/{thread_id}").status == 200
    assert alice("DELETE", f"/api/memkit/resources/{alice.claims['sub']}").status == 200


def test_jwt_without_claims_is_401(jwt_api: LambdaApi) -> None:
    response = jwt_api.request("GET", "/api/memory/threads")
    assert response.status == 401


def test_jwt_without_the_configured_claim_is_401(jwt_api: LambdaApi) -> None:
    response = jwt_api.request("GET", "/api/memory/threads", claims={"email": "a@example.com"})
    assert response.status == 401
    assert "'sub'" in response.body["error"]


def test_jwt_claim_name_is_configurable(lambda_api: Callable[..., LambdaApi]) -> None:
    api = lambda_api(MEMKIT_AUTH="jwt", MEMKIT_JWT_RESOURCE_CLAIM="tenant_id")
    tenant = uid("tenant")
    created = api.request("POST", "/api/memory/threads", body={}, claims={"sub": "user-1", "tenant_id": tenant})
    assert created.status == 200, created.body
    assert created.body["resourceId"] == tenant


def test_forged_claim_headers_outside_api_gateway_are_ignored(make_api: Callable[..., ApiClient]) -> None:
    # jwt mode served directly (uvicorn-style, no API Gateway event): nothing a client sends
    # can stand in for the authorizer's verified claims.
    api = make_api(auth_mode="jwt")
    forged_context = json.dumps({"authorizer": {"jwt": {"claims": {"sub": "victim"}}}})
    headers = {
        "authorization": "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ2aWN0aW0ifQ.",
        "x-amzn-request-context": forged_context,
        "x-apigateway-event": json.dumps({"requestContext": json.loads(forged_context)}),
        "x-jwt-claims": json.dumps({"sub": "victim"}),
        "aws.event": forged_context,
        "sub": "victim",
    }
    response = api.get("/api/memory/threads", params={"resourceId": "victim"}, headers=headers)
    assert response.status_code == 401
    assert "API Gateway" in response.json()["error"]


def test_forged_claim_headers_through_api_gateway_do_not_override_verified_claims(alice: Caller, bob: Caller) -> None:
    bobs_thread, _ = own_thread(bob)
    response = alice(
        "GET", f"/api/memory/threads/{bobs_thread}",
        headers={"x-jwt-claims": json.dumps({"sub": bob.claims["sub"]}), "x-amzn-oidc-identity": bob.claims["sub"]},
    )
    assert response.status == 403
