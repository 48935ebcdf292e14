"""Shapes of the datasets domain: the records (camelCase on the wire, as Mastra's), the pages
listings answer, the inputs callers give, and the checks that turn bad input into a
ValidationError naming the field as the caller wrote it. The port is ``base``.
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, field_validator
from pydantic.alias_generators import to_camel

from memkit.errors import ValidationError
from memkit.models import MAX_COUNT, WireModel, page_meta, parse_model, parse_ts, validate_id

TargetType = Literal["agent", "workflow", "scorer", "processor"]
ExperimentStatus = Literal["pending", "running", "completed", "failed"]
FINISHED_STATUSES = frozenset({"completed", "failed"})
# A reviewer's verdict on one result (Mastra's ExperimentResultStatus), not whether it succeeded:
# a result succeeded when it has no error.
ReviewStatus = Literal["needs-review", "reviewed", "complete"]
UnmockedToolPolicy = Literal["allow", "deny"]
TARGET_TYPES = get_args(TargetType)
EXPERIMENT_STATUSES = get_args(ExperimentStatus)
REVIEW_STATUSES = get_args(ReviewStatus)

# What a purge leaves in ``metadata`` of every revision and result it scrubbed (Mastra's marker).
PURGED_KEY = "__purged"

ModelT = TypeVar("ModelT", bound=BaseModel)


# ====================================================================== validators


def _text(value: Any, field_name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{field_name} must be a non-empty string", field=field_name)
    return value


def string_list(value: Any, field_name: str) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise ValidationError(f"{field_name} must be a list of strings", field=field_name)
    return [_text(item, f"{field_name}[{index}]") for index, item in enumerate(value)]


def _json_object(value: Any, field_name: str) -> dict[str, Any] | None:
    if value is not None and not isinstance(value, dict):
        raise ValidationError(f"{field_name} must be a JSON object", field=field_name)
    return value


def _count(value: Any, field_name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
        raise ValidationError(f"{field_name} must be an integer from 0 to {MAX_COUNT}", field=field_name)
    return value


def _camel(info: Any) -> str:
    return to_camel(info.field_name)


class _Fields(WireModel):
    """Shared field checks, by field name (each model declares only the fields it has)."""

    @field_validator("name", check_fields=False)
    @classmethod
    def _non_empty_text(cls, value: Any, info: Any) -> Any:
        return None if value is None else _text(value, _camel(info))

    @field_validator("id", "dataset_id", "item_id", "experiment_id", "target_id", "trace_id", check_fields=False)
    @classmethod
    def _ids(cls, value: Any, info: Any) -> Any:
        return None if value is None else validate_id(value, _camel(info))

    @field_validator("target_ids", "scorer_ids", "tags", check_fields=False)
    @classmethod
    def _string_lists(cls, value: Any, info: Any) -> Any:
        return string_list(value, _camel(info))

    @field_validator(
        "metadata", "input_schema", "ground_truth_schema", "request_context_schema", "request_context", "source",
        check_fields=False,
    )
    @classmethod
    def _objects(cls, value: Any, info: Any) -> Any:
        return _json_object(value, _camel(info))

    @field_validator(
        "version", "dataset_version", "item_dataset_version", "valid_to", "attempt", "retry_count",
        "total_items", "succeeded_count", "failed_count", "skipped_count",
        mode="before", check_fields=False,
    )
    @classmethod
    def _counts(cls, value: Any, info: Any) -> Any:
        return None if value is None else _count(value, _camel(info))

    @field_validator("created_at", "updated_at", "started_at", "completed_at", mode="before", check_fields=False)
    @classmethod
    def _timestamps(cls, value: Any, info: Any) -> Any:
        return None if value is None else parse_ts(value, field=_camel(info))


# ====================================================================== records


class DatasetChanges(_Fields):
    """A dataset's own fields, as an update gives them: the fields given replace the stored
    ones (null clears them); ``name`` cannot be cleared."""

    name: str | None = None
    description: str | None = None
    metadata: dict[str, Any] | None = None
    input_schema: dict[str, Any] | None = None
    ground_truth_schema: dict[str, Any] | None = None
    request_context_schema: dict[str, Any] | None = None
    tags: list[str] | None = None
    target_type: TargetType | None = None
    target_ids: list[str] | None = None
    scorer_ids: list[str] | None = None


class NewDataset(DatasetChanges):
    id: str | None = None
    name: str


class Dataset(DatasetChanges):
    """Mastra's ``DatasetRecord``: ``version`` is the dataset's current version."""

    id: str
    name: str
    version: int = 0
    created_at: datetime
    updated_at: datetime


class ItemChanges(_Fields):
    """An item's payload (Mastra's ``DatasetItemPayload`` but its external id), as an update
    gives it: the fields given replace the current revision's. All of it round-trips."""

    input: Any = None
    ground_truth: Any = None
    expected_trajectory: Any = None
    tool_mocks: list[Any] | None = None
    unmocked_tool_policy: UnmockedToolPolicy | None = None
    scorer_ids: list[str] | None = None
    request_context: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    source: dict[str, Any] | None = None


