"""Amazon Bedrock through the Converse API (one request shape for every model family).

The ``bedrock-runtime`` client is built on first use and reused; boto3 is imported then too,
so an API container that only enqueues title jobs never loads it for this. Region, endpoint
and credentials come from the standard AWS variables.

Errors are classified for the job queue: throttling, unavailability and model timeouts are
retried through queue visibility; a bad request, missing access or an unknown model id are
dead-lettered with Bedrock's reason.
"""

from __future__ import annotations

from typing import Any

from memkit.aws import LazyClient
from memkit.errors import PermanentJobError, RetryableError
from memkit.llm.base import LanguageModel

RETRYABLE_CODES = frozenset(
    {
        "ThrottlingException",
        "ServiceUnavailableException",
        "ServiceUnavailable",
        "ModelTimeoutException",
        "ModelNotReadyException",
        "ModelErrorException",
        "InternalServerException",
    }
)
PERMANENT_CODES = frozenset(
    {
        "ValidationException",
        "AccessDeniedException",
        "ResourceNotFoundException",
        "UnrecognizedClientException",
    }
)


class BedrockConverseModel(LanguageModel):
    name = "bedrock"

    def __init__(self, model_id: str, *, client: Any = None, temperature: float = 0.2):
        self.model_id = model_id
        self.temperature = temperature
        self._client = LazyClient(
            "bedrock-runtime",
            client=client,
            connect_timeout=5,
            read_timeout=30,
            # One quick retry in the call; longer waits belong to queue visibility.
            retries={"mode": "standard", "max_attempts": 2},
        )

    @property
    def client(self) -> Any:
        return self._client.get()

    def complete(self, *, system: str, prompt: str, max_tokens: int = 64) -> str:
        from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
        from botocore.exceptions import ConnectionError as BotoConnectionError

        try:
            response = self.client.converse(
                modelId=self.model_id,
                system=[{"text": system}],
                messages=[{"role": "user", "content": [{"text": prompt}]}],
                inferenceConfig={"maxTokens": max_tokens, "temperature": self.temperature},
            )
        except ClientError as exc:
            raise self._classify(exc) from exc
        except (BotoConnectionError, HTTPClientError) as exc:
            # Connect failures, read timeouts and dropped connections on the way to Bedrock.
            raise RetryableError(f"bedrock/{self.model_id} unreachable: {exc}") from exc
        except BotoCoreError as exc:
            # No credentials, an invalid parameter: nothing a later attempt would change.
            raise PermanentJobError(f"bedrock/{self.model_id} request could not be made: {exc}") from exc
        blocks = response.get("output", {}).get("message", {}).get("content", [])
        return "".join(block["text"] for block in blocks if isinstance(block.get("text"), str))

    def _classify(self, exc: Any) -> Exception:
        error = exc.response.get("Error", {})
        code = error.get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        what = f"bedrock/{self.model_id} failed with {code or status}: {error.get('Message', exc)}"
        if code in RETRYABLE_CODES:
            return RetryableError(what)
        if code in PERMANENT_CODES:
            return PermanentJobError(what)
        if status == 429 or status >= 500:
            return RetryableError(what)
        return PermanentJobError(what)
