"""The extractive titler: a title from the prompt's own words, with no model and no network.

The embedded default uses it, as does any deployment without a provider configured; it is
also the fallback when a model's answer has nothing usable in it.
"""

from __future__ import annotations

from memkit.llm.base import LanguageModel
from memkit.titles.rules import extractive_title


class ExtractiveTitler(LanguageModel):
    name = "local"

    def complete(self, *, system: str, prompt: str, max_tokens: int = 64) -> str:
        return extractive_title(prompt) or ""
