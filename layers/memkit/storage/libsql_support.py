"""Query helpers shared by the libSQL adapters: the memory store, the workflows, scores and
observability domains and the vector store. Their tables live in the memory store's file and
use its connection, lock, transactions and per-domain migrations
(``LibSQLStore.connection/snapshot/transaction/migrate``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from memkit.storage.common import window


class Filters:
    """AND-ed ``column op ?`` conditions collected from optional arguments (None: no condition).
    Column names come from the adapter's code, never from callers, so they are safe to inline."""

    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.params: list[Any] = []

    def add(self, clause: str, value: Any) -> Filters:
        if value is not None:
            self.clauses.append(clause)
            self.params.append(value)
        return self

    def require(self, clause: str) -> Filters:
        """A condition without parameters, always applied."""
        self.clauses.append(clause)
        return self

    def where(self) -> str:
        return f" WHERE {' AND '.join(self.clauses)}" if self.clauses else ""


def id_list(ids: Iterable[str]) -> str:
    """A JSON array for ``IN (SELECT value FROM json_each(?))``: one parameter, any length."""
    return json.dumps(list(ids))


def count_and_page(
    conn: Any,
    table: str,
    columns: str,
    where: str,
    params: Sequence[Any],
    *,
    order_by: str,
    page: int,
    per_page: int | None,
) -> tuple[int, list[Sequence[Any]]]:
    """``(total, rows)``: how many rows match ``where`` and the ``columns`` of page ``page``.
    ``per_page`` None means every row, 0 means no rows (only the total). Call it inside
    ``LibSQLStore.snapshot()``: two statements, and another process may write in between."""
    total = conn.execute(f"SELECT COUNT(*) FROM {table}{where}", params).fetchone()[0]
    offset, limit = window(page, per_page)
    sql = f"SELECT {columns} FROM {table}{where} ORDER BY {order_by}"
    if limit is None:
        return total, conn.execute(sql, params).fetchall()
    if limit == 0:
        return total, []
    return total, conn.execute(f"{sql} LIMIT ? OFFSET ?", (*params, limit, offset)).fetchall()
