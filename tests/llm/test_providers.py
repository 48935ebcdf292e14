"""LLM providers: the request each sends and how its failures are classified for the queue.

The OpenAI-compatible provider talks to the local stand-in over HTTP; Bedrock is checked with
botocore's own Stubber (the request it would send). Bedrock's errors are read the same way for
the embedder and this model: ``tests/clients/test_bedrock_errors.py`` checks both.
"""

from __future__ import annotations

import socket

import boto3
import pytest
from botocore.stub import Stubber

from memkit.errors import ConfigurationError, PermanentJobError, RetryableError
from memkit.llm.bedrock import BedrockConverseModel
from memkit.llm.factory import LanguageModels, create_language_model
from memkit.llm.local import ExtractiveTitler
from memkit.llm.openai import OpenAIChatModel
from memkit.settings import Settings

from tests.support.openai_stub import OpenAIStub

from tests.support.jobs import OPENAI_TEST_KEY

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"

# ------------------------------------------------------------------ OpenAI-compatible


def openai_model(base_url: str, **kwargs) -> OpenAIChatModel:
    return OpenAIChatModel("gpt-4o-mini", base_url=base_url, api_key=OPENAI_TEST_KEY, **kwargs)


def test_openai_sends_instructions_as_system_and_message_as_user(openai: OpenAIStub) -> None:
    openai.script({"content": "Lisbon weekend"})

    answer = openai_model(openai.base_url).complete(system="Make a title.", prompt="I love Lisbon", max_tokens=32)

    assert answer == "Lisbon weekend"
    [request] = openai.chat_requests()
    assert request["body"]["model"] == "gpt-4o-mini"
    assert request["body"]["messages"] == [
        {"role": "system", "content": "Make a title."},
        {"role": "user", "content": "I love Lisbon"},
    ]
    assert request["body"]["max_tokens"] == 32


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_openai_throttling_and_server_errors_are_retryable(openai: OpenAIStub, status: int) -> None:
    openai.script({"status": status, "message": f"scripted {status}"})

    with pytest.raises(RetryableError, match=f"{status}: scripted {status}"):
        openai_model(openai.base_url).complete(system="s", prompt="p")


@pytest.mark.parametrize(
    ("status", "error"),
    # A wrong key, model or base URL is the deployment's to fix (the job handler dead-letters
    # it like any permanent failure); any other 4xx is this request's.
    [(400, PermanentJobError), (401, ConfigurationError), (403, ConfigurationError), (404, ConfigurationError)],
)
def test_openai_client_errors_are_not_retried_and_carry_the_reason(
    openai: OpenAIStub, status: int, error: type[Exception]
) -> None:
    openai.script({"status": status, "message": "The model `gpt-nope` does not exist"})

    with pytest.raises(error, match=f"{status}: The model `gpt-nope` does not exist"):
        openai_model(openai.base_url).complete(system="s", prompt="p")


def test_openai_timeout_is_retryable(openai: OpenAIStub) -> None:
    openai.script({"delay": 2, "content": "too late"})

    with pytest.raises(RetryableError, match="timed out"):
        openai_model(openai.base_url, timeout=0.3).complete(system="s", prompt="p")


def test_openai_connection_refused_is_retryable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]

    with pytest.raises(RetryableError, match="unreachable"):
        openai_model(f"http://127.0.0.1:{closed_port}/v1").complete(system="s", prompt="p")


def test_openai_without_an_api_key_is_permanent(openai: OpenAIStub) -> None:
    model = OpenAIChatModel("gpt-4o-mini", base_url=openai.base_url, api_key=None)

    with pytest.raises(PermanentJobError, match="API key"):
        model.complete(system="s", prompt="p")
    assert openai.chat_requests() == []


# ------------------------------------------------------------------ Bedrock (Converse)


@pytest.fixture
def bedrock() -> tuple[BedrockConverseModel, Stubber]:
    client = boto3.client("bedrock-runtime", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield BedrockConverseModel(HAIKU, client=client), stubber
        stubber.assert_no_pending_responses()


def converse_response(text: str) -> dict:
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 12, "outputTokens": 3, "totalTokens": 15},
        "metrics": {"latencyMs": 120},
    }


def test_bedrock_sends_a_converse_request_with_system_prompt_and_limits(bedrock) -> None:
    model, stubber = bedrock
    stubber.add_response(
        "converse",
        converse_response("Lisbon weekend"),
        expected_params={
            "modelId": HAIKU,
            "system": [{"text": "Make a title."}],
            "messages": [{"role": "user", "content": [{"text": "I love Lisbon"}]}],
            "inferenceConfig": {"maxTokens": 48, "temperature": 0.2},
        },
    )

    assert model.complete(system="Make a title.", prompt="I love Lisbon", max_tokens=48) == "Lisbon weekend"


# ------------------------------------------------------------------ choosing a model


def test_model_spec_selects_the_provider() -> None:
    settings = Settings(openai_base_url="http://127.0.0.1:1/v1", openai_api_key="k")

    assert isinstance(create_language_model("local", settings), ExtractiveTitler)
    openai_model_ = create_language_model("openai/gpt-4o-mini", settings)
    assert isinstance(openai_model_, OpenAIChatModel)
    assert (openai_model_.model, openai_model_.url) == ("gpt-4o-mini", "http://127.0.0.1:1/v1/chat/completions")
    bedrock_model = create_language_model(f"bedrock/{HAIKU}", settings)
    assert isinstance(bedrock_model, BedrockConverseModel) and bedrock_model.model_id == HAIKU


@pytest.mark.parametrize("spec", ["gpt-4o-mini", "openai/", "bedrock", "anthropic/claude", "local/x"])
def test_unknown_model_spec_is_a_configuration_error(spec: str) -> None:
    with pytest.raises(ConfigurationError, match="unsupported model"):
        create_language_model(spec, Settings())


def test_models_are_built_once_per_process() -> None:
    settings = Settings(openai_base_url="http://127.0.0.1:1/v1", openai_api_key="k")

    models = LanguageModels(settings)

    assert models.get("openai/gpt-4o-mini") is models.get("openai/gpt-4o-mini")


def test_extractive_titler_answers_from_the_prompt_alone() -> None:
    assert ExtractiveTitler().complete(system="ignored", prompt="Hi! Plan my Lisbon trip please.") == "Plan my Lisbon trip please"
