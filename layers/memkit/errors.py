"""Domain exceptions, one module for the whole library.

Adapters translate service errors into these; every transport maps them to
status codes in exactly one place (``memkit.operations.replies``). Messages say what was
wrong and with which id, because they reach API callers verbatim.
"""

from __future__ import annotations


class MemkitError(Exception):
    """Base class: anything memkit raises on purpose."""


class ValidationError(MemkitError):
    """Bad input. Raised before any write, so nothing is stored."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.field = field


class NotFoundError(MemkitError):
    pass


class OwnershipError(MemkitError):
    """A thread was addressed with a resourceId that does not own it."""

    def __init__(self, thread_id: str, owner_resource_id: str, queried_resource_id: str):
        super().__init__(
            f"Thread with id {thread_id} is for resource with id {owner_resource_id} "
            f"but resource {queried_resource_id} was queried."
        )
        self.thread_id = thread_id
        self.owner_resource_id = owner_resource_id
        self.queried_resource_id = queried_resource_id


class ForbiddenError(MemkitError):
    """The authenticated caller may not touch this resource."""


class AuthenticationError(MemkitError):
    """No or wrong credentials."""


class ConflictError(MemkitError):
    """The write collides with existing state (an id already taken, a lost race)."""


class PayloadTooLargeError(MemkitError):
    """An item or body exceeds a hard limit of the backing service."""


class RetryableError(MemkitError):
    """A dependency is throttling or briefly unavailable; the same call may succeed later."""


class PermanentJobError(MemkitError):
    """A job can never succeed (bad request to a provider, unknown job type): dead-letter it."""


class ConfigurationError(MemkitError):
    """memkit was configured inconsistently (e.g. an embedder whose dimension mismatches the index)."""


class UnsupportedMediaTypeError(ValidationError):
    """A request body in a content type other than JSON (HTTP's 415)."""
