"""Query helpers shared by the libSQL adapters (the memory store, the workflows, scores and
observability domains, the vector store): filters, id lists, a count and its page, and the
JSON column helpers. Their tables live in one file (``database.py``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from memkit.models import format_ts
from memkit.storage.common import dumps, window


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
    ``LibSQLDatabase.snapshot()``: two statements, and another process may write in between."""
    total = conn.execute(f"SELECT COUNT(*) FROM {table}{where}", params).fetchone()[0]
    offset, limit = window(page, per_page)
    sql = f"SELECT {columns} FROM {table}{where} ORDER BY {order_by}"
    if limit is None:
        return total, conn.execute(sql, params).fetchall()
    if limit == 0:
        return total, []
    return total, conn.execute(f"{sql} LIMIT ? OFFSET ?", (*params, limit, offset)).fetchall()


def dumps_or_none(value: Any) -> str | None:
    return None if value is None else dumps(value)


def loads_or_none(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def ts_or_none(value: datetime | None) -> str | None:
    return None if value is None else format_ts(value)


def equals_or_in(column: str, values: Sequence[str]) -> tuple[str, list[Any]]:
    # A single value keeps ``column = ?`` so the index also delivers rows in order.
    if len(values) == 1:
        return f"{column} = ?", [values[0]]
    return f"{column} IN (SELECT value FROM json_each(?))", [id_list(values)]


def json_object_set(column: str, patch: dict[str, Any]) -> tuple[str, list[Any]]:
    """SQL that sets each top-level key of ``patch`` in the JSON object ``column`` (a shallow
    merge done by the database, not read-modify-write). Keys are validated identifiers."""
    pairs = ", ".join("?, json(?)" for _ in patch)
    params: list[Any] = []
    for key, value in patch.items():
        params += [f"$.{key}", dumps(value)]
    return f"json_set(coalesce({column}, '{{}}'), {pairs})", params
