"""Amazon Bedrock Titan Text Embeddings v2 (``amazon.titan-embed-text-v2:0``), the AWS default.

Selected by ``MEMKIT_EMBEDDER=bedrock/<model-id>``. Titan v2 embeds one text per InvokeModel
call, with ``dimensions`` 256, 512 or 1024 and ``normalize: true`` (unit vectors, so cosine and
dot product agree). A batch runs up to ``MAX_CONCURRENCY`` calls at once on a small thread pool:
botocore clients are thread-safe, and indexing a long message (several chunks) should not cost
several round trips in a row.

The client is built on first use, from memkit's one botocore session (``memkit.clients.aws``). Its retry mode
("standard", 3 attempts) absorbs brief throttling; what still fails is classified for the job
queue by ``memkit.clients.bedrock_errors``, the same way as for the Bedrock language model.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from memkit.clients.aws import LazyClient
from memkit.clients.bedrock_errors import bedrock_error
from memkit.embedders.base import Embedder, check_vectors
from memkit.errors import ConfigurationError, PermanentJobError

TITAN_V2 = "titan-embed-text-v2"
TITAN_V2_DIMENSIONS = (256, 512, 1024)
# Titan v2 takes at most 50,000 characters (8,192 tokens); chunks are far smaller, but a caller
# embedding raw text must get a clear error rather than a ValidationException.
MAX_INPUT_CHARS = 50_000
MAX_CONCURRENCY = 4


class BedrockEmbedder(Embedder):
    name = "bedrock"

    def __init__(self, model_id: str, dimension: int, *, client: Any = None, max_concurrency: int = MAX_CONCURRENCY):
        if TITAN_V2 not in model_id:
            raise ConfigurationError(
                f"MEMKIT_EMBEDDER=bedrock/{model_id}: only Titan Text Embeddings v2 "
                "(amazon.titan-embed-text-v2:0) is supported"
            )
        if dimension not in TITAN_V2_DIMENSIONS:
            raise ConfigurationError(
                f"Titan Text Embeddings v2 produces {TITAN_V2_DIMENSIONS} dimensions; "
                f"MEMKIT_EMBEDDING_DIMENSION is {dimension}"
            )
        self.model_id = model_id
        self.dimension = dimension
        self.name = f"bedrock/{model_id}"
        self._client = LazyClient(
            "bedrock-runtime",
            client=client,
            connect_timeout=5,
            read_timeout=30,
            retries={"mode": "standard", "max_attempts": 3},
        )
        self._max_concurrency = max_concurrency

    def embed(self, texts: list[str]) -> list[list[float]]:
        for text in texts:
            if len(text) > MAX_INPUT_CHARS:
                raise PermanentJobError(f"Titan v2 takes at most {MAX_INPUT_CHARS} characters, got {len(text)}")
        if len(texts) <= 1 or self._max_concurrency <= 1:
            vectors = [self._embed_one(text) for text in texts]
        else:
            with ThreadPoolExecutor(max_workers=min(self._max_concurrency, len(texts))) as pool:
                vectors = list(pool.map(self._embed_one, texts))
        return check_vectors(self, texts, vectors)

    def _bedrock(self) -> Any:
        return self._client.get()

    def _embed_one(self, text: str) -> list[float]:
        from botocore.exceptions import BotoCoreError, ClientError

        body = {"inputText": text, "dimensions": self.dimension, "normalize": True}
        try:
            response = self._bedrock().invoke_model(
                modelId=self.model_id,
                body=json.dumps(body),
                contentType="application/json",
                accept="application/json",
            )
            payload = json.loads(response["body"].read())
        except (ClientError, BotoCoreError) as exc:
            raise bedrock_error(self.model_id, exc, what="embedding") from exc
        embedding = payload.get("embedding") if isinstance(payload, dict) else None
        if not isinstance(embedding, list):
            raise PermanentJobError(f"Bedrock {self.model_id} answered without an embedding: {str(payload)[:200]}")
        return [float(v) for v in embedding]

