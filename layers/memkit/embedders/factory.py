"""Build the embedder ``MEMKIT_EMBEDDER`` names: ``local`` | ``openai/<model>`` | ``bedrock/<model-id>``.

Every embedder produces ``MEMKIT_EMBEDDING_DIMENSION``-long vectors or raises
``ConfigurationError``; the vector store checks its index against the same setting, so the two
can never silently disagree.
"""

from __future__ import annotations

from memkit.embedders.base import Embedder
from memkit.errors import ConfigurationError
from memkit.settings import Settings


def create_embedder(settings: Settings) -> Embedder:
    spec = settings.embedder.strip()
    dimension = settings.embedding_dimension
    if spec == "local":
        from memkit.embedders.local import LocalEmbedder

        return LocalEmbedder(dimension)
    kind, _, model = spec.partition("/")
    if kind == "openai" and model:
        from memkit.embedders.openai import OpenAIEmbedder

        return OpenAIEmbedder(
            model,
            dimension,
            base_url=settings.openai_base_url,
            api_key=settings.openai_api_key,
        )
    if kind == "bedrock" and model:
        from memkit.embedders.bedrock import BedrockEmbedder

        return BedrockEmbedder(model, dimension)
    raise ConfigurationError(
        f"MEMKIT_EMBEDDER must be local, openai/<model> or bedrock/<model-id>, got {settings.embedder!r}"
    )
