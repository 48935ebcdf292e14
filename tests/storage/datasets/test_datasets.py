"""Datasets: versioned items, external ids, experiments, results and purging, on every backend.

Timestamps come from a clock that moves one millisecond per reading, so "newest first" is
"created last first" and nothing ties unless a test makes it.
"""

from __future__ import annotations

import itertools
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest

import memkit.storage.datasets.base as datasets_base
from memkit.errors import ConflictError, NotFoundError, PayloadTooLargeError, ValidationError
from memkit.models import MAX_COUNT
from memkit.storage.datasets.changes import ItemChange, ItemCommit
from memkit.storage.datasets.models import PURGED_KEY, ItemPayload, VersionChanges

from tests.storage.builders import unique_id

START = datetime(2031, 1, 1, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    ticks = itertools.count()

    def now() -> datetime:
        return START + timedelta(milliseconds=next(ticks))

    monkeypatch.setattr(datasets_base, "utc_now", now)


def new_dataset(datasets, **fields):
    return datasets.create_dataset({"name": unique_id("set"), **fields})


def with_items(datasets, count: int, **fields):
    """A dataset with ``count`` items added one by one (versions 1..count); returns it and them."""
    dataset = new_dataset(datasets, **fields)
    items = [datasets.add_item(dataset.id, {"input": f"question {index}"}) for index in range(count)]
    return dataset, items


def ids(records) -> list[str]:
    return [record.id for record in records]


def inputs(page) -> list:
    return [item.input for item in page.items]


# ====================================================================== datasets


def test_created_dataset_reads_back_at_version_zero_with_every_field(datasets):
    fields = {
        "name": unique_id("capitals"),
        "description": "Questions about capital cities",
        "metadata": {"owner": "evals", "nested": {"level": 2}},
        "inputSchema": {"type": "object", "properties": {"question": {"type": "string"}}},
        "groundTruthSchema": {"type": "string"},
        "requestContextSchema": {"type": "object"},
        "tags": ["geo", "smoke"],
        "targetType": "agent",
        "targetIds": ["support-agent"],
        "scorerIds": ["exact-match"],
    }

    created = datasets.create_dataset(fields)

    stored = datasets.get_dataset(created.id)
    assert stored.to_wire() == created.to_wire()
    wire = stored.to_wire()
    assert {key: wire[key] for key in fields} == fields
    assert wire["version"] == 0
    assert wire["updatedAt"] == wire["createdAt"]


def test_create_with_a_taken_id_returns_the_existing_dataset_unchanged(datasets):
    dataset_id = unique_id("set")
    first = datasets.create_dataset({"id": dataset_id, "name": "first"})

    again = datasets.create_dataset({"id": dataset_id, "name": "second"})

    assert again.to_wire() == first.to_wire()
    assert datasets.get_dataset(dataset_id).name == "first"


def test_unknown_dataset_reads_as_none(datasets):
    assert datasets.get_dataset(unique_id("set")) is None


def test_update_replaces_the_given_fields_clears_nulls_and_keeps_the_version(datasets):
    dataset, _ = with_items(datasets, 1, description="old", metadata={"a": 1}, targetIds=["x"], inputSchema={"type": "string"})

    updated = datasets.update_dataset(
        dataset.id, {"name": "renamed", "metadata": {"b": 2}, "inputSchema": None, "targetIds": ["y", "z"]}
    )

    assert datasets.get_dataset(dataset.id).to_wire() == updated.to_wire()
    assert (updated.name, updated.description, updated.metadata) == ("renamed", "old", {"b": 2})
    assert (updated.input_schema, updated.target_ids, updated.version) == (None, ["y", "z"], 1)
    assert updated.updated_at > dataset.updated_at
    assert updated.created_at == dataset.created_at


def test_update_of_an_unknown_dataset_is_not_found(datasets):
    with pytest.raises(NotFoundError):
        datasets.update_dataset(unique_id("set"), {"name": "x"})


def test_list_datasets_pages_newest_first_in_mastras_pagination_shape(datasets):
    tag = unique_id("paged")
    created = [datasets.create_dataset({"name": f"{tag} {index}"}) for index in range(5)]
    newest_first = ids(created[::-1])

    pages = [datasets.list_datasets(name=tag, page=page, per_page=2) for page in range(3)]

    assert [ids(page.datasets) for page in pages] == [newest_first[0:2], newest_first[2:4], newest_first[4:]]
    assert pages[0].to_wire()["pagination"] == {"total": 5, "page": 0, "perPage": 2, "hasMore": True}
    assert pages[2].to_wire()["pagination"] == {"total": 5, "page": 2, "perPage": 2, "hasMore": False}
    everything = datasets.list_datasets(name=tag, per_page=False)
    assert (ids(everything.datasets), everything.pagination.per_page) == (newest_first, False)
    counted = datasets.list_datasets(name=tag, per_page=0)
    assert (counted.datasets, counted.pagination.total) == ([], 5)


def test_list_datasets_filters_by_name_substring_target_type_and_any_target_id(datasets):
    tag = unique_id("Filter")
    agent_a = datasets.create_dataset({"name": f"{tag} Alpha", "targetType": "agent", "targetIds": ["a", "b"]})
    agent_c = datasets.create_dataset({"name": f"{tag} Beta", "targetType": "agent", "targetIds": ["c"]})
    workflow = datasets.create_dataset({"name": f"{tag} alphabet", "targetType": "workflow", "targetIds": ["b"]})
    untargeted = datasets.create_dataset({"name": f"{tag} gamma"})

    assert set(ids(datasets.list_datasets(name=tag.lower()).datasets)) == set(ids([agent_a, agent_c, workflow, untargeted]))
    assert set(ids(datasets.list_datasets(name=f"{tag} ALPHA").datasets)) == {agent_a.id, workflow.id}
    assert set(ids(datasets.list_datasets(name=tag, target_type="agent").datasets)) == {agent_a.id, agent_c.id}
    assert set(ids(datasets.list_datasets(name=tag, target_ids=["b", "zzz"]).datasets)) == {agent_a.id, workflow.id}
    assert set(ids(datasets.list_datasets(name=tag, target_ids=[]).datasets)) == set(ids([agent_a, agent_c, workflow, untargeted]))


def test_delete_dataset_removes_its_items_versions_experiments_and_results(datasets):
    dataset, items = with_items(datasets, 2)
    datasets.add_item(dataset.id, {"input": "claimed", "externalId": "ext-1"})
    experiment = datasets.create_experiment(dataset.id, {"name": "run"})
    result = datasets.add_experiment_result(dataset.id, experiment.id, {"itemId": items[0].id, "output": "o"})

    datasets.delete_dataset(dataset.id)
    datasets.delete_dataset(dataset.id)

    assert datasets.get_dataset(dataset.id) is None
    assert datasets.get_item(dataset.id, items[0].id) is None
    assert datasets.get_item_history(dataset.id, items[0].id) == []
    assert datasets.get_experiment(dataset.id, experiment.id) is None
    assert datasets.get_experiment_result(dataset.id, experiment.id, result.id) is None
    with pytest.raises(NotFoundError):
        datasets.list_items(dataset.id)
    with pytest.raises(NotFoundError):
        datasets.list_dataset_versions(dataset.id)
    assert datasets.list_experiments(dataset.id).pagination.total == 0
    recreated = datasets.create_dataset({"id": dataset.id, "name": "again"})
    assert recreated.version == 0
    assert datasets.add_item(dataset.id, {"input": "claimed again", "externalId": "ext-1"}).input == "claimed again"


# ====================================================================== items and versions


def test_every_item_change_makes_one_version_recorded_with_what_it_changed(datasets):
    dataset = new_dataset(datasets)
    first = datasets.add_item(dataset.id, {"input": "a"})
    batch = datasets.batch_insert_items(dataset.id, [{"input": "b"}, {"input": "c"}, {"input": "d"}])
    datasets.update_item(dataset.id, first.id, {"groundTruth": "A"})
    datasets.delete_item(dataset.id, batch[0].id)
    deleted = datasets.batch_delete_items(dataset.id, [batch[1].id, batch[2].id])
    datasets.update_dataset(dataset.id, {"description": "not an item change"})

    versions = datasets.list_dataset_versions(dataset.id, per_page=False).versions

    assert deleted == 2
    assert datasets.get_dataset(dataset.id).version == 5
    assert [(version.version, version.changes.model_dump()) for version in versions] == [
        (5, {"added": 0, "updated": 0, "deleted": 2}),
        (4, {"added": 0, "updated": 0, "deleted": 1}),
        (3, {"added": 0, "updated": 1, "deleted": 0}),
        (2, {"added": 3, "updated": 0, "deleted": 0}),
        (1, {"added": 1, "updated": 0, "deleted": 0}),
    ]
    assert {version.dataset_id for version in versions} == {dataset.id}
    assert [first.dataset_version, batch[0].dataset_version] == [1, 2]


def test_items_read_back_as_of_every_version(datasets):
    dataset = new_dataset(datasets)
    a = datasets.add_item(dataset.id, {"input": "a"})  # v1
    b = datasets.add_item(dataset.id, {"input": "b"})  # v2
    datasets.update_item(dataset.id, a.id, {"input": "a2"})  # v3
    datasets.delete_item(dataset.id, b.id)  # v4
    c = datasets.add_item(dataset.id, {"input": "c"})  # v5

    as_of = {version: inputs(datasets.list_items(dataset.id, version=version)) for version in range(6)}

    assert as_of == {0: [], 1: ["a"], 2: ["b", "a"], 3: ["b", "a2"], 4: ["a2"], 5: ["c", "a2"]}
    assert inputs(datasets.list_items(dataset.id)) == ["c", "a2"]
    assert inputs(datasets.list_items(dataset.id, version=99)) == ["c", "a2"]
    assert [datasets.get_item(dataset.id, a.id, version=v) for v in (0,)] == [None]
    assert [datasets.get_item(dataset.id, a.id, version=v).input for v in (1, 2, 3, 5)] == ["a", "a", "a2", "a2"]
    assert [datasets.get_item(dataset.id, a.id, version=v).dataset_version for v in (2, 3)] == [1, 3]
    assert datasets.get_item(dataset.id, b.id, version=3).input == "b"
    assert datasets.get_item(dataset.id, b.id, version=4) is None
    assert datasets.get_item(dataset.id, b.id) is None
    assert datasets.get_item(dataset.id, c.id, version=4) is None


def test_item_history_lists_every_revision_newest_first_with_its_tombstone(datasets):
    dataset = new_dataset(datasets)
    item = datasets.add_item(dataset.id, {"input": "q", "groundTruth": "one", "externalId": "ext"})  # v1
    datasets.add_item(dataset.id, {"input": "other"})  # v2
    datasets.update_item(dataset.id, item.id, {"groundTruth": "two"})  # v3
    datasets.delete_item(dataset.id, item.id)  # v4

    history = datasets.get_item_history(dataset.id, item.id)

    assert [(row.dataset_version, row.valid_to, row.is_deleted, row.ground_truth) for row in history] == [
        (4, None, True, "two"),
        (3, 4, False, "two"),
        (1, 3, False, "one"),
    ]
    assert {(row.id, row.external_id, row.created_at) for row in history} == {(item.id, "ext", item.created_at)}
    assert history[0].updated_at > history[1].updated_at > history[2].updated_at
    assert datasets.get_item_history(dataset.id, unique_id("item")) == []


def test_update_replaces_only_the_given_payload_fields_and_keeps_identity(datasets):
    dataset = new_dataset(datasets)
    item = datasets.add_item(
        dataset.id,
        {"input": {"q": 1}, "groundTruth": "g", "metadata": {"m": 1}, "externalId": "e", "requestContext": {"user": "u"}},
    )

    updated = datasets.update_item(dataset.id, item.id, {"groundTruth": None, "metadata": {"m": 2}})

    assert datasets.get_item(dataset.id, item.id).to_wire() == updated.to_wire()
    assert (updated.id, updated.external_id, updated.created_at) == (item.id, "e", item.created_at)
    assert (updated.input, updated.ground_truth, updated.metadata, updated.request_context) == (
        {"q": 1}, None, {"m": 2}, {"user": "u"},
    )
    assert (updated.dataset_version, updated.updated_at > item.updated_at) == (2, True)


def test_item_payload_fields_round_trip(datasets):
    dataset = new_dataset(datasets)
    payload = {
        "input": {"messages": [{"role": "user", "content": "Zürich 🏔️"}], "n": 0.25},
        "groundTruth": ["a", 1, None, True],
        "expectedTrajectory": {"steps": [{"name": "search", "stepType": "tool_call"}]},
        "toolMocks": [{"toolName": "search", "args": {"q": "x"}, "output": {"hits": 3}}],
        "unmockedToolPolicy": "deny",
        "scorerIds": ["s1"],
        "requestContext": {"locale": "de"},
        "metadata": {"source_file": "capitals.csv"},
        "source": {"type": "csv", "referenceId": "capitals.csv"},
        "externalId": "row-1",
    }

    item = datasets.add_item(dataset.id, payload)

    wire = datasets.get_item(dataset.id, item.id).to_wire()
    assert {key: wire[key] for key in payload} == payload
    assert (wire["datasetId"], wire["datasetVersion"]) == (dataset.id, 1)


def test_changes_to_unknown_or_deleted_items(datasets):
    dataset, (item,) = with_items(datasets, 1)
    datasets.delete_item(dataset.id, item.id)

    with pytest.raises(NotFoundError):
        datasets.update_item(dataset.id, item.id, {"input": "x"})
    with pytest.raises(NotFoundError):
        datasets.update_item(dataset.id, unique_id("item"), {"input": "x"})
    datasets.delete_item(dataset.id, item.id)
    datasets.delete_item(dataset.id, unique_id("item"))
    datasets.delete_item(unique_id("set"), item.id)

    assert datasets.get_dataset(dataset.id).version == 2
    assert datasets.batch_delete_items(dataset.id, [item.id, unique_id("item")]) == 0
    assert datasets.get_dataset(dataset.id).version == 2


def test_an_item_is_only_reachable_through_its_own_dataset(datasets):
    dataset, (item,) = with_items(datasets, 1)
    other = new_dataset(datasets)

    assert datasets.get_item(other.id, item.id) is None
    with pytest.raises(NotFoundError):
        datasets.update_item(other.id, item.id, {"input": "hijacked"})
    assert datasets.batch_delete_items(other.id, [item.id]) == 0
    assert datasets.get_item(dataset.id, item.id).input == "question 0"


def test_writes_to_an_unknown_dataset_are_not_found(datasets):
    missing = unique_id("set")

    with pytest.raises(NotFoundError):
        datasets.add_item(missing, {"input": "x"})
    with pytest.raises(NotFoundError):
        datasets.batch_insert_items(missing, [{"input": "x"}])
    with pytest.raises(NotFoundError):
        datasets.batch_delete_items(missing, ["a"])
    with pytest.raises(NotFoundError):
        datasets.create_experiment(missing, {})


def test_batch_delete_skips_unknown_and_repeated_ids_and_counts_what_it_deleted(datasets):
    dataset, items = with_items(datasets, 3)

    deleted = datasets.batch_delete_items(dataset.id, [items[0].id, unique_id("item"), items[0].id, items[2].id])

    assert deleted == 2
    assert inputs(datasets.list_items(dataset.id)) == ["question 1"]
    assert datasets.list_dataset_versions(dataset.id, per_page=1).versions[0].changes.deleted == 2


def test_list_items_pages_newest_first(datasets):
    dataset, items = with_items(datasets, 7)
    newest_first = ids(items[::-1])

    pages = [datasets.list_items(dataset.id, page=page, per_page=3) for page in range(3)]

    assert [ids(page.items) for page in pages] == [newest_first[0:3], newest_first[3:6], newest_first[6:]]
    assert [page.pagination.total for page in pages] == [7, 7, 7]
    assert [page.pagination.has_more for page in pages] == [True, True, False]
    assert datasets.list_items(dataset.id, page=5, per_page=3).items == []
    everything = datasets.list_items(dataset.id, per_page=False)
    assert (ids(everything.items), everything.pagination.total) == (newest_first, 7)
    counted = datasets.list_items(dataset.id, per_page=0)
    assert (counted.items, counted.pagination.total) == ([], 7)


def test_the_largest_pages_a_caller_may_ask_for_are_empty_not_errors(datasets):
    dataset, items = with_items(datasets, 2)
    experiment = datasets.create_experiment(dataset.id, {})
    datasets.add_experiment_result(dataset.id, experiment.id, {"itemId": items[0].id})
    far = {"page": MAX_COUNT, "per_page": MAX_COUNT}

    pages = [
        datasets.list_items(dataset.id, **far),
        datasets.list_items(dataset.id, version=1, **far),
        datasets.list_dataset_versions(dataset.id, **far),
        datasets.list_datasets(name=dataset.name, **far),
        datasets.list_experiments(dataset.id, **far),
        datasets.list_experiment_results(dataset.id, experiment.id, **far),
    ]

    assert [page.pagination.total for page in pages] == [2, 1, 2, 1, 1, 1]
    assert [len(page.to_wire()[key]) for page, key in zip(pages, ["items", "items", "versions", "datasets", "experiments", "results"])] == [0] * 6


def test_list_items_as_of_a_version_pages_like_the_current_listing(datasets):
    dataset, items = with_items(datasets, 5)
    datasets.batch_delete_items(dataset.id, ids(items))

    pages = [datasets.list_items(dataset.id, version=5, page=page, per_page=2) for page in range(3)]

    assert [ids(page.items) for page in pages] == [ids(items[4:2:-1]), ids(items[2:0:-1]), ids(items[:1])]
    assert [(page.pagination.total, page.pagination.has_more) for page in pages] == [(5, True), (5, True), (5, False)]
    assert datasets.list_items(dataset.id).pagination.total == 0


def test_search_finds_text_in_input_or_ground_truth_ignoring_ascii_case(datasets):
    dataset = new_dataset(datasets)
    capital = datasets.add_item(dataset.id, {"input": {"question": "Capital of Portugal?"}, "groundTruth": "Lisbon"})
    river = datasets.add_item(dataset.id, {"input": "Longest river?", "groundTruth": {"answer": "Nile"}})
    datasets.add_item(dataset.id, {"input": "Zürich or Genève?", "metadata": {"note": "lisbon"}})
    datasets.update_item(dataset.id, capital.id, {"groundTruth": "Lisboa"})

    def found(search, **kwargs):
        return ids(datasets.list_items(dataset.id, search=search, **kwargs).items)

    assert found("PORTUGAL") == [capital.id]
    assert found("nile") == [river.id]
    assert found("lisbon") == []
    assert found("lisbon", version=2) == [capital.id]
    assert found('"answer"') == [river.id]
    assert found("?") == ids(datasets.list_items(dataset.id).items)
    assert found("ZüRICH") == found("zürich") != []
    assert found("ZÜRICH") == []  # only A-Z fold, as SQLite's lower() does
    assert found("%") == found("_") == []
    assert found("") == ids(datasets.list_items(dataset.id).items)
    page = datasets.list_items(dataset.id, search="?", per_page=1)
    assert (len(page.items), page.pagination.total, page.pagination.has_more) == (1, 3, True)


def test_list_versions_pages_newest_first(datasets):
    dataset, _ = with_items(datasets, 5)

    pages = [datasets.list_dataset_versions(dataset.id, page=page, per_page=2) for page in range(4)]

    assert [[version.version for version in page.versions] for page in pages] == [[5, 4], [3, 2], [1], []]
    assert [(page.pagination.total, page.pagination.has_more) for page in pages[:3]] == [(5, True), (5, True), (5, False)]
    assert datasets.list_dataset_versions(dataset.id, per_page=0).to_wire()["versions"] == []
    assert datasets.list_dataset_versions(new_dataset(datasets).id).pagination.total == 0


def test_concurrent_item_changes_get_consecutive_versions_and_all_survive(datasets):
    dataset = new_dataset(datasets)
    start = threading.Barrier(8)

    def add(index: int):
        start.wait()
        return datasets.add_item(dataset.id, {"input": f"parallel {index}"})

    with ThreadPoolExecutor(8) as pool:
        added = list(pool.map(add, range(8)))

    assert sorted(item.dataset_version for item in added) == list(range(1, 9))
    assert sorted(inputs(datasets.list_items(dataset.id))) == sorted(f"parallel {index}" for index in range(8))
    versions = datasets.list_dataset_versions(dataset.id, per_page=False).versions
    assert [version.changes.added for version in versions] == [1] * 8


def test_a_batch_that_loses_a_race_is_finished_without_duplicates(datasets, backend, monkeypatch):
    dataset = new_dataset(datasets)
    size = 120 if backend.items_per_version else 3
    # Interfere before the batch's last version: on a backend that splits the batch, after
    # its first version landed.
    interfere_before = 2 if backend.items_per_version else 1
    real_commit, commits = datasets._commit, []

    def commit_after_another_writer(commit):
        commits.append(commit)
        if len(commits) == interfere_before:
            interloper = datasets._draft_revision(dataset.id, ItemPayload(input="interloper"), commit.new_version)
            real_commit(
                ItemCommit(dataset.id, commit.expected_version, [ItemChange(interloper)], VersionChanges(added=1), commit.created_at)
            )
        return real_commit(commit)

    monkeypatch.setattr(datasets, "_commit", commit_after_another_writer)

    added = datasets.batch_insert_items(dataset.id, [{"input": index} for index in range(size)])

    listed = datasets.list_items(dataset.id, per_page=False).items
    assert [item.input for item in added] == list(range(size))
    assert sorted(map(str, (item.input for item in listed))) == sorted([*map(str, range(size)), "interloper"])
    assert datasets.get_dataset(dataset.id).version == (3 if backend.items_per_version else 2)


def test_an_update_planned_before_a_purge_does_not_write_the_content_back(datasets, monkeypatch):
    dataset = new_dataset(datasets)
    item = datasets.add_item(dataset.id, {"input": "secret"})
    real_read, reads = datasets._current_revisions, []

    def read_then_purge(dataset_id, item_ids):
        found = real_read(dataset_id, item_ids)
        reads.append(found)
        if len(reads) == 1:
            datasets.purge_item(dataset_id, item.id)
        return found

    monkeypatch.setattr(datasets, "_current_revisions", read_then_purge)

    with pytest.raises(ConflictError, match="purged"):
        datasets.update_item(dataset.id, item.id, {"groundTruth": "more secret"})

    assert len(reads) == 2
    assert [(row.input, row.ground_truth) for row in datasets.get_item_history(dataset.id, item.id)] == [(None, None)]


def test_a_result_built_before_a_purge_is_stored_scrubbed(datasets, monkeypatch):
    dataset = new_dataset(datasets)
    item = datasets.add_item(dataset.id, {"input": "secret"})
    experiment = datasets.create_experiment(dataset.id, {})
    real_read, reads = datasets._revision_at, []

    def read_then_purge(dataset_id, item_id, version):
        found = real_read(dataset_id, item_id, version)
        reads.append(found)
        if len(reads) == 1:
            datasets.purge_item(dataset_id, item.id)
        return found

    monkeypatch.setattr(datasets, "_revision_at", read_then_purge)

    result = datasets.add_experiment_result(dataset.id, experiment.id, {"itemId": item.id, "output": "leak"})

    assert len(reads) == 2
    stored = datasets.get_experiment_result(dataset.id, experiment.id, result.id)
    assert (stored.input, stored.output, stored.metadata[PURGED_KEY]) == (None, None, True)


def test_a_large_batch_is_one_version_or_consecutive_complete_versions(datasets, backend):
    dataset = new_dataset(datasets)
    size = 150

    added = datasets.batch_insert_items(dataset.id, [{"input": index} for index in range(size)])

    assert [item.input for item in added] == list(range(size))
    assert datasets.list_items(dataset.id, per_page=0).pagination.total == size
    versions = datasets.list_dataset_versions(dataset.id, per_page=False).versions
    if backend.items_per_version is None:
        assert [(version.version, version.changes.added) for version in versions] == [(1, size)]
    else:
        per_version = backend.items_per_version
        assert [version.changes.added for version in versions][::-1] == [per_version, size - per_version]
        assert [item.dataset_version for item in added] == [1] * per_version + [2] * (size - per_version)
        assert datasets.list_items(dataset.id, version=1, per_page=0).pagination.total == per_version


def test_oversized_item_is_stored_whole_or_refused_with_nothing_written(datasets, backend):
    dataset, _ = with_items(datasets, 1)
    big = {"input": "x" * 500 * 1024}

    if backend.max_item_bytes is None:
        assert datasets.add_item(dataset.id, big).input == big["input"]
    else:
        with pytest.raises(PayloadTooLargeError):
            datasets.batch_insert_items(dataset.id, [{"input": "fits"}, big])
        with pytest.raises(PayloadTooLargeError):
            datasets.update_item(dataset.id, datasets.list_items(dataset.id).items[0].id, {"groundTruth": big["input"]})
        assert datasets.get_dataset(dataset.id).version == 1
        assert inputs(datasets.list_items(dataset.id)) == ["question 0"]


# ====================================================================== external ids


def test_reinserting_an_external_id_with_its_payload_returns_the_item_without_a_new_version(datasets):
    dataset = new_dataset(datasets)
    first = datasets.add_item(dataset.id, {"input": {"q": 1}, "groundTruth": "a", "externalId": "row-1"})

    again = datasets.batch_insert_items(
        dataset.id,
        [{"input": "new"}, {"externalId": "row-1", "groundTruth": "a", "input": {"q": 1}}, {"input": "new 2", "externalId": "row-2"}],
    )

    assert again[1].to_wire() == first.to_wire()
    assert [again[0].dataset_version, again[2].dataset_version] == [2, 2]
    assert datasets.get_dataset(dataset.id).version == 2
    assert datasets.add_item(dataset.id, {"input": {"q": 1}, "groundTruth": "a", "externalId": "row-1"}).id == first.id
    assert datasets.get_dataset(dataset.id).version == 2


def test_an_external_id_resolves_to_the_current_revision_after_updates(datasets):
    dataset = new_dataset(datasets)
    item = datasets.add_item(dataset.id, {"input": "q", "externalId": "row"})
    datasets.update_item(dataset.id, item.id, {"groundTruth": "added later"})

    resolved = datasets.add_item(dataset.id, {"input": "q", "externalId": "row"})

    assert (resolved.id, resolved.ground_truth, resolved.dataset_version) == (item.id, "added later", 2)


@pytest.mark.parametrize(
    "second",
    [
        pytest.param({"input": "other", "externalId": "row"}, id="other-payload"),
        pytest.param({"input": "q", "metadata": {"m": 1}, "externalId": "row"}, id="extra-field"),
    ],
)
def test_reusing_an_external_id_with_another_payload_conflicts_and_writes_nothing(datasets, second):
    dataset = new_dataset(datasets)
    datasets.add_item(dataset.id, {"input": "q", "externalId": "row"})

    with pytest.raises(ConflictError, match="row"):
        datasets.batch_insert_items(dataset.id, [{"input": "innocent"}, second])

    assert datasets.get_dataset(dataset.id).version == 1
    assert inputs(datasets.list_items(dataset.id)) == ["q"]


def test_the_external_id_of_a_deleted_item_cannot_come_back(datasets):
    dataset = new_dataset(datasets)
    item = datasets.add_item(dataset.id, {"input": "q", "externalId": "row"})
    datasets.delete_item(dataset.id, item.id)

    with pytest.raises(ConflictError, match="deleted"):
        datasets.add_item(dataset.id, {"input": "q", "externalId": "row"})


def test_an_external_id_repeated_within_a_batch_is_one_item_or_a_conflict(datasets):
    dataset = new_dataset(datasets)

    same = datasets.batch_insert_items(dataset.id, [{"input": 1, "externalId": "r"}, {"input": 1, "externalId": "r"}])
    with pytest.raises(ConflictError):
        datasets.batch_insert_items(dataset.id, [{"input": 2, "externalId": "s"}, {"input": 3, "externalId": "s"}])

    assert same[0].to_wire() == same[1].to_wire()
    assert datasets.list_items(dataset.id).pagination.total == 1
    assert datasets.get_dataset(dataset.id).version == 1


def test_external_ids_are_per_dataset(datasets):
    one, two = new_dataset(datasets), new_dataset(datasets)

    first = datasets.add_item(one.id, {"input": "q", "externalId": "row"})
    second = datasets.add_item(two.id, {"input": "other", "externalId": "row"})

    assert first.id != second.id


# ====================================================================== experiments


def test_an_experiment_pins_the_current_version_counts_its_items_and_runs(datasets):
    dataset, items = with_items(datasets, 3, targetType="agent", targetIds=["a"])
    datasets.delete_item(dataset.id, items[0].id)

    experiment = datasets.create_experiment(
        dataset.id,
        {"name": "baseline", "description": "d", "metadata": {"k": 1}, "targetType": "agent", "targetId": "a", "scorerIds": ["s"]},
    )

    assert datasets.get_experiment(dataset.id, experiment.id).to_wire() == experiment.to_wire()
    assert (experiment.dataset_id, experiment.dataset_version, experiment.total_items) == (dataset.id, 4, 2)
    assert (experiment.status, experiment.started_at, experiment.completed_at) == ("running", experiment.created_at, None)
    assert (experiment.succeeded_count, experiment.failed_count, experiment.skipped_count) == (0, 0, 0)
    assert (experiment.target_type, experiment.target_id, experiment.scorer_ids) == ("agent", "a", ["s"])


def test_an_experiment_may_pin_an_earlier_version(datasets):
    dataset, _ = with_items(datasets, 3)

    experiment = datasets.create_experiment(dataset.id, {"datasetVersion": 2})

    assert (experiment.dataset_version, experiment.total_items) == (2, 2)


@pytest.mark.parametrize(
    "fields, field",
    [
        pytest.param({"datasetVersion": 9}, "datasetVersion", id="future-version"),
        pytest.param({"datasetVersion": 0}, "datasetVersion", id="version-without-items"),
        pytest.param({"targetType": "agent"}, "targetId", id="type-without-id"),
        pytest.param({"targetId": "a"}, "targetId", id="id-without-type"),
        pytest.param({"targetType": "robot", "targetId": "a"}, "targetType", id="unknown-target-type"),
        pytest.param({"status": "completed"}, "status", id="unknown-field"),
    ],
)
def test_invalid_experiments_are_refused_naming_the_field(datasets, fields, field):
    dataset, _ = with_items(datasets, 1)

    with pytest.raises(ValidationError) as refused:
        datasets.create_experiment(dataset.id, fields)

    assert refused.value.field == field
    assert datasets.list_experiments(dataset.id).pagination.total == 0


def test_an_experiment_of_an_empty_dataset_is_refused(datasets):
    with pytest.raises(ValidationError, match="no items"):
        datasets.create_experiment(new_dataset(datasets).id, {})


def test_creating_an_experiment_again_with_its_id_returns_it_or_conflicts(datasets):
    dataset, _ = with_items(datasets, 1)
    other, _ = with_items(datasets, 1)
    experiment_id = unique_id("exp")
    created = datasets.create_experiment(dataset.id, {"id": experiment_id, "targetType": "agent", "targetId": "a"})

    again = datasets.create_experiment(dataset.id, {"id": experiment_id, "targetType": "agent", "targetId": "a", "name": "x"})

    assert again.to_wire() == created.to_wire()
    with pytest.raises(ConflictError):
        datasets.create_experiment(dataset.id, {"id": experiment_id})
    with pytest.raises(ConflictError):
        datasets.create_experiment(other.id, {"id": experiment_id, "targetType": "agent", "targetId": "a"})


def test_list_experiments_newest_first_per_dataset_or_across_datasets_with_filters(datasets):
    target = unique_id("agent")
    first, _ = with_items(datasets, 1)
    second, _ = with_items(datasets, 1)
    a = datasets.create_experiment(first.id, {"targetType": "agent", "targetId": target})
    b = datasets.create_experiment(second.id, {"targetType": "agent", "targetId": target})
    c = datasets.create_experiment(first.id, {"targetType": "agent", "targetId": target})
    untargeted = datasets.create_experiment(first.id, {})
    datasets.finalize_experiment(first.id, a.id)

    assert ids(datasets.list_experiments(first.id).experiments) == [untargeted.id, c.id, a.id]
    assert ids(datasets.list_experiments(target_id=target).experiments) == [c.id, b.id, a.id]
    assert ids(datasets.list_experiments(first.id, status="completed").experiments) == [a.id]
    assert ids(datasets.list_experiments(target_type="agent", target_id=target, status="running").experiments) == [c.id, b.id]
    page = datasets.list_experiments(target_id=target, page=1, per_page=2)
    assert (ids(page.experiments), page.pagination.total, page.pagination.has_more) == ([a.id], 3, False)


def test_an_experiment_is_only_reachable_through_its_own_dataset(datasets):
    dataset, (item,) = with_items(datasets, 1)
    other = new_dataset(datasets)
    experiment = datasets.create_experiment(dataset.id, {})

    assert datasets.get_experiment(other.id, experiment.id) is None
    for attempt in (
        lambda: datasets.update_experiment(other.id, experiment.id, {"name": "x"}),
        lambda: datasets.finalize_experiment(other.id, experiment.id),
        lambda: datasets.add_experiment_result(other.id, experiment.id, {"itemId": item.id}),
        lambda: datasets.list_experiment_results(other.id, experiment.id),
    ):
        with pytest.raises(NotFoundError):
            attempt()
    datasets.delete_experiment(other.id, experiment.id)
    assert datasets.get_experiment(dataset.id, experiment.id).status == "running"


def test_update_experiment_sets_the_given_fields(datasets):
    dataset, _ = with_items(datasets, 1)
    experiment = datasets.create_experiment(dataset.id, {"name": "old", "metadata": {"a": 1}})

    updated = datasets.update_experiment(
        dataset.id, experiment.id, {"name": "new", "description": None, "status": "failed", "failedCount": 1}
    )

    assert datasets.get_experiment(dataset.id, experiment.id).to_wire() == updated.to_wire()
    assert (updated.name, updated.metadata, updated.status, updated.failed_count) == ("new", {"a": 1}, "failed", 1)
    assert updated.updated_at > experiment.updated_at
    with pytest.raises(NotFoundError):
        datasets.update_experiment(dataset.id, unique_id("exp"), {"name": "x"})
    with pytest.raises(ValidationError):
        datasets.update_experiment(dataset.id, experiment.id, {"status": "paused"})


def test_delete_experiment_removes_it_and_its_results(datasets):
    dataset, (item,) = with_items(datasets, 1)
    experiment = datasets.create_experiment(dataset.id, {})
    result = datasets.add_experiment_result(dataset.id, experiment.id, {"itemId": item.id})

    datasets.delete_experiment(dataset.id, experiment.id)
    datasets.delete_experiment(dataset.id, experiment.id)

    assert datasets.get_experiment(dataset.id, experiment.id) is None
    assert datasets.get_experiment_result(dataset.id, experiment.id, result.id) is None
    assert datasets.list_experiments(dataset.id).pagination.total == 0
    again = datasets.create_experiment(dataset.id, {"id": experiment.id})
    assert datasets.list_experiment_results(dataset.id, again.id).pagination.total == 0


# ====================================================================== results


def test_a_result_takes_input_and_ground_truth_from_the_item_at_the_pinned_version(datasets):
    dataset = new_dataset(datasets)
    item = datasets.add_item(dataset.id, {"input": "q1", "groundTruth": "g1", "metadata": {"row": 1}})
    experiment = datasets.create_experiment(dataset.id, {})
    datasets.update_item(dataset.id, item.id, {"input": "q2", "groundTruth": "g2"})

    result = datasets.add_experiment_result(
        dataset.id,
        experiment.id,
        {
            "itemId": item.id,
            "output": {"answer": "a"},
            "traceId": "trace-1",
            "startedAt": "2031-02-01T00:00:00.000Z",
            "completedAt": "2031-02-01T00:00:01.500Z",
            "scores": [{"scorerId": "exact", "scorerName": "Exact", "score": 1, "reason": "same"}],
        },
    )

    assert datasets.get_experiment_result(dataset.id, experiment.id, result.id).to_wire() == result.to_wire()
    wire = result.to_wire()
    assert (wire["input"], wire["groundTruth"], wire["metadata"], wire["itemDatasetVersion"]) == ("q1", "g1", {"row": 1}, 1)
    assert (wire["output"], wire["traceId"], wire["error"], wire["attempt"], wire["retryCount"]) == ({"answer": "a"}, "trace-1", None, 0, 0)
    assert (wire["startedAt"], wire["completedAt"]) == ("2031-02-01T00:00:00.000Z", "2031-02-01T00:00:01.500Z")
    assert wire["scores"] == [{"scorerId": "exact", "scorerName": "Exact", "score": 1, "reason": "same"}]
    given = datasets.add_experiment_result(
        dataset.id, experiment.id, {"itemId": item.id, "attempt": 1, "input": None, "groundTruth": "mine"}
    )
    assert (given.input, given.ground_truth) == (None, "mine")


def test_resubmitting_a_result_replaces_it_keeping_its_id_creation_and_comment(datasets):
    dataset, (item,) = with_items(datasets, 1)
    experiment = datasets.create_experiment(dataset.id, {})
    first = datasets.add_experiment_result(dataset.id, experiment.id, {"itemId": item.id, "output": "draft", "tags": ["t"]})
    datasets.update_experiment_result(dataset.id, experiment.id, first.id, {"comment": "looks wrong", "status": "needs-review"})

    second = datasets.add_experiment_result(
        dataset.id, experiment.id, {"itemId": item.id, "output": "final", "error": {"message": "timeout", "code": "E1"}}
    )

    stored = datasets.get_experiment_result(dataset.id, experiment.id, first.id)
    assert stored.to_wire() == second.to_wire()
    assert (second.id, second.created_at, second.comment) == (first.id, first.created_at, "looks wrong")
    assert (second.output, second.error.message, second.error.code, second.status, second.tags) == ("final", "timeout", "E1", None, None)
    assert datasets.list_experiment_results(dataset.id, experiment.id).pagination.total == 1


def test_each_attempt_of_an_item_is_its_own_result(datasets):
    dataset, (item,) = with_items(datasets, 1)
    experiment = datasets.create_experiment(dataset.id, {})

    results = [datasets.add_experiment_result(dataset.id, experiment.id, {"itemId": item.id, "attempt": n}) for n in (0, 1, 2)]

    assert len(set(ids(results))) == 3
    assert datasets.list_experiment_results(dataset.id, experiment.id).pagination.total == 3


def test_a_result_needs_its_item_at_the_pinned_version(datasets):
    dataset, (item,) = with_items(datasets, 1)
    experiment = datasets.create_experiment(dataset.id, {})
    later = datasets.add_item(dataset.id, {"input": "added after the pin"})

    with pytest.raises(NotFoundError, match="version 1"):
        datasets.add_experiment_result(dataset.id, experiment.id, {"itemId": later.id})
    with pytest.raises(NotFoundError):
        datasets.add_experiment_result(dataset.id, experiment.id, {"itemId": unique_id("item")})
    datasets.delete_item(dataset.id, item.id)

    assert datasets.add_experiment_result(dataset.id, experiment.id, {"itemId": item.id}).input == "question 0"


def test_finalize_counts_items_from_results_and_closes_the_experiment(datasets):
    dataset, items = with_items(datasets, 4)
    experiment = datasets.create_experiment(dataset.id, {})
    submit = lambda item, **fields: datasets.add_experiment_result(dataset.id, experiment.id, {"itemId": item.id, **fields})  # noqa: E731
    submit(items[0])
    submit(items[1], error={"message": "boom"})
    submit(items[2], error={"message": "flaky"})
    submit(items[2], attempt=1)

    finalized = datasets.finalize_experiment(dataset.id, experiment.id)

    assert datasets.get_experiment(dataset.id, experiment.id).to_wire() == finalized.to_wire()
    assert (finalized.status, finalized.succeeded_count, finalized.failed_count, finalized.skipped_count) == ("completed", 2, 1, 1)
    assert finalized.completed_at is not None
    assert datasets.finalize_experiment(dataset.id, experiment.id).to_wire() == finalized.to_wire()
    with pytest.raises(ConflictError, match="completed"):
        submit(items[3])


def test_list_results_in_execution_order_paged_and_filtered_by_review_status(datasets):
    dataset, items = with_items(datasets, 4)
    experiment = datasets.create_experiment(dataset.id, {})
    started = ["2031-03-01T00:00:03.000Z", "2031-03-01T00:00:01.000Z", "2031-03-01T00:00:04.000Z", "2031-03-01T00:00:02.000Z"]
    results = [
        datasets.add_experiment_result(dataset.id, experiment.id, {"itemId": item.id, "startedAt": at, "completedAt": at})
        for item, at in zip(items, started)
    ]
    datasets.update_experiment_result(dataset.id, experiment.id, results[2].id, {"status": "reviewed"})
    in_order = [results[1].id, results[3].id, results[0].id, results[2].id]

    pages = [datasets.list_experiment_results(dataset.id, experiment.id, page=page, per_page=3) for page in range(2)]

    assert [ids(page.results) for page in pages] == [in_order[:3], in_order[3:]]
    assert [(page.pagination.total, page.pagination.has_more) for page in pages] == [(4, True), (4, False)]
    assert ids(datasets.list_experiment_results(dataset.id, experiment.id, status="reviewed").results) == [results[2].id]
    with pytest.raises(NotFoundError):
        datasets.list_experiment_results(dataset.id, unique_id("exp"))


def test_a_review_sets_status_tags_and_comment(datasets):
    dataset, (item,) = with_items(datasets, 1)
    experiment = datasets.create_experiment(dataset.id, {})
    result = datasets.add_experiment_result(dataset.id, experiment.id, {"itemId": item.id, "output": "o"})

    reviewed = datasets.update_experiment_result(
        dataset.id, experiment.id, result.id, {"status": "complete", "tags": ["good"], "comment": "fine"}
    )
    cleared = datasets.update_experiment_result(dataset.id, experiment.id, result.id, {"comment": None})

    assert (reviewed.status, reviewed.tags, reviewed.comment, reviewed.output) == ("complete", ["good"], "fine", "o")
    assert (cleared.status, cleared.tags, cleared.comment) == ("complete", ["good"], None)
    assert datasets.get_experiment_result(dataset.id, experiment.id, result.id).to_wire() == cleared.to_wire()
    with pytest.raises(NotFoundError):
        datasets.update_experiment_result(dataset.id, experiment.id, unique_id("res"), {"status": "reviewed"})


# ====================================================================== purging


def test_purge_scrubs_every_revision_and_result_but_keeps_ids_and_versions(datasets):
    dataset = new_dataset(datasets)
    item = datasets.add_item(dataset.id, {"input": "secret", "groundTruth": "hidden", "externalId": "row", "requestContext": {"u": 1}})
    keep = datasets.add_item(dataset.id, {"input": "public"})
    experiment = datasets.create_experiment(dataset.id, {})
    result = datasets.add_experiment_result(dataset.id, experiment.id, {"itemId": item.id, "output": "leak", "tags": ["t"]})
    datasets.update_experiment_result(dataset.id, experiment.id, result.id, {"comment": "mentions secret"})
    other = datasets.add_experiment_result(dataset.id, experiment.id, {"itemId": keep.id, "output": "fine"})
    datasets.update_item(dataset.id, item.id, {"groundTruth": "still hidden"})

    datasets.purge_item(dataset.id, item.id)

    history = datasets.get_item_history(dataset.id, item.id)
    assert [row.dataset_version for row in history] == [3, 1]
    for row in history:
        assert (row.input, row.ground_truth, row.request_context, row.external_id) == (None, None, None, "row")
        assert row.metadata[PURGED_KEY] is True
    scrubbed = datasets.get_experiment_result(dataset.id, experiment.id, result.id)
    assert (scrubbed.input, scrubbed.output, scrubbed.ground_truth, scrubbed.tags, scrubbed.comment) == (None,) * 5
    assert scrubbed.metadata[PURGED_KEY] is True
    assert datasets.get_experiment_result(dataset.id, experiment.id, other.id).output == "fine"
    assert datasets.list_items(dataset.id, search="secret").pagination.total == 0
    assert datasets.get_dataset(dataset.id).version == 3
    assert datasets.get_item(dataset.id, keep.id).input == "public"


def test_a_purged_item_stays_scrubbed(datasets):
    dataset = new_dataset(datasets)
    item = datasets.add_item(dataset.id, {"input": "secret", "externalId": "row"})
    experiment = datasets.create_experiment(dataset.id, {})
    datasets.purge_item(dataset.id, item.id)

    with pytest.raises(ConflictError, match="purged"):
        datasets.update_item(dataset.id, item.id, {"input": "secret again"})
    with pytest.raises(ConflictError):
        datasets.add_item(dataset.id, {"input": "secret", "externalId": "row"})
    late = datasets.add_experiment_result(dataset.id, experiment.id, {"itemId": item.id, "output": "leak", "tags": ["t"]})
    reviewed = datasets.update_experiment_result(dataset.id, experiment.id, late.id, {"status": "reviewed", "comment": "x", "tags": ["y"]})
    datasets.purge_item(dataset.id, unique_id("item"))
    datasets.delete_item(dataset.id, item.id)

    assert (late.input, late.output, late.tags, late.metadata[PURGED_KEY]) == (None, None, None, True)
    assert (reviewed.status, reviewed.comment, reviewed.tags) == ("reviewed", None, None)
    assert datasets.get_item(dataset.id, item.id) is None
    assert datasets.get_item_history(dataset.id, item.id)[0].is_deleted


# ====================================================================== validation


@pytest.mark.parametrize(
    "fields, field",
    [
        pytest.param({}, "name", id="missing-name"),
        pytest.param({"name": "  "}, "name", id="blank-name"),
        pytest.param({"name": "n", "targetType": "robot"}, "targetType", id="unknown-target-type"),
        pytest.param({"name": "n", "targetIds": "a"}, "targetIds", id="target-ids-not-a-list"),
        pytest.param({"name": "n", "scorerIds": [""]}, "scorerIds[0]", id="empty-scorer-id"),
        pytest.param({"name": "n", "metadata": ["x"]}, "metadata", id="metadata-not-an-object"),
        pytest.param({"name": "n", "inputSchema": "string"}, "inputSchema", id="schema-not-an-object"),
        pytest.param({"name": "n", "id": "a/b"}, "id", id="bad-id"),
        pytest.param({"name": "n", "color": "red"}, "color", id="unknown-field"),
        pytest.param({"name": "n", "metadata": {"x": float("nan")}}, "dataset.metadata.x", id="nan"),
    ],
)
def test_invalid_datasets_are_refused_naming_the_field(datasets, fields, field):
    dataset_id = unique_id("set")

    with pytest.raises(ValidationError) as refused:
        datasets.create_dataset({"id": dataset_id, **fields})

    assert refused.value.field == field
    assert datasets.get_dataset(dataset_id) is None


@pytest.mark.parametrize(
    "items, field",
    [
        pytest.param([{"input": 1}, {"groundTruth": 2}], "items[1].input", id="missing-input"),
        pytest.param([{"input": 1, "externalId": ""}], "items[0].externalId", id="empty-external-id"),
        pytest.param([{"input": 1, "unmockedToolPolicy": "maybe"}], "items[0].unmockedToolPolicy", id="unknown-policy"),
        pytest.param([{"input": 1, "requestContext": []}], "items[0].requestContext", id="context-not-an-object"),
        pytest.param([{"input": "a\x00b"}], "items[0].input", id="nul-character"),
        pytest.param([{"input": 1, "datasetVersion": 3}], "items[0].datasetVersion", id="unknown-field"),
        pytest.param(["just text"], "items[0]", id="not-an-object"),
        pytest.param([{"input": 1, "metadata": {PURGED_KEY: True}}], "items[0].metadata", id="purge-marker"),
        pytest.param("not a list", "items", id="not-a-list"),
    ],
)
def test_invalid_items_are_refused_naming_the_field_and_nothing_is_written(datasets, items, field):
    dataset = new_dataset(datasets)

    with pytest.raises(ValidationError) as refused:
        datasets.batch_insert_items(dataset.id, items)

    assert refused.value.field == field
    assert datasets.get_dataset(dataset.id).version == 0


@pytest.mark.parametrize(
    "call, field",
    [
        pytest.param(lambda d, i: d.add_item(i, {"input": 1, "externalId": 7}), "externalId", id="add-external-id-not-text"),
        pytest.param(lambda d, i: d.add_item(i, {"input": 1, "metadata": {PURGED_KEY: 1}}), "metadata", id="add-purge-marker"),
        pytest.param(lambda d, i: d.update_item(i, "item-1", {"metadata": {PURGED_KEY: 1}}), "metadata", id="update-purge-marker"),
        pytest.param(lambda d, i: d.update_item(i, "item-1", {"externalId": "x"}), "externalId", id="update-external-id"),
        pytest.param(lambda d, i: d.update_dataset(i, {"name": None}), "name", id="clear-name"),
        pytest.param(lambda d, i: d.list_items(i, version=-1), "version", id="negative-version"),
        pytest.param(lambda d, i: d.list_items(i, search=3), "search", id="search-not-text"),
        pytest.param(lambda d, i: d.list_items(i, page=-1), "page", id="negative-page"),
        pytest.param(lambda d, i: d.get_item(i, "bad id"), "itemId", id="bad-item-id"),
        pytest.param(lambda d, i: d.batch_delete_items(i, ["ok", ""]), "itemIds[1]", id="empty-item-id"),
        pytest.param(lambda d, i: d.list_datasets(target_type="robot"), "targetType", id="list-unknown-target"),
        pytest.param(lambda d, i: d.list_experiments(status="done"), "status", id="list-unknown-status"),
    ],
)
def test_invalid_arguments_are_refused_naming_the_field(datasets, call, field):
    dataset = new_dataset(datasets)

    with pytest.raises(ValidationError) as refused:
        call(datasets, dataset.id)

    assert refused.value.field == field
    assert datasets.get_dataset(dataset.id).version == 0


@pytest.mark.parametrize(
    "result, field",
    [
        pytest.param({}, "itemId", id="missing-item"),
        pytest.param({"itemId": "i", "attempt": -1}, "attempt", id="negative-attempt"),
        pytest.param({"itemId": "i", "error": "boom"}, "error", id="error-not-an-object"),
        pytest.param({"itemId": "i", "error": {"code": "E"}}, "error.message", id="error-without-message"),
        pytest.param({"itemId": "i", "status": "great"}, "status", id="unknown-review-status"),
        pytest.param({"itemId": "i", "scores": [{"score": 1}]}, "scores.0.scorerId", id="score-without-scorer"),
        pytest.param({"itemId": "i", "scores": [{"scorerId": "s", "score": "high"}]}, "scores.0.score", id="score-not-a-number"),
        pytest.param({"itemId": "i", "startedAt": "yesterday"}, "startedAt", id="bad-time"),
    ],
)
def test_invalid_results_are_refused_naming_the_field(datasets, result, field):
    dataset, _ = with_items(datasets, 1)
    experiment = datasets.create_experiment(dataset.id, {})

    with pytest.raises(ValidationError) as refused:
        datasets.add_experiment_result(dataset.id, experiment.id, result)

    assert refused.value.field == field
    assert datasets.list_experiment_results(dataset.id, experiment.id).pagination.total == 0
