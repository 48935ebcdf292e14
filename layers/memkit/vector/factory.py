"""Build the vector store ``MEMKIT_VECTOR_URL`` names.

* ``file:<path>`` / ``libsql:<path>`` / ``:memory:`` → ``LibSQLVector`` in that libSQL file,
  normally the same one as ``MEMKIT_STORAGE_URL``. Stores on one file share one connection in a
  process, so the vectors and the memory tables never contend for the write lock. No query
  joins the vectors with the memory tables (recall resolves hits through the storage port), so
  ``:memory:`` vectors simply live in a private in-memory database.
* ``pinecone://<index-host>`` → ``PineconeVector`` with ``PINECONE_API_KEY``.

The dimension is ``settings.vector_dimension()`` for both, the same number the embedder is held
to, and each adapter checks its index against it (``ConfigurationError`` on mismatch). The
libSQL table also records which embedder made its vectors and refuses another one.
"""

from __future__ import annotations

from memkit.errors import ConfigurationError
from memkit.settings import Settings
from memkit.vector.base import VectorStore


def create_vector_store(settings: Settings) -> VectorStore:
    url = settings.vector_url.strip()
    dimension = settings.vector_dimension()
    if url.startswith("pinecone://"):
        from memkit.vector.pinecone import PineconeVector

        return PineconeVector(url, settings.pinecone_api_key, dimension)
    if url == ":memory:" or url.startswith(("file:", "libsql:")):
        from memkit.embedders.factory import embedder_name
        from memkit.storage.libsql import LibSQLStore
        from memkit.vector.libsql import LibSQLVector

        store = LibSQLStore(url)
        try:
            return LibSQLVector(store, dimension, embedder=embedder_name(settings), owns_store=True)
        except BaseException:
            store.close()
            raise
    raise ConfigurationError(
        f"MEMKIT_VECTOR_URL must be none, file:<path>, :memory: or pinecone://<index-host>, got {url!r}"
    )

