"""Scores on the memkit DynamoDB table (key design: ``docs/domains.md``).

Six list patterns, two indexes: each score is written as up to three items in its own
partition ``PK=SCORE#<id>``, in one transaction, and each item carries two index keys. Every
item holds the whole score (JSON text), so a list page is one Query with no follow-up reads.

==========  ==========================================  ==========================================
SK          GSI1 (``GSI1PK`` / ``GSI1SK``)               GSI2 (``GSI2PK`` / ``GSI2SK``)
==========  ==========================================  ==========================================
``SCORE``   ``SCORER#<scorerId>`` / ``<createdAt>#<id>``  ``SCOREENT#<entityId>#<entityType>`` / same
``BY#RUN``  ``SCORERUN#<runId>`` / same                  ``SCORESPAN#<traceId>#<spanId>`` / same
``BY#SET``  ``SCOREBATCH#<batchId>`` / same              ``SCOREDATASET#<datasetId>`` / same
==========  ==========================================  ==========================================

Index keys of absent fields are left out (sparse indexes). ``BY#SET`` exists only while the
score has a batch or dataset; re-saving a score without them deletes it in the same transaction.
Listing by scorer filters entity and source with a FilterExpression on the scorer's partition.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from pynamodb.attributes import UnicodeAttribute
from pynamodb.exceptions import DoesNotExist
from pynamodb.transactions import TransactWrite

from memkit.models import format_ts, page_meta
from memkit.storage.common import dumps, window
from memkit.storage.dynamodb.errors import translated_errors
from memkit.storage.dynamodb.paging import and_all, page_across
from memkit.storage.dynamodb.table import TableModels, entity_class, open_table
from memkit.storage.scores.base import Score, ScorePage, ScoresQuery, ScoresStorage

MAIN_SK = "SCORE"
RUN_COPY_SK = "BY#RUN"
SET_COPY_SK = "BY#SET"


def score_pk(score_id: str) -> str:
    return f"SCORE#{score_id}"


# Access pattern → (index, partition prefix); the ScoresQuery.key parts join with "#".
INDEX_PARTITIONS = {
    "scorer": ("gsi1", "SCORER#"),
    "entity": ("gsi2", "SCOREENT#"),
    "run": ("gsi1", "SCORERUN#"),
    "span": ("gsi2", "SCORESPAN#"),
    "batch": ("gsi1", "SCOREBATCH#"),
    "dataset": ("gsi2", "SCOREDATASET#"),
}


def partition(by: str, *key: str | None) -> str | None:
    """The index partition of a score under access pattern ``by``; None if it has no such key."""
    if any(part is None for part in key):
        return None
    return INDEX_PARTITIONS[by][1] + "#".join(key)  # type: ignore[arg-type]


@functools.cache
def _score_item_class(models: TableModels) -> Any:
    return entity_class(
        models,
        "score",
        {
            "data": UnicodeAttribute(),
            # Copied out for the scorer listing's filters.
            "entity_id": UnicodeAttribute(attr_name="entityId"),
            "entity_type": UnicodeAttribute(attr_name="entityType"),
            "source": UnicodeAttribute(),
        },
    )


def _score_from_item(item: Any) -> Score:
    return Score.model_validate(json.loads(item.data))


class DynamoDBScoresStorage(ScoresStorage):
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
        self._score = _score_item_class(self._models)

    def _put(self, score: Score) -> Score:
        sort_key = f"{format_ts(score.created_at)}#{score.id}"
        data = dumps(score.to_wire())

        def item(sk: str, gsi1_partition: str | None, gsi2_partition: str | None) -> Any:
            return self._score(
                score_pk(score.id),
                sk,
                data=data,
                entity_id=score.entity_id,
                entity_type=score.entity_type,
                source=score.source,
                gsi1_pk=gsi1_partition,
                gsi1_sk=sort_key if gsi1_partition else None,
                gsi2_pk=gsi2_partition,
                gsi2_sk=sort_key if gsi2_partition else None,
            )

        batch, dataset = partition("batch", score.batch_id), partition("dataset", score.dataset_id)
        with translated_errors(self.table_name):
            with TransactWrite(connection=self._models.table_connection.connection) as transaction:
                transaction.save(
                    item(MAIN_SK, partition("scorer", score.scorer_id), partition("entity", score.entity_id, score.entity_type))
                )
                transaction.save(item(RUN_COPY_SK, partition("run", score.run_id), partition("span", score.trace_id, score.span_id)))
                if batch or dataset:
                    transaction.save(item(SET_COPY_SK, batch, dataset))
                else:
                    transaction.delete(self._score(score_pk(score.id), SET_COPY_SK))
        return score

    def _get(self, score_id: str) -> Score | None:
        with translated_errors(self.table_name):
            try:
                return _score_from_item(self._score.get(score_pk(score_id), MAIN_SK, consistent_read=True))
            except DoesNotExist:
                return None

    def _list(self, query: ScoresQuery) -> ScorePage:
        index = getattr(self._models.item, INDEX_PARTITIONS[query.by][0])
        item = self._score
        filter_condition = and_all(
            [
                None if query.entity_id is None else item.entity_id == query.entity_id,
                None if query.entity_type is None else item.entity_type == query.entity_type,
                None if query.source is None else item.source == query.source,
            ]
        )
        offset, limit = window(query.page, query.per_page)
        with translated_errors(self.table_name):
            total, items = page_across(index, [(partition(query.by, *query.key), None)], filter_condition, offset, limit)
        scores = [_score_from_item(found) for found in items]
        return ScorePage(scores=scores, **page_meta(total, query.page, query.per_page, len(scores)))
