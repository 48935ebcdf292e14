"""The null cache (``MEMKIT_CACHE=none``, the default): nothing is cached, nothing is called."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from memkit.cache.base import CacheBackend, CacheError, LuaScript


class NoCache(CacheBackend):
    name = "none"
    enabled = False

    def eval(self, script: LuaScript, keys: Sequence[str], args: Sequence[str | int]) -> Any:
        # The decorator checks ``enabled`` first; getting here is a wiring mistake, and the
        # decorator's fail-open path turns it into a plain store call anyway.
        raise CacheError("NoCache holds nothing")
