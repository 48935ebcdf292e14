"""The embedders: the lexical one's properties (the local semantic one has its own file,
``test_local_embedder.py``), the OpenAI-compatible one against the stand-in
(``openai_stub``), Bedrock Titan v2 through botocore's Stubber, and the factories. Every failure
is classified for the job queue (Bedrock's in ``tests/clients/test_bedrock_errors.py``, shared with
the Bedrock language model), and a wrong dimension is a ConfigurationError."""

from __future__ import annotations

import io
import json
import math
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from infra.local import stack
from memkit.embedders.bedrock import BedrockEmbedder
from memkit.embedders.factory import create_embedder, embedder_name
from memkit.embedders.lexical import LexicalEmbedder, stem
from memkit.embedders.local import LocalEmbedder
from memkit.embedders.openai import OpenAIEmbedder
from memkit.errors import ConfigurationError, PermanentJobError, RetryableError
from memkit.settings import Settings
from memkit.vector.base import VectorRecord
from memkit.vector.factory import create_vector_store
from tests.support.openai_stub import OpenAIStub
from memkit.vector.libsql import LibSQLVector
from memkit.vector.pinecone import PineconeVector, index_url


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


# ---------------------------------------------------------------- lexical


def test_lexical_vectors_are_unit_length_and_of_the_configured_dimension() -> None:
    vectors = LexicalEmbedder(384).embed(["My dog Rex loves the beach", "", "???", "a an the"])
    assert [len(v) for v in vectors] == [384] * 4
    assert all(math.isclose(math.sqrt(sum(x * x for x in v)), 1.0, rel_tol=1e-9) for v in vectors)


def test_lexical_vectors_are_the_same_in_every_process() -> None:
    """The worker and the API server embed in different processes; str hashes are salted per
    process, so the embedder must not use them."""
    script = "from memkit.embedders.lexical import LexicalEmbedder; print(LexicalEmbedder(64).embed_one('golden retriever Rex')[:8])"
    runs = {subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout for _ in range(2)}
    assert len(runs) == 1
    assert runs.pop().strip() == str(LexicalEmbedder(64).embed_one("golden retriever Rex")[:8])


def test_lexical_embedder_matches_words_and_their_inflections_not_meanings() -> None:
    embedder = LexicalEmbedder(256)
    [query, same_words, inflected, synonym, unrelated] = embedder.embed(
        [
            "what is my dog's name?",
            "my dog is named Rex",
            "both dogs were naming games",
            "my puppy is called Rex",
            "quarterly revenue grew in Europe",
        ]
    )
    assert cosine(query, same_words) > 0.5
    assert cosine(query, inflected) > 0.3
    # lexical, not semantic: "puppy" shares nothing with "dog"
    assert cosine(query, synonym) < 0.2
    assert cosine(query, unrelated) < 0.2
    assert [stem(w) for w in ("dogs", "walked", "making", "allergies", "allergic")] == ["dog", "walk", "mak", "allerg", "allerg"]


# ---------------------------------------------------------------- OpenAI-compatible


def test_openai_embedder_sends_batches_and_returns_vectors_in_order(openai_stub: str, openai: OpenAIStub) -> None:
    embedder = OpenAIEmbedder("text-embedding-3-small", 256, base_url=openai_stub, api_key="sk-local", batch_size=2)
    texts = ["first text", "second text", "third text"]
    vectors = embedder.embed(texts)
    assert [len(v) for v in vectors] == [256, 256, 256]
    # order kept: each vector is the one of its text
    assert [round(cosine(v, embedder.embed([t])[0]), 6) for v, t in zip(vectors, texts)] == [1.0, 1.0, 1.0]
    bodies = [r["body"] for r in openai.embedding_requests()][:2]
    assert bodies == [
        {"model": "text-embedding-3-small", "input": ["first text", "second text"], "encoding_format": "float", "dimensions": 256},
        {"model": "text-embedding-3-small", "input": ["third text"], "encoding_format": "float", "dimensions": 256},
    ]


@pytest.mark.parametrize(
    ("status", "error"),
    [(429, RetryableError), (500, RetryableError), (503, RetryableError), (400, PermanentJobError), (404, ConfigurationError)],
)
def test_openai_embedder_classifies_failures(
    openai_stub: str, openai: OpenAIStub, status: int, error: type[Exception]
) -> None:
    openai.script({"status": status, "path": "/v1/embeddings", "message": "scripted"})
    embedder = OpenAIEmbedder("text-embedding-3-small", 256, base_url=openai_stub, api_key="sk-local")
    with pytest.raises(error, match=f"answered {status}: scripted"):
        embedder.embed(["hello"])


def test_openai_embedder_without_a_key_is_a_configuration_error(openai_stub: str, openai: OpenAIStub) -> None:
    with pytest.raises(ConfigurationError, match="401"):
        OpenAIEmbedder("text-embedding-3-small", 256, base_url=openai_stub, api_key=None).embed(["hello"])


