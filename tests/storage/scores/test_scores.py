"""Scores: save and get, and every list (scorer, run, entity, span, batch, dataset), newest first."""

from __future__ import annotations

from typing import Any

import pytest

from memkit.errors import ValidationError

from tests.storage.builders import at, unique_id


def make_score(**fields: Any) -> dict[str, Any]:
    """A score in its wire form; every key it is listed by is unique unless overridden."""
    return {
        "scorerId": unique_id("scorer"),
        "runId": unique_id("run"),
        "entityId": unique_id("agent"),
        "entityType": "AGENT",
        "score": 0.75,
        "reason": "Answer cites 3 of 4 sources ✅",
        "input": {"question": "Wie spät ist es?", "history": [1, 2.5, None]},
        "output": [{"text": "Es ist 5 Uhr."}],
        "metadata": {"model": "gpt-x", "tokens": 12},
        "source": "LIVE",
        **fields,
    }


def save_scores(scores, count: int, **fields: Any) -> list[str]:
    """``count`` scores created 1 ms apart, ids in creation order; returns the ids oldest first."""
    prefix = unique_id("score")
    saved = []
    for index in range(count):
        score = make_score(id=f"{prefix}-{index:02d}", createdAt=at(index).isoformat(), **fields)
        saved.append(scores.save_score(score).id)
    return saved


def score_ids(page) -> list[str]:
    return [score.id for score in page.scores]


def test_saved_score_reads_back_exactly(scores):
    score = make_score(traceId=unique_id("trace"), spanId="span-1", scorer={"name": "faithfulness"})

    saved = scores.save_score(score)

    assert saved.id and saved.created_at and saved.updated_at
    wire = scores.get_score(saved.id).to_wire()
    assert wire == saved.to_wire()
    assert {key: wire[key] for key in score} == score
    assert wire["scorer"] == {"name": "faithfulness"}


def test_unknown_score_is_none(scores):
    assert scores.get_score(unique_id("score")) is None


def test_list_by_scorer_pages_newest_first_with_totals(scores):
    scorer_id = unique_id("scorer")
    newest_first = save_scores(scores, 7, scorerId=scorer_id)[::-1]

    pages = [scores.list_scores_by_scorer_id(scorer_id, page=page, per_page=3) for page in range(3)]

    assert [score_ids(page) for page in pages] == [newest_first[0:3], newest_first[3:6], newest_first[6:]]
    assert [(page.total, page.page, page.per_page) for page in pages] == [(7, 0, 3), (7, 1, 3), (7, 2, 3)]
    assert [page.has_more for page in pages] == [True, True, False]


def test_ties_on_creation_break_by_id_descending(scores):
    run_id = unique_id("run")
    prefix = unique_id("score")
    for suffix in "bca":
        scores.save_score(make_score(id=f"{prefix}-{suffix}", runId=run_id, createdAt=at(0)))

    assert score_ids(scores.list_scores_by_run_id(run_id)) == [f"{prefix}-{suffix}" for suffix in "cba"]


def test_list_by_scorer_filters_by_entity_and_source(scores):
    scorer_id, entity_id = unique_id("scorer"), unique_id("agent")
    live = save_scores(scores, 2, scorerId=scorer_id, entityId=entity_id)
    test_runs = save_scores(scores, 1, scorerId=scorer_id, entityId=entity_id, source="TEST")
    workflow = save_scores(scores, 1, scorerId=scorer_id, entityId=entity_id, entityType="WORKFLOW")
    save_scores(scores, 1, scorerId=scorer_id)

    assert scores.list_scores_by_scorer_id(scorer_id).total == 5
    assert set(score_ids(scores.list_scores_by_scorer_id(scorer_id, entity_id=entity_id))) == {*live, *test_runs, *workflow}
    assert score_ids(scores.list_scores_by_scorer_id(scorer_id, entity_id=entity_id, entity_type="WORKFLOW")) == workflow
    assert score_ids(scores.list_scores_by_scorer_id(scorer_id, source="TEST")) == test_runs
    assert scores.list_scores_by_scorer_id(scorer_id, entity_id=unique_id("agent")).total == 0