class ItemPayload(ItemChanges):
    """What a caller gives for a new item: ``input`` is required, ``externalId`` optional."""

    external_id: str | None = None
    input: Any

    @field_validator("external_id")
    @classmethod
    def _external_id(cls, value: Any) -> Any:
        # Any non-empty text, as in Mastra; the length bound keeps it usable inside a key.
        if value is not None and (len(_text(value, "externalId")) > 255):
            raise ValidationError("externalId is longer than 255 characters", field="externalId")
        return value


# The payload fields an item update may change (everything but externalId, its identity).
PAYLOAD_FIELDS = tuple(ItemChanges.model_fields)


class DatasetItem(ItemPayload):
    """An item as of one dataset version (Mastra's ``DatasetItem``)."""

    id: str
    dataset_id: str
    dataset_version: int
    created_at: datetime
    updated_at: datetime

    @property
    def purged(self) -> bool:
        return bool(self.metadata and self.metadata.get(PURGED_KEY) is True)


class DatasetItemRevision(DatasetItem):
    """One stored revision (Mastra's ``DatasetItemRow``): valid from ``dataset_version`` until
    ``valid_to`` (None: still current); ``is_deleted`` marks the tombstone a delete writes."""

    valid_to: int | None = None
    is_deleted: bool = False

    def as_item(self) -> DatasetItem:
        return DatasetItem.model_validate(self.model_dump(exclude={"valid_to", "is_deleted"}))


class VersionChanges(WireModel):
    """How many items a version added, updated and deleted."""

    added: int = 0
    updated: int = 0
    deleted: int = 0


class DatasetVersion(_Fields):
    """Mastra's ``DatasetVersion``, plus what the version changed (memkit's addition)."""

    id: str
    dataset_id: str
    version: int
    changes: VersionChanges
    created_at: datetime


class ExperimentDescription(_Fields):
    """What a caller says about an experiment when creating it."""

    name: str | None = None
    description: str | None = None
    metadata: dict[str, Any] | None = None
    target_type: TargetType | None = None
    target_id: str | None = None
    scorer_ids: list[str] | None = None


class Experiment(ExperimentDescription):
    """Mastra's ``Experiment`` (without the grouping, provenance and tenancy fields)."""

    id: str
    dataset_id: str
    dataset_version: int
    status: ExperimentStatus
    total_items: int
    succeeded_count: int = 0
    failed_count: int = 0
    skipped_count: int = 0
    started_at: datetime | None = None
    completed_at: datetime | None = None
    created_at: datetime
    updated_at: datetime


class ResultError(WireModel):
    model_config = ConfigDict(extra="allow")

    message: str
    stack: str | None = None
    code: str | None = None


