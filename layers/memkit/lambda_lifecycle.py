"""What a Lambda handler does around its first invocation, shared by the three functions.

``hold_collection_until_first_invocation`` (called before the handler module imports anything
else) turns the cyclic collector off for the container's init and first invocation. Importing
the API function's modules and serving the first request allocate ~58,000 long-lived objects
and nearly no cyclic garbage, yet trigger dozens of collections that walk everything allocated
so far: about 17 ms of the API function's cold start, 22 ms with a key read from Secrets
Manager (which imports boto3), to free a few hundred objects.

``freeze_after_first_invocation``: after the first invocation, everything the container has
built so far (modules, clients, compiled pydantic validators, the app) stays until the
container dies. ``gc.freeze()`` moves those objects out of the collector's generations, so no
later collection walks them again: a full collection during a warm request then scans what
requests allocate, not what the container holds. It then turns the collector back on if the
hold turned it off. The freeze also spares the interpreter's final collection at exit, which
Lambda never waits for but a whole-process cold-start measurement does (about 80 ms of the
API function's; see ``bench/cold_start.py``).

The cost is bounded: cyclic garbage made before the freeze is never reclaimed, once per
container.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable
from typing import Any, TypeVar

Handler = TypeVar("Handler", bound=Callable[..., Any])

# Whether the collector is off because of the hold (and not because the host turned it off).
_collection_held = False


def hold_collection_until_first_invocation() -> None:
    global _collection_held
    if gc.isenabled():
        gc.disable()
        _collection_held = True


def _end_init() -> None:
    global _collection_held
    gc.freeze()
    if _collection_held:
        _collection_held = False
        gc.enable()


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
                _end_init()

    return invoke  # type: ignore[return-value]
