"""The embedded memory store in a libSQL file: ``store.py`` (``LibSQLStore``) and the tables,
SQL and row mapping in ``schema.py``."""
