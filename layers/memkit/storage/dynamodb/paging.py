"""Reading pages out of DynamoDB partitions: exact reads across its 1 MB pages, pages read from
the nearer end of a range, key and timestamp ranges, and pages with a total across partitions.

Listing pages with a ``total``: DynamoDB has no cheap count, so a page costs one ``Select=COUNT``
Query per index partition (it reads the matching keys' items but returns none) plus one Query
that stops after ``offset + limit`` items. Counts and GSI listings are eventually consistent,
as every GSI read is.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from itertools import islice
from typing import Any, TypeVar

from pynamodb.expressions.condition import Condition

T = TypeVar("T")

# Items a filtered listing reads per Query request (before filtering).
FILTERED_PAGE_SIZE = 500
# DynamoDB's Query Limit is a 32-bit integer. No partition holds more items than that, so a
# larger count (a page size or offset a caller may legally ask for) reads the same items.
MAX_QUERY_LIMIT = 2**31 - 1


def query_limit(limit: int | None) -> int | None:
    return None if limit is None else min(limit, MAX_QUERY_LIMIT)


def read_exactly(items: Any, limit: int | None) -> Iterator[Any]:
    """Items of a pynamodb query, at most ``limit``, reading no more than that from DynamoDB.

    pynamodb sends the same ``Limit`` with every page request, so a read that spans DynamoDB's
    1 MB pages would read a whole further ``limit`` items on its last page (a deep page of a
    5,000-message thread read 4,443 items for 2,520 wanted). Each page asks for what is still
    missing instead."""
    if limit is None:
        yield from items
        return
    remaining = limit
    for item in items:
        yield item
        remaining -= 1
        if remaining <= 0:
            return
        items.page_iter.page_size = query_limit(remaining)


def page_from_nearer_end(
    fetch: Callable[[bool, int | None], list[T]], total: int, offset: int, per_page: int, forward: bool
) -> list[T]:
    """Items ``[offset, offset+per_page)`` of the ``forward`` order, reading from whichever end
    of the range is nearer: a deep page reads the keys up to the offset, but never more than
    half the range."""
    if per_page <= 0 or offset >= total:
        return []
    end = min(offset + per_page, total)
    if offset <= total - end:
        return fetch(forward, end)[offset:end]
    from_other_end = fetch(not forward, total - offset)
    return list(reversed(from_other_end[total - end :]))


def page_across(
    index: Any,
    partitions: Sequence[tuple[str, Condition | None]],
    filter_condition: Condition | None,
    offset: int,
    limit: int | None,
    *,
    oldest_first: bool = False,
) -> tuple[int, list[Any]]:
    """``(total, items)``: items ``offset .. offset+limit`` (``limit`` None: all the rest) of
    ``partitions`` read newest first (descending sort key; ascending with ``oldest_first``),
    one partition after the other.

    ``index`` is a model class (base table) or a GSI; each partition is a hash key with an
    optional sort-key condition. Partitions before the page are only counted."""
    counts = [index.count(key, range_condition, filter_condition) for key, range_condition in partitions]
    items: list[Any] = []
    skip = offset
    for (key, range_condition), count in zip(partitions, counts):
        if limit is not None and len(items) >= limit:
            break
        if skip >= count:
            skip -= count
            continue
        want = None if limit is None else skip + limit - len(items)
        results = index.query(
            key,
            range_condition,
            filter_condition,
            scan_index_forward=oldest_first,
            limit=want,
            # Unfiltered, read exactly what is needed. Filtered, a request's Limit counts items
            # read before filtering, so read more per request than the page needs (up to 1 MB)
            # rather than walk the partition ``want`` items at a time.
            page_size=query_limit(want if filter_condition is None or want is None else max(want, FILTERED_PAGE_SIZE)),
        )
        items += islice(results, skip, None)
        skip = 0
    return sum(counts), items


def key_range(sort_key: Any, low: str | None, high: str | None) -> Condition | None:
    """A sort-key condition for ``low <= key <= high``, either bound optional (a key condition
    allows one comparison per key, so two bounds must be BETWEEN)."""
    if low is not None and high is not None:
        return sort_key.between(low, high)
    if low is not None:
        return sort_key >= low
    return None if high is None else sort_key <= high


def timestamp_range(sort_key: Any, start: str | None, end: str | None) -> Condition | None:
    """A condition selecting ``<timestamp>#...`` sort keys with ``start <= timestamp <= end``
    (stored-format timestamps, either optional). "$" sorts right after "#", so ``<end>$`` is
    above every key of the end's millisecond: the upper bound stays inclusive to the ms."""
    return key_range(sort_key, start, None if end is None else end + "$")


def and_all(conditions: Sequence[Condition | None]) -> Condition | None:
    """The AND of the given conditions (None entries skipped); None when there are none."""
    present = [condition for condition in conditions if condition is not None]
    return functools.reduce(lambda left, right: left & right, present) if present else None
