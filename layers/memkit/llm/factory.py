"""Pick a language model from a model spec: ``local``, ``openai/<model>`` or ``bedrock/<model-id>``.

Models are cached per process (one Lambda container, one server): the Bedrock client and the
resolved endpoint are built on first use and reused by every later job.
"""

from __future__ import annotations

import threading

from memkit.errors import ConfigurationError
from memkit.llm.base import LanguageModel
from memkit.settings import Settings

OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1"

_cache: dict[tuple[str, str | None, str | None], LanguageModel] = {}
_cache_lock = threading.Lock()


def language_model(spec: str, settings: Settings) -> LanguageModel:
    """The model for ``spec``, built once per process and settings."""
    key = (spec, settings.openai_base_url, settings.openai_api_key)
    with _cache_lock:
        model = _cache.get(key)
        if model is None:
            model = create_language_model(spec, settings)
            _cache[key] = model
        return model


def create_language_model(spec: str, settings: Settings) -> LanguageModel:
    provider, _, model_id = spec.strip().partition("/")
    if provider == "local" and not model_id:
        from memkit.llm.local import ExtractiveTitler

        return ExtractiveTitler()
    if provider == "openai" and model_id:
        from memkit.llm.openai import OpenAIChatModel

        return OpenAIChatModel(
            model_id,
            base_url=settings.openai_base_url or OPENAI_DEFAULT_BASE_URL,
            api_key=settings.openai_api_key,
        )
    if provider == "bedrock" and model_id:
        from memkit.llm.bedrock import BedrockConverseModel

        return BedrockConverseModel(model_id)
    raise ConfigurationError(
        f"unsupported model {spec!r}: use local, openai/<model> or bedrock/<model-id>"
    )
