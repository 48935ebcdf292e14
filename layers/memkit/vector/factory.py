"""Build the vector store ``MEMKIT_VECTOR_URL`` names.

* ``file:<path>`` / ``libsql:<path>`` / ``:memory:`` → ``LibSQLVector`` in that libSQL file,
  normally the same one as ``MEMKIT_STORAGE_URL``. Stores on one file share one connection in a
  process, so the vectors and the memory tables never contend for the write lock.
* ``pinecone://<index-host>`` → ``PineconeVector`` with ``PINECONE_API_KEY``.

The dimension is ``MEMKIT_EMBEDDING_DIMENSION`` for both, the same number the embedder is held
to, and each adapter checks its index against it (``ConfigurationError`` on mismatch).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from memkit.errors import ConfigurationError
from memkit.settings import Settings
from memkit.vector.base import VectorStore

if TYPE_CHECKING:
    from memkit.runtime import Runtime


def create_vector_store(settings: Settings, runtime: "Runtime | None" = None) -> VectorStore:
    url = settings.vector_url.strip()
    dimension = settings.embedding_dimension
    if url.startswith("pinecone://"):
        from memkit.vector.pinecone import PineconeVector

        return PineconeVector(url, settings.pinecone_api_key, dimension)
    if url == ":memory:" or url.startswith(("file:", "libsql:")):
        from memkit.vector.libsql import LibSQLVector

        store, owned = _libsql_store(url, runtime)
        return LibSQLVector(store, dimension, owns_store=owned)
    raise ConfigurationError(
        f"MEMKIT_VECTOR_URL must be none, file:<path>, :memory: or pinecone://<index-host>, got {url!r}"
    )


def _libsql_store(url: str, runtime: "Runtime | None") -> tuple[Any, bool]:
    """The ``LibSQLStore`` to put vectors in, and whether the vector store owns (closes) it.

    A file opened twice in one process shares one connection, so a store of our own is the
    same database as the runtime's. ``:memory:`` is a new database per connection, so it must be
    the runtime's own store object (unwrapped from the cache decorator, if any)."""
    from memkit.storage.libsql import LibSQLStore

    if url != ":memory:" and not url.endswith(":memory:"):
        return LibSQLStore(url), True
    if runtime is None:
        raise ConfigurationError("MEMKIT_VECTOR_URL=:memory: shares the memory store's database and needs a Runtime")
    store: Any = runtime.storage(url)
    seen = 0
    while not isinstance(store, LibSQLStore) and seen < 4:
        store = getattr(store, "inner", None)
        seen += 1
    if not isinstance(store, LibSQLStore):
        raise ConfigurationError(f"MEMKIT_VECTOR_URL={url} needs MEMKIT_STORAGE_URL to be the same libSQL database")
    return store, False