class ResultScore(WireModel):
    """One scorer's verdict submitted with a result; fields beyond these round-trip. Its
    checks raise ValueError, so a refusal names the place in the list (``scores.0.score``)."""

    model_config = ConfigDict(extra="allow")

    scorer_id: str
    scorer_name: str | None = None
    score: float | None = None

    @field_validator("scorer_id")
    @classmethod
    def _scorer_id(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("scorerId must be a non-empty string")
        return value

    @field_validator("score", mode="before")
    @classmethod
    def _number(cls, value: Any) -> Any:
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise ValueError(f"score must be a number or null, got {value!r}")
        return value


class ExperimentResult(_Fields):
    """Mastra's ``ExperimentResult`` plus the ``scores`` submitted with it (memkit's addition)."""

    id: str
    experiment_id: str
    item_id: str
    item_dataset_version: int | None = None
    input: Any = None
    output: Any = None
    ground_truth: Any = None
    metadata: dict[str, Any] | None = None
    error: ResultError | None = None
    started_at: datetime
    completed_at: datetime
    retry_count: int = 0
    attempt: int = 0
    trace_id: str | None = None
    status: ReviewStatus | None = None
    tags: list[str] | None = None
    comment: str | None = None
    scores: list[ResultScore] | None = None
    created_at: datetime

    @property
    def succeeded(self) -> bool:
        return self.error is None

    @property
    def purged(self) -> bool:
        return bool(self.metadata and self.metadata.get(PURGED_KEY) is True)


# ====================================================================== pages


class PageInfo(WireModel):
    """Mastra's ``pagination`` object; ``page``/``perPage`` mean what they mean in every domain."""

    total: int
    page: int
    per_page: int | Literal[False]
    has_more: bool


def page_info(total: int, page: int, per_page: int | None, returned: int) -> PageInfo:
    return PageInfo(**page_meta(total, page, per_page, returned))


class DatasetPage(WireModel):
    datasets: list[Dataset]
    pagination: PageInfo


class DatasetItemPage(WireModel):
    items: list[DatasetItem]
    pagination: PageInfo


class DatasetVersionPage(WireModel):
    versions: list[DatasetVersion]
    pagination: PageInfo


class ExperimentPage(WireModel):
    experiments: list[Experiment]
    pagination: PageInfo


class ExperimentResultPage(WireModel):
    results: list[ExperimentResult]
    pagination: PageInfo


# ====================================================================== inputs


class NewExperiment(ExperimentDescription):
    id: str | None = None
    dataset_version: int | None = None


class ExperimentChanges(_Fields):
    name: str | None = None
    description: str | None = None
    metadata: dict[str, Any] | None = None
    status: ExperimentStatus | None = None
    total_items: int | None = None
    succeeded_count: int | None = None
    failed_count: int | None = None
    skipped_count: int | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None


class NewResult(_Fields):
    """One item's result from an external runner. ``input`` and ``groundTruth`` left out are
    the item's (as of the experiment's version); the times left out are now."""

    item_id: str
    attempt: int = 0
    input: Any = None
    output: Any = None
    ground_truth: Any = None
    error: ResultError | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    retry_count: int = 0
    trace_id: str | None = None
    status: ReviewStatus | None = None
    tags: list[str] | None = None
    scores: list[ResultScore] | None = None


class ResultChanges(_Fields):
    """A reviewer's update of a result (Mastra's ``UpdateExperimentResultInput``)."""

    status: ReviewStatus | None = None
    tags: list[str] | None = None
    comment: str | None = None


# ====================================================================== parsing input

_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def ascii_lower(text: str) -> str:
    """Lowercase A-Z only: what SQLite's lower() does, so search matches alike on every store."""
    return text.translate(_ASCII_LOWER)


def parse_new_item(data: Any, *, at: str | None = None) -> ItemPayload:
    payload = parse_input(ItemPayload, data, "item", at=at)
    check_no_purge_marker(payload.metadata, "metadata" if at is None else f"{at}.metadata")
    return payload


def check_no_purge_marker(metadata: dict[str, Any] | None, field_name: str) -> None:
    if metadata is not None and PURGED_KEY in metadata:
        raise ValidationError(f"{field_name} key {PURGED_KEY} is reserved for purged items", field=field_name)


def as_list(value: Any, field_name: str) -> Sequence[Any]:
    if not isinstance(value, Sequence) or isinstance(value, (str, bytes)):
        raise ValidationError(f"{field_name} must be a list", field=field_name)
    return value


def parse_input(model: type[ModelT], data: Any, what: str, *, at: str | None = None) -> ModelT:
    """``data`` as ``model``. A ValidationError names the field as the caller wrote it,
    under ``at`` for an element of a list (``items[2].input``)."""
    if isinstance(data, BaseModel):
        data = data.model_dump(by_alias=True, exclude_unset=True)
    if not isinstance(data, Mapping):
        raise ValidationError(f"{at or what} must be an object", field=at or what)
    try:
        return parse_model(model, dict(data), what=at or what)
    except ValidationError as error:
        if at is None or (error.field or "").startswith(at):
            raise
        raise ValidationError(str(error), field=f"{at}.{error.field}" if error.field else at) from None


def optional_search(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValidationError("search must be a string", field="search")
    return ascii_lower(value)


def optional_version(value: Any, field_name: str) -> int | None:
    return None if value is None else _count(value, field_name)


def optional_choice(value: Any, choices: Sequence[str], field_name: str) -> str | None:
    if value is not None and value not in choices:
        raise ValidationError(f"{field_name} must be one of {', '.join(choices)}, got {value!r}", field=field_name)
    return value
