"""Amazon Bedrock through the Converse API (one request shape for every model family).

The ``bedrock-runtime`` client is built on first use, from memkit's one botocore session
(``memkit.clients.aws``), so an API container that only enqueues title jobs never builds it. Region,
endpoint and credentials come from the standard AWS variables.

Errors are classified for the job queue by ``memkit.clients.bedrock_errors``, the same way as for the
Bedrock embedder: transient faults are retried through queue visibility, the rest are
dead-lettered with Bedrock's reason.
"""

from __future__ import annotations

from typing import Any

from memkit.clients.aws import LazyClient
from memkit.clients.bedrock_errors import bedrock_error
from memkit.llm.base import LanguageModel


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
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = self.client.converse(
                modelId=self.model_id,
                system=[{"text": system}],
                messages=[{"role": "user", "content": [{"text": prompt}]}],
                inferenceConfig={"maxTokens": max_tokens, "temperature": self.temperature},
            )
        except (ClientError, BotoCoreError) as exc:
            raise bedrock_error(self.model_id, exc, what="completion") from exc
        blocks = response.get("output", {}).get("message", {}).get("content", [])
        return "".join(block["text"] for block in blocks if isinstance(block.get("text"), str))

