"""Semantic recall: indexing messages into the vector store (``indexing``), recalling them for an
agent turn (``semantic``) and searching them (``search``). What gets embedded and how long texts
are cut is in ``chunking``."""
