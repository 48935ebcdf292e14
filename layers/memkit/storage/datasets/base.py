"""The datasets storage port: evaluation datasets, their versioned items, experiments and results.

Mastra's ``datasets`` and ``experiments`` storage domains (``@mastra/core``, as Mastra's
LibSQLStore implements them), in memkit's terms. Every adapter passes
``tests/domains/test_datasets.py``; the semantics and where they differ from Mastra's are in
``docs/domains.md``.

**Versions.** A dataset starts at version 0. Every change to its items (an add, a batch
insert, an update, a delete, a batch delete) makes one new version, recorded with what it
changed; editing the dataset's own fields does not. Items are kept as revisions (Mastra's
SCD-2 rows): a revision is valid from the version that wrote it (``datasetVersion``) until the
version that replaced it (``validTo``), and a delete writes a tombstone revision. So every item
reads back as of any version, and nothing is copied per version.

**Concurrency.** An item change is planned against the dataset version it read and committed
only if that version is still current, moving it one up in the same write; a writer that lost
the race re-reads and plans again (``optimistic_attempts``). Concurrent changes therefore get
consecutive versions and never overwrite one another.

**External ids** make inserts idempotent, as in Mastra: an item inserted with an ``externalId``
claims it for the dataset; inserting the same ``externalId`` again with the payload it was
first accepted with returns the existing item (no new version), with any other payload, or
after the item was deleted, it is a ``ConflictError``.

**Experiments** record evaluation runs of a dataset pinned to one of its versions; memkit
does not run agents, an external runner submits one result per (item, attempt). A result is
upserted on ``(experimentId, itemId, attempt)``: a retried submission converges on one row and
keeps its id, ``createdAt`` and the reviewer's ``comment``. ``finalize_experiment`` counts
succeeded, failed and skipped items from the stored results.

**Purging** an item scrubs its content from every revision and from every result that
references it, keeping ids and versions, so reviews of old experiments still line up.

Adapters implement the primitives at the bottom; validation, planning and the retry loops
live here. Arguments reach the primitives validated.
"""

from __future__ import annotations

import hashlib
import json
import string
import uuid
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, field_validator
from pydantic.alias_generators import to_camel

from memkit.errors import ConflictError, NotFoundError, ValidationError
from memkit.models import MAX_COUNT, WireModel, format_ts, page_meta, parse_model, parse_ts, utc_now, validate_id
from memkit.storage.common import dumps, optimistic_attempts, optional_id, pagination

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
# Result ids derive from (experimentId, itemId, attempt), so a retried submission finds its row.
RESULT_ID_NAMESPACE = uuid.UUID("5b0f3c52-0d0e-4f8e-9a59-6f2d1a7c9e43")

ModelT = TypeVar("ModelT", bound=BaseModel)


# ====================================================================== validators


def _text(value: Any, field_name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{field_name} must be a non-empty string", field=field_name)
    return value


def _strings(value: Any, field_name: str) -> list[str] | None:
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
        return _strings(value, _camel(info))

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


class Experiment(_Fields):
    """Mastra's ``Experiment`` (without the grouping, provenance and tenancy fields)."""

    id: str
    dataset_id: str
    dataset_version: int
    name: str | None = None
    description: str | None = None
    metadata: dict[str, Any] | None = None
    target_type: TargetType | None = None
    target_id: str | None = None
    scorer_ids: list[str] | None = None
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


class NewExperiment(_Fields):
    id: str | None = None
    name: str | None = None
    description: str | None = None
    metadata: dict[str, Any] | None = None
    target_type: TargetType | None = None
    target_id: str | None = None
    scorer_ids: list[str] | None = None
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


# ====================================================================== what adapters receive


@dataclass(frozen=True)
class DatasetState:
    """A dataset as read before a change, with how many items are current (not deleted)."""

    dataset: Dataset
    item_count: int

    @property
    def version(self) -> int:
        return self.dataset.version


@dataclass(frozen=True)
class Claim:
    """An external id's owner: the item that took it and the hash of the payload it was first
    accepted with."""

    item_id: str
    payload_hash: str


@dataclass(frozen=True)
class ItemChange:
    """One item's part of a version: the revision written, the current revision it closes
    (None for a new item) and the external id it claims (None when it claims none)."""

    revision: DatasetItemRevision
    closes: DatasetItemRevision | None = None
    claim: tuple[str, Claim] | None = None


@dataclass(frozen=True)
class ItemCommit:
    """One new dataset version: ``changes`` applied atomically if the dataset is still at
    ``expected_version`` (then at ``expected_version + 1``)."""

    dataset_id: str
    expected_version: int
    changes: Sequence[ItemChange]
    summary: VersionChanges
    created_at: datetime
    version_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def new_version(self) -> int:
        return self.expected_version + 1

    @property
    def item_count_delta(self) -> int:
        return self.summary.added - self.summary.deleted


@dataclass
class InsertPlan:
    """What a batch insert does per position: return an ``existing`` item (its external id
    matched), write one of the ``inserts``, or repeat an earlier position of the same request
    (``repeats``: position -> first position with that external id)."""

    existing: dict[int, DatasetItem] = field(default_factory=dict)
    inserts: list[tuple[int, ItemChange]] = field(default_factory=list)
    repeats: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True)
