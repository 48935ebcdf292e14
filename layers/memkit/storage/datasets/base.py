"""The datasets storage port: evaluation datasets, their versioned items, experiments and results.

Mastra's ``datasets`` and ``experiments`` storage domains (``@mastra/core``, as Mastra's
LibSQLStore implements them), in memkit's terms. Every adapter passes
``tests/storage/datasets/test_datasets.py``; the semantics and where they differ from Mastra's are in
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

Adapters implement the primitives at the bottom; planning and the retry loops live here,
the shapes and input checks in ``models``, what adapters receive in ``changes``. Arguments reach the primitives validated.
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from memkit.errors import ConflictError, NotFoundError, ValidationError
from memkit.models import utc_now, validate_id
from memkit.storage.common import optimistic_attempts, optional_id, pagination
from memkit.storage.datasets.changes import (
    Claim,
    DatasetsQuery,
    DatasetState,
    ExperimentsQuery,
    InsertPlan,
    ItemChange,
    ItemCommit,
    ItemsQuery,
    ResultGuard,
    ResultsQuery,
    at_version,
    derive_result_id,
    finalized_counts,
    payload_hash,
    purge_marker,
    scrubbed_result,
)
from memkit.storage.datasets.models import (
    EXPERIMENT_STATUSES,
    FINISHED_STATUSES,
    REVIEW_STATUSES,
    TARGET_TYPES,
    Dataset,
    DatasetChanges,
    DatasetItem,
    DatasetItemPage,
    DatasetItemRevision,
    DatasetPage,
    DatasetVersion,
    DatasetVersionPage,
    Experiment,
    ExperimentChanges,
    ExperimentPage,
    ExperimentResult,
    ExperimentResultPage,
    ItemChanges,
    ItemPayload,
    NewDataset,
    NewExperiment,
    NewResult,
    ResultChanges,
    VersionChanges,
    as_list,
    ascii_lower,
    check_no_purge_marker,
    optional_choice,
    optional_search,
    optional_version,
    page_info,
    parse_input,
    parse_new_item,
    string_list,
)


# ====================================================================== the port


class DatasetsStorage(ABC):
    """Port for the datasets domain (datasets, items, versions, experiments, results)."""

    name: str = "abstract"

    # ------------------------------------------------------------ datasets

    def create_dataset(self, dataset: Mapping[str, Any] | NewDataset) -> Dataset:
        """Create a dataset at version 0. An ``id`` already taken returns that dataset
        unchanged (Mastra's idempotent create with a caller-defined id)."""
        new = parse_input(NewDataset, dataset, "dataset")
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
        targets = () if target_ids is None else as_list(target_ids, "targetIds")
        query = DatasetsQuery(
            name=ascii_lower(name) if name else None,
            target_type=optional_choice(target_type, TARGET_TYPES, "targetType"),
            target_ids=tuple(string_list(list(targets), "targetIds") or ()),
            page=page,
            per_page=per_page,
        )
        total, datasets = self._list_datasets(query)
        return DatasetPage(datasets=datasets, pagination=page_info(total, page, per_page, len(datasets)))

    def update_dataset(self, dataset_id: str, changes: Mapping[str, Any] | DatasetChanges) -> Dataset:
        """Replace the given fields; the version stays. ``NotFoundError`` for an unknown dataset."""
        validate_id(dataset_id, "datasetId")
        parsed = parse_input(DatasetChanges, changes, "changes")
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
        return self._insert_items(dataset_id, [parse_new_item(item)])[0]

    def batch_insert_items(
        self, dataset_id: str, items: Sequence[Mapping[str, Any] | ItemPayload]
    ) -> list[DatasetItem]:
        """Insert items as one new version and return them in the order given (see the module
        docstring for external ids). All are validated before anything is written. An adapter
        whose transactions cannot hold the whole batch writes it as consecutive versions, each
        complete (its ``_group_changes``)."""
        validate_id(dataset_id, "datasetId")
        listed = as_list(items, "items")
        return self._insert_items(
            dataset_id, [parse_new_item(item, at=f"items[{index}]") for index, item in enumerate(listed)]
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
        parsed = parse_input(ItemChanges, changes, "changes")
        check_no_purge_marker(parsed.metadata, "metadata")
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
        ids = [validate_id(item_id, f"itemIds[{index}]") for index, item_id in enumerate(as_list(item_ids, "itemIds"))]
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
        revision = self._revision_at(dataset_id, item_id, optional_version(version, "version"))
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
            version=optional_version(version, "version"),
            search=optional_search(search),
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
        new = parse_input(NewExperiment, experiment, "experiment")
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
            status=optional_choice(status, EXPERIMENT_STATUSES, "status"),
            target_type=optional_choice(target_type, TARGET_TYPES, "targetType"),
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
        parsed = parse_input(ExperimentChanges, changes, "changes")
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
        new = parse_input(NewResult, result, "result")
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
            status=optional_choice(status, REVIEW_STATUSES, "status"),
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
        parsed = parse_input(ResultChanges, changes, "changes")
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
                dataset_id, at, [at_version(change, at + 1) for change in group], VersionChanges(**{kind: len(group)}), now
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
