"""Workflow run snapshots on the memkit DynamoDB table (key design: ``docs/domains.md``).

One item per run, ``PK=RUN#<runId>``, ``SK=WF#<workflowName>``, holding the snapshot as JSON
text, its ``status`` copied out, and a ``version`` counter for optimistic updates. Its index
keys list runs newest first:

- ``GSI1``: ``WF#<workflowName>`` / ``<createdAt>#<workflowName>#<runId>`` (a workflow's runs)
- ``GSI2``: ``WFRES#<resourceId>`` / same sort key (a resource's runs; only runs with one)

Listing needs a workflow name or a resource id: listing every run would be a table Scan, so
it raises ``ValidationError`` here. A status filter is a FilterExpression on the partition.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DoesNotExist
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from memkit.errors import ValidationError
from memkit.models import format_ts, page_meta
from memkit.storage.common import dumps, window
from memkit.storage.dynamodb.errors import translated_errors
from memkit.storage.dynamodb.paging import and_all, page_across, timestamp_range
from memkit.storage.dynamodb.requests import write_if
from memkit.storage.dynamodb.table import TableModels, entity_class, open_table
from memkit.storage.workflows.base import RunsQuery, WorkflowRun, WorkflowRunPage, WorkflowsStorage


def run_pk(run_id: str) -> str:
    return f"RUN#{run_id}"


def run_sk(workflow_name: str) -> str:
    return f"WF#{workflow_name}"


def workflow_partition(workflow_name: str) -> str:
    return f"WF#{workflow_name}"


def resource_partition(resource_id: str) -> str:
    return f"WFRES#{resource_id}"


def newest_first_key(run: WorkflowRun) -> str:
    return f"{format_ts(run.created_at)}#{run.workflow_name}#{run.run_id}"


@functools.cache
def _run_item_class(models: TableModels) -> Any:
    return entity_class(
        models,
        "workflow_run",
        {
            "workflow_name": UnicodeAttribute(attr_name="workflowName"),
            "run_id": UnicodeAttribute(attr_name="runId"),
            "resource_id": UnicodeAttribute(null=True, attr_name="resourceId"),
            "status": UnicodeAttribute(null=True),
            "snapshot": UnicodeAttribute(),
            "version": NumberAttribute(),
            "created_at": UnicodeAttribute(attr_name="createdAt"),
            "updated_at": UnicodeAttribute(attr_name="updatedAt"),
        },
    )


def _run_from_item(item: Any) -> WorkflowRun:
    return WorkflowRun(
        workflow_name=item.workflow_name,
        run_id=item.run_id,
        resource_id=item.resource_id,
        snapshot=json.loads(item.snapshot),
        created_at=item.created_at,
        updated_at=item.updated_at,
    )


class DynamoDBWorkflowsStorage(WorkflowsStorage):
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
        models = open_table(
            table_name, create_table=create_table, region=region, endpoint_url=endpoint_url, endpoint_hint=endpoint_hint
        )
        self._item = models.item
        self._run = _run_item_class(models)

    def _newest_run_with_id(self, run_id: str) -> WorkflowRun | None:
        with translated_errors(self.table_name):
            items = list(self._run.query(run_pk(run_id), consistent_read=True))
        runs = [_run_from_item(item) for item in items]
        return max(runs, key=lambda run: (run.created_at, run.workflow_name), default=None)

    def _delete_run(self, workflow_name: str, run_id: str) -> None:
        with translated_errors(self.table_name):
            self._run(run_pk(run_id), run_sk(workflow_name)).delete()

    def _list_runs(self, query: RunsQuery) -> WorkflowRunPage:
        item, run = self._item, self._run
        if query.resource_id is not None:
            index, partition = item.gsi2, resource_partition(query.resource_id)
            sort_key = item.gsi2_sk
        elif query.workflow_name is not None:
            index, partition = item.gsi1, workflow_partition(query.workflow_name)
            sort_key = item.gsi1_sk
        else:
            raise ValidationError(
                "listing workflow runs on DynamoDB needs a workflowName or a resourceId "
                "(listing every run would scan the whole table)",
                field="workflowName",
            )
        range_condition = timestamp_range(sort_key, query.from_date, query.to_date)
        filter_condition = and_all(
            [
                None if query.status is None else run.status == query.status,
                # Listing by resource, the workflow (if given) is a filter on that partition.
                None if query.resource_id is None or query.workflow_name is None else run.workflow_name == query.workflow_name,
            ]
        )
        offset, limit = window(query.page, query.per_page)
        with translated_errors(self.table_name):
            total, items = page_across(index, [(partition, range_condition)], filter_condition, offset, limit)
        runs = [_run_from_item(found) for found in items]
        return WorkflowRunPage(runs=runs, **page_meta(total, query.page, query.per_page, len(runs)))

    def _upsert(self, run: WorkflowRun) -> WorkflowRun:
        with translated_errors(self.table_name):
            return _run_from_item(self._update(run, self._all_actions(run), condition=None))

    def _all_actions(self, run: WorkflowRun) -> list[Action]:
        """Everything a run item holds, as one UpdateItem: the first persist's createdAt and
        sort keys survive later persists (``if_not_exists``), so a resource added later sorts
        the run at its creation time."""
        item_class, base = self._run, self._item
        sort_key = newest_first_key(run)
        actions = [
            *self._content_actions(run),
            item_class.entity.set(item_class),
            item_class.workflow_name.set(run.workflow_name),
            item_class.run_id.set(run.run_id),
            item_class.created_at.set(item_class.created_at | format_ts(run.created_at)),
            base.gsi1_pk.set(workflow_partition(run.workflow_name)),
            base.gsi1_sk.set(base.gsi1_sk | sort_key),
        ]
        if run.resource_id is not None:
            actions += [
                item_class.resource_id.set(run.resource_id),
                base.gsi2_pk.set(resource_partition(run.resource_id)),
                base.gsi2_sk.set(base.gsi1_sk | sort_key),
            ]
        return actions

    def _content_actions(self, run: WorkflowRun) -> list[Action]:
        item_class = self._run
        return [
            item_class.snapshot.set(dumps(run.snapshot)),
            item_class.status.remove() if run.status is None else item_class.status.set(run.status),
            item_class.updated_at.set(format_ts(run.updated_at)),
            item_class.version.add(1),
        ]

    def _update(self, run: WorkflowRun, actions: list[Action], condition: Condition | None) -> Any:
        """UpdateItem on the run's item; returns the item as stored. Errors stay pynamodb's."""
        stored = self._run(run_pk(run.run_id), run_sk(run.workflow_name))
        stored.update(actions=actions, condition=condition)
        return stored

    def _get_versioned(self, workflow_name: str, run_id: str) -> tuple[WorkflowRun, int] | None:
        with translated_errors(self.table_name):
            try:
                item = self._run.get(run_pk(run_id), run_sk(workflow_name), consistent_read=True)
            except DoesNotExist:
                return None
        return _run_from_item(item), int(item.version)

    def _put_if_version(self, run: WorkflowRun, expected_version: int | None) -> bool:
        item_class = self._run
        if expected_version is None:
            return write_if(
                lambda: self._update(run, self._all_actions(run), item_class.pk.does_not_exist()), self.table_name
            )
        return write_if(
            lambda: self._update(run, self._content_actions(run), item_class.version == expected_version),
            self.table_name,
        )