class DatasetsQuery:
    name: str | None  # ASCII-lowercased substring of the name
    target_type: str | None
    target_ids: tuple[str, ...]  # any of them; empty: no filter
    page: int
    per_page: int | None


@dataclass(frozen=True)
class ItemsQuery:
    dataset_id: str
    version: int | None  # None: the current version
    search: str | None  # ASCII-lowercased
    page: int
    per_page: int | None


@dataclass(frozen=True)
class ExperimentsQuery:
    dataset_id: str | None
    status: str | None
    target_type: str | None
    target_id: str | None
    page: int
    per_page: int | None


@dataclass(frozen=True)
class ResultsQuery:
    experiment_id: str
    status: str | None
    page: int
    per_page: int | None


@dataclass(frozen=True)
class ResultGuard:
    """What must still hold when a result is written: its experiment unfinished, and the item
    revision it was built from unpurged unless the result was already scrubbed for it."""

    dataset_id: str
    item_id: str
    revision_version: int
    item_purged: bool


# ====================================================================== shared helpers

_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def ascii_lower(text: str) -> str:
    """Lowercase A-Z only: what SQLite's lower() does, so search matches alike on every store."""
    return text.translate(_ASCII_LOWER)


def search_text(value: Any) -> str:
    """The text ``search`` looks in: an absent value has none, anything else is its compact JSON."""
    return "" if value is None else dumps(value)


def matches_search(item: DatasetItem, search: str | None) -> bool:
    """Whether ``search`` (already ASCII-lowercased) occurs in the item's input or groundTruth."""
    if not search:
        return True
    return search in ascii_lower(search_text(item.input)) or search in ascii_lower(search_text(item.ground_truth))


def payload_hash(payload: ItemPayload) -> str:
    """A fingerprint of an item's payload, to tell a retried insert from a conflicting one."""
    canonical = {name: getattr(payload, name) for name in PAYLOAD_FIELDS}
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def derive_result_id(experiment_id: str, item_id: str, attempt: int) -> str:
    return str(uuid.uuid5(RESULT_ID_NAMESPACE, f"{experiment_id}\n{item_id}\n{attempt}"))


def purge_marker(purged_at: datetime) -> dict[str, Any]:
    return {PURGED_KEY: True, "purgedAt": format_ts(purged_at)}


def scrubbed_revision(revision: DatasetItemRevision, marker: dict[str, Any]) -> DatasetItemRevision:
    """The revision with its content removed: ids, versions and timestamps stay."""
    return revision.model_copy(update={**{name: None for name in PAYLOAD_FIELDS}, "metadata": marker})


def scrubbed_result(result: ExperimentResult, marker: dict[str, Any]) -> ExperimentResult:
    return result.model_copy(
        update={
            "input": None,
            "output": None,
            "ground_truth": None,
            "error": None,
            "tags": None,
            "comment": None,
            "scores": None,
            "metadata": marker,
        }
    )


def finalized_counts(experiment: Experiment, results: Sequence[ExperimentResult]) -> dict[str, int]:
    """Mastra's finalize arithmetic: an item succeeded if any attempt succeeded, failed if it
    has results and none succeeded, and was skipped if it has none."""
    succeeded: dict[str, bool] = {}
    for result in results:
        succeeded[result.item_id] = succeeded.get(result.item_id, False) or result.succeeded
    passed = sum(succeeded.values())
    return {
        "succeeded_count": passed,
        "failed_count": len(succeeded) - passed,
        "skipped_count": max(0, experiment.total_items - len(succeeded)),
    }


def _at_version(change: ItemChange, version: int) -> ItemChange:
    return ItemChange(
        revision=change.revision.model_copy(update={"dataset_version": version}),
        closes=change.closes,
        claim=change.claim,
    )


def _new_item(data: Any, *, at: str | None = None) -> ItemPayload:
    payload = _parse(ItemPayload, data, "item", at=at)
    _no_purge_marker(payload.metadata, "metadata" if at is None else f"{at}.metadata")
    return payload


def _no_purge_marker(metadata: dict[str, Any] | None, field_name: str) -> None:
    if metadata is not None and PURGED_KEY in metadata:
        raise ValidationError(f"{field_name} key {PURGED_KEY} is reserved for purged items", field=field_name)


def _listed(value: Any, field_name: str) -> Sequence[Any]:
    if not isinstance(value, Sequence) or isinstance(value, (str, bytes)):
        raise ValidationError(f"{field_name} must be a list", field=field_name)
    return value


def _parse(model: type[ModelT], data: Any, what: str, *, at: str | None = None) -> ModelT:
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


