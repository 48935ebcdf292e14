"""The OpenAI-compatible stand-in, driven with plain httpx as an OpenAI client would.

``openai_stub`` is the base URL ending in ``/v1``; the control endpoints sit
beside it at ``/_control/``.
"""

from __future__ import annotations

import base64
import math
import struct
from collections.abc import Iterator

import httpx
import pytest

AUTH = {"Authorization": "Bearer sk-local-test"}
DEFAULT_DIMENSION = 256  # what the session's server runs with (no --dimension)


@pytest.fixture
def api(openai_stub: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=openai_stub, headers=AUTH, timeout=5) as client:
        yield client


@pytest.fixture
def control(openai_stub: str) -> Iterator[httpx.Client]:
    root = openai_stub.removesuffix("/v1")
    with httpx.Client(base_url=f"{root}/_control", timeout=5) as client:
        client.post("/reset").raise_for_status()
        yield client
        client.post("/reset").raise_for_status()


def chat(api: httpx.Client, *user_messages: str) -> httpx.Response:
    messages = [{"role": "system", "content": "Write a short title."}]
    messages += [{"role": "user", "content": text} for text in user_messages]
    return api.post("/chat/completions", json={"model": "gpt-4o-mini", "messages": messages})


def embed(api: httpx.Client, text_or_texts: str | list[str], **extra: object) -> list[list[float]]:
    response = api.post("/embeddings", json={"model": "text-embedding-3-small", "input": text_or_texts, **extra})
    response.raise_for_status()
    return [item["embedding"] for item in response.json()["data"]]


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))  # both are unit vectors


# -- chat completions ----------------------------------------------------------------


def test_chat_answers_with_a_title_from_the_last_user_message(api: httpx.Client, control: httpx.Client) -> None:
    response = chat(api, "ignored earlier message", "how do I rotate my AWS access keys safely?")
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["model"] == "gpt-4o-mini"
    [choice] = body["choices"]
    assert choice["message"] == {"role": "assistant", "content": "How do I rotate my AWS", "refusal": None}
    assert choice["finish_reason"] == "stop"
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0


def test_chat_accepts_content_parts(api: httpx.Client, control: httpx.Client) -> None:
    message = {"role": "user", "content": [{"type": "text", "text": "plan the launch party"}]}
    response = api.post("/chat/completions", json={"model": "m", "messages": [message]})
    assert response.json()["choices"][0]["message"]["content"] == "Plan the launch party"


def test_chat_is_deterministic(api: httpx.Client, control: httpx.Client) -> None:
    first = chat(api, "same question every time").json()["choices"][0]["message"]["content"]
    second = chat(api, "same question every time").json()["choices"][0]["message"]["content"]
    assert first == second


def test_scripted_content_is_served_once_in_order(api: httpx.Client, control: httpx.Client) -> None:
    control.post("/script", json=[{"content": "First title"}, {"content": "Second title"}]).raise_for_status()
    contents = [chat(api, "hello there").json()["choices"][0]["message"]["content"] for _ in range(3)]
    assert contents == ["First title", "Second title", "Hello there"]


@pytest.mark.parametrize(
    ("status", "error_type"),
    [(429, "requests"), (500, "server_error"), (400, "invalid_request_error")],
)
def test_scripted_failures_come_back_in_openai_error_shape(
    api: httpx.Client, control: httpx.Client, status: int, error_type: str
) -> None:
    control.post("/script", json=[{"status": status}]).raise_for_status()
    failed = chat(api, "hello")
    assert failed.status_code == status
    error = failed.json()["error"]
    assert error["type"] == error_type
    assert error["message"]
    assert "code" in error
    assert chat(api, "hello").status_code == 200


def test_a_scripted_delay_makes_the_client_time_out(api: httpx.Client, control: httpx.Client) -> None:
    control.post("/script", json=[{"delay": 2}]).raise_for_status()
    with pytest.raises(httpx.ReadTimeout):
        api.post(
            "/chat/completions",
            json={"model": "m", "messages": [{"role": "user", "content": "slow"}]},
            timeout=0.2,
        )


