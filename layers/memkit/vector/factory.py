"""Build the vector store ``MEMKIT_VECTOR_URL`` names.

* ``file:<path>`` / ``libsql:<path>`` / ``:memory:`` → ``LibSQLVector`` in that libSQL file,
  normally the same one as ``MEMKIT_STORAGE_URL``. Handles on one file share one connection in a
  process (``storage/libsql/database.py``), so the vectors and the memory tables never contend
  for the write lock, and the vectors need none of the memory tables. No query
  joins the vectors with the memory tables (recall resolves hits through the storage port), so
  ``:memory:`` vectors simply live in a private in-memory database.
* ``pinecone://<index-host>`` → ``PineconeVector`` with ``PINECONE_API_KEY``.

The dimension is ``settings.vector_dimension()`` for both, the same number the embedder is held
to, and each adapter checks its index against it (``ConfigurationError`` on mismatch). The
libSQL table also records which embedder made its vectors and refuses another one.
"""

from __future__ import annotations

from memkit.errors import ConfigurationError
from memkit.settings import Settings, vector_backend
from memkit.settings import embedder_name as configured_embedder_name
from memkit.vector.base import VectorStore


def create_vector_store(settings: Settings) -> VectorStore:
    """The store ``MEMKIT_VECTOR_URL`` names (not ``none``: the runtime builds none then), for the
    vectors of the embedder ``MEMKIT_EMBEDDER`` names (a libSQL table records it and refuses
    another's)."""
    url = settings.vector_url.strip()
    dimension = settings.vector_dimension()
    backend = vector_backend(url)
    if backend == "pinecone":
        from memkit.vector.pinecone import PineconeVector

        return PineconeVector(url, settings.pinecone_api_key, dimension)
    if backend == "libsql":
        from memkit.storage.libsql.database import open_database
        from memkit.vector.libsql import LibSQLVector

        database = open_database(url)
        try:
            return LibSQLVector(
                database, dimension, embedder=configured_embedder_name(settings.embedder), owns_database=True
            )
        except BaseException:
            database.close()
            raise
    raise ConfigurationError(f"MEMKIT_VECTOR_URL={url} names no vector store to build")
