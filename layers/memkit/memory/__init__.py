"""``Memory`` and everything it does beyond one store call.

``memory.py`` is the agent-facing API; the modules beside it receive ports (``ports.py``), never
the ``Memory``: ``working_memory.py`` reads and writes working memory, ``recall.py`` adds
semantic recall to a turn, ``search.py`` answers memory search, ``follow_up.py`` is what a write
leaves to do (titles, indexing, vector cleanup), ``indexing.py`` and ``chunking.py`` are the
indexing work, and ``jobs.py`` is the table of the follow-up jobs' handlers.

Only ``Memory`` is exported, and lazily, so importing a module of this package (a port's type,
say) does not load the rest.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from memkit.memory.memory import Memory

__all__ = ["Memory"]


def __getattr__(name: str) -> Any:
    if name == "Memory":
        from memkit.memory.memory import Memory

        return Memory
    raise AttributeError(f"module 'memkit.memory' has no attribute {name!r}")