def test_a_script_aimed_at_one_endpoint_leaves_the_other_alone(api: httpx.Client, control: httpx.Client) -> None:
    control.post("/script", json=[{"status": 500, "path": "/v1/embeddings"}]).raise_for_status()
    assert chat(api, "unaffected").status_code == 200
    response = api.post("/embeddings", json={"model": "m", "input": "affected"})
    assert response.status_code == 500


def test_chat_without_messages_is_a_400(api: httpx.Client, control: httpx.Client) -> None:
    response = api.post("/chat/completions", json={"model": "m", "messages": []})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "messages"


# -- embeddings --------------------------------------------------------------------------


def test_embeddings_are_unit_vectors_of_the_default_dimension(api: httpx.Client, control: httpx.Client) -> None:
    [vector] = embed(api, "the quick brown fox")
    assert len(vector) == DEFAULT_DIMENSION
    assert math.fsum(x * x for x in vector) == pytest.approx(1.0)


def test_the_dimensions_field_sets_the_size(api: httpx.Client, control: httpx.Client) -> None:
    [vector] = embed(api, "the quick brown fox", dimensions=64)
    assert len(vector) == 64


def test_embeddings_are_deterministic(api: httpx.Client, control: httpx.Client) -> None:
    assert embed(api, "same text") == embed(api, "same text")


def test_similar_texts_embed_closer_than_unrelated_ones(api: httpx.Client, control: httpx.Client) -> None:
    anchor, similar, unrelated = embed(
        api,
        [
            "my favourite colour is blue",
            "my favourite colour is dark blue",
            "quarterly revenue grew in europe",
        ],
    )
    assert cosine(anchor, similar) > 0.8
    assert cosine(anchor, similar) > cosine(anchor, unrelated) + 0.5


def test_a_list_input_returns_one_embedding_per_item_in_order(api: httpx.Client, control: httpx.Client) -> None:
    response = api.post("/embeddings", json={"model": "m", "input": ["alpha", "beta", "alpha"]})
    body = response.json()
    assert body["object"] == "list"
    assert [item["index"] for item in body["data"]] == [0, 1, 2]
    first, second, third = (item["embedding"] for item in body["data"])
    assert first == third != second
    assert body["usage"]["prompt_tokens"] == body["usage"]["total_tokens"] > 0


def test_base64_encoding_carries_the_same_floats(api: httpx.Client, control: httpx.Client) -> None:
    [as_floats] = embed(api, "encode me", dimensions=16)
    [as_base64] = embed(api, "encode me", dimensions=16, encoding_format="base64")
    decoded = list(struct.unpack("<16f", base64.b64decode(as_base64)))
    assert decoded == pytest.approx(as_floats, abs=1e-6)


def test_an_empty_input_is_a_400(api: httpx.Client, control: httpx.Client) -> None:
    response = api.post("/embeddings", json={"model": "m", "input": ""})
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


# -- auth and the control endpoints --------------------------------------------------------


@pytest.mark.parametrize("path", ["/chat/completions", "/embeddings"])
def test_a_missing_api_key_is_a_401(openai_stub: str, control: httpx.Client, path: str) -> None:
    response = httpx.post(f"{openai_stub}{path}", json={"model": "m", "input": "x", "messages": []})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


def test_requests_are_recorded_without_the_authorization_header(api: httpx.Client, control: httpx.Client) -> None:
    api.post("/embeddings", json={"model": "m", "input": "recorded"}, headers={"X-Trace": "t-1"})
    [recorded] = control.get("/requests").json()["requests"]
    assert recorded["path"] == "/v1/embeddings"
    assert recorded["body"] == {"model": "m", "input": "recorded"}
    assert recorded["headers"]["x-trace"] == "t-1"
    assert "authorization" not in recorded["headers"]


def test_reset_clears_the_script_and_the_recorded_requests(api: httpx.Client, control: httpx.Client) -> None:
    control.post("/script", json=[{"status": 500}]).raise_for_status()
    control.post("/reset").raise_for_status()
    assert chat(api, "after reset").status_code == 200
    assert len(control.get("/requests").json()["requests"]) == 1


def test_a_malformed_script_is_refused(control: httpx.Client) -> None:
    response = control.post("/script", json=[{"status": 200}])
    assert response.status_code == 400
