"""``GET /api/memory/search`` through the HTTP app: the documented shape, scopes, ownership, and
its errors (400 without semantic recall or a vector store, 503 with the vector store down)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio.from_thread
import pytest

from infra.local import stack
from memkit.config import AgentRegistry, MemoryConfig
from memkit.api.app import create_app
from memkit.runtime import Runtime
from memkit.settings import Settings

from tests.api.support import ApiClient
from tests.memory.conftest import DIMENSION, load_corpus, text_message, uid

AGENTS = {
    "default": {"lastMessages": 10},
    "recall": {"lastMessages": 10, "semanticRecall": {"topK": 4, "messageRange": 1, "scope": "resource"}},
    "thread-recall": {"semanticRecall": {"topK": 4, "messageRange": {"before": 2, "after": 0}, "scope": "thread"}},
}


@pytest.fixture(scope="module")
def portal() -> Iterator[Any]:
    with anyio.from_thread.start_blocking_portal() as blocking_portal:
        yield blocking_portal


@pytest.fixture
def make_api(tmp_path: Path, portal: Any) -> Iterator[Callable[..., tuple[ApiClient, Runtime]]]:
    runtimes: list[Runtime] = []

    def build(**settings: Any) -> tuple[ApiClient, Runtime]:
        database = f"file:{tmp_path / 'memkit.db'}"
        options = {"storage_url": database, "vector_url": database, "indexing": "sync", **settings}
        registry = AgentRegistry({name: MemoryConfig.model_validate(config) for name, config in AGENTS.items()})
        runtime = Runtime(Settings(embedder="lexical", embedding_dimension=DIMENSION, **options), registry)
        runtimes.append(runtime)
        return ApiClient(create_app(runtime), portal), runtime

    yield build
    for runtime in runtimes:
        runtime.close()


def test_search_answers_in_mastras_shape(make_api: Callable[..., tuple[ApiClient, Runtime]]) -> None:
    api, runtime = make_api()
    corpus = load_corpus(runtime.memory("recall"), resources=["alice", "bob"])
    alice = corpus.resource("alice")

    response = api.get(
        "/api/memory/search",
        params={"searchQuery": "hotel in Lisbon", "resourceId": alice, "agentId": "recall", "limit": "3"},
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"results", "count", "query", "searchScope", "searchType"}
    assert (body["query"], body["searchScope"], body["searchType"]) == ("hotel in Lisbon", "resource", "semantic")
    assert body["count"] == len(body["results"]) == 3
    best = body["results"][0]
    assert best == {
        "id": "alice-travel:2",
        "role": "user",
        "content": "Six days. We booked a small hotel in the Alfama district called Casa do Fado.",
        "createdAt": best["createdAt"],
        "threadId": "alice-travel",
        "threadTitle": "Lisbon trip",
        # messageRange 1: one neighbour on each side, in the hit's own thread
        "context": {
            "before": [
                {
                    "id": "alice-travel:1",
                    "role": "assistant",
                    "content": "Lisbon in May is lovely: warm but not too hot. How many days will you stay?",
                    "createdAt": best["context"]["before"][0]["createdAt"],
                }
            ],
            "after": [
                {
                    "id": "alice-travel:3",
                    "role": "assistant",
                    "content": "Alfama is the oldest neighbourhood, full of narrow streets and fado bars. Wear comfortable shoes for the hills.",
                    "createdAt": best["context"]["after"][0]["createdAt"],
                }
            ],
        },
    }
    assert best["createdAt"].endswith("Z") and best["context"]["before"][0]["createdAt"] < best["createdAt"]
    assert all(result["threadId"].startswith("alice-") for result in body["results"])


def test_thread_scope_searches_only_the_given_thread(make_api: Callable[..., tuple[ApiClient, Runtime]]) -> None:
    api, runtime = make_api()
    corpus = load_corpus(runtime.memory("recall"), resources=["alice"])
    alice = corpus.resource("alice")

    # scope from the agent's config; messageRange {before: 2, after: 0}
    scoped = api.get(
        "/api/memory/search",
        params={"searchQuery": "dog vet appointment", "resourceId": alice, "threadId": "alice-work", "agentId": "thread-recall"},
    ).json()
    assert scoped["searchScope"] == "thread"
    assert scoped["results"] and {r["threadId"] for r in scoped["results"]} == {"alice-work"}
    assert all(r["context"]["after"] == [] and len(r["context"]["before"]) <= 2 for r in scoped["results"])

    # or from a memoryConfig override, as @mastra/client-js sends it
    overridden = api.get(
        "/api/memory/search",
        params={
            "searchQuery": "dog vet appointment",
            "resourceId": alice,
            "threadId": "alice-pets",
            "agentId": "recall",
            "memoryConfig": '{"semanticRecall": {"topK": 4, "messageRange": 0, "scope": "thread"}}',
        },
    ).json()
    assert overridden["searchScope"] == "thread"
    assert overridden["results"][0]["id"] == "alice-pets:4"
    assert {r["threadId"] for r in overridden["results"]} == {"alice-pets"}

    # an unknown thread (not saved yet) at thread scope finds nothing
    unknown = api.get(
        "/api/memory/search",
        params={"searchQuery": "dog", "resourceId": alice, "threadId": "not-yet", "agentId": "thread-recall"},
    ).json()
    assert unknown == {"results": [], "count": 0, "query": "dog", "searchScope": "thread", "searchType": "semantic"}


def test_a_thread_scoped_search_reads_its_thread_once(
    make_api: Callable[..., tuple[ApiClient, Runtime]], first_arguments: Callable[[Any, str], list[Any]]
) -> None:
    api, runtime = make_api()
    memory = runtime.memory("thread-recall")
    corpus = load_corpus(memory, resources=["alice"])
    reads = first_arguments(memory.storage, "get_thread")
    scoped = api.get(
        "/api/memory/search",
        params={"searchQuery": "dog vet appointment", "resourceId": corpus.resource("alice"), "threadId": "alice-work", "agentId": "thread-recall"},
    ).json()

    assert reads == ["alice-work"]
    # The title still comes from that one read.
    assert scoped["results"]
    assert {r["threadTitle"] for r in scoped["results"]} == {runtime.storage().get_thread("alice-work").title}


def test_search_refuses_another_resources_thread(make_api: Callable[..., tuple[ApiClient, Runtime]]) -> None:
    api, runtime = make_api()
    corpus = load_corpus(runtime.memory("recall"), resources=["alice", "bob"])
    response = api.get(
        "/api/memory/search",
        params={"searchQuery": "cat", "resourceId": corpus.resource("alice"), "threadId": "bob-pets", "agentId": "recall"},
    )
    assert response.status_code == 403
    assert "is for resource with id" in response.json()["error"]


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"searchQuery": "x", "agentId": "recall"}, "resourceId is required"),
        ({"resourceId": "r1", "agentId": "recall"}, "searchQuery is required"),
        ({"searchQuery": "x", "resourceId": "r1", "agentId": "recall", "limit": "0"}, "limit must be"),
        ({"searchQuery": "x", "resourceId": "r1", "agentId": "recall", "memoryConfig": "{nope"}, "memoryConfig"),
        ({"searchQuery": "x", "resourceId": "r1", "agentId": "default"}, "semantic recall is not enabled for agent default"),
        ({"searchQuery": "x" * 10_001, "resourceId": "r1", "agentId": "recall"}, "at most 10000 are searched"),
    ],
)
def test_bad_searches_are_400s_that_say_why(
    make_api: Callable[..., tuple[ApiClient, Runtime]], params: dict[str, str], fragment: str
) -> None:
    api, _ = make_api()
    response = api.get("/api/memory/search", params=params)
    assert response.status_code == 400
    assert fragment in response.json()["error"]


def test_search_without_a_vector_store_is_a_400(make_api: Callable[..., tuple[ApiClient, Runtime]]) -> None:
    api, _ = make_api(vector_url="none")
    response = api.get("/api/memory/search", params={"searchQuery": "x", "resourceId": "r1", "agentId": "recall"})
    assert response.status_code == 400
    assert "MEMKIT_VECTOR_URL=none" in response.json()["error"]


def test_search_with_the_vector_store_down_is_a_503_with_the_reason(
    make_api: Callable[..., tuple[ApiClient, Runtime]],
) -> None:
    api, runtime = make_api(vector_url=f"pinecone://127.0.0.1:{stack.free_port()}", pinecone_api_key="local", indexing="async")
    resource_id = uid("res")
    runtime.memory("recall").create_thread(resource_id=resource_id, thread_id="t1")
    response = api.get("/api/memory/search", params={"searchQuery": "milk", "resourceId": resource_id, "agentId": "recall"})
    assert response.status_code == 503
    assert "memory search is unavailable" in response.json()["error"]
    assert "Pinecone" in response.json()["error"]


def test_search_through_pinecone(make_api: Callable[..., tuple[ApiClient, Runtime]], pinecone_host: str) -> None:
    api, runtime = make_api(vector_url=f"pinecone://{pinecone_host}", pinecone_api_key="local")
    corpus = load_corpus(runtime.memory("recall"), resources=["carol"])
    body = api.get(
        "/api/memory/search",
        params={"searchQuery": "mortgage rate", "resourceId": corpus.resource("carol"), "agentId": "recall"},
    ).json()
    assert body["results"][0]["id"] == "carol-finance:4"
    assert body["results"][0]["threadTitle"] == "Saving for a house"


def test_search_results_are_the_saved_text_not_a_stale_copy(make_api: Callable[..., tuple[ApiClient, Runtime]]) -> None:
    """Vectors hold no text: results are read from the store, so an edit shows at once."""
    api, runtime = make_api()
    memory = runtime.memory("recall")
    resource_id = uid("res")
    memory.create_thread(resource_id=resource_id, thread_id="t1")
    memory.save_messages([text_message("m1", "t1", resource_id, "The plumber comes on Monday", at=1)])
    memory.update_messages([{"id": "m1", "content": {"parts": [{"type": "text", "text": "The plumber comes on Tuesday"}]}}])
    body = api.get("/api/memory/search", params={"searchQuery": "plumber", "resourceId": resource_id, "agentId": "recall"}).json()
    assert [r["content"] for r in body["results"]] == ["The plumber comes on Tuesday"]


def test_the_ops_function_searches_like_the_route(make_api: Callable[..., tuple[ApiClient, Runtime]]) -> None:
    # Given an agent inside AWS invoking MemoryOpsFunction instead of calling the HTTP API
    from memkit.operations.invoke import dispatch

    api, runtime = make_api()
    alice = load_corpus(runtime.memory("recall"), resources=["alice"]).resource("alice")
    params = {"searchQuery": "hotel in Lisbon", "resourceId": alice, "limit": 3}

    # When both search the same memory
    outcome = dispatch({"op": "searchMemory", "agentId": "recall", "args": params}, runtime)
    routed = api.get("/api/memory/search", params={**params, "limit": "3", "agentId": "recall"})

    # Then they answer the same
    assert outcome["ok"] is True, outcome
    assert outcome["result"]["results"][0]["id"] == "alice-travel:2"
    assert outcome["result"] == routed.json()
