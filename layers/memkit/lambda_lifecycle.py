"""What a Lambda handler does around its invocations, shared by the three functions.

``freeze_after_first_invocation``: after the first invocation, everything the container has
built so far (modules, clients, compiled pydantic validators, the app) stays until the
container dies. ``gc.freeze()`` moves those objects out of the cyclic collector's generations,
so no later collection walks them again: a full collection during a warm request then scans
what requests allocate, not the ~58,000 objects the API function holds after its first
request. It also spares the interpreter's final collection at exit, which Lambda never waits
for but a whole-process cold-start measurement does (about 80 ms of the API function's; see
``bench/cold_start.py``).

The cost is bounded: cyclic garbage that the first invocation left behind and the collector
had not reached yet is never reclaimed, once per container.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable
from typing import Any, TypeVar

Handler = TypeVar("Handler", bound=Callable[..., Any])


def freeze_after_first_invocation(handler: Handler) -> Handler:
    frozen = False

    @functools.wraps(handler)
    def invoke(event: Any, context: Any) -> Any:
        nonlocal frozen
        try:
            return handler(event, context)
        finally:
            # Also after a failed first invocation: what the init built is long-lived either way.
            if not frozen:
                frozen = True
                gc.freeze()

    return invoke  # type: ignore[return-value]
