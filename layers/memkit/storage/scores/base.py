"""The scores storage port: evaluation results (Mastra's ``ScoreRowData``).

A score is written once per scorer run and then read in lists: by scorer, by run, by entity
(the agent or workflow that was scored), by trace span, and by batch or dataset. Every list
is paginated ``{scores, total, page, perPage, hasMore}``, newest first (createdAt, then id,
descending). Fields beyond the ones below (``scorer``, ``entity``, prompts, step results...)
round-trip untouched. Every adapter passes ``tests/storage/scores/test_scores.py``.
"""

from __future__ import annotations

import math
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from memkit.errors import ValidationError
from memkit.models import Page, WireModel, parse_model, parse_ts, utc_now, validate_id, validate_metadata_keys
from memkit.storage.common import optional_id, pagination

ScoringSource = Literal["LIVE", "TEST"]


class Score(WireModel):
    # Mastra adds fields over time; storing them is cheaper than rejecting its newer clients.
    model_config = ConfigDict(extra="allow")

    id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    scorer_id: str
    run_id: str
    entity_id: str
    entity_type: str
    trace_id: str | None = None
    span_id: str | None = None
    batch_id: str | None = None
    dataset_id: str | None = None
    score: float
    reason: str | None = None
    input: Any = None
    output: Any = None
    metadata: dict[str, Any] | None = None
    source: ScoringSource
    created_at: datetime = Field(default_factory=utc_now)
    updated_at: datetime | None = None

    @field_validator("id", "scorer_id", "run_id", "entity_id", "trace_id", "span_id", "batch_id", "dataset_id")
    @classmethod
    def _ids(cls, value: Any, info: Any) -> Any:
        return None if value is None else validate_id(value, to_camel(info.field_name))

    @field_validator("entity_type")
    @classmethod
    def _entity_type(cls, value: Any) -> Any:
        return validate_id(value, "entityType")

    @field_validator("score", mode="before")
    @classmethod
    def _number(cls, value: Any) -> Any:
        # JSON numbers only: pydantic would otherwise accept "0.5" and True as scores.
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValidationError(f"score must be a finite number, got {value!r}", field="score")
        return value

    @field_validator("metadata")
    @classmethod
    def _metadata(cls, value: Any) -> Any:
        validate_metadata_keys(value)
        return value

    @field_validator("created_at", "updated_at", mode="before")
    @classmethod
    def _ts(cls, value: Any, info: Any) -> Any:
        return None if value is None else parse_ts(value, field=to_camel(info.field_name))

    @model_validator(mode="after")
    def _span_needs_trace(self) -> Score:
        if self.span_id is not None and self.trace_id is None:
            raise ValidationError("a score with a spanId needs its traceId", field="traceId")
        return self


class ScorePage(Page):
    scores: list[Score]


@dataclass(frozen=True)
class ScoresQuery:
    """One validated list request: exactly one ``by`` access pattern plus optional filters."""

    by: Literal["scorer", "run", "entity", "span", "batch", "dataset"]
    key: tuple[str, ...]
    page: int
    per_page: int | None
    entity_id: str | None = None
    entity_type: str | None = None
    source: str | None = None


class ScoresStorage(ABC):
    """Port for the scores domain."""

    name: str = "abstract"

    def save_score(self, score: Score | dict[str, Any]) -> Score:
        """Store a score and return it as stored. Without an ``id`` one is generated; without
        ``createdAt``/``updatedAt`` they are now. Saving an existing id replaces that score."""
        data = score.model_dump() if isinstance(score, Score) else score
        parsed = parse_model(Score, data, what="score")
        if parsed.updated_at is None:
            parsed = parsed.model_copy(update={"updated_at": utc_now()})
        return self._put(parsed)

    def get_score(self, score_id: str) -> Score | None:
        return self._get(validate_id(score_id, "id"))

    def list_scores_by_scorer_id(
        self,
        scorer_id: str,
        *,
        entity_id: str | None = None,
        entity_type: str | None = None,
        source: str | None = None,
        page: Any = 0,
        per_page: Any = None,
    ) -> ScorePage:
        if source is not None and source not in ("LIVE", "TEST"):
            raise ValidationError(f"source must be LIVE or TEST, got {source!r}", field="source")
        return self._query(
            "scorer",
            (validate_id(scorer_id, "scorerId"),),
            page,
            per_page,
            entity_id=optional_id(entity_id, "entityId"),
            entity_type=optional_id(entity_type, "entityType"),
            source=source,
        )

    def list_scores_by_run_id(self, run_id: str, *, page: Any = 0, per_page: Any = None) -> ScorePage:
        return self._query("run", (validate_id(run_id, "runId"),), page, per_page)

    def list_scores_by_entity_id(
        self, entity_id: str, entity_type: str, *, page: Any = 0, per_page: Any = None
    ) -> ScorePage:
        key = (validate_id(entity_id, "entityId"), validate_id(entity_type, "entityType"))
        return self._query("entity", key, page, per_page)

    def list_scores_by_span(self, trace_id: str, span_id: str, *, page: Any = 0, per_page: Any = None) -> ScorePage:
        key = (validate_id(trace_id, "traceId"), validate_id(span_id, "spanId"))
        return self._query("span", key, page, per_page)

    def list_scores_by_batch_id(self, batch_id: str, *, page: Any = 0, per_page: Any = None) -> ScorePage:
        return self._query("batch", (validate_id(batch_id, "batchId"),), page, per_page)

    def list_scores_by_dataset_id(self, dataset_id: str, *, page: Any = 0, per_page: Any = None) -> ScorePage:
        return self._query("dataset", (validate_id(dataset_id, "datasetId"),), page, per_page)

    def _query(self, by: Any, key: tuple[str, ...], page: Any, per_page: Any, **filters: Any) -> ScorePage:
        page, per_page = pagination(page, per_page)
        return self._list(ScoresQuery(by=by, key=key, page=page, per_page=per_page, **filters))

    # ------------------------------------------------------------ adapter primitives
    # Arguments arrive validated.

    @abstractmethod
    def _put(self, score: Score) -> Score: ...

    @abstractmethod
    def _get(self, score_id: str) -> Score | None: ...

    @abstractmethod
    def _list(self, query: ScoresQuery) -> ScorePage: ...

    def close(self) -> None:
        """Release what this adapter owns. Safe to call twice."""