def _optional_search(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValidationError("search must be a string", field="search")
    return ascii_lower(value)


def _optional_version(value: Any, field_name: str) -> int | None:
    return None if value is None else _count(value, field_name)


def _optional_choice(value: Any, choices: Sequence[str], field_name: str) -> str | None:
    if value is not None and value not in choices:
        raise ValidationError(f"{field_name} must be one of {', '.join(choices)}, got {value!r}", field=field_name)
    return value


# ====================================================================== the port


class DatasetsStorage(ABC):
    """Port for the datasets domain (datasets, items, versions, experiments, results)."""

    name: str = "abstract"

    # ------------------------------------------------------------ datasets

    def create_dataset(self, dataset: Mapping[str, Any] | NewDataset) -> Dataset:
        """Create a dataset at version 0. An ``id`` already taken returns that dataset
        unchanged (Mastra's idempotent create with a caller-defined id)."""
        new = _parse(NewDataset, dataset, "dataset")
        now = utc_now()
        record = Dataset(
            **new.model_dump(exclude={"id"}),
            id=new.id or str(uuid.uuid4()),
            version=0,
            created_at=now,
            updated_at=now,
        )
        if self._insert_dataset(record):
            return record
        existing = self.get_dataset(record.id)
        if existing is None:
            raise ConflictError(f"Dataset {record.id} is being deleted; create it again once that is done")
        return existing

    def get_dataset(self, dataset_id: str) -> Dataset | None:
        state = self._dataset_state(validate_id(dataset_id, "datasetId"))
        return None if state is None else state.dataset

    def list_datasets(
        self,
        *,
        name: str | None = None,
        target_type: str | None = None,
        target_ids: Sequence[str] | None = None,
        page: Any = 0,
        per_page: Any = None,
    ) -> DatasetPage:
        """Datasets newest first (createdAt, then id, descending). ``name`` matches a
        substring (ASCII case-insensitive), ``target_ids`` any of the dataset's targets."""
        page, per_page = pagination(page, per_page)
        if name is not None and not isinstance(name, str):
            raise ValidationError("name must be a string", field="name")
        targets = () if target_ids is None else _listed(target_ids, "targetIds")
        query = DatasetsQuery(
            name=ascii_lower(name) if name else None,
            target_type=_optional_choice(target_type, TARGET_TYPES, "targetType"),
            target_ids=tuple(_strings(list(targets), "targetIds") or ()),
            page=page,
            per_page=per_page,
        )
        total, datasets = self._list_datasets(query)
        return DatasetPage(datasets=datasets, pagination=page_info(total, page, per_page, len(datasets)))

    def update_dataset(self, dataset_id: str, changes: Mapping[str, Any] | DatasetChanges) -> Dataset:
        """Replace the given fields; the version stays. ``NotFoundError`` for an unknown dataset."""
        validate_id(dataset_id, "datasetId")
        parsed = _parse(DatasetChanges, changes, "changes")
        given = parsed.model_dump(include=parsed.model_fields_set)
        if "name" in given and given["name"] is None:
            raise ValidationError("name cannot be cleared", field="name")
        updated = self._update_dataset(dataset_id, given, utc_now())
        if updated is None:
            raise NotFoundError(f"Dataset {dataset_id} not found")
        return updated

    def delete_dataset(self, dataset_id: str) -> None:
        """Delete the dataset with its items, versions, experiments and their results. An
        unknown dataset is a no-op."""
        self._delete_dataset(validate_id(dataset_id, "datasetId"))

    # ------------------------------------------------------------ items: writes

    def add_item(self, dataset_id: str, item: Mapping[str, Any] | ItemPayload) -> DatasetItem:
        """Add one item (a new version, unless its ``externalId`` resolves to an existing item)."""
        validate_id(dataset_id, "datasetId")
        return self._insert_items(dataset_id, [_new_item(item)])[0]

    def batch_insert_items(
        self, dataset_id: str, items: Sequence[Mapping[str, Any] | ItemPayload]
    ) -> list[DatasetItem]:
        """Insert items as one new version and return them in the order given (see the module
        docstring for external ids). All are validated before anything is written. An adapter
        whose transactions cannot hold the whole batch writes it as consecutive versions, each
        complete (its ``_group_changes``)."""
        validate_id(dataset_id, "datasetId")
        listed = _listed(items, "items")
        return self._insert_items(
            dataset_id, [_new_item(item, at=f"items[{index}]") for index, item in enumerate(listed)]
        )

    def _insert_items(self, dataset_id: str, payloads: Sequence[ItemPayload]) -> list[DatasetItem]:
        self._check_sizes([self._draft_revision(dataset_id, payload) for payload in payloads])
        hashes = [payload_hash(payload) for payload in payloads]
        done: dict[int, DatasetItem] = {}
        for _ in optimistic_attempts(f"dataset {dataset_id}"):
            state = self._require_dataset(dataset_id)
            pending = [index for index in range(len(payloads)) if index not in done]
            plan = self._plan_inserts(dataset_id, [(index, payloads[index], hashes[index]) for index in pending])
            done.update(plan.existing)
            position = {change.revision.id: index for index, change in plan.inserts}
            inserts = [change for _, change in plan.inserts]
            landed, complete = self._commit_versions(dataset_id, state.version, inserts, "added", utc_now())
            # What landed is final: a retry plans only what is still pending.
            for commit in landed:
                done.update({position[change.revision.id]: change.revision.as_item() for change in commit.changes})
            if complete:
                done.update({index: done[first] for index, first in plan.repeats.items()})
                return [done[index] for index in range(len(payloads))]
        raise AssertionError("optimistic_attempts() raises when attempts run out")

    def update_item(self, dataset_id: str, item_id: str, changes: Mapping[str, Any] | ItemChanges) -> DatasetItem:
        """Replace the given payload fields of the current revision: a new version. Unknown
        (or deleted) item: ``NotFoundError``; a purged item: ``ConflictError``."""
        validate_id(dataset_id, "datasetId")
        validate_id(item_id, "itemId")
        parsed = _parse(ItemChanges, changes, "changes")
        _no_purge_marker(parsed.metadata, "metadata")
        given = parsed.model_dump(include=parsed.model_fields_set)
        for _ in optimistic_attempts(f"dataset {dataset_id}"):
            state = self._require_dataset(dataset_id)
            current = self._current_revisions(dataset_id, [item_id]).get(item_id)
            if current is None or current.is_deleted:
                raise NotFoundError(f"Item {item_id} not found in dataset {dataset_id}")
            if current.purged:
                raise ConflictError(f"Item {item_id} of dataset {dataset_id} was purged and cannot be updated")
            now = utc_now()
            revision = current.model_copy(
                update={**given, "dataset_version": state.version + 1, "valid_to": None, "updated_at": now}
            )
            change = ItemChange(revision=revision, closes=current)
            self._check_sizes([revision])
            commit = ItemCommit(dataset_id, state.version, [change], VersionChanges(updated=1), now)
            if self._commit(commit):
                return revision.as_item()
        raise AssertionError("optimistic_attempts() raises when attempts run out")

    def delete_item(self, dataset_id: str, item_id: str) -> None:
        """Delete an item (a tombstone revision, a new version). An unknown dataset or item, or
        one already deleted: a no-op, no version."""
        validate_id(dataset_id, "datasetId")
        self._delete_items(dataset_id, [validate_id(item_id, "itemId")], require_dataset=False)

    def batch_delete_items(self, dataset_id: str, item_ids: Sequence[str]) -> int:
        """Delete the current items among ``item_ids`` as one new version (or consecutive
        versions, as for inserts); returns how many were deleted. Ids that are unknown or
        already deleted are skipped; ``NotFoundError`` for an unknown dataset."""
        validate_id(dataset_id, "datasetId")
        ids = [validate_id(item_id, f"itemIds[{index}]") for index, item_id in enumerate(_listed(item_ids, "itemIds"))]
        return self._delete_items(dataset_id, list(dict.fromkeys(ids)), require_dataset=True)

    def _delete_items(self, dataset_id: str, item_ids: list[str], *, require_dataset: bool) -> int:
        deleted = 0
        for _ in optimistic_attempts(f"dataset {dataset_id}"):
            state = self._dataset_state(dataset_id)
            if state is None:
                if require_dataset:
                    raise NotFoundError(f"Dataset {dataset_id} not found")
                return 0
            current = self._current_revisions(dataset_id, item_ids)
            doomed = [current[item_id] for item_id in item_ids if item_id in current and not current[item_id].is_deleted]
            if not doomed:
                return deleted
            now = utc_now()
            tombstones = [
                ItemChange(
                    revision=revision.model_copy(update={"valid_to": None, "is_deleted": True, "updated_at": now}),
                    closes=revision,
                )
                for revision in doomed
            ]
            landed, complete = self._commit_versions(dataset_id, state.version, tombstones, "deleted", now)
            deleted += sum(len(commit.changes) for commit in landed)
            if complete:
                return deleted
        raise AssertionError("optimistic_attempts() raises when attempts run out")

    def purge_item(self, dataset_id: str, item_id: str) -> None:
        """Scrub the item's content from all its revisions and from every experiment result
        that references it. No new version; an unknown item is a no-op."""
        self._purge_item(validate_id(dataset_id, "datasetId"), validate_id(item_id, "itemId"), purge_marker(utc_now()))

    # ------------------------------------------------------------ items: reads

    def get_item(self, dataset_id: str, item_id: str, *, version: Any = None) -> DatasetItem | None:
        """The item as of ``version`` (default: now); None if it did not exist then or was
        deleted. A version beyond the dataset's current one reads as the current one."""
        validate_id(dataset_id, "datasetId")
        validate_id(item_id, "itemId")
        revision = self._revision_at(dataset_id, item_id, _optional_version(version, "version"))
        return None if revision is None or revision.is_deleted else revision.as_item()

    def get_item_history(self, dataset_id: str, item_id: str) -> list[DatasetItemRevision]:
        """Every revision of the item, tombstone included, newest first (by datasetVersion)."""
        return self._item_history(validate_id(dataset_id, "datasetId"), validate_id(item_id, "itemId"))

    def list_items(
        self,
        dataset_id: str,
        *,
        version: Any = None,
        search: Any = None,
        page: Any = 0,
        per_page: Any = None,
    ) -> DatasetItemPage:
        """Items as of ``version`` (default: now), newest first (createdAt, then id,
        descending). ``search`` keeps items whose input or groundTruth, as compact JSON,
        contains it (ASCII case-insensitive). ``NotFoundError`` for an unknown dataset."""
        validate_id(dataset_id, "datasetId")
        page, per_page = pagination(page, per_page)
        query = ItemsQuery(
            dataset_id=dataset_id,
            version=_optional_version(version, "version"),
            search=_optional_search(search),
            page=page,
            per_page=per_page,
        )
        state = self._require_dataset(dataset_id)
        if query.version is not None and query.version >= state.version:
            query = ItemsQuery(dataset_id, None, query.search, page, per_page)
        total, items = self._list_items(state, query)
        return DatasetItemPage(items=items, pagination=page_info(total, page, per_page, len(items)))

    # ------------------------------------------------------------ versions

    def list_dataset_versions(self, dataset_id: str, *, page: Any = 0, per_page: Any = None) -> DatasetVersionPage:
        """The dataset's versions newest first, each with what it changed. ``NotFoundError``
        for an unknown dataset."""
        validate_id(dataset_id, "datasetId")
        page, per_page = pagination(page, per_page)
        total = self._require_dataset(dataset_id).version
        # Versions are 1..total, one per change: a page is a range of version numbers.
        if per_page is None:
            newest, oldest = total, 1
        else:
            newest, oldest = total - page * per_page, max(1, total - (page + 1) * per_page + 1)
        versions = self._list_versions(dataset_id, newest, oldest) if per_page != 0 and newest >= oldest else []
        return DatasetVersionPage(versions=versions, pagination=page_info(total, page, per_page, len(versions)))

    # ------------------------------------------------------------ experiments

    def create_experiment(self, dataset_id: str, experiment: Mapping[str, Any] | NewExperiment) -> Experiment:
        """Record an experiment of the dataset pinned to ``datasetVersion`` (default: the
        current one), running from now, over the items of that version. ``targetType`` and
        ``targetId`` go together. A taken ``id`` returns that experiment if it has the same
        dataset and target, else ``ConflictError``."""
        validate_id(dataset_id, "datasetId")
        new = _parse(NewExperiment, experiment, "experiment")
        if (new.target_type is None) != (new.target_id is None):
            raise ValidationError("targetType and targetId must be given together", field="targetId")
        state = self._require_dataset(dataset_id)
        pinned = state.version if new.dataset_version is None else new.dataset_version
        if pinned > state.version:
            raise ValidationError(
                f"datasetVersion {pinned} does not exist yet: dataset {dataset_id} is at version {state.version}",
                field="datasetVersion",
            )
        if pinned == state.version:
            total_items = state.item_count
        else:
            total_items, _ = self._list_items(state, ItemsQuery(dataset_id, pinned, None, 0, 0))
        if total_items == 0:
            raise ValidationError(
                f"dataset {dataset_id} has no items at version {pinned}: there is nothing to experiment on",
                field="datasetVersion",
            )
        now = utc_now()
        record = Experiment(
            **new.model_dump(exclude={"id", "dataset_version"}),
            id=new.id or str(uuid.uuid4()),
            dataset_id=dataset_id,
            dataset_version=pinned,
            status="running",
            total_items=total_items,
            started_at=now,
            created_at=now,
            updated_at=now,
        )
        if self._insert_experiment(record):
            return record
        existing = self._get_experiment(record.id)
        if existing is None:
            # Refused without an experiment holding the id: the dataset went away meanwhile
            # (or the experiment holding the id was deleted meanwhile).
            self._require_dataset(dataset_id)
            raise ConflictError(f"Experiment {record.id} was deleted while being created again; retry")
        if (existing.dataset_id, existing.target_type, existing.target_id) != (dataset_id, new.target_type, new.target_id):
            raise ConflictError(f"Experiment id {record.id} is taken by an experiment of another dataset or target")
        return existing

    def get_experiment(self, dataset_id: str, experiment_id: str) -> Experiment | None:
        validate_id(dataset_id, "datasetId")
        experiment = self._get_experiment(validate_id(experiment_id, "experimentId"))
        return experiment if experiment is not None and experiment.dataset_id == dataset_id else None

    def list_experiments(
        self,
        dataset_id: str | None = None,
        *,
        status: str | None = None,
        target_type: str | None = None,
        target_id: str | None = None,
        page: Any = 0,
        per_page: Any = None,
    ) -> ExperimentPage:
        """A dataset's experiments (every dataset's without ``dataset_id``), newest first
        (createdAt, then id, descending)."""
        page, per_page = pagination(page, per_page)
        query = ExperimentsQuery(
            dataset_id=optional_id(dataset_id, "datasetId"),
            status=_optional_choice(status, EXPERIMENT_STATUSES, "status"),
            target_type=_optional_choice(target_type, TARGET_TYPES, "targetType"),
            target_id=optional_id(target_id, "targetId"),
            page=page,
            per_page=per_page,
        )
        total, experiments = self._list_experiments(query)
        return ExperimentPage(experiments=experiments, pagination=page_info(total, page, per_page, len(experiments)))

    def update_experiment(
        self, dataset_id: str, experiment_id: str, changes: Mapping[str, Any] | ExperimentChanges
    ) -> Experiment:
        """Replace the given fields (name, description, metadata, status, counts, times).
        ``NotFoundError`` for an unknown experiment."""
        validate_id(dataset_id, "datasetId")
        validate_id(experiment_id, "experimentId")
        parsed = _parse(ExperimentChanges, changes, "changes")
        given = parsed.model_dump(include=parsed.model_fields_set)
        if "status" in given and given["status"] is None:
            raise ValidationError("status cannot be cleared", field="status")
        updated = self._update_experiment(dataset_id, experiment_id, given, utc_now(), expected_status=None)
        if updated is None:
            raise NotFoundError(f"Experiment {experiment_id} not found in dataset {dataset_id}")
        return updated

    def finalize_experiment(self, dataset_id: str, experiment_id: str) -> Experiment:
        """Mark the experiment completed with counts computed from its results (see
        ``finalized_counts``). A completed or failed experiment is returned as it is."""
        for _ in optimistic_attempts(f"experiment {experiment_id}"):
            experiment = self._require_experiment(dataset_id, experiment_id)
            if experiment.status in FINISHED_STATUSES:
                return experiment
            results = self._experiment_results(experiment_id)
            now = utc_now()
            fields = {**finalized_counts(experiment, results), "status": "completed", "completed_at": now}
            updated = self._update_experiment(dataset_id, experiment_id, fields, now, expected_status=experiment.status)
            if updated is not None:
                return updated
        raise AssertionError("optimistic_attempts() raises when attempts run out")

    def delete_experiment(self, dataset_id: str, experiment_id: str) -> None:
        """Delete the experiment and its results; unknown (or another dataset's): a no-op."""
        self._delete_experiment(validate_id(dataset_id, "datasetId"), validate_id(experiment_id, "experimentId"))

    # ------------------------------------------------------------ results

    def add_experiment_result(
        self, dataset_id: str, experiment_id: str, result: Mapping[str, Any] | NewResult
    ) -> ExperimentResult:
        """Store one item's result, replacing the one with the same (item, attempt) but
        keeping its id, createdAt and comment. The item must exist at the experiment's
        version (``NotFoundError``); a completed or failed experiment takes no more results
        (``ConflictError``). A purged item's result is stored scrubbed."""
        validate_id(dataset_id, "datasetId")
        validate_id(experiment_id, "experimentId")
        new = _parse(NewResult, result, "result")
        given = new.model_fields_set
        stored_id = derive_result_id(experiment_id, new.item_id, new.attempt)
        for _ in optimistic_attempts(f"experiment {experiment_id}"):
            experiment, previous = self._experiment_and_result(experiment_id, stored_id)
            if experiment is None or experiment.dataset_id != dataset_id:
                raise NotFoundError(f"Experiment {experiment_id} not found in dataset {dataset_id}")
            if experiment.status in FINISHED_STATUSES:
                raise ConflictError(f"Experiment {experiment_id} is {experiment.status}: it takes no more results")
            revision = self._revision_at(dataset_id, new.item_id, experiment.dataset_version)
            if revision is None or revision.is_deleted:
                raise NotFoundError(
                    f"Item {new.item_id} not found in dataset {dataset_id} at version {experiment.dataset_version}"
                )
            now = utc_now()
            stored = ExperimentResult(
                id=stored_id,
                experiment_id=experiment_id,
                item_id=new.item_id,
                item_dataset_version=experiment.dataset_version,
                input=new.input if "input" in given else revision.input,
                output=new.output,
                ground_truth=new.ground_truth if "ground_truth" in given else revision.ground_truth,
                metadata=revision.metadata,
                error=new.error,
                started_at=new.started_at or now,
                completed_at=new.completed_at or now,
                retry_count=new.retry_count,
                attempt=new.attempt,
                trace_id=new.trace_id,
                status=new.status,
                tags=new.tags,
                comment=None if previous is None else previous.comment,
                scores=new.scores,
                created_at=now if previous is None else previous.created_at,
            )
            if revision.purged:
                stored = scrubbed_result(stored, revision.metadata or {})
            self._check_sizes([stored])
            guard = ResultGuard(dataset_id, new.item_id, revision.dataset_version, revision.purged)
            if self._upsert_result(stored, guard, previous):
                return stored
        raise AssertionError("optimistic_attempts() raises when attempts run out")

    def get_experiment_result(self, dataset_id: str, experiment_id: str, result_id: str) -> ExperimentResult | None:
        validate_id(dataset_id, "datasetId")
        experiment, result = self._experiment_and_result(
            validate_id(experiment_id, "experimentId"), validate_id(result_id, "resultId")
        )
        return result if experiment is not None and experiment.dataset_id == dataset_id else None

    def list_experiment_results(
        self,
        dataset_id: str,
        experiment_id: str,
        *,
        status: str | None = None,
        page: Any = 0,
        per_page: Any = None,
    ) -> ExperimentResultPage:
        """The experiment's results in execution order (startedAt, then id, ascending), as
        Mastra lists them; ``status`` filters by review status. ``NotFoundError`` for an
        unknown experiment."""
        page, per_page = pagination(page, per_page)
        query = ResultsQuery(
            experiment_id=experiment_id,
            status=_optional_choice(status, REVIEW_STATUSES, "status"),
            page=page,
            per_page=per_page,
        )
        self._require_experiment(dataset_id, experiment_id)
        total, results = self._list_results(query)
        return ExperimentResultPage(results=results, pagination=page_info(total, page, per_page, len(results)))

    def update_experiment_result(
        self, dataset_id: str, experiment_id: str, result_id: str, changes: Mapping[str, Any] | ResultChanges
    ) -> ExperimentResult:
        """A reviewer's status, tags and comment (the fields given). A purged result keeps
        no tags or comment. ``NotFoundError`` for an unknown result."""
        validate_id(result_id, "resultId")
        parsed = _parse(ResultChanges, changes, "changes")
        given = parsed.model_dump(include=parsed.model_fields_set)
        for _ in optimistic_attempts(f"result {result_id}"):
            current = self.get_experiment_result(dataset_id, experiment_id, result_id)
            if current is None:
                raise NotFoundError(f"Result {result_id} not found in experiment {experiment_id}")
            fields = {**given, "tags": None, "comment": None} if current.purged else given
            if not fields:
                return current
            updated = self._update_result(experiment_id, result_id, fields, expect_purged=current.purged)
            if updated is not None:
                return updated
        raise AssertionError("optimistic_attempts() raises when attempts run out")

    # ------------------------------------------------------------ helpers

    def _require_dataset(self, dataset_id: str) -> DatasetState:
        state = self._dataset_state(dataset_id)
        if state is None:
            raise NotFoundError(f"Dataset {dataset_id} not found")
        return state

    def _require_experiment(self, dataset_id: str, experiment_id: str) -> Experiment:
        experiment = self.get_experiment(dataset_id, experiment_id)
        if experiment is None:
            raise NotFoundError(f"Experiment {experiment_id} not found in dataset {dataset_id}")
        return experiment

    @staticmethod
    def _draft_revision(dataset_id: str, payload: ItemPayload, version: int = 0) -> DatasetItemRevision:
        now = utc_now()
        return DatasetItemRevision(
            **payload.model_dump(),
            id=str(uuid.uuid4()),
            dataset_id=dataset_id,
            dataset_version=version,
            created_at=now,
            updated_at=now,
        )

    def _commit_versions(
        self, dataset_id: str, version: int, changes: Sequence[ItemChange], kind: str, now: datetime
    ) -> tuple[list[ItemCommit], bool]:
        """Commit ``changes`` (all ``added``, or all ``deleted``) as the versions after
        ``version``, one per group that fits an atomic write. Returns the commits that landed
        and whether all did (a lost race stops at the first that did not)."""
        landed: list[ItemCommit] = []
        for group in self._group_changes(changes) if changes else []:
            at = version + len(landed)
            commit = ItemCommit(
                dataset_id, at, [_at_version(change, at + 1) for change in group], VersionChanges(**{kind: len(group)}), now
            )
            if not self._commit(commit):
                return landed, False
            landed.append(commit)
        return landed, True

    def _plan_inserts(self, dataset_id: str, pending: Sequence[tuple[int, ItemPayload, str]]) -> InsertPlan:
        """Mastra's identity plan for the ``(position, payload, hash)`` still to insert.
        Conflicting reuses of an external id raise ``ConflictError`` naming each of them."""
        external_ids = sorted({payload.external_id for _, payload, _ in pending if payload.external_id is not None})
        claims = self._read_claims(dataset_id, external_ids) if external_ids else {}
        owners = self._current_revisions(dataset_id, sorted({claim.item_id for claim in claims.values()})) if claims else {}
        plan = InsertPlan()
        first_in_request: dict[str, tuple[int, str]] = {}  # externalId -> (position, hash)
        conflicts: list[str] = []
        for index, payload, digest in pending:
            external_id = payload.external_id
            if external_id is not None and external_id in claims:
                claim = claims[external_id]
                owner = owners.get(claim.item_id)
                if owner is None or owner.is_deleted:
                    conflicts.append(f"items[{index}]: externalId {external_id!r} was item {claim.item_id}, now deleted")
                elif claim.payload_hash != digest:
                    conflicts.append(f"items[{index}]: externalId {external_id!r} is item {claim.item_id}, with another payload")
                else:
                    plan.existing[index] = owner.as_item()
            elif external_id is not None and external_id in first_in_request:
                first, first_digest = first_in_request[external_id]
                if first_digest != digest:
                    conflicts.append(f"items[{index}]: externalId {external_id!r} is also items[{first}], with another payload")
                plan.repeats[index] = first
            else:
                revision = self._draft_revision(dataset_id, payload)
                claim_entry = None if external_id is None else (external_id, Claim(revision.id, digest))
                plan.inserts.append((index, ItemChange(revision=revision, claim=claim_entry)))
                if external_id is not None:
                    first_in_request[external_id] = (index, digest)
        if conflicts:
            raise ConflictError("dataset item identity conflict: " + "; ".join(conflicts))
        return plan

    # ------------------------------------------------------------ adapter primitives

    def _check_sizes(self, records: Sequence[BaseModel]) -> None:
        """Refuse records the backend could not store (``PayloadTooLargeError``), before
        anything is written. Nothing to refuse by default."""

    def _group_changes(self, changes: Sequence[ItemChange]) -> list[Sequence[ItemChange]]:
        """How many versions a batch takes: groups that each fit one atomic write. By
        default, all in one."""
        return [changes]

    @abstractmethod
    def _insert_dataset(self, dataset: Dataset) -> bool:
        """Store a new dataset; False (and nothing written) if its id is taken."""

    @abstractmethod
    def _dataset_state(self, dataset_id: str) -> DatasetState | None:
        """The dataset and its current item count, read consistently; None if it does not
        exist (or is being deleted)."""

    @abstractmethod
    def _update_dataset(self, dataset_id: str, fields: dict[str, Any], updated_at: datetime) -> Dataset | None:
        """Set ``fields`` (snake_case names) and ``updatedAt``, leaving the version alone;
        None if the dataset does not exist."""

    @abstractmethod
    def _list_datasets(self, query: DatasetsQuery) -> tuple[int, list[Dataset]]: ...

    @abstractmethod
    def _delete_dataset(self, dataset_id: str) -> None: ...

    @abstractmethod
    def _read_claims(self, dataset_id: str, external_ids: Sequence[str]) -> dict[str, Claim]:
        """The claims among ``external_ids``, read consistently."""

    @abstractmethod
    def _current_revisions(self, dataset_id: str, item_ids: Sequence[str]) -> dict[str, DatasetItemRevision]:
        """The newest revision of each item that exists (a tombstone if it was deleted),
        read consistently."""

    @abstractmethod
    def _commit(self, commit: ItemCommit) -> bool:
        """Apply ``commit`` atomically if the dataset is still at ``commit.expected_version``
        (and not purged in between, for the revisions it closes): bump the version, close the
        revisions in ``closes`` (``validTo`` = the new version), write the new revisions and
        claims, adjust the item count and record the version. False if it lost a race."""

    @abstractmethod
    def _revision_at(self, dataset_id: str, item_id: str, version: int | None) -> DatasetItemRevision | None:
        """The newest revision of the item written at or before ``version`` (None: the
        newest), read consistently."""

    @abstractmethod
    def _item_history(self, dataset_id: str, item_id: str) -> list[DatasetItemRevision]: ...

    @abstractmethod
    def _list_items(self, state: DatasetState, query: ItemsQuery) -> tuple[int, list[DatasetItem]]:
        """``(total, page)`` of the items valid at ``query.version`` (None: current)."""

    @abstractmethod
    def _list_versions(self, dataset_id: str, newest: int, oldest: int) -> list[DatasetVersion]:
        """Versions ``newest`` down to ``oldest`` (inclusive), newest first."""

    @abstractmethod
    def _purge_item(self, dataset_id: str, item_id: str, marker: dict[str, Any]) -> None:
        """Scrub the item's revisions (``scrubbed_revision``), its claim's payload hash and
        the results referencing it (``scrubbed_result``), so that no write racing the purge
        leaves content behind: ``_commit`` and ``_upsert_result`` refuse to build on a
        revision that got purged after they read it."""

    @abstractmethod
    def _insert_experiment(self, experiment: Experiment) -> bool:
        """Store a new experiment if its id is free and its dataset still exists; False
        otherwise (nothing written)."""

    @abstractmethod
    def _get_experiment(self, experiment_id: str) -> Experiment | None:
        """Read consistently."""

    @abstractmethod
    def _list_experiments(self, query: ExperimentsQuery) -> tuple[int, list[Experiment]]: ...

    @abstractmethod
    def _update_experiment(
        self,
        dataset_id: str,
        experiment_id: str,
        fields: dict[str, Any],
        updated_at: datetime,
        *,
        expected_status: str | None,
    ) -> Experiment | None:
        """Set ``fields`` and ``updatedAt``; None if the dataset has no such experiment or
        (with ``expected_status``) its status is no longer that."""

    @abstractmethod
    def _delete_experiment(self, dataset_id: str, experiment_id: str) -> None:
        """Delete the experiment and its results if it is the dataset's; else nothing."""

    @abstractmethod
    def _experiment_results(self, experiment_id: str) -> list[ExperimentResult]:
        """All of the experiment's results, read consistently."""

    @abstractmethod
    def _experiment_and_result(
        self, experiment_id: str, result_id: str
    ) -> tuple[Experiment | None, ExperimentResult | None]:
        """The experiment and one of its results (either may be missing), read consistently."""

    @abstractmethod
    def _upsert_result(self, result: ExperimentResult, guard: ResultGuard, previous: ExperimentResult | None) -> bool:
        """Store ``result`` (replacing ``previous``, the one with its id as read before).
        False, and nothing written, if meanwhile the stored result is no longer
        ``previous`` as far as its comment goes, the experiment is gone or finished, or the
        item's revision got purged although ``guard.item_purged`` is False."""

    @abstractmethod
    def _list_results(self, query: ResultsQuery) -> tuple[int, list[ExperimentResult]]: ...

    @abstractmethod
    def _update_result(
        self, experiment_id: str, result_id: str, fields: dict[str, Any], *, expect_purged: bool
    ) -> ExperimentResult | None:
        """Set ``fields`` (status, tags, comment) if the result exists and is still purged
        exactly when ``expect_purged``; None otherwise."""

    # ------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Release what this adapter owns. Safe to call twice."""
