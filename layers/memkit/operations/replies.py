"""The one place where domain exceptions become statuses and ``{"error": "..."}`` bodies.

Every transport maps errors through ``describe_error``: the HTTP routes (``memkit.api.routes``)
and direct invocation (``memkit.operations.invoke``), so an error means the same thing whichever
way a caller reaches memkit. Anything that is not a deliberate
memkit error is a server fault: it is logged with its traceback and answered with a generic
message, because exception text can carry internals (SQL, table names, stack frames).
"""

from __future__ import annotations

import logging
from typing import NamedTuple

from pydantic import ValidationError as PydanticValidationError

from memkit.errors import (
    AuthenticationError,
    ConflictError,
    ForbiddenError,
    MemkitError,
    NotFoundError,
    OwnershipError,
    PayloadTooLargeError,
    RetryableError,
    UnsupportedMediaTypeError,
    ValidationError,
)

logger = logging.getLogger("memkit.api")

INTERNAL_ERROR_MESSAGE = "Internal server error"

# First match wins, so a subclass comes before its base (415 before 400).
_STATUS_BY_ERROR: tuple[tuple[type[MemkitError], int], ...] = (
    (UnsupportedMediaTypeError, 415),
    (ValidationError, 400),
    (AuthenticationError, 401),
    (OwnershipError, 403),
    (ForbiddenError, 403),
    (NotFoundError, 404),
    (ConflictError, 409),
    (PayloadTooLargeError, 413),
    # 503 rather than 500: the client retries 5xx, and a throttled dependency is exactly the
    # case where a retry helps.
    (RetryableError, 503),
)


class ErrorReply(NamedTuple):
    status: int
    message: str

    def body(self) -> dict[str, str]:
        return {"error": self.message}


def describe_error(exc: BaseException) -> ErrorReply:
    """Status and caller-safe message for ``exc``; logs server faults."""
    for error_type, status in _STATUS_BY_ERROR:
        if isinstance(exc, error_type):
            if status >= 500:
                logger.warning("dependency unavailable: %s", exc)
            return ErrorReply(status, str(exc) or error_type.__name__)
    pydantic_reply = _pydantic_reply(exc)
    if pydantic_reply is not None:
        return pydantic_reply
    # ConfigurationError lands here too: a misconfigured deployment is our fault, not the caller's.
    logger.exception("unhandled error", exc_info=exc)
    return ErrorReply(500, INTERNAL_ERROR_MESSAGE)


def _pydantic_reply(exc: BaseException) -> ErrorReply | None:
    """Safety net for model validation that bypassed ``parse_model``: still the caller's 400."""
    if not isinstance(exc, PydanticValidationError):
        return None
    errors = exc.errors()
    if not errors:
        return ErrorReply(400, "Invalid input")
    first = errors[0]
    location = ".".join(str(part) for part in first.get("loc", ())) or "input"
    return ErrorReply(400, f"{location}: {first.get('msg')}")
