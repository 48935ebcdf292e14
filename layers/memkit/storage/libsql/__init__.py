"""The libSQL file every storage domain (and the libSQL vector store) shares: ``database.py``
holds its one connection per process, transactions and per-domain migrations; ``sql.py`` the
query helpers the adapters share. ``docs/libsql.md`` describes the layout."""
