"""What the datasets port hands its adapters (commits, queries, guards) and the pure rules both
adapters apply alike (search text, payload fingerprints, result ids, scrubbing, finalize
counts)."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from memkit.models import format_ts
from memkit.storage.common import dumps
from memkit.storage.datasets.models import (
    PAYLOAD_FIELDS,
    PURGED_KEY,
    Dataset,
    DatasetItem,
    DatasetItemRevision,
    Experiment,
    ExperimentResult,
    ItemPayload,
    VersionChanges,
    ascii_lower,
)

# Result ids derive from (experimentId, itemId, attempt), so a retried submission finds its row.
RESULT_ID_NAMESPACE = uuid.UUID("5b0f3c52-0d0e-4f8e-9a59-6f2d1a7c9e43")


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


def at_version(change: ItemChange, version: int) -> ItemChange:
    return ItemChange(
        revision=change.revision.model_copy(update={"dataset_version": version}),
        closes=change.closes,
        claim=change.claim,
    )
