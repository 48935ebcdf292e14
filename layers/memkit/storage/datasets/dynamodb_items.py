"""The datasets domain's keys and item classes on the memkit DynamoDB table, and how records
become items and back (the key design in code; ``docs/domains.md`` tabulates it)."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel
from pydantic.alias_generators import to_camel
from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute, UnicodeSetAttribute

from memkit.storage.common import dumps
from memkit.storage.datasets.models import Dataset, DatasetItemRevision, Experiment, ExperimentResult
from memkit.storage.dynamodb.table import JSONTextAttribute, TableModels, TimestampAttribute, entity_class

DATASET_SK = "DATASET"
EXPERIMENT_SK = "EXPERIMENT"
ALL_DATASETS = "DATASETS"
ALL_EXPERIMENTS = "EXPERIMENTS"


def dataset_pk(dataset_id: str) -> str:
    return f"DS#{dataset_id}"


def revision_prefix(item_id: str) -> str:
    # Ids never contain "#", so one item's prefix is never another's.
    return f"REV#{item_id}#"


def revision_sk(item_id: str, version: int) -> str:
    return f"{revision_prefix(item_id)}{version:010d}"


def version_sk(version: int) -> str:
    return f"VER#{version:010d}"


def claim_sk(external_id: str) -> str:
    return f"EXT#{external_id}"


def marker_sk(experiment_id: str) -> str:
    return f"EXP#{experiment_id}"


def experiment_pk(experiment_id: str) -> str:
    return f"EXP#{experiment_id}"


def result_sk(result_id: str) -> str:
    return f"RES#{result_id}"


def current_items_partition(dataset_id: str) -> str:
    return f"DSITEMS#{dataset_id}"


def revisions_partition(dataset_id: str) -> str:
    return f"DSREVS#{dataset_id}"


def dataset_experiments_partition(dataset_id: str) -> str:
    return f"DSEXP#{dataset_id}"


def results_partition(experiment_id: str) -> str:
    return f"EXPRES#{experiment_id}"


# Dataset and experiment records keep one attribute per field, so that an update is a single
# UpdateItem returning the whole record.
_ATTRIBUTE_KINDS = {
    "text": UnicodeAttribute,
    "json": JSONTextAttribute,
    "number": NumberAttribute,
    "time": TimestampAttribute,
}
DATASET_FIELDS = {
    "name": "text",
    "description": "text",
    "metadata": "json",
    "input_schema": "json",
    "ground_truth_schema": "json",
    "request_context_schema": "json",
    "tags": "json",
    "target_type": "text",
    "target_ids": "json",
    "scorer_ids": "json",
    "version": "number",
    "created_at": "time",
    "updated_at": "time",
}
EXPERIMENT_FIELDS = {
    "dataset_id": "text",
    "dataset_version": "number",
    "name": "text",
    "description": "text",
    "metadata": "json",
    "target_type": "text",
    "target_id": "text",
    "scorer_ids": "json",
    "status": "text",
    "total_items": "number",
    "succeeded_count": "number",
    "failed_count": "number",
    "skipped_count": "number",
    "started_at": "time",
    "completed_at": "time",
    "created_at": "time",
    "updated_at": "time",
}


def field_attributes(fields: dict[str, str]) -> dict[str, Any]:
    return {name: _ATTRIBUTE_KINDS[kind](null=True, attr_name=to_camel(name)) for name, kind in fields.items()}


class DatasetsItems:
    """The datasets domain's item classes on one table."""

    def __init__(self, models: TableModels):
        self.base = models.item
        self.dataset = entity_class(
            models,
            "dataset",
            {
                **field_attributes(DATASET_FIELDS),
                "item_count": NumberAttribute(default=0, attr_name="itemCount"),
                "name_key": UnicodeAttribute(attr_name="nameKey"),
                "target_id_set": UnicodeSetAttribute(null=True, attr_name="targetIdSet"),
                "deleting": BooleanAttribute(null=True),
            },
        )
        self.revision = entity_class(
            models,
            "dataset_revision",
            {
                "data": UnicodeAttribute(),
                "dataset_version": NumberAttribute(attr_name="datasetVersion"),
                "valid_to": NumberAttribute(null=True, attr_name="validTo"),
                "is_deleted": BooleanAttribute(default=False, attr_name="isDeleted"),
                "purged": BooleanAttribute(null=True),
            },
        )
        self.version = entity_class(models, "dataset_version", {"data": UnicodeAttribute()})
        self.claim = entity_class(
            models,
            "dataset_claim",
            {"item_id": UnicodeAttribute(attr_name="itemId"), "payload_hash": UnicodeAttribute(attr_name="payloadHash")},
        )
        self.marker = entity_class(models, "experiment_marker", {})
        self.experiment = entity_class(
            models, "experiment", {**field_attributes(EXPERIMENT_FIELDS), "deleting": BooleanAttribute(null=True)}
        )
        self.result = entity_class(
            models,
            "experiment_result",
            {
                "data": UnicodeAttribute(),
                "item_id": UnicodeAttribute(attr_name="itemId"),
                "status": UnicodeAttribute(null=True),
                "tags": JSONTextAttribute(null=True),
                "comment": UnicodeAttribute(null=True),
                "purged": BooleanAttribute(null=True),
            },
        )


@functools.cache
def item_classes(models: TableModels) -> DatasetsItems:
    return DatasetsItems(models)


def record_from(model: type[BaseModel], item: Any, fields: Iterable[str], **extra: Any) -> Any:
    return model.model_validate({**{name: getattr(item, name) for name in fields}, **extra})


def dataset_from_item(item: Any) -> Dataset:
    return record_from(Dataset, item, DATASET_FIELDS, id=item.pk.removeprefix("DS#"))


def experiment_from_item(item: Any) -> Experiment:
    return record_from(Experiment, item, EXPERIMENT_FIELDS, id=item.pk.removeprefix("EXP#"))


def revision_from_item(item: Any) -> DatasetItemRevision:
    return DatasetItemRevision.model_validate(
        {**json.loads(item.data), "validTo": item.valid_to, "isDeleted": bool(item.is_deleted)}
    )


# A reviewer's fields are attributes of their own, so that a review is one UpdateItem.
REVIEW_FIELDS = ("status", "tags", "comment")


def result_from_item(item: Any) -> ExperimentResult:
    return ExperimentResult.model_validate({**json.loads(item.data), **{name: getattr(item, name) for name in REVIEW_FIELDS}})


def revision_data(revision: DatasetItemRevision) -> str:
    wire = revision.to_wire()
    del wire["validTo"], wire["isDeleted"]
    return dumps(wire)


def result_data(result: ExperimentResult) -> str:
    wire = result.to_wire()
    for name in REVIEW_FIELDS:
        del wire[name]
    return dumps(wire)
