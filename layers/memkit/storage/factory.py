"""Build a memory store from a URL-like setting.

``file:./memkit.db`` and ``:memory:`` select the embedded libSQL store, ``dynamodb://<table>`` the
single-table DynamoDB store. Adapter modules are imported only when selected, so a Lambda
container never pays for libsql and the embedded server never pays for botocore.
"""

from __future__ import annotations

from memkit.errors import ConfigurationError
from memkit.storage.base import MemoryStorage


def create_memory_storage(url: str, *, create_tables: bool = True) -> MemoryStorage:
    if url == ":memory:" or url.startswith("file:") or url.startswith("libsql:"):
        from memkit.storage.libsql import LibSQLStore

        return LibSQLStore(url)
    if url.startswith("dynamodb://"):
        table = url[len("dynamodb://") :].strip("/")
        if len(table) < 3:
            raise ConfigurationError(f"dynamodb:// URL needs a table name of 3+ characters, got {url!r}")
        from memkit.storage.dynamodb import DynamoDBStore

        return DynamoDBStore(table, create_table=create_tables)
    raise ConfigurationError(
        f"Unsupported storage URL {url!r}: use file:<path>, :memory: or dynamodb://<table>"
    )
