"""The Pinecone data-plane stand-in, driven through the official ``pinecone`` SDK.

The session's server is shared with the vector adapter's tests, so each test
writes into a namespace of its own.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

import httpx
import pytest
from pinecone import Pinecone
from pinecone.errors.exceptions import ApiError, NotFoundException

from infra.local import stack

DIMENSION = 256  # the session fixture's index


def vector(*leading: float, dimension: int = DIMENSION) -> list[float]:
    return [*leading, *([0.0] * (dimension - len(leading)))]


@pytest.fixture(scope="module")
def index(pinecone_host: str):
    return Pinecone(api_key="local").Index(host=pinecone_host)


@pytest.fixture
def namespace(index) -> Iterator[str]:
    name = f"test-{uuid.uuid4().hex[:10]}"
    yield name
    # Tests that write nothing, or delete everything, leave no namespace: Pinecone's 404.
    with contextlib.suppress(NotFoundException):
        index.delete(delete_all=True, namespace=name)


def test_query_ranks_by_cosine_similarity(index, namespace: str) -> None:
    index.upsert(
        vectors=[("same", vector(1, 0)), ("diagonal", vector(1, 1)), ("orthogonal", vector(0, 1))],
        namespace=namespace,
    )
    result = index.query(vector=vector(2, 0), top_k=3, namespace=namespace)
    assert [m.id for m in result.matches] == ["same", "diagonal", "orthogonal"]
    assert [m.score for m in result.matches] == pytest.approx([1.0, 2**-0.5, 0.0])
    assert result.namespace == namespace


def test_values_and_metadata_come_back_only_when_asked_for(index, namespace: str) -> None:
    index.upsert(vectors=[("a", vector(1), {"kind": "note"})], namespace=namespace)
    bare = index.query(vector=vector(1), top_k=1, namespace=namespace).matches[0]
    assert (bare.values, bare.metadata) == ([], None)
    full = index.query(
        vector=vector(1), top_k=1, namespace=namespace, include_values=True, include_metadata=True
    ).matches[0]
    assert (full.values, full.metadata) == (vector(1), {"kind": "note"})


def test_top_k_limits_the_matches(index, namespace: str) -> None:
    index.upsert(vectors=[(f"v{i}", vector(1, i)) for i in range(5)], namespace=namespace)
    assert len(index.query(vector=vector(1), top_k=2, namespace=namespace).matches) == 2


def test_query_by_id_uses_the_stored_vector(index, namespace: str) -> None:
    index.upsert(
        vectors=[("anchor", vector(0, 1)), ("near", vector(0.1, 1)), ("far", vector(1, 0))], namespace=namespace
    )
    result = index.query(id="anchor", top_k=2, namespace=namespace)
    assert [m.id for m in result.matches] == ["anchor", "near"]


def test_query_by_an_unknown_id_finds_nothing(index, namespace: str) -> None:
    index.upsert(vectors=[("a", vector(1))], namespace=namespace)
    assert index.query(id="nope", top_k=5, namespace=namespace).matches == []


def test_namespaces_do_not_see_each_other(index, namespace: str) -> None:
    other = f"{namespace}-other"
    index.upsert(vectors=[("shared-id", vector(1), {"home": "first"})], namespace=namespace)
    index.upsert(vectors=[("shared-id", vector(1), {"home": "second"})], namespace=other)
    try:
        result = index.query(vector=vector(1), top_k=10, namespace=other, include_metadata=True)
        assert [(m.id, m.metadata) for m in result.matches] == [("shared-id", {"home": "second"})]
    finally:
        index.delete(delete_all=True, namespace=other)


RECORDS = [
    ("r1", {"genre": "drama", "year": 2019, "tags": ["a", "b"], "draft": True}),
    ("r2", {"genre": "comedy", "year": 2021, "tags": ["b"]}),
    ("r3", {"genre": "drama", "year": 2023}),
]


@pytest.mark.parametrize(
    ("metadata_filter", "expected"),
    [
        ({"genre": "drama"}, {"r1", "r3"}),
        ({"genre": {"$eq": "drama"}}, {"r1", "r3"}),
        ({"genre": {"$ne": "drama"}}, {"r2"}),
        ({"year": {"$gt": 2019}}, {"r2", "r3"}),
        ({"year": {"$gte": 2019, "$lt": 2023}}, {"r1", "r2"}),
        ({"year": {"$lte": 2019}}, {"r1"}),
        ({"genre": {"$in": ["comedy", "thriller"]}}, {"r2"}),
        ({"genre": {"$nin": ["comedy"]}}, {"r1", "r3"}),
        ({"tags": "a"}, {"r1"}),
        ({"tags": {"$in": ["b"]}}, {"r1", "r2"}),
        ({"tags": {"$nin": ["a"]}}, {"r2", "r3"}),
        ({"draft": {"$exists": True}}, {"r1"}),
        ({"draft": {"$exists": False}}, {"r2", "r3"}),
        ({"draft": True}, {"r1"}),
        ({"genre": "drama", "year": 2019}, {"r1"}),
        ({"$or": [{"genre": "comedy"}, {"year": 2023}]}, {"r2", "r3"}),
        ({"$and": [{"genre": "drama"}, {"year": {"$gt": 2020}}]}, {"r3"}),
    ],
)
def test_metadata_filters(index, namespace: str, metadata_filter: dict, expected: set[str]) -> None:
    index.upsert(vectors=[(rid, vector(1, i), meta) for i, (rid, meta) in enumerate(RECORDS)], namespace=namespace)
    result = index.query(vector=vector(1), top_k=10, namespace=namespace, filter=metadata_filter)
    assert {m.id for m in result.matches} == expected


def test_an_unknown_filter_operator_is_rejected(index, namespace: str) -> None:
    with pytest.raises(ApiError) as raised:
        index.query(vector=vector(1), top_k=1, namespace=namespace, filter={"year": {"$regex": "20.*"}})
    assert raised.value.status_code == 400


def test_fetch_returns_stored_vectors_and_skips_missing_ids(index, namespace: str) -> None:
    index.upsert(vectors=[("a", vector(1, 2), {"n": 1}), ("b", vector(3))], namespace=namespace)
    fetched = index.fetch(ids=["a", "b", "missing"], namespace=namespace)
    assert set(fetched.vectors) == {"a", "b"}
    assert fetched.vectors["a"].values == vector(1, 2)
    assert fetched.vectors["a"].metadata == {"n": 1}
    assert fetched.vectors["b"].metadata is None


def test_upsert_replaces_the_whole_record(index, namespace: str) -> None:
    index.upsert(vectors=[("a", vector(1), {"old": "yes"})], namespace=namespace)
    index.upsert(vectors=[("a", vector(0, 1), {"new": "yes"})], namespace=namespace)
    stored = index.fetch(ids=["a"], namespace=namespace).vectors["a"]
    assert (stored.values, stored.metadata) == (vector(0, 1), {"new": "yes"})


def test_list_pages_through_ids_with_a_prefix(index, namespace: str) -> None:
    index.upsert(vectors=[(f"doc#{i}", vector(1)) for i in range(5)] + [("other#1", vector(1))], namespace=namespace)
    pages, token = [], None
    while True:
        page = index.list_paginated(prefix="doc#", limit=2, pagination_token=token, namespace=namespace)
        pages.append([item.id for item in page.vectors])
        if page.pagination is None:
            break
        token = page.pagination.next
    assert pages == [["doc#0", "doc#1"], ["doc#2", "doc#3"], ["doc#4"]]
    listed = [item.id for page in index.list(prefix="doc#", limit=2, namespace=namespace) for item in page.vectors]
    assert listed == [f"doc#{i}" for i in range(5)]


def test_delete_by_ids(index, namespace: str) -> None:
    index.upsert(vectors=[("a", vector(1)), ("b", vector(1))], namespace=namespace)
    index.delete(ids=["a"], namespace=namespace)
    assert set(index.fetch(ids=["a", "b"], namespace=namespace).vectors) == {"b"}


def test_delete_by_filter(index, namespace: str) -> None:
    index.upsert(vectors=[("a", vector(1), {"thread": "t1"}), ("b", vector(1), {"thread": "t2"})], namespace=namespace)
    index.delete(filter={"thread": {"$eq": "t1"}}, namespace=namespace)
    assert set(index.fetch(ids=["a", "b"], namespace=namespace).vectors) == {"b"}


def test_delete_all_empties_only_its_namespace(index, namespace: str) -> None:
    other = f"{namespace}-kept"
    index.upsert(vectors=[("a", vector(1))], namespace=namespace)
    index.upsert(vectors=[("a", vector(1))], namespace=other)
    try:
        index.delete(delete_all=True, namespace=namespace)
        assert index.fetch(ids=["a"], namespace=namespace).vectors == {}
        assert set(index.fetch(ids=["a"], namespace=other).vectors) == {"a"}
    finally:
        index.delete(delete_all=True, namespace=other)


@pytest.mark.parametrize(
    "selector",
    [{"delete_all": True}, {"ids": ["a"]}, {"filter": {"thread": {"$eq": "t1"}}}],
    ids=["delete-all", "ids", "filter"],
)
def test_a_delete_in_an_unknown_namespace_is_a_404(index, namespace: str, selector: dict) -> None:
    with pytest.raises(NotFoundException) as raised:
        index.delete(namespace=namespace, **selector)
    assert raised.value.status_code == 404
    assert raised.value.body == {"code": 5, "message": "Namespace not found", "details": []}


def test_describe_index_stats_counts_vectors_per_namespace(index, namespace: str) -> None:
    index.upsert(vectors=[(f"v{i}", vector(1)) for i in range(3)], namespace=namespace)
    stats = index.describe_index_stats()
    assert (stats.dimension, stats.metric) == (DIMENSION, "cosine")
    assert stats.namespaces[namespace].vector_count == 3
    assert stats.total_vector_count == sum(summary.vector_count for summary in stats.namespaces.values())


def test_the_default_namespace_is_reported_as_default(index) -> None:
    record_id = f"default-{uuid.uuid4().hex}"
    before = index.describe_index_stats().namespaces
    count_before = before["__default__"].vector_count if "__default__" in before else 0
    index.upsert(vectors=[(record_id, vector(1))])
    try:
        assert index.describe_index_stats().namespaces["__default__"].vector_count == count_before + 1
        assert set(index.fetch(ids=[record_id]).vectors) == {record_id}
    finally:
        index.delete(ids=[record_id])


def test_a_dimension_mismatch_is_a_400(index, namespace: str) -> None:
    with pytest.raises(ApiError) as raised:
        index.upsert(vectors=[("short", [1.0, 2.0])], namespace=namespace)
    assert raised.value.status_code == 400
    assert "dimension" in str(raised.value)


# -- wire-level limits (the SDK catches some of these itself, the server must too) ----


@pytest.mark.parametrize(
    "metadata",
    [
        {"nested": {"not": "allowed"}},
        {"numbers": [1, 2]},
        {"nothing": None},
        {"big": "x" * (40 * 1024 + 1)},
    ],
    ids=["nested-object", "list-of-numbers", "null", "over-40KB"],
)
def test_metadata_outside_pinecone_limits_is_a_400(pinecone_host: str, namespace: str, metadata: dict) -> None:
    body = {"vectors": [{"id": "a", "values": vector(1), "metadata": metadata}], "namespace": namespace}
    response = httpx.post(f"{pinecone_host}/vectors/upsert", json=body, headers={"Api-Key": "local"})
    assert response.status_code == 400
    assert response.json()["message"]


def test_oversized_metadata_raises_through_the_sdk(index, namespace: str) -> None:
    with pytest.raises(ApiError) as raised:
        index.upsert(vectors=[("a", vector(1), {"big": "x" * (40 * 1024 + 1)})], namespace=namespace)
    assert raised.value.status_code == 400


def test_more_than_1000_vectors_in_one_upsert_is_a_400(pinecone_host: str, namespace: str) -> None:
    body = {"vectors": [{"id": f"v{i}", "values": [1.0] * 8} for i in range(1001)], "namespace": namespace}
    response = httpx.post(f"{pinecone_host}/vectors/upsert", json=body, headers={"Api-Key": "local"})
    assert response.status_code == 400
    assert "1000" in response.json()["message"]


def test_a_request_over_2mb_is_a_400(pinecone_host: str, namespace: str) -> None:
    # 100 vectors of 30 KB metadata each: every vector is within the 40 KB metadata limit and
    # the count within 1,000, so only the 2 MB request limit can reject it.
    padding = {"pad": "x" * (30 * 1024)}
    vectors = [{"id": f"v{i}", "values": vector(1), "metadata": padding} for i in range(100)]
    response = httpx.post(
        f"{pinecone_host}/vectors/upsert",
        json={"vectors": vectors, "namespace": namespace},
        headers={"Api-Key": "local"},
    )
    assert response.status_code == 400
    assert "exceeds the maximum supported size" in response.json()["message"]


def test_top_k_over_10000_is_a_400(pinecone_host: str) -> None:
    body = {"topK": 10_001, "vector": vector(1)}
    response = httpx.post(f"{pinecone_host}/query", json=body, headers={"Api-Key": "local"})
    assert response.status_code == 400


def test_a_missing_api_key_is_a_401(pinecone_host: str) -> None:
    response = httpx.post(f"{pinecone_host}/describe_index_stats", json={})
    assert response.status_code == 401
    assert response.json()["message"]


# -- other metrics ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metric", "expected"),
    [
        # Pinecone's euclidean score is the squared distance; nearest comes first.
        ("euclidean", [("one", 0.0), ("three", 4.0)]),
        ("dotproduct", [("three", 3.0), ("one", 1.0)]),
    ],
)
def test_other_metrics_score_as_pinecone_does(metric: str, expected: list[tuple[str, float]]) -> None:
    with stack.start_pinecone(dimension=2, metric=metric) as server:
        index = Pinecone(api_key="local").Index(host=server.url)
        index.upsert(vectors=[("one", [1.0, 0.0]), ("three", [3.0, 0.0])])
        result = index.query(vector=[1.0, 0.0], top_k=2)
        assert [(m.id, m.score) for m in result.matches] == [(i, pytest.approx(s)) for i, s in expected]
        assert index.describe_index_stats().metric == metric
