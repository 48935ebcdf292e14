"""Query helpers shared by the libSQL adapters of the workflows, scores and observability
domains. Their tables live in the memory store's file and use its connection, lock,
transactions and per-domain migrations (``LibSQLStore.connection/transaction/migrate``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


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


def count_and_page(
    conn: Any, table: str, columns: str, filters: Filters, order_by: str, offset: int, limit: int | None
) -> tuple[int, list[Sequence[Any]]]:
    """``(total, rows)`` of one page: ``limit`` None means every row from ``offset``."""
    where = filters.where()
    total = conn.execute(f"SELECT COUNT(*) FROM {table}{where}", filters.params).fetchone()[0]
    sql = f"SELECT {columns} FROM {table}{where} ORDER BY {order_by}"
    if limit is None:
        return total, conn.execute(sql, filters.params).fetchall()
    if limit == 0:
        return total, []
    return total, conn.execute(f"{sql} LIMIT ? OFFSET ?", (*filters.params, limit, offset)).fetchall()
