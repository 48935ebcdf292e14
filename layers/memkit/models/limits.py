"""Limits on the JSON a caller may send, checked once where input enters, before any write.

Every transport reaches the same check: HTTP bodies and JSON query parameters are parsed with
``loads``, which turns the parser's own failures into 400s, and every operation's args (the
HTTP routes' and the ops function's alike), like every dict the library turns into a model,
pass ``check`` in ``parse_model``. What is
refused, and why (docs/limits.md lists them for users):

- **nesting deeper than ``MAX_DEPTH`` levels**: serializing past ~250 levels fails in pydantic,
  and parsing past ~1,000 in Python's json; a value that could be stored but not read back
  would break every later read of its thread;
- **integers outside 64 bits**: SQLite binds at most 64-bit integers, DynamoDB numbers carry 38
  digits, JavaScript clients lose precision long before either; and Python refuses to parse
  more than 4,300 digits at all;
- **NaN and ±Infinity**: not JSON; stored, they come back as null;
- **strings with a NUL character or a lone UTF-16 surrogate**: libSQL cuts text at a NUL, and
  a lone surrogate cannot be encoded as UTF-8 by any store. Refusing both keeps every store
  answering the same.

The check walks iteratively, so no input can exhaust the interpreter's stack.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from memkit.errors import ValidationError

MAX_DEPTH = 64
MIN_INTEGER = -(2**63)
MAX_INTEGER = 2**63 - 1

# A NUL, or a surrogate code point (only a lone one survives decoding into a Python str).
_FORBIDDEN_CHARACTER = re.compile("[\x00\ud800-\udfff]")


def _reject_constant(text: str) -> Any:
    raise ValidationError(f"{text} is not a finite JSON number", field="body")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        # 1e999 reads as infinity.
        _reject_constant(text)
    return value


def loads(raw: str | bytes, field: str) -> Any:
    """Parse JSON sent by a caller; a value the parser itself cannot take (too deep for its
    stack, too many digits, NaN) is a ValidationError on ``field``. ``json.JSONDecodeError``
    and ``UnicodeDecodeError`` pass through for the caller to word. The value's structure is
    checked where it becomes a model (``parse_model``), once."""
    try:
        value = json.loads(raw, parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError:
        raise ValidationError(f"{field} is nested deeper than {MAX_DEPTH} levels", field=field) from None
    except ValidationError as exc:
        raise ValidationError(f"{field}: {exc}", field=field) from None
    except ValueError as exc:
        if isinstance(exc, (json.JSONDecodeError, UnicodeDecodeError)):
            raise
        # int() refusing more than sys.get_int_max_str_digits() digits.
        raise ValidationError(f"{field} holds an integer outside the 64-bit range", field=field) from None
    return value


def check(value: Any, field: str) -> None:
    """Refuse what no store can keep and read back (see the module docstring). Values that are
    not JSON types (datetimes, models) are left to the model that receives them."""
    stack: list[tuple[Any, int, tuple[Any, ...]]] = [(value, 1, ())]
    while stack:
        item, depth, path = stack.pop()
        if isinstance(item, str):
            if _FORBIDDEN_CHARACTER.search(item):
                _refuse(field, path, "contains a NUL character or a lone UTF-16 surrogate")
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if not MIN_INTEGER <= item <= MAX_INTEGER:
                _refuse(field, path, "is an integer outside the 64-bit range")
        elif isinstance(item, float):
            if not math.isfinite(item):
                _refuse(field, path, "is not a finite number")
        elif isinstance(item, (dict, list, tuple)):
            if depth > MAX_DEPTH:
                _refuse(field, path, f"is nested deeper than {MAX_DEPTH} levels")
            if isinstance(item, dict):
                for key, child in item.items():
                    if isinstance(key, str) and _FORBIDDEN_CHARACTER.search(key):
                        # The key itself is left out of the message: it could not be encoded.
                        _refuse(field, path, "has a key with a NUL character or a lone UTF-16 surrogate")
                    stack.append((child, depth + 1, (*path, key)))
            else:
                stack.extend((child, depth + 1, (*path, index)) for index, child in enumerate(item))


def _refuse(field: str, path: tuple[Any, ...], problem: str) -> None:
    location = field
    for step in path:
        location += f"[{step}]" if isinstance(step, int) else f".{step}"
    location = location.lstrip(".") or "input"
    # Only the location: the offending value may be huge, or the very character refused.
    raise ValidationError(f"{location} {problem}", field=location)
