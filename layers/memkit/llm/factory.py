"""Pick a language model from a model spec: ``local``, ``openai/<model>`` or ``bedrock/<model-id>``.

``LanguageModels`` keeps one model per spec for a process (one Lambda container, one server):
the Bedrock client and the resolved endpoint are built on first use and reused by every later
job. The runtime holds one (``memkit.runtime``); the grammar of a spec is ``settings.model_spec``.
"""

from __future__ import annotations

import threading

from memkit.llm.base import LanguageModel
from memkit.settings import Settings, model_spec

OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1"


class LanguageModels:
    """The models of one deployment, by spec; ``get(None)`` is its default title model."""

    def __init__(self, settings: Settings):
        self._settings = settings
        self._models: dict[str, LanguageModel] = {}
        self._lock = threading.Lock()

    def get(self, spec: str | None = None) -> LanguageModel:
        """The model for ``spec`` (None: ``MEMKIT_TITLE_MODEL``), built once."""
        spec = spec or self._settings.default_title_model
        with self._lock:
            model = self._models.get(spec)
            if model is None:
                model = self._models[spec] = create_language_model(spec, self._settings)
            return model


def create_language_model(spec: str, settings: Settings) -> LanguageModel:
    provider, model_id = model_spec(spec)
    if provider == "local":
        from memkit.llm.local import ExtractiveTitler

        return ExtractiveTitler()
    if provider == "openai":
        from memkit.llm.openai import OpenAIChatModel

        return OpenAIChatModel(
            model_id,
            base_url=settings.openai_base_url or OPENAI_DEFAULT_BASE_URL,
            api_key=settings.openai_api_key,
        )
    from memkit.llm.bedrock import BedrockConverseModel

    return BedrockConverseModel(model_id)
