"""The Beyonder network's forward pass in NumPy: predictions without TensorFlow.

Training and fine-tuning need Keras; reading a dataset does not. Importing TensorFlow costs
about 3 s and loading a ``.keras`` file about 6 s, which made a recommendation take 10 s from
a cold start for a forward pass of a few milliseconds. So ``Beyonder.save`` also writes the
weights as ``network.npz`` (``export_weights``), and ``NumpyNetwork`` computes exactly what
``beyonder/model.py`` computes (read them side by side: the same steps in the same order),
in float32 as Keras does. ``Beyonder.save`` refuses to write an export that disagrees with
the Keras model by more than ``TOLERANCE`` on a test batch, and the tests hold the two to that
on real tables.

Weights are keyed by the layers' names and roles (``axial_0.induce.attention.query.kernel``),
not by Keras' variable paths, whose auto-numbered parts (``dense_3``) depend on what the
process built before.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

NETWORK_FILE = "network.npz"
FORMAT = 1
"""Version of the export's layout; a loader refuses a format it does not know."""
TOLERANCE = 1e-5
"""Largest difference allowed between NumPy and Keras on any output."""
_META = "__meta__"
_MASKED_LOGIT = -1e9  # what Keras puts in the logits of masked keys (layers.Softmax)
_HEAD_ACTIVATIONS = {"accuracy": "sigmoid", "fit_time": "linear"}  # beyonder.model.HEADS
_BLOCK_PARTS = ("feature_attention", "induce", "row_attention")


# --------------------------------------------------------------------------- export (Keras side)


def export_weights(model: Any) -> dict[str, np.ndarray]:
    """The weights of a Beyonder Keras model (``beyonder.model.build_model``) by role, plus a
    ``__meta__`` entry (format, heads, blocks, layer-norm epsilon, head activations).
    Reads the layers' attributes only: it needs no Keras import of its own."""
    weights: dict[str, np.ndarray] = {}
    zeroing: list[str] = []  # attention blocks with dropout, see NumpyNetwork._attention

    def put(key: str, variable: Any) -> None:
        if variable is not None:
            weights[key] = np.asarray(variable.numpy(), dtype=np.float32)

    def dense(prefix: str, layer: Any) -> None:
        put(f"{prefix}.kernel", layer.kernel)
        put(f"{prefix}.bias", getattr(layer, "bias", None))

    def norm(prefix: str, layer: Any) -> None:
        put(f"{prefix}.gamma", layer.gamma)
        put(f"{prefix}.beta", layer.beta)

    def block(prefix: str, layer: Any) -> None:  # AttentionBlock
        if layer.attention.dropout > 0:
            zeroing.append(f"{prefix}.attention")
        for part in ("norm_q", "norm_kv", "norm_ff"):
            norm(f"{prefix}.{part}", getattr(layer, part))
        for part in ("query", "key", "value", "output"):
            dense(f"{prefix}.attention.{part}", getattr(layer.attention, f"_{part}_dense"))
        dense(f"{prefix}.ff_in", layer.ff_in)
        dense(f"{prefix}.ff_out", layer.ff_out)

    for name in ("cell_embed", "cell_project", "globals_embed", "head_hidden"):
        dense(name, model.get_layer(name))
    blocks = 0
    while any(layer.name == f"axial_{blocks}" for layer in model.layers):
        axial = model.get_layer(f"axial_{blocks}")
        put(f"axial_{blocks}.points", axial.points)
        for part in _BLOCK_PARTS:
            block(f"axial_{blocks}.{part}", getattr(axial, part))
        blocks += 1
    pool = model.get_layer("pool_features")
    put("pool_features.seed", pool.seed)
    block("pool_features.block", pool.block)
    for head in _HEAD_ACTIVATIONS:
        dense(f"{head}_deep", model.get_layer(f"{head}_deep"))
        dense(f"{head}_linear", model.get_layer(f"{head}_linear"))
    meta = {
        "format": FORMAT,
        "heads": int(pool.block.attention.num_heads),
        "blocks": blocks,
        "layer_norm_epsilon": float(pool.block.norm_q.epsilon),
        # with dropout, Keras' explicit softmax zeroes the weights of a query whose keys are
        # all masked; without, its fused kernel leaves them uniform (per block: the pooling
        # block never has dropout)
        "zero_fully_masked": zeroing,
        "heads_activation": {h: model.get_layer(h).activation.__name__ for h in _HEAD_ACTIVATIONS},
    }
    weights[_META] = np.array(json.dumps(meta))
    return weights


