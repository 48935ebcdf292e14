"""Build the embedder ``MEMKIT_EMBEDDER`` names: ``local`` (all-MiniLM-L6-v2, the default) |
``lexical`` | ``openai/<model>`` | ``bedrock/<model-id>``.

Every embedder produces ``settings.vector_dimension()``-long vectors (``MEMKIT_EMBEDDING_DIMENSION``,
by default the embedder's own) or raises ``ConfigurationError``; the vector store checks its
index against the same number, and the libSQL one also against ``embedder_name``, so vectors of
two embedders are never mixed in one index.
"""

from __future__ import annotations

from memkit.embedders.base import Embedder
from memkit.settings import Settings, embedder_spec
from memkit.settings import embedder_name as settings_embedder_name

def create_embedder(settings: Settings) -> Embedder:
    kind, model = embedder_spec(settings.embedder)
    dimension = settings.vector_dimension()
    if kind == "local":
        # Builds nothing heavy: numpy and the model load on the first embedding.
        from memkit.embedders.local import LocalEmbedder

        return LocalEmbedder(dimension, one_blas_thread=settings.blas_threads is None)
    if kind == "lexical":
        from memkit.embedders.lexical import LexicalEmbedder

        return LexicalEmbedder(dimension)
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


def embedder_name(settings: Settings) -> str:
    """What ``create_embedder(settings).name`` is, without building the embedder: the identity
    a vector index records for the vectors it holds (``settings.embedder_name``)."""
    return settings_embedder_name(settings.embedder)
