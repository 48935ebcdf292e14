"""Both Bedrock adapters read a failure the same way (``memkit.clients.bedrock_errors``).

The embedder and the language model feed one job queue: a fault that is retried for a title job
must not dead-letter an indexing job. Every case runs against both adapters, through botocore's
Stubber for errors Bedrock answers with, and through a client that raises for errors botocore
raises before any answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError, NoCredentialsError, ParamValidationError, ReadTimeoutError
from botocore.stub import Stubber

from memkit.embedders.bedrock import BedrockEmbedder
from memkit.errors import ConfigurationError, PermanentJobError, RetryableError
from memkit.llm.bedrock import BedrockConverseModel

TITAN = "amazon.titan-embed-text-v2:0"
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"


@dataclass(frozen=True)
class Adapter:
    model_id: str
    operation: str
    call: Callable[[Any], object]


ADAPTERS = {
    "embedder": Adapter(TITAN, "invoke_model", lambda client: BedrockEmbedder(TITAN, 256, client=client).embed(["hi"])),
    "llm": Adapter(
        HAIKU, "converse", lambda client: BedrockConverseModel(HAIKU, client=client).complete(system="s", prompt="p")
    ),
}


@pytest.fixture(params=list(ADAPTERS))
def adapter(request: pytest.FixtureRequest) -> Adapter:
    return ADAPTERS[request.param]


@pytest.mark.parametrize(
    ("code", "status", "error"),
    [
        ("ThrottlingException", 429, RetryableError),
        ("ServiceUnavailableException", 503, RetryableError),
        ("InternalServerException", 500, RetryableError),
        ("ModelTimeoutException", 408, RetryableError),
        ("ModelErrorException", 424, RetryableError),
        ("SomethingNewException", 503, RetryableError),
        ("SomethingNewException", 429, RetryableError),
        ("ValidationException", 400, PermanentJobError),
        ("SomethingNewException", 400, PermanentJobError),
        ("AccessDeniedException", 403, ConfigurationError),
        ("ResourceNotFoundException", 404, ConfigurationError),
        ("UnrecognizedClientException", 403, ConfigurationError),
    ],
)
def test_a_bedrock_error_answer_means_the_same_for_both_adapters(
    adapter: Adapter, code: str, status: int, error: type[Exception]
) -> None:
    # Given Bedrock answering the call with an error
    client = boto3.client("bedrock-runtime", region_name="us-east-1")
    with Stubber(client) as stubber:
        stubber.add_client_error(adapter.operation, service_error_code=code, service_message="scripted", http_status_code=status)

        # When the adapter makes the call, then the error is classified and names model, status, code and reason
        with pytest.raises(error, match=rf"{re.escape(adapter.model_id)} .*HTTP {status} {code}: scripted") as raised:
            adapter.call(client)
    assert type(raised.value) is error


class _RaisingClient:
    """Stands in for a client whose request never gets an answer from Bedrock."""

    def __init__(self, exc: Exception):
        self._exc = exc

    def invoke_model(self, **_: Any) -> Any:
        raise self._exc

    converse = invoke_model


@pytest.mark.parametrize(
    ("exc", "error"),
    [
        (EndpointConnectionError(endpoint_url="https://bedrock-runtime.us-east-1.amazonaws.com"), RetryableError),
        (ReadTimeoutError(endpoint_url="https://bedrock-runtime.us-east-1.amazonaws.com"), RetryableError),
        (NoCredentialsError(), ConfigurationError),
        (ParamValidationError(report="Invalid length for parameter modelId"), PermanentJobError),
    ],
    ids=lambda value: value.__name__ if isinstance(value, type) else type(value).__name__,
)
def test_a_request_without_an_answer_means_the_same_for_both_adapters(
    adapter: Adapter, exc: Exception, error: type[Exception]
) -> None:
    with pytest.raises(error, match=re.escape(adapter.model_id)) as raised:
        adapter.call(_RaisingClient(exc))
    assert type(raised.value) is error