def test_openai_embedder_unreachable_is_retryable() -> None:
    embedder = OpenAIEmbedder("m", 256, base_url=f"http://127.0.0.1:{stack.free_port()}/v1", api_key="k", timeout=2)
    with pytest.raises(RetryableError, match="unreachable"):
        embedder.embed(["hello"])


def test_openai_embedder_of_the_wrong_dimension_is_a_configuration_error(openai_stub: str, openai: OpenAIStub) -> None:
    # A model that takes no "dimensions" parameter answers with its own size (the stub's 256).
    embedder = OpenAIEmbedder("nomic-embed-text", 768, base_url=openai_stub, api_key="sk-local")
    with pytest.raises(ConfigurationError, match="dimension 256, but MEMKIT_EMBEDDING_DIMENSION is 768"):
        embedder.embed(["hello"])
    assert "dimensions" not in openai.embedding_requests()[-1]["body"]


# ---------------------------------------------------------------- Bedrock Titan v2

TITAN = "amazon.titan-embed-text-v2:0"


@pytest.fixture
def bedrock() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("bedrock-runtime", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def _titan_response(vector: list[float]) -> dict[str, Any]:
    payload = json.dumps({"embedding": vector, "inputTextTokenCount": 3}).encode()
    return {"body": StreamingBody(io.BytesIO(payload), len(payload)), "contentType": "application/json"}


def test_bedrock_embedder_invokes_titan_v2_once_per_text(bedrock: tuple[Any, Stubber]) -> None:
    client, stubber = bedrock
    for n, text in enumerate(["first", "second"]):
        stubber.add_response(
            "invoke_model",
            _titan_response([float(n)] * 256),
            {
                "modelId": TITAN,
                "body": json.dumps({"inputText": text, "dimensions": 256, "normalize": True}),
                "contentType": "application/json",
                "accept": "application/json",
            },
        )
    # max_concurrency 1: the Stubber answers in order, so the calls must be too
    vectors = BedrockEmbedder(TITAN, 256, client=client, max_concurrency=1).embed(["first", "second"])
    assert [v[0] for v in vectors] == [0.0, 1.0]


def test_bedrock_embedder_of_the_wrong_dimension_is_a_configuration_error(bedrock: tuple[Any, Stubber]) -> None:
    client, stubber = bedrock
    stubber.add_response("invoke_model", _titan_response([0.1] * 1024))
    with pytest.raises(ConfigurationError, match="dimension 1024, but MEMKIT_EMBEDDING_DIMENSION is 512"):
        BedrockEmbedder(TITAN, 512, client=client).embed(["hello"])


def test_bedrock_embedder_refuses_what_titan_v2_cannot_do() -> None:
    with pytest.raises(ConfigurationError, match="256, 512, 1024"):
        BedrockEmbedder(TITAN, 384)
    with pytest.raises(ConfigurationError, match="only Titan Text Embeddings v2"):
        BedrockEmbedder("cohere.embed-english-v3", 1024)


# ---------------------------------------------------------------- factories


def test_the_embedder_factory_reads_the_setting(openai_stub: str) -> None:
    # Given each choice of MEMKIT_EMBEDDER, with the dimension left to the embedder
    local = create_embedder(Settings(embedder="local"))
    lexical = create_embedder(Settings(embedder="lexical"))
    openai = create_embedder(Settings(embedder="openai/text-embedding-3-small", openai_base_url=openai_stub, openai_api_key="k"))
    bedrock = create_embedder(Settings(embedder=f"bedrock/{TITAN}", embedding_dimension=1024))
    # Then each is its backend, of the dimension it produces by default or was given
    assert isinstance(local, LocalEmbedder) and local.dimension == 384
    assert isinstance(lexical, LexicalEmbedder) and lexical.dimension == 256
    assert isinstance(openai, OpenAIEmbedder) and openai.model == "text-embedding-3-small" and openai.dimension == 256
    assert isinstance(bedrock, BedrockEmbedder) and bedrock.dimension == 1024
    assert create_embedder(Settings(embedder="lexical", embedding_dimension=128)).dimension == 128
    # And the name a vector index records is known without building the embedder
    for settings, embedder in [
        (Settings(embedder=" local "), local),
        (Settings(embedder="lexical"), lexical),
        (Settings(embedder="openai/text-embedding-3-small"), openai),
        (Settings(embedder=f"bedrock/{TITAN}"), bedrock),
    ]:
        assert embedder_name(settings) == embedder.name
    assert len({local.name, lexical.name, openai.name, bedrock.name}) == 4
    for bad in ("openai", "bedrock/", "sentence-transformers/all-MiniLM", "Local", ""):
        with pytest.raises(ConfigurationError, match="MEMKIT_EMBEDDER must be local, lexical"):
            create_embedder(Settings(embedder=bad))
    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY"):
        create_embedder(Settings(embedder="openai/text-embedding-3-small"))


def test_the_local_model_has_one_dimension() -> None:
    with pytest.raises(ConfigurationError, match="produces 384-dimensional vectors; MEMKIT_EMBEDDING_DIMENSION is 256"):
        create_embedder(Settings(embedder="local", embedding_dimension=256))


def test_the_dimension_setting_defaults_to_the_embedders_own() -> None:
    assert Settings.from_env({}).embedding_dimension == 384
    assert Settings.from_env({"MEMKIT_EMBEDDER": "lexical"}).embedding_dimension == 256
    assert Settings.from_env({"MEMKIT_EMBEDDER": f"bedrock/{TITAN}"}).embedding_dimension == 256
    assert Settings.from_env({"MEMKIT_EMBEDDER": "lexical", "MEMKIT_EMBEDDING_DIMENSION": "64"}).embedding_dimension == 64
    assert Settings().vector_dimension() == 384 and Settings(embedder="lexical").vector_dimension() == 256


def test_the_vector_store_factory_reads_the_setting(tmp_path: Any, pinecone_host: str) -> None:
    database = f"file:{tmp_path / 'memkit.db'}"
    libsql = create_vector_store(Settings(vector_url=database, embedder="lexical", embedding_dimension=64))
    assert isinstance(libsql, LibSQLVector) and libsql.dimension() == 64 and libsql.embedder == "lexical"
    libsql.close()
    pinecone = create_vector_store(Settings(vector_url=f"pinecone://{pinecone_host}", pinecone_api_key="local"))
    assert isinstance(pinecone, PineconeVector) and pinecone.host == pinecone_host
    with pytest.raises(ConfigurationError, match="PINECONE_API_KEY"):
        create_vector_store(Settings(vector_url="pinecone://idx-abc.svc.pinecone.io"))
    with pytest.raises(ConfigurationError, match="MEMKIT_VECTOR_URL"):
        create_vector_store(Settings(vector_url="qdrant://somewhere"))


def test_in_memory_vectors_need_no_runtime_and_serve_queries() -> None:
    vector = create_vector_store(Settings(vector_url=":memory:", embedder="lexical", embedding_dimension=16))
    try:
        record = VectorRecord(
            message_id="m1", chunk=0, thread_id="t1", role="user",
            created_at="2026-01-01T00:00:00.000Z", values=[1.0] + [0.0] * 15,
        )
        vector.upsert("r1", [record])
        [hit] = vector.query("r1", [1.0] + [0.0] * 15, 4)
        assert (hit.message_id, hit.thread_id) == ("m1", "t1")
        assert vector.query("r2", [1.0] + [0.0] * 15, 4) == []
    finally:
        vector.close()


def test_pinecone_urls_use_https_unless_a_scheme_is_given() -> None:
    # No host gets special treatment: a local data plane is named with an explicit http://.
    assert index_url("pinecone://memkit-abc.svc.aped-1.pinecone.io") == "https://memkit-abc.svc.aped-1.pinecone.io"
    assert index_url("pinecone://127.0.0.1:8081") == "https://127.0.0.1:8081"
    assert index_url("pinecone://http://localhost:8081/") == "http://localhost:8081"
    assert index_url("pinecone://http://10.0.0.5:8081") == "http://10.0.0.5:8081"
    with pytest.raises(ConfigurationError):
        index_url("pinecone://")


def test_provider_keys_are_resolved_on_first_use_not_when_a_memory_is_built(
    pinecone_host: str, openai_stub: str, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    # Given keys held as references (Secrets Manager in AWS), and a recorder for their resolution
    import memkit.embedders.openai as openai_embedder
    import memkit.vector.pinecone as pinecone_vector
    from memkit.runtime import Runtime

    resolved: list[str] = []

    def resolve(reference: str | None) -> str:
        resolved.append(str(reference))
        return "local"

    monkeypatch.setattr(pinecone_vector, "resolve_secret", resolve)
    monkeypatch.setattr(openai_embedder, "resolve_secret", resolve)
    settings = Settings(
        storage_url=f"file:{tmp_path / 'memkit.db'}",
        vector_url=f"pinecone://{pinecone_host}",
        pinecone_api_key="secretsmanager:pinecone",
        embedder="openai/text-embedding-3-small",
        openai_base_url=openai_stub,
        openai_api_key="secretsmanager:openai",
    )
    runtime = Runtime(settings)
    try:
        # When the first request builds the agent's Memory (a read that never embeds)
        memory = runtime.memory()
        assert memory.vector is not None and memory.embedder is not None
        # Then no secret was fetched yet
        assert resolved == []

        # And the first real vector and embedding calls fetch them
        memory.vector.dimension()
        memory.vector.index()
        memory.embedder.embed(["hello"])
        assert resolved == ["secretsmanager:pinecone", "secretsmanager:openai"]
    finally:
        runtime.close()
