"""Datasets on the memkit DynamoDB table (key design and request counts: ``docs/domains.md``).

A dataset is a partition, ``PK=DS#<datasetId>``: its record (``SK=DATASET``), its item
revisions (``SK=REV#<itemId>#<version>``, so an item's history is one key range and the
revision valid at a version is the newest at or below it), its versions (``SK=VER#<version>``,
dense from 1, so a page of versions is a key range), its external-id claims
(``SK=EXT#<externalId>``) and one marker per experiment (``SK=EXP#<experimentId>``). An
experiment is a partition too, ``PK=EXP#<experimentId>``: its record and its results.

Index keys (both indexes overloaded as in the other domains):

- dataset record: GSI1 ``DATASETS`` / ``<createdAt>#<datasetId>`` (every dataset)
- revision: GSI1 ``DSITEMS#<datasetId>`` / ``<createdAt>#<itemId>`` while it is current and
  not a tombstone (the current items); GSI2 ``DSREVS#<datasetId>`` /
  ``<createdAt>#<itemId>#<version>`` unless a tombstone (items as of a version)
- experiment: GSI1 ``DSEXP#<datasetId>`` / ``<createdAt>#<experimentId>``; GSI2
  ``EXPERIMENTS`` / same
- result: GSI1 ``EXPRES#<experimentId>`` / ``<startedAt>#<resultId>`` (execution order)

No Scan anywhere. A change to items is one TransactWriteItems: the dataset's version moves
on the condition that it is still the one planned against, the closed revisions get
``validTo`` and lose their current-items key, the new revisions, claims and the version record
are put. A transaction holds 100 actions and 4 MB, so a batch larger than that becomes
consecutive versions, each complete (``_group_changes``). Deleting a dataset first flags it
``deleting`` (writers condition on the flag's absence), then deletes its partition and its
experiments' partitions found by strongly consistent Queries, the record last, so a failed
delete is finished by calling it again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from itertools import islice
from typing import Any

from pydantic import BaseModel
from pynamodb.exceptions import DoesNotExist
from pynamodb.expressions.condition import Condition
from pynamodb.transactions import TransactWrite

from memkit.models import format_ts
from memkit.storage.common import dumps, window
from memkit.storage.datasets.base import DatasetsStorage
from memkit.storage.datasets.changes import (
    Claim,
    DatasetsQuery,
    DatasetState,
    ExperimentsQuery,
    ItemChange,
    ItemCommit,
    ItemsQuery,
    ResultGuard,
    ResultsQuery,
    matches_search,
    payload_hash,
    scrubbed_result,
    scrubbed_revision,
)
from memkit.storage.datasets.dynamodb_items import (
    ALL_DATASETS,
    ALL_EXPERIMENTS,
    DATASET_FIELDS,
    DATASET_SK,
    EXPERIMENT_FIELDS,
    EXPERIMENT_SK,
    claim_sk,
    current_items_partition,
    dataset_experiments_partition,
    dataset_from_item,
    dataset_pk,
    experiment_from_item,
    experiment_pk,
    item_classes,
    marker_sk,
    result_data,
    result_from_item,
    result_sk,
    results_partition,
    revision_data,
    revision_from_item,
    revision_prefix,
    revision_sk,
    revisions_partition,
    version_sk,
)
from memkit.storage.datasets.models import (
    FINISHED_STATUSES,
    Dataset,
    DatasetItem,
    DatasetItemRevision,
    DatasetVersion,
    Experiment,
    ExperimentResult,
    ascii_lower,
)
from memkit.storage.dynamodb.errors import translated_errors
from memkit.storage.dynamodb.paging import and_all, page_across, query_limit, read_exactly
from memkit.storage.dynamodb.requests import batch_write, transact, write_if
from memkit.storage.dynamodb.table import checked_size, open_table

# A TransactWriteItems request carries at most 100 actions and 4 MB; a version also moves the
# dataset record and writes the version record.
MAX_TRANSACTION_ACTIONS = 100
MAX_TRANSACTION_BYTES = 4 * 1024 * 1024 - 64 * 1024
VERSION_ACTIONS = 2


def _flagged(attribute: Any, flag: bool) -> Condition:
    """``attribute`` is true if ``flag``, else absent (the flags are only ever written true)."""
    return attribute == True if flag else attribute.does_not_exist()  # noqa: E712 (an expression)


class DynamoDBDatasetsStorage(DatasetsStorage):
    name = "dynamodb"

    def __init__(
        self,
        table_name: str,
        *,
        create_table: bool = False,
        region: str | None = None,
        endpoint_url: str | None = None,
        endpoint_hint: str | None = None,
    ):
        self.table_name = table_name
        self._models = open_table(
            table_name, create_table=create_table, region=region, endpoint_url=endpoint_url, endpoint_hint=endpoint_hint
        )
        self._items = item_classes(self._models)

    def _write_transaction(self, fill: Callable[[TransactWrite], None]) -> None:
        """One TransactWriteItems of what ``fill`` adds, applied at most once (errors stay pynamodb's)."""
        transact(self._models.table_connection.connection, fill)

    def _transact(self, fill: Callable[[TransactWrite], None]) -> bool:
        """One TransactWriteItems; False when a condition in it did not hold."""
        return write_if(lambda: self._write_transaction(fill), self.table_name)

    # ------------------------------------------------------------ item building

    def _revision_item(self, revision: DatasetItemRevision) -> Any:
        dataset_id, created = revision.dataset_id, format_ts(revision.created_at)
        live = not revision.is_deleted
        current = live and revision.valid_to is None
        return self._items.revision(
            dataset_pk(dataset_id),
            revision_sk(revision.id, revision.dataset_version),
            data=revision_data(revision),
            dataset_version=revision.dataset_version,
            valid_to=revision.valid_to,
            is_deleted=revision.is_deleted,
            purged=True if revision.purged else None,
            gsi1_pk=current_items_partition(dataset_id) if current else None,
            gsi1_sk=f"{created}#{revision.id}" if current else None,
            gsi2_pk=revisions_partition(dataset_id) if live else None,
            gsi2_sk=f"{created}#{revision.id}#{revision.dataset_version:010d}" if live else None,
        )

    def _result_item(self, result: ExperimentResult) -> Any:
        return self._items.result(
            experiment_pk(result.experiment_id),
            result_sk(result.id),
            data=result_data(result),
            item_id=result.item_id,
            status=result.status,
            tags=result.tags,
            comment=result.comment,
            purged=True if result.purged else None,
            gsi1_pk=results_partition(result.experiment_id),
            gsi1_sk=f"{format_ts(result.started_at)}#{result.id}",
        )

    def _check_sizes(self, records: Sequence[BaseModel]) -> None:
        for record in records:
            if isinstance(record, DatasetItemRevision):
                checked_size(self._revision_item(record), f"Item {record.id} of dataset {record.dataset_id}")
            elif isinstance(record, ExperimentResult):
                checked_size(self._result_item(record), f"Result for item {record.item_id}")

    def _group_changes(self, changes: Sequence[ItemChange]) -> list[Sequence[ItemChange]]:
        groups: list[list[ItemChange]] = [[]]
        actions, size = VERSION_ACTIONS, 0
        for change in changes:
            cost = 1 + (change.closes is not None) + (change.claim is not None)
            weight = checked_size(self._revision_item(change.revision), f"Item {change.revision.id}") + 1024 * (cost - 1)
            if groups[-1] and (actions + cost > MAX_TRANSACTION_ACTIONS or size + weight > MAX_TRANSACTION_BYTES):
                groups.append([])
                actions, size = VERSION_ACTIONS, 0
            groups[-1].append(change)
            actions, size = actions + cost, size + weight
        return groups

    # ------------------------------------------------------------ datasets

    def _dataset_item(self, dataset: Dataset) -> Any:
        return self._items.dataset(
            dataset_pk(dataset.id),
            DATASET_SK,
            **{name: getattr(dataset, name) for name in DATASET_FIELDS},
            item_count=0,
            name_key=ascii_lower(dataset.name),
            target_id_set=set(dataset.target_ids) if dataset.target_ids else None,
            gsi1_pk=ALL_DATASETS,
            gsi1_sk=f"{format_ts(dataset.created_at)}#{dataset.id}",
        )

    def _insert_dataset(self, dataset: Dataset) -> bool:
        item = self._dataset_item(dataset)
        return write_if(lambda: item.save(condition=self._items.dataset.pk.does_not_exist()), self.table_name)

    def _raw_dataset(self, dataset_id: str) -> Any | None:
        with translated_errors(self.table_name):
            try:
                return self._items.dataset.get(dataset_pk(dataset_id), DATASET_SK, consistent_read=True)
            except DoesNotExist:
                return None

    def _dataset_state(self, dataset_id: str) -> DatasetState | None:
        item = self._raw_dataset(dataset_id)
        if item is None or item.deleting:
            return None
        return DatasetState(dataset_from_item(item), int(item.item_count))

    def _update_dataset(self, dataset_id: str, fields: dict[str, Any], updated_at: datetime) -> Dataset | None:
        record = self._items.dataset
        actions = [_set_or_remove(getattr(record, name), value) for name, value in fields.items()]
        actions.append(record.updated_at.set(updated_at))
        if "name" in fields:
            actions.append(record.name_key.set(ascii_lower(fields["name"])))
        if "target_ids" in fields:
            actions.append(_set_or_remove(record.target_id_set, set(fields["target_ids"] or ()) or None))
        item = record(dataset_pk(dataset_id), DATASET_SK)
        condition = record.pk.exists() & record.deleting.does_not_exist()
        if not write_if(lambda: item.update(actions=actions, condition=condition), self.table_name):
            return None
        return dataset_from_item(item)

    def _list_datasets(self, query: DatasetsQuery) -> tuple[int, list[Dataset]]:
        record = self._items.dataset
        targets = [record.target_id_set.contains(target) for target in query.target_ids]
        filter_condition = and_all(
            [
                None if query.name is None else record.name_key.contains(query.name),
                None if query.target_type is None else record.target_type == query.target_type,
                _any(targets),
            ]
        )
        offset, limit = window(query.page, query.per_page)
        with translated_errors(self.table_name):
            total, items = page_across(self._items.base.gsi1, [(ALL_DATASETS, None)], filter_condition, offset, limit)
        return total, [dataset_from_item(item) for item in items]

    def _delete_dataset(self, dataset_id: str) -> None:
        record = self._items.dataset
        flag = record(dataset_pk(dataset_id), DATASET_SK)
        # Hide it and stop writers first (they condition on the flag being absent).
        flagged = write_if(
            lambda: flag.update(
                actions=[record.deleting.set(True), record.gsi1_pk.remove(), record.gsi1_sk.remove()],
                condition=record.pk.exists(),
            ),
            self.table_name,
        )
        if not flagged:
            return
        base = self._items.base
        with translated_errors(self.table_name):
            keys = [
                (item.pk, item.sk)
                for item in base.query(dataset_pk(dataset_id), consistent_read=True, attributes_to_get=["PK", "SK"])
                if item.sk != DATASET_SK
            ]
        for _, sk in keys:
            if sk.startswith("EXP#"):
                self._delete_experiment_partition(sk.removeprefix("EXP#"))
        batch_write(base, self.table_name, deletes=[base(pk, sk) for pk, sk in keys])
        with translated_errors(self.table_name):
            flag.delete()

    # ------------------------------------------------------------ items

    def _read_claims(self, dataset_id: str, external_ids: Sequence[str]) -> dict[str, Claim]:
        keys = [(dataset_pk(dataset_id), claim_sk(external_id)) for external_id in external_ids]
        with translated_errors(self.table_name):
            found = list(self._items.claim.batch_get(keys, consistent_read=True))
        return {item.sk.removeprefix("EXT#"): Claim(item.item_id, item.payload_hash) for item in found}

    def _current_revisions(self, dataset_id: str, item_ids: Sequence[str]) -> dict[str, DatasetItemRevision]:
        current = {item_id: self._revision_at(dataset_id, item_id, None) for item_id in item_ids}
        return {item_id: revision for item_id, revision in current.items() if revision is not None}

    def _commit(self, commit: ItemCommit) -> bool:
        items, version = self._items, commit.new_version
        record = DatasetVersion(
            id=commit.version_id,
            dataset_id=commit.dataset_id,
            version=version,
            changes=commit.summary,
            created_at=commit.created_at,
        )
        dataset = items.dataset(dataset_pk(commit.dataset_id), DATASET_SK)
        bump = [items.dataset.version.set(version), items.dataset.item_count.add(commit.item_count_delta)]
        still_planned = (items.dataset.version == commit.expected_version) & items.dataset.deleting.does_not_exist()

        def fill(transaction: TransactWrite) -> None:
            transaction.update(dataset, actions=bump, condition=still_planned)
            for change in commit.changes:
                closes = change.closes
                if closes is not None:
                    revision = items.revision(dataset_pk(commit.dataset_id), revision_sk(closes.id, closes.dataset_version))
                    transaction.update(
                        revision,
                        actions=[items.revision.valid_to.set(version), items.base.gsi1_pk.remove(), items.base.gsi1_sk.remove()],
                        # Closed or purged since it was read: the plan is stale.
                        condition=items.revision.valid_to.does_not_exist() & _flagged(items.revision.purged, closes.purged),
                    )
                transaction.save(self._revision_item(change.revision), condition=items.revision.pk.does_not_exist())
                if change.claim is not None:
                    external_id, claim = change.claim
                    transaction.save(
                        items.claim(
                            dataset_pk(commit.dataset_id),
                            claim_sk(external_id),
                            item_id=claim.item_id,
                            payload_hash=claim.payload_hash,
                        ),
                        condition=items.claim.pk.does_not_exist(),
                    )
            transaction.save(items.version(dataset_pk(commit.dataset_id), version_sk(version), data=dumps(record.to_wire())))

        return self._transact(fill)

    def _revision_at(self, dataset_id: str, item_id: str, version: int | None) -> DatasetItemRevision | None:
        sort_key = self._items.revision.sk
        prefix = revision_prefix(item_id)
        condition = (
            sort_key.startswith(prefix)
            if version is None
            else sort_key.between(revision_sk(item_id, 0), revision_sk(item_id, version))
        )
        with translated_errors(self.table_name):
            found = list(
                self._items.revision.query(
                    dataset_pk(dataset_id), condition, scan_index_forward=False, limit=1, consistent_read=True
                )
            )
        return revision_from_item(found[0]) if found else None

    def _item_history(self, dataset_id: str, item_id: str) -> list[DatasetItemRevision]:
        return [revision_from_item(item) for item in self._history_items(dataset_id, item_id)]

    def _history_items(self, dataset_id: str, item_id: str) -> list[Any]:
        revision = self._items.revision
        with translated_errors(self.table_name):
            return list(
                revision.query(
                    dataset_pk(dataset_id),
                    revision.sk.startswith(revision_prefix(item_id)),
                    scan_index_forward=False,
                    consistent_read=True,
                )
            )

    def _list_items(self, state: DatasetState, query: ItemsQuery) -> tuple[int, list[DatasetItem]]:
        offset, limit = window(query.page, query.per_page)
        base, revision = self._items.base, self._items.revision
        if query.version is None and not query.search:
            # The dataset record counts its current items: the page is the only read.
            if limit == 0:
                return state.item_count, []
            with translated_errors(self.table_name):
                wanted = None if limit is None else offset + limit
                results = revision.gsi1.query(
                    current_items_partition(query.dataset_id),
                    scan_index_forward=False,
                    limit=wanted,
                    page_size=query_limit(wanted),
                )
                page = islice(read_exactly(results, wanted), offset, None)
                return state.item_count, [revision_from_item(item).as_item() for item in page]
        if query.version is None:
            index, partition, valid = base.gsi1, current_items_partition(query.dataset_id), None
        else:
            index, partition = base.gsi2, revisions_partition(query.dataset_id)
            at = query.version
            valid = (revision.dataset_version <= at) & (revision.valid_to.does_not_exist() | (revision.valid_to > at))
        # Search looks inside JSON, which no key or filter expression can: every candidate is
        # read once, counted, and kept if it falls on the page.
        total, page = 0, []
        with translated_errors(self.table_name):
            for item in index.query(partition, filter_condition=valid, scan_index_forward=False):
                found = revision_from_item(item).as_item()
                if not matches_search(found, query.search):
                    continue
                if total >= offset and (limit is None or len(page) < limit):
                    page.append(found)
                total += 1
        return total, page

    def _list_versions(self, dataset_id: str, newest: int, oldest: int) -> list[DatasetVersion]:
        version = self._items.version
        with translated_errors(self.table_name):
            items = version.query(
                dataset_pk(dataset_id),
                version.sk.between(version_sk(oldest), version_sk(newest)),
                scan_index_forward=False,
                consistent_read=True,
            )
            return [DatasetVersion.model_validate(json.loads(item.data)) for item in items]

    def _purge_item(self, dataset_id: str, item_id: str, marker: dict[str, Any]) -> None:
        items = self._items
        stored = self._history_items(dataset_id, item_id)
        if not stored:
            return
        # Scrub until a strongly consistent read finds nothing left: once every revision is
        # flagged, a writer that read one before the flag fails its condition and re-reads.
        while unpurged := [item for item in stored if not item.purged]:
            self._in_transactions(
                (
                    item,
                    [items.revision.data.set(revision_data(scrubbed_revision(revision_from_item(item), marker))),
                     items.revision.purged.set(True)],
                )
                for item in unpurged
            )
            stored = self._history_items(dataset_id, item_id)
        external_id = revision_from_item(stored[-1]).external_id
        if external_id is not None:
            claim = items.claim(dataset_pk(dataset_id), claim_sk(external_id))
            scrubbed_hash = payload_hash(scrubbed_revision(revision_from_item(stored[-1]), marker))
            with translated_errors(self.table_name):
                claim.update(actions=[items.claim.payload_hash.set(scrubbed_hash)])
        for experiment_id in self._experiment_ids(dataset_id):
            with translated_errors(self.table_name):
                results = list(
                    items.result.query(
                        experiment_pk(experiment_id),
                        items.result.sk.startswith("RES#"),
                        filter_condition=items.result.item_id == item_id,
                        consistent_read=True,
                    )
                )
            self._in_transactions(
                (
                    item,
                    [items.result.data.set(result_data(scrubbed_result(result_from_item(item), marker))),
                     items.result.purged.set(True),
                     items.result.tags.remove(),
                     items.result.comment.remove()],
                )
                for item in results
                if not item.purged
            )

    def _in_transactions(self, updates: Iterable[tuple[Any, list[Any]]]) -> None:
        """UpdateItems on existing items, up to 100 per transaction."""
        pending = list(updates)
        for start in range(0, len(pending), MAX_TRANSACTION_ACTIONS):
            chunk = pending[start : start + MAX_TRANSACTION_ACTIONS]

            def fill(transaction: TransactWrite, chunk: list[tuple[Any, list[Any]]] = chunk) -> None:
                for item, actions in chunk:
                    transaction.update(item, actions=actions, condition=type(item).pk.exists())

            with translated_errors(self.table_name):
                self._write_transaction(fill)

    def _experiment_ids(self, dataset_id: str) -> list[str]:
        marker = self._items.marker
        with translated_errors(self.table_name):
            return [
                item.sk.removeprefix("EXP#")
                for item in marker.query(dataset_pk(dataset_id), marker.sk.startswith("EXP#"), consistent_read=True)
            ]

    # ------------------------------------------------------------ experiments

    def _insert_experiment(self, experiment: Experiment) -> bool:
        items = self._items
        created = f"{format_ts(experiment.created_at)}#{experiment.id}"
        record = items.experiment(
            experiment_pk(experiment.id),
            EXPERIMENT_SK,
            **{name: getattr(experiment, name) for name in EXPERIMENT_FIELDS},
            gsi1_pk=dataset_experiments_partition(experiment.dataset_id),
            gsi1_sk=created,
            gsi2_pk=ALL_EXPERIMENTS,
            gsi2_sk=created,
        )
        dataset = items.dataset(dataset_pk(experiment.dataset_id), DATASET_SK)

        def fill(transaction: TransactWrite) -> None:
            transaction.condition_check(
                items.dataset, dataset.pk, dataset.sk,
                condition=items.dataset.pk.exists() & items.dataset.deleting.does_not_exist(),
            )
            transaction.save(record, condition=items.experiment.pk.does_not_exist())
            transaction.save(items.marker(dataset_pk(experiment.dataset_id), marker_sk(experiment.id)))

        return self._transact(fill)

    def _get_experiment(self, experiment_id: str) -> Experiment | None:
        with translated_errors(self.table_name):
            try:
                item = self._items.experiment.get(experiment_pk(experiment_id), EXPERIMENT_SK, consistent_read=True)
            except DoesNotExist:
                return None
        return None if item.deleting else experiment_from_item(item)

    def _list_experiments(self, query: ExperimentsQuery) -> tuple[int, list[Experiment]]:
        base, experiment = self._items.base, self._items.experiment
        if query.dataset_id is not None:
            index, partition = base.gsi1, dataset_experiments_partition(query.dataset_id)
        else:
            index, partition = base.gsi2, ALL_EXPERIMENTS
        filter_condition = and_all(
            [
                None if query.status is None else experiment.status == query.status,
                None if query.target_type is None else experiment.target_type == query.target_type,
                None if query.target_id is None else experiment.target_id == query.target_id,
            ]
        )
        offset, limit = window(query.page, query.per_page)
        with translated_errors(self.table_name):
            total, items = page_across(index, [(partition, None)], filter_condition, offset, limit)
        return total, [experiment_from_item(item) for item in items]

    def _update_experiment(
        self,
        dataset_id: str,
        experiment_id: str,
        fields: dict[str, Any],
        updated_at: datetime,
        *,
        expected_status: str | None,
    ) -> Experiment | None:
        record = self._items.experiment
        actions = [_set_or_remove(getattr(record, name), value) for name, value in fields.items()]
        actions.append(record.updated_at.set(updated_at))
        condition = (record.dataset_id == dataset_id) & record.deleting.does_not_exist()
        if expected_status is not None:
            condition &= record.status == expected_status
        item = record(experiment_pk(experiment_id), EXPERIMENT_SK)
        if not write_if(lambda: item.update(actions=actions, condition=condition), self.table_name):
            return None
        return experiment_from_item(item)

    def _delete_experiment(self, dataset_id: str, experiment_id: str) -> None:
        items = self._items
        record = items.experiment
        # Hide it and stop new results first (they condition on the flag being absent), so
        # that a delete that fails half-way is finished by calling it again.
        flag = record(experiment_pk(experiment_id), EXPERIMENT_SK)
        flagged = write_if(
            lambda: flag.update(
                actions=[record.deleting.set(True), *(key.remove() for key in _index_keys(items.base))],
                condition=record.dataset_id == dataset_id,
            ),
            self.table_name,
        )
        if not flagged:
            return
        self._delete_experiment_partition(experiment_id, keep_record=True)

        def fill(transaction: TransactWrite) -> None:
            transaction.delete(flag)
            transaction.delete(items.marker(dataset_pk(dataset_id), marker_sk(experiment_id)))

        with translated_errors(self.table_name):
            self._write_transaction(fill)

    def _delete_experiment_partition(self, experiment_id: str, *, keep_record: bool = False) -> None:
        base = self._items.base
        with translated_errors(self.table_name):
            doomed = [
                base(item.pk, item.sk)
                for item in base.query(experiment_pk(experiment_id), consistent_read=True, attributes_to_get=["PK", "SK"])
                if not (keep_record and item.sk == EXPERIMENT_SK)
            ]
        batch_write(base, self.table_name, deletes=doomed)

    # ------------------------------------------------------------ results

    def _experiment_results(self, experiment_id: str) -> list[ExperimentResult]:
        result = self._items.result
        with translated_errors(self.table_name):
            found = result.query(experiment_pk(experiment_id), result.sk.startswith("RES#"), consistent_read=True)
            return [result_from_item(item) for item in found]

    def _experiment_and_result(
        self, experiment_id: str, result_id: str
    ) -> tuple[Experiment | None, ExperimentResult | None]:
        keys = [(experiment_pk(experiment_id), EXPERIMENT_SK), (experiment_pk(experiment_id), result_sk(result_id))]
        with translated_errors(self.table_name):
            found = {item.sk: item for item in self._items.base.batch_get(keys, consistent_read=True)}
        experiment, result = found.get(EXPERIMENT_SK), found.get(result_sk(result_id))
        if experiment is None or experiment.deleting:
            return None, None
        return experiment_from_item(experiment), None if result is None else result_from_item(result)

    def _upsert_result(self, result: ExperimentResult, guard: ResultGuard, previous: ExperimentResult | None) -> bool:
        items = self._items
        dataset = dataset_pk(guard.dataset_id), DATASET_SK
        experiment = experiment_pk(result.experiment_id), EXPERIMENT_SK
        revision = dataset_pk(guard.dataset_id), revision_sk(guard.item_id, guard.revision_version)
        if previous is None:
            unchanged = items.result.pk.does_not_exist()
        elif previous.comment is None:
            unchanged = items.result.pk.exists() & items.result.comment.does_not_exist()
        else:
            unchanged = items.result.comment == previous.comment

        def fill(transaction: TransactWrite) -> None:
            # Neither the dataset nor the experiment may be on its way out: their deletes find
            # every result written before they set their flag.
            transaction.condition_check(
                items.dataset, *dataset, condition=items.dataset.pk.exists() & items.dataset.deleting.does_not_exist()
            )
            transaction.condition_check(
                items.experiment, *experiment,
                condition=items.experiment.pk.exists()
                & items.experiment.deleting.does_not_exist()
                & ~items.experiment.status.is_in(*FINISHED_STATUSES),
            )
            if not guard.item_purged:
                transaction.condition_check(items.revision, *revision, condition=items.revision.purged.does_not_exist())
            transaction.save(self._result_item(result), condition=unchanged)

        return self._transact(fill)

    def _list_results(self, query: ResultsQuery) -> tuple[int, list[ExperimentResult]]:
        result = self._items.result
        filter_condition = None if query.status is None else result.status == query.status
        offset, limit = window(query.page, query.per_page)
        with translated_errors(self.table_name):
            total, items = page_across(
                self._items.base.gsi1, [(results_partition(query.experiment_id), None)], filter_condition, offset, limit,
                oldest_first=True,
            )
        return total, [result_from_item(item) for item in items]

    def _update_result(
        self, experiment_id: str, result_id: str, fields: dict[str, Any], *, expect_purged: bool
    ) -> ExperimentResult | None:
        result = self._items.result
        item = result(experiment_pk(experiment_id), result_sk(result_id))
        actions = [_set_or_remove(getattr(result, name), value) for name, value in fields.items()]
        condition = result.pk.exists() & _flagged(result.purged, expect_purged)
        if not write_if(lambda: item.update(actions=actions, condition=condition), self.table_name):
            return None
        return result_from_item(item)


def _index_keys(base: Any) -> tuple[Any, ...]:
    return base.gsi1_pk, base.gsi1_sk, base.gsi2_pk, base.gsi2_sk


def _set_or_remove(attribute: Any, value: Any) -> Any:
    # pynamodb turns set(None) into a NULL value; an absent attribute is what reads back as None.
    return attribute.remove() if value is None else attribute.set(value)


def _any(conditions: Sequence[Condition]) -> Condition | None:
    if not conditions:
        return None
    combined = conditions[0]
    for condition in conditions[1:]:
        combined |= condition
    return combined
