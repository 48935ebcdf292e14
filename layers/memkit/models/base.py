"""The base of the memory domain's data shapes: timestamps, ids and metadata keys, the wire model.

Python attributes are snake_case; the wire (JSON) stays camelCase so Mastra clients
interoperate. ``to_wire()`` gives the JSON-ready dict; ``Model.model_validate(json)``
accepts either spelling.

Timestamps are timezone-aware UTC ``datetime`` values truncated to milliseconds, because the
wire format (``2025-01-01T00:00:00.000Z``) carries milliseconds and must round-trip exactly.
"""

# No ``from __future__ import annotations`` in the model modules (these, config, the operations'
# arguments): pydantic would compile every field's annotation string when it defines the class,
# a fifth of the time these models take to define on a cold start.
import re
from datetime import datetime, timezone
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, field_serializer
from pydantic.alias_generators import to_camel

from memkit.errors import ValidationError

ModelT = TypeVar("ModelT", bound=BaseModel)

# ---------------------------------------------------------------- timestamps


def utc_now() -> datetime:
    return to_ms(datetime.now(timezone.utc))


def to_ms(value: datetime) -> datetime:
    """Normalise to aware UTC with millisecond precision (what the wire can carry)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    value = value.astimezone(timezone.utc)
    return value.replace(microsecond=(value.microsecond // 1000) * 1000)


def format_ts(value: datetime) -> str:
    """``2025-01-01T00:00:00.000Z``: fixed width, so it also sorts lexicographically."""
    value = to_ms(value)
    # Not strftime: its %Y does not pad years before 1000, which would break the fixed width.
    return (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d}T"
        f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}.{value.microsecond // 1000:03d}Z"
    )


def parse_ts(value: Any, *, field: str = "date") -> datetime:
    if isinstance(value, datetime):
        return to_ms(value)
    # Out-of-range values (epoch 1e20, NaN, 9999-12-31 at -05:00) surface as ValueError,
    # OverflowError or OSError from datetime; all of them are the caller's bad input.
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        # JavaScript clients sometimes send epoch milliseconds.
        try:
            return to_ms(datetime.fromtimestamp(value / 1000, tz=timezone.utc))
        except (ValueError, OverflowError, OSError):
            pass
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        try:
            return to_ms(datetime.fromisoformat(text))
        except (ValueError, OverflowError):
            pass
    raise ValidationError(f"{field} must be an ISO-8601 timestamp, got {value!r}", field=field)


# ---------------------------------------------------------------- validation helpers

METADATA_KEY_PATTERN = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


FORBIDDEN_METADATA_KEYS = frozenset({"__proto__", "prototype", "constructor"})


MAX_ID_LENGTH = 255


# URL-safe ids: the client does not URL-encode path ids (docs/http-api.md).
ID_PATTERN = re.compile(r"^[A-Za-z0-9_\-.:@~]+$")


def validate_id(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{field} must be a non-empty string", field=field)
    if len(value) > MAX_ID_LENGTH:
        raise ValidationError(f"{field} is longer than {MAX_ID_LENGTH} characters", field=field)
    if not ID_PATTERN.match(value):
        raise ValidationError(
            f"{field} {value!r} contains characters outside [A-Za-z0-9_-.:@~]", field=field
        )
    return value


def validate_metadata_keys(metadata: dict[str, Any] | None, field: str = "metadata") -> None:
    if metadata is None:
        return
    if not isinstance(metadata, dict):
        raise ValidationError(f"{field} must be an object", field=field)
    for key in metadata:
        if (
            not isinstance(key, str)
            or len(key) > 128
            or key in FORBIDDEN_METADATA_KEYS
            or not METADATA_KEY_PATTERN.match(key)
        ):
            raise ValidationError(
                f"{field} key {key!r} is invalid: keys match ^[a-zA-Z_][a-zA-Z0-9_]*$, "
                "are at most 128 characters and are not __proto__, prototype or constructor",
                field=field,
            )


def deep_merge(base: dict[str, Any] | None, patch: dict[str, Any] | None) -> dict[str, Any]:
    """Objects merge key by key; anything else (lists, scalars, null) replaces."""
    merged = dict(base or {})
    for key, value in (patch or {}).items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


# ---------------------------------------------------------------- base model


class WireModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        validate_assignment=False,
        # Validators are built on a model's first use, not at import: a Lambda cold start then
        # pays only for the models its first request touches (about 9 ms less, see bench).
        defer_build=True,
    )

    def to_wire(self) -> dict[str, Any]:
        try:
            return self.model_dump(mode="json", by_alias=True, exclude_none=False)
        except ValueError:
            # pydantic gives up serializing past ~250 levels. Input is refused long before
            # that (memkit.models.limits), but a value stored by an older version must still read
            # back rather than break every read of its thread.
            return _plain_wire(self)

    @field_serializer("*", when_used="json", check_fields=False)
    def _serialise_datetimes(self, value: Any) -> Any:
        if isinstance(value, datetime):
            return format_ts(value)
        return value


def _plain_wire(value: Any) -> Any:
    """``to_wire`` without pydantic's serializer: the JSON encoder that renders the response
    handles nesting up to the interpreter's recursion limit."""
    if isinstance(value, BaseModel):
        fields = type(value).model_fields
        wire = {
            (info.alias or name): _plain_wire(getattr(value, name)) for name, info in fields.items()
        }
        wire.update({key: _plain_wire(item) for key, item in (value.model_extra or {}).items()})
        return wire
    if isinstance(value, datetime):
        return format_ts(value)
    if isinstance(value, list):
        return [_plain_wire(item) for item in value]
    return value


def coerce_ts(value: Any, info_field: str) -> Any:
    if value is None:
        return None
    return parse_ts(value, field=info_field)


def parse_model(model: type[ModelT], data: Any, *, what: str | None = None) -> ModelT:
    """Validate ``data`` into ``model``, turning pydantic's errors into a memkit ValidationError
    that names the offending field (the HTTP layer answers 400 with it)."""
    from pydantic import ValidationError as PydanticValidationError

    from memkit.models.limits import check

    check(data, what or "")
    try:
        return model.model_validate(data)
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        location = ".".join(str(part) for part in first.get("loc", ())) or (what or model.__name__)
        prefix = f"{what}: " if what else ""
        raise ValidationError(f"{prefix}{location}: {first.get('msg')}", field=location) from None