@pytest.mark.parametrize(
    "fields, lister",
    [
        pytest.param(("runId",), lambda scores, key: scores.list_scores_by_run_id(*key), id="run"),
        pytest.param(("entityId", "entityType"), lambda scores, key: scores.list_scores_by_entity_id(*key), id="entity"),
        pytest.param(("traceId", "spanId"), lambda scores, key: scores.list_scores_by_span(*key), id="span"),
        pytest.param(("batchId",), lambda scores, key: scores.list_scores_by_batch_id(*key), id="batch"),
        pytest.param(("datasetId",), lambda scores, key: scores.list_scores_by_dataset_id(*key), id="dataset"),
    ],
)
def test_each_list_returns_only_its_scores_newest_first(scores, fields, lister):
    key = {field: unique_id(field) for field in fields}
    mine = save_scores(scores, 3, **key)
    save_scores(scores, 2, **{field: unique_id(field) for field in fields})

    page = lister(scores, tuple(key.values()))

    assert score_ids(page) == mine[::-1]
    assert page.total == 3 and not page.has_more
    empty = lister(scores, tuple(unique_id(field) for field in fields))
    assert (empty.scores, empty.total, empty.has_more) == ([], 0, False)


def test_entity_listing_needs_the_matching_entity_type(scores):
    entity_id = unique_id("agent")
    save_scores(scores, 1, entityId=entity_id, entityType="AGENT")

    assert scores.list_scores_by_entity_id(entity_id, "AGENT").total == 1
    assert scores.list_scores_by_entity_id(entity_id, "WORKFLOW").total == 0


def test_resaving_a_score_replaces_it_in_every_list(scores):
    batch_id, old_run, new_run = unique_id("batch"), unique_id("run"), unique_id("run")
    original = scores.save_score(make_score(runId=old_run, batchId=batch_id, score=0.1))

    replaced = scores.save_score({**original.to_wire(), "runId": new_run, "batchId": None, "score": 1})

    assert scores.get_score(original.id).score == 1
    assert replaced.created_at == original.created_at
    assert scores.list_scores_by_run_id(old_run).total == 0
    assert score_ids(scores.list_scores_by_run_id(new_run)) == [original.id]
    assert scores.list_scores_by_batch_id(batch_id).total == 0


def test_per_page_false_returns_all_and_zero_returns_only_the_total(scores):
    run_id = unique_id("run")
    save_scores(scores, 4, runId=run_id)

    everything = scores.list_scores_by_run_id(run_id, per_page=False)
    counted = scores.list_scores_by_run_id(run_id, per_page=0)
    past_the_end = scores.list_scores_by_run_id(run_id, page=3, per_page=2)

    assert (len(everything.scores), everything.total, everything.per_page) == (4, 4, False)
    assert (counted.scores, counted.total, counted.has_more) == ([], 4, False)
    assert (past_the_end.scores, past_the_end.total, past_the_end.has_more) == ([], 4, False)


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"scorerId": None}, id="no-scorer"),
        pytest.param({"entityType": ""}, id="empty-entity-type"),
        pytest.param({"score": "0.5"}, id="score-as-text"),
        pytest.param({"score": True}, id="score-as-bool"),
        pytest.param({"score": float("inf")}, id="infinite-score"),
        pytest.param({"source": "PROD"}, id="unknown-source"),
        pytest.param({"spanId": "span-1"}, id="span-without-trace"),
        pytest.param({"metadata": {"bad-key": 1}}, id="bad-metadata-key"),
        pytest.param({"createdAt": "not a date"}, id="bad-date"),
    ],
)
def test_invalid_score_raises_and_stores_nothing(scores, fields):
    score = make_score(id=unique_id("score"), **fields)

    with pytest.raises(ValidationError):
        scores.save_score(score)

    assert scores.get_score(score["id"]) is None


def test_invalid_list_arguments_raise(scores):
    with pytest.raises(ValidationError):
        scores.list_scores_by_scorer_id("")
    with pytest.raises(ValidationError):
        scores.list_scores_by_scorer_id(unique_id("scorer"), source="PROD")
    with pytest.raises(ValidationError):
        scores.list_scores_by_run_id(unique_id("run"), page=-1)
