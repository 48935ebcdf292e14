"""A store on a libSQL file of the test's own (``tests/storage/libsql/support.py``)."""

from tests.storage.libsql.support import db_url, file_store  # noqa: F401
