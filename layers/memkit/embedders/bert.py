"""A BERT encoder's forward pass in numpy, with sentence-transformers' mean pooling and L2
normalisation: what ``SentenceTransformer("all-MiniLM-L6-v2").encode(...)`` computes, without
torch.

The weights are Hugging Face's ``BertModel`` state dict (``embeddings.*``, ``encoder.layer.N.*``),
as numpy arrays; ``BertConfig`` is the model's ``config.json``. Nothing here knows where the
weights come from (``memkit.embedders.local`` reads them from the packaged model).

The computation, per sequence of token ids with its attention mask:

* embeddings = LayerNorm(word[id] + position[i] + token_type[0]);
* per layer: self-attention (one fused QKV projection, ``heads`` heads, padded keys masked out
  before the softmax), output projection + residual + LayerNorm, then the feed-forward block
  (GELU, the exact erf form BERT uses) + residual + LayerNorm;
* the mean of the last hidden states over the real (unmasked) tokens, scaled to unit length.

Padding never changes a sequence's result: padded keys get no attention weight, and padded
positions are left out of the mean. So a text embeds the same alone or in any batch, up to
float32 rounding (``tests/embedders/test_local.py`` checks it).

float32 throughout, like the reference implementation; matrix products go to numpy's BLAS.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

# Abramowitz & Stegun 7.1.26: erf to within 1.5e-7 absolute, below float32's resolution of the
# GELU's inputs. numpy has no erf, and math.erf element by element would cost more than the
# matrix products.
_ERF_P = np.float32(0.3275911)
_ERF_A = tuple(np.float32(a) for a in (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429))
_SQRT_HALF = np.float32(1.0 / math.sqrt(2.0))


def erf(x: np.ndarray) -> np.ndarray:
    a = np.abs(x)
    t = a * _ERF_P
    t += 1.0
    np.reciprocal(t, out=t)
    a1, a2, a3, a4, a5 = _ERF_A
    poly = t * a5
    for coefficient in (a4, a3, a2, a1):
        poly += coefficient
        poly *= t
    np.square(a, out=a)
    np.negative(a, out=a)
    np.exp(a, out=a)
    poly *= a
    # 1 - poly * exp(-x^2), with the sign of x
    np.subtract(1.0, poly, out=poly)
    return np.copysign(poly, x, out=poly)


def gelu(x: np.ndarray) -> np.ndarray:
    """BERT's activation, x * Phi(x) (not the tanh approximation). In place where it can be:
    it runs over the widest activations (tokens x 1,536), where extra arrays cost more than
    the arithmetic."""
    result = erf(x * _SQRT_HALF)
    result += 1.0
    result *= x
    result *= 0.5
    return result


def layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    centered = x - mean
    variance = (centered * centered).mean(axis=-1, keepdims=True)
    return centered / np.sqrt(variance + np.float32(eps)) * weight + bias


@dataclass(frozen=True)
class BertConfig:
    vocab_size: int
    type_vocab_size: int
    hidden_size: int
    layers: int
    heads: int
    intermediate_size: int
    max_positions: int
    layer_norm_eps: float

    @classmethod
    def from_json(cls, config: Mapping[str, Any]) -> "BertConfig":
        """From a Hugging Face ``config.json``; refuses what this forward pass does not
        implement rather than computing something else."""
        if config.get("model_type") != "bert":
            raise ValueError(f"not a BERT model: model_type={config.get('model_type')!r}")
        if config.get("hidden_act") != "gelu":
            raise ValueError(f"only the erf GELU is implemented, the model uses {config.get('hidden_act')!r}")
        if config.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError(f"only absolute positions are implemented, got {config['position_embedding_type']!r}")
        hidden, heads = int(config["hidden_size"]), int(config["num_attention_heads"])
        if hidden % heads:
            raise ValueError(f"hidden size {hidden} is not a multiple of {heads} heads")
        return cls(
            vocab_size=int(config["vocab_size"]),
            type_vocab_size=int(config.get("type_vocab_size", 2)),
            hidden_size=hidden,
            layers=int(config["num_hidden_layers"]),
            heads=heads,
            intermediate_size=int(config["intermediate_size"]),
            max_positions=int(config["max_position_embeddings"]),
            layer_norm_eps=float(config["layer_norm_eps"]),
        )


@dataclass(frozen=True)
class _Layer:
    qkv_weight: np.ndarray  # (hidden, 3 * hidden): x @ qkv_weight gives q | k | v
    qkv_bias: np.ndarray
    attention_out_weight: np.ndarray  # (hidden, hidden), a transposed view for x @ w
    attention_out_bias: np.ndarray
    attention_norm: tuple[np.ndarray, np.ndarray]
    intermediate_weight: np.ndarray  # (hidden, intermediate)
    intermediate_bias: np.ndarray
    output_weight: np.ndarray  # (intermediate, hidden)
    output_bias: np.ndarray
    output_norm: tuple[np.ndarray, np.ndarray]


class BertEncoder:
    """The encoder with its weights. ``embed`` is thread-safe: it only reads them."""

    def __init__(self, config: BertConfig, weights: Mapping[str, np.ndarray]):
        self.config = config

        def tensor(name: str, shape: tuple[int, ...]) -> np.ndarray:
            if name not in weights:
                raise ValueError(f"the weights have no {name}")
            value = np.asarray(weights[name], dtype=np.float32)
            if value.shape != shape:
                raise ValueError(f"{name} has shape {value.shape}, the config implies {shape}")
            return value

        hidden, inner = config.hidden_size, config.intermediate_size
        self.word_embeddings = tensor("embeddings.word_embeddings.weight", (config.vocab_size, hidden))
        self.position_embeddings = tensor("embeddings.position_embeddings.weight", (config.max_positions, hidden))
        # Every memkit text is one segment: token type 0 throughout.
        self.token_type_embedding = tensor("embeddings.token_type_embeddings.weight", (config.type_vocab_size, hidden))[0]
        self.embedding_norm = (
            tensor("embeddings.LayerNorm.weight", (hidden,)),
            tensor("embeddings.LayerNorm.bias", (hidden,)),
        )
        self.layers: list[_Layer] = []
        for n in range(config.layers):
            p = f"encoder.layer.{n}."
            # torch's Linear stores (out, in) and computes x @ W.T. A transposed view costs no
            # copy and no speed (BLAS takes the transposition as a flag). q, k and v are one
            # product: one BLAS call instead of three on small batches.
            qkv = [tensor(f"{p}attention.self.{part}.weight", (hidden, hidden)) for part in ("query", "key", "value")]
            self.layers.append(
                _Layer(
                    qkv_weight=np.concatenate(qkv, axis=0).T,
                    qkv_bias=np.concatenate([tensor(f"{p}attention.self.{part}.bias", (hidden,)) for part in ("query", "key", "value")]),
                    attention_out_weight=tensor(f"{p}attention.output.dense.weight", (hidden, hidden)).T,
                    attention_out_bias=tensor(f"{p}attention.output.dense.bias", (hidden,)),
                    attention_norm=(
                        tensor(f"{p}attention.output.LayerNorm.weight", (hidden,)),
                        tensor(f"{p}attention.output.LayerNorm.bias", (hidden,)),
                    ),
                    intermediate_weight=tensor(f"{p}intermediate.dense.weight", (inner, hidden)).T,
                    intermediate_bias=tensor(f"{p}intermediate.dense.bias", (inner,)),
                    output_weight=tensor(f"{p}output.dense.weight", (hidden, inner)).T,
                    output_bias=tensor(f"{p}output.dense.bias", (hidden,)),
                    output_norm=(
                        tensor(f"{p}output.LayerNorm.weight", (hidden,)),
                        tensor(f"{p}output.LayerNorm.bias", (hidden,)),
                    ),
                )
            )

    def embed(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Sentence embeddings, one unit vector per row of ``ids`` (batch, length): token ids
        padded on the right, ``mask`` 1 for real tokens and 0 for padding."""
        batch, length = ids.shape
        if length > self.config.max_positions:
            raise ValueError(f"{length} tokens exceed the model's {self.config.max_positions} positions")
        eps = self.config.layer_norm_eps
        x = self.word_embeddings[ids] + self.position_embeddings[:length] + self.token_type_embedding
        x = layer_norm(x, *self.embedding_norm, eps)
        # Added to the attention scores: padded keys get -inf-like scores, so no weight. The
        # most negative float32 (as transformers does), not -inf: a row is never all padding
        # (it starts with [CLS]), but -inf - -inf would be NaN if one ever were.
        key_bias = ((1.0 - mask.astype(np.float32)) * np.finfo(np.float32).min)[:, None, None, :]
        for layer in self.layers:
            x = self._layer(layer, x, key_bias, batch, length)
        weights = mask.astype(np.float32)[:, :, None]
        pooled = (x * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), np.float32(1e-9))
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return pooled / np.maximum(norms, np.float32(1e-12))

    def _layer(self, layer: _Layer, x: np.ndarray, key_bias: np.ndarray, batch: int, length: int) -> np.ndarray:
        config = self.config
        heads, head_size = config.heads, config.hidden_size // config.heads
        qkv = x @ layer.qkv_weight + layer.qkv_bias
        # (batch, length, 3, heads, head_size) -> 3 x (batch, heads, length, head_size)
        q, k, v = qkv.reshape(batch, length, 3, heads, head_size).transpose(2, 0, 3, 1, 4)
        scores = (q @ k.transpose(0, 1, 3, 2)) * np.float32(1.0 / math.sqrt(head_size)) + key_bias
        scores -= scores.max(axis=-1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=-1, keepdims=True)
        context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch, length, config.hidden_size)
        attended = context @ layer.attention_out_weight + layer.attention_out_bias
        x = layer_norm(attended + x, *layer.attention_norm, config.layer_norm_eps)
        inner = gelu(x @ layer.intermediate_weight + layer.intermediate_bias)
        out = inner @ layer.output_weight + layer.output_bias
        return layer_norm(out + x, *layer.output_norm, config.layer_norm_eps)
