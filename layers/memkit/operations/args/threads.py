"""Arguments of the thread operations (and of the working-memory read, addressed by thread)."""

from typing import Any

from pydantic import StrictInt

from memkit.models import CloneOptions
from memkit.operations.args.base import Args, PerPage


class ThreadRef(Args):
    thread_id: str
    resource_id: str | None = None


class CreateThreadArgs(Args):
    resource_id: str | None = None
    thread_id: str | None = None
    title: str | None = None
    metadata: dict[str, Any] | None = None


class ListThreadsArgs(Args):
    resource_id: str | None = None
    metadata: dict[str, Any] | None = None
    page: StrictInt | None = None
    per_page: PerPage = None
    order_by: dict[str, Any] | None = None


class UpdateThreadArgs(Args):
    thread_id: str
    title: str | None = None
    metadata: dict[str, Any] | None = None
    resource_id: str | None = None


class CloneThreadArgs(Args):
    thread_id: str
    new_thread_id: str | None = None
    resource_id: str | None = None
    title: str | None = None
    metadata: dict[str, Any] | None = None
    options: CloneOptions | None = None
