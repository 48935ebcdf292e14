"""What ``Memory``'s helpers receive instead of the ``Memory`` itself: the ports they use.

``AgentPorts`` is one agent's memory (its config, its store, the deployment's vector store and
embedder): what recall, search, indexing and the title job use. ``TitleModels`` gives a
language model by spec (None: the deployment's default); ``JobContext`` is what a follow-up
job's handler may use (``memkit.runtime.Runtime`` is one, for the worker and the in-process
queue).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple, Protocol

if TYPE_CHECKING:
    from memkit.config import MemoryConfig
    from memkit.embedders.base import Embedder
    from memkit.llm.base import LanguageModel
    from memkit.storage.memory.base import MemoryStorage
    from memkit.vector.base import VectorStore


class AgentPorts(NamedTuple):
    agent_id: str
    config: MemoryConfig
    storage: MemoryStorage
    vector: VectorStore | None
    embedder: Embedder | None


#: a language model for a model spec (``bedrock/<model-id>``...), None meaning the deployment's
#: default; a model of None means the extractive title (``titles.rules``), which needs none
TitleModels = Callable[["str | None"], "LanguageModel | None"]


class JobContext(Protocol):
    """What a follow-up job's handler may use (``memory/jobs.py``)."""

    def agent(self, agent_id: str | None) -> AgentPorts: ...

    def title_model(self, spec: str | None) -> LanguageModel | None: ...