def save_weights(weights: dict[str, np.ndarray], path: str | Path) -> Path:
    """Write ``weights`` to ``path`` (``.npz``) atomically."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp.npz")
    np.savez(tmp, **weights)
    tmp.replace(path)
    return path


# --------------------------------------------------------------------------- forward pass


def gelu(x: np.ndarray) -> np.ndarray:
    """Exact GELU, as Keras' ``"gelu"`` (``approximate=False``)."""
    from scipy.special import erf  # a ufunc: NumPy has no erf of its own

    return 0.5 * x * (1.0 + erf(x * np.float32(1 / math.sqrt(2))))


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


ACTIVATIONS = {"gelu": gelu, "sigmoid": sigmoid, "linear": lambda x: x}


class NumpyNetwork:
    """``beyonder.model.build_model``'s network, inference only, on NumPy arrays.

    ``network(inputs)`` takes the inputs of the Keras model (``encoding.batch``) and returns
    ``accuracy``, ``fit_time`` and ``dataset_embedding``, one row per view. Views are
    independent (no batch statistics), so any batch split gives the same numbers.
    """

    def __init__(self, weights: dict[str, np.ndarray]):
        meta = json.loads(str(weights[_META])) if _META in weights else {}
        if meta.get("format") != FORMAT:
            raise ValueError(f"unknown network export format {meta.get('format')!r} (expected {FORMAT})")
        self.meta = meta
        self.heads = int(meta["heads"])
        self.blocks = int(meta["blocks"])
        self.epsilon = np.float32(meta["layer_norm_epsilon"])
        self.zero_fully_masked = set(meta["zero_fully_masked"])
        self.weights = {k: np.asarray(v, dtype=np.float32) for k, v in weights.items() if k != _META}
        self.dim = int(self.weights["cell_project.kernel"].shape[1])

    @classmethod
    def load(cls, path: str | Path) -> NumpyNetwork:
        with np.load(Path(path), allow_pickle=False) as data:
            return cls({k: data[k] for k in data.files})

    # ----------------------------------------------------------------- layers

    def _dense(self, name: str, x: np.ndarray, activation: str = "linear") -> np.ndarray:
        y = x @ self.weights[f"{name}.kernel"]
        bias = self.weights.get(f"{name}.bias")
        return ACTIVATIONS[activation](y if bias is None else y + bias)

    def _norm(self, name: str, x: np.ndarray) -> np.ndarray:
        mean = x.mean(axis=-1, keepdims=True)
        var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
        return (x - mean) / np.sqrt(var + self.epsilon) * self.weights[f"{name}.gamma"] + self.weights[f"{name}.beta"]

    def _project(self, name: str, x: np.ndarray) -> np.ndarray:
        """EinsumDense ``abc,cde->abde``: (..., tokens, dim) to (..., heads, tokens, key_dim)."""
        kernel = self.weights[f"{name}.kernel"]  # dim, heads, key_dim
        y = x @ kernel.reshape(kernel.shape[0], -1) + self.weights[f"{name}.bias"].reshape(-1)
        return np.swapaxes(y.reshape(*y.shape[:-1], *kernel.shape[1:]), -2, -3)

    def _attention(self, name: str, q: np.ndarray, kv: np.ndarray, key_mask: np.ndarray | None) -> np.ndarray:
        """Keras ``MultiHeadAttention(heads, dim // heads)(q, kv, attention_mask=...)``."""
        query = self._project(f"{name}.query", q)
        key = self._project(f"{name}.key", kv)
        value = self._project(f"{name}.value", kv)
        logits = (query @ np.swapaxes(key, -1, -2)) * np.float32(1 / math.sqrt(query.shape[-1]))
        if key_mask is not None:
            keep = (key_mask > 0.5)[:, None, None, :]  # (batch, 1, 1, keys)
            logits = np.where(keep, logits, np.float32(_MASKED_LOGIT))
        logits = logits - logits.max(axis=-1, keepdims=True)
        weights = np.exp(logits)
        weights /= weights.sum(axis=-1, keepdims=True)
        if key_mask is not None and name in self.zero_fully_masked:
            weights = np.where(keep, weights, np.float32(0.0))
        heads = np.swapaxes(weights @ value, -2, -3)  # (..., tokens, heads, key_dim)
        out = self.weights[f"{name}.output.kernel"]  # heads, key_dim, dim
        flat = heads.reshape(*heads.shape[:-2], -1) @ out.reshape(-1, out.shape[-1])
        return flat + self.weights[f"{name}.output.bias"]

    def _block(self, name: str, queries: np.ndarray, keys: np.ndarray, key_mask: np.ndarray | None) -> np.ndarray:
        """``model.AttentionBlock``: pre-norm attention plus a feed-forward layer."""
        attended = self._attention(
            f"{name}.attention", self._norm(f"{name}.norm_q", queries), self._norm(f"{name}.norm_kv", keys), key_mask
        )
        x = queries + attended
        hidden = self._dense(f"{name}.ff_in", self._norm(f"{name}.norm_ff", x), "gelu")
        return x + self._dense(f"{name}.ff_out", hidden)

    def _axial(self, name: str, x: np.ndarray, row_mask: np.ndarray, feature_mask: np.ndarray) -> np.ndarray:
        """``model.AxialBlock``: across features within each row, then across rows through the
        inducing points."""
        batch, rows, features, dim = x.shape
        flat = x.reshape(batch * rows, features, dim)
        fmask = np.broadcast_to(feature_mask[:, None, :], (batch, rows, features)).reshape(batch * rows, features)
        x = self._block(f"{name}.feature_attention", flat, flat, fmask).reshape(batch, rows, features, dim)
        cols = x.transpose(0, 2, 1, 3).reshape(batch * features, rows, dim)
        rmask = np.broadcast_to(row_mask[:, None, :], (batch, features, rows)).reshape(batch * features, rows)
        points = self.weights[f"{name}.points"]  # (1, inducing, dim): broadcast over the sequences
        summary = np.broadcast_to(self._block(f"{name}.induce", points, cols, rmask), (batch * features, *points.shape[1:]))
        cols = self._block(f"{name}.row_attention", cols, summary, None)
        return cols.reshape(batch, features, rows, dim).transpose(0, 2, 1, 3)

    @staticmethod
    def _masked_mean(x: np.ndarray, mask: np.ndarray, axis: int) -> np.ndarray:
        """``model.MaskedMean``."""
        while mask.ndim < x.ndim:
            mask = mask[..., None]
        return (x * mask).sum(axis=axis) / np.maximum(mask.sum(axis=axis), np.float32(1.0))

    # ----------------------------------------------------------------- the model

    def __call__(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        cells = np.asarray(inputs["cells"], dtype=np.float32)
        row_mask = np.asarray(inputs["row_mask"], dtype=np.float32)
        feature_mask = np.asarray(inputs["feature_mask"], dtype=np.float32)
        dataset = np.asarray(inputs["globals"], dtype=np.float32)

        x = self._dense("cell_project", self._dense("cell_embed", cells, "gelu"))
        for i in range(self.blocks):
            x = self._axial(f"axial_{i}", x, row_mask, feature_mask)
        per_feature = self._masked_mean(x, row_mask, axis=1)
        seed = np.broadcast_to(self.weights["pool_features.seed"], (len(per_feature), 1, self.dim))
        pooled = self._block("pool_features.block", seed, per_feature, feature_mask)[:, 0]
        mean_feature = self._masked_mean(per_feature, feature_mask, axis=1)
        context = self._dense("globals_embed", dataset, "gelu")
        embedding = np.concatenate([pooled, mean_feature, context], axis=-1)
        hidden = self._dense("head_hidden", embedding, "gelu")
        outputs = {"dataset_embedding": embedding}
        for head, activation in self.meta["heads_activation"].items():
            total = self._dense(f"{head}_deep", hidden) + self._dense(f"{head}_linear", dataset)
            outputs[head] = ACTIVATIONS[activation](total)
        return outputs


def max_difference(expected: dict[str, np.ndarray], actual: dict[str, np.ndarray]) -> dict[str, float]:
    """Largest absolute difference per output present in both."""
    return {
        k: float(np.max(np.abs(np.asarray(expected[k], np.float64) - np.asarray(actual[k], np.float64)), initial=0.0))
        for k in expected
        if k in actual
    }
