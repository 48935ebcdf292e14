"""Build the embedder ``MEMKIT_EMBEDDER`` names: ``local`` | ``openai/<model>`` | ``bedrock/<model-id>``.

Every embedder produces ``MEMKIT_EMBEDDING_DIMENSION``-long vectors or raises
``ConfigurationError``; the vector store checks its index against the same setting, so the two
can never silently disagree.
"""

from __future__ import annotations

from memkit.embedders.base import Embedder
from memkit.settings import Settings, embedder_spec


def create_embedder(settings: Settings) -> Embedder:
    kind, model = embedder_spec(settings.embedder)
    dimension = settings.embedding_dimension
    if kind == "local":
        from memkit.embedders.local import LocalEmbedder

        return LocalEmbedder(dimension)
    if kind == "openai":
        from memkit.embedders.openai import OpenAIEmbedder

        return OpenAIEmbedder(
            model,
            dimension,
            base_url=settings.openai_base_url,
            api_key=settings.openai_api_key,
        )
    from memkit.embedders.bedrock import BedrockEmbedder

    return BedrockEmbedder(model, dimension)
