"""Who calls, and which resources they may touch: the one question every operation asks.

A transport builds the ``Principal`` (the HTTP API's ``api/auth.py`` from a request; direct
invocation trusts its IAM-authorized caller). Operations then ask ``principal.resource_for
(requested)`` wherever a resourceId enters: it returns the resourceId to use, or raises
``ForbiddenError``. A principal bound to a resource (``jwt`` mode) answers with its own
resource when none was requested, so a listing without resourceId is scoped to the caller and
a thread read without resourceId still goes through the store's ownership check
(``OwnershipError``, 403). ``docs/security.md`` says why.
"""

from __future__ import annotations

from typing import NamedTuple

from memkit.errors import ForbiddenError


class Principal(NamedTuple):
    #: for logs: "anonymous", "api-key", "ops" or "jwt:<claim value>"
    subject: str
    #: the only resourceId this caller may address; None means any
    resource_id: str | None = None

    @classmethod
    def trusted(cls, subject: str) -> Principal:
        return cls(subject=subject)

    @property
    def bound(self) -> bool:
        return self.resource_id is not None

    def resource_for(self, requested: str | None) -> str | None:
        """The resourceId a request operates on: the requested one, checked against the caller."""
        if self.resource_id is None:
            return requested
        if requested is None or requested == self.resource_id:
            return self.resource_id
        raise ForbiddenError(f"The caller may not access resource {requested}")


ANONYMOUS = Principal.trusted("anonymous")
