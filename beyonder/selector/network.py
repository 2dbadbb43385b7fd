"""The Beyonder network's forward pass in NumPy: predictions without TensorFlow.

Training and fine-tuning need Keras; reading a dataset does not. Importing TensorFlow costs
about 3 s and loading a ``.keras`` file about 6 s, which made a recommendation take 10 s from
a cold start for a forward pass of a few milliseconds. So ``Beyonder.save`` also writes the
weights as ``network.npz`` (``export_weights``), and ``NumpyNetwork`` computes exactly what
``beyonder/selector/model.py`` computes (read them side by side: the same steps in the same order),
in float32 as Keras does. ``Beyonder.save`` refuses to write an export that disagrees with
the Keras model by more than ``TOLERANCE`` on a test batch, and the tests hold the two to that
on real tables.

Weights are keyed by the layers' names and roles (``axial_0.induce.attention.query.kernel``),
not by Keras' variable paths, whose auto-numbered parts (``dense_3``) depend on what the
process built before.
"""

from __future__ import annotations

import functools
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
_HEAD_ACTIVATIONS = {
    "accuracy": "sigmoid",
    "fit_time": "linear",
    "curve": "sigmoid",
    "scores": "sigmoid",
}  # beyonder.selector.model
_BLOCK_PARTS = ("feature_attention", "induce", "row_attention")


# --------------------------------------------------------------------------- export (Keras side)


def export_weights(model: Any) -> dict[str, np.ndarray]:
    """The weights of a Beyonder Keras model (``beyonder.selector.model.build_model``) by role, plus a
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
    names = {layer.name for layer in model.layers}
    heads = [h for h in _HEAD_ACTIVATIONS if h in names]  # ``curve`` and ``scores`` only when built
    for head in heads:
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
        "heads_activation": {h: model.get_layer(h).activation.__name__ for h in heads},
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


ERF_STEPS = 4096
"""Table points per unit of ``erf``'s argument (``erf_float32``)."""
ERF_LIMIT = 4
"""Beyond +-4, erf is +-1 in float32."""


@functools.cache
def _erf_table() -> tuple[np.ndarray, np.ndarray]:
    """``erf`` at every multiple of ``1 / ERF_STEPS`` in [-4, 4], and the slope to the next."""
    n = ERF_LIMIT * ERF_STEPS
    values = np.array([math.erf(i / ERF_STEPS) for i in range(-n, n + 1)])
    slopes = np.append(np.diff(values), 0.0)
    return values.astype(np.float32), slopes.astype(np.float32)


def erf_float32(x: np.ndarray) -> np.ndarray:
    """``erf`` to float32 precision (within 1e-7; a linear interpolation error of at most
    1e-8 plus rounding), three times faster than SciPy's, whose import also costs 0.15 s.

    The argument is scaled by a power of two, which is exact, so the interpolation weight
    keeps every bit float32 has."""
    values, slopes = _erf_table()
    scaled = np.clip(x, -ERF_LIMIT, ERF_LIMIT).astype(np.float32, copy=False)
    scaled *= np.float32(ERF_STEPS)
    floor = np.floor(scaled)
    scaled -= floor  # the weight of the next point
    index = floor.astype(np.int32)
    index += ERF_LIMIT * ERF_STEPS
    out = slopes[index]
    out *= scaled
    out += values[index]
    return out


def gelu(x: np.ndarray) -> np.ndarray:
    """Exact GELU, as Keras' ``"gelu"`` (``approximate=False``): ``x * (1 + erf(x / sqrt 2)) / 2``.
    Overwrites ``x``, a fresh array in every use here (the network's costliest step)."""
    cdf = erf_float32(x * np.float32(1 / math.sqrt(2)))
    cdf += np.float32(1.0)
    cdf *= np.float32(0.5)
    x *= cdf
    return x


def last_axis_mean(x: np.ndarray) -> np.ndarray:
    """Mean over the last axis, kept as an axis of 1; through BLAS, because NumPy's
    reductions over a short last axis (32 values) were a fifth of the network's time."""
    n = x.shape[-1]
    flat = np.ascontiguousarray(x).reshape(-1, n)
    return (flat @ np.full(n, 1.0 / n, dtype=np.float32)).reshape(*x.shape[:-1], 1)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis of a fresh array (overwritten).

    Shifted by the largest logit of the whole array (one fast reduction) instead of each
    row's; a row whose sum then falls below ``1e-26`` (far below the largest, or fully masked)
    takes the per-row shift, as Keras does, so no row loses precision or overflows."""
    shape = logits.shape
    logits -= logits.max()
    weights = np.exp(logits)
    ones = np.ones(shape[-1], dtype=np.float32)
    sums = (weights.reshape(-1, shape[-1]) @ ones).reshape(*shape[:-1], 1)
    if (sums < 1e-26).any():
        weights = np.exp(logits - logits.max(axis=-1, keepdims=True))
        sums = weights.sum(axis=-1, keepdims=True)
    weights /= sums
    return weights


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


ACTIVATIONS = {"gelu": gelu, "sigmoid": sigmoid, "linear": lambda x: x}


class NumpyNetwork:
    """``beyonder.selector.model.build_model``'s network, inference only, on NumPy arrays.

    ``network(inputs)`` takes the inputs of the Keras model (``encoding.batch``) and returns
    ``accuracy``, ``fit_time`` and ``dataset_embedding``, one row per view. Views are
    independent (no batch statistics), so any batch split gives the same numbers.
    """

    def __init__(self, weights: dict[str, np.ndarray]):
        meta = json.loads(str(weights[_META])) if _META in weights else {}
        if meta.get("format") != FORMAT:
            raise ValueError(
                f"unknown network export format {meta.get('format')!r} (expected {FORMAT})"
            )
        self.meta = meta
        self.heads = int(meta["heads"])
        self.blocks = int(meta["blocks"])
        self.epsilon = np.float32(meta["layer_norm_epsilon"])
        self.zero_fully_masked = set(meta["zero_fully_masked"])
        self.weights = {
            k: np.asarray(v, dtype=np.float32) for k, v in weights.items() if k != _META
        }
        self.dim = int(self.weights["cell_project.kernel"].shape[1])

    @classmethod
    def load(cls, path: str | Path) -> NumpyNetwork:
        with np.load(Path(path), allow_pickle=False) as data:
            return cls({k: data[k] for k in data.files})

    # ----------------------------------------------------------------- layers

    def _dense(self, name: str, x: np.ndarray, activation: str = "linear") -> np.ndarray:
        y = x @ self.weights[f"{name}.kernel"]
        bias = self.weights.get(f"{name}.bias")
        if bias is not None:
            y += bias
        return ACTIVATIONS[activation](y)

    def _standardize(self, x: np.ndarray) -> np.ndarray:
        """Layer normalisation before its scale and shift (shared by two norms of one input)."""
        centred = x - last_axis_mean(x)
        centred *= 1.0 / np.sqrt(last_axis_mean(centred * centred) + self.epsilon)
        return centred

    def _norm(self, name: str, x: np.ndarray, standardized: np.ndarray | None = None) -> np.ndarray:
        """Keras ``LayerNormalization`` (``epsilon`` from the export)."""
        z = self._standardize(x) if standardized is None else standardized
        return z * self.weights[f"{name}.gamma"] + self.weights[f"{name}.beta"]

    def _project(self, name: str, x: np.ndarray) -> np.ndarray:
        """EinsumDense ``abc,cde->abde``: (..., tokens, dim) to (..., heads, tokens, key_dim),
        contiguous (NumPy's stacked matmul is twice as fast on contiguous operands)."""
        kernel = self.weights[f"{name}.kernel"]  # dim, heads, key_dim
        y = x @ kernel.reshape(kernel.shape[0], -1)
        y += self.weights[f"{name}.bias"].reshape(-1)
        return np.ascontiguousarray(
            np.swapaxes(y.reshape(*y.shape[:-1], *kernel.shape[1:]), -2, -3)
        )

    def _attention(
        self, name: str, q: np.ndarray, kv: np.ndarray, key_mask: np.ndarray | None
    ) -> np.ndarray:
        """Keras ``MultiHeadAttention(heads, dim // heads)(q, kv, attention_mask=...)``."""
        query = self._project(f"{name}.query", q)
        key = self._project(f"{name}.key", kv)
        value = self._project(f"{name}.value", kv)
        query *= np.float32(1 / math.sqrt(query.shape[-1]))
        logits = query @ np.ascontiguousarray(np.swapaxes(key, -1, -2))
        keep = None
        if key_mask is not None and not key_mask.all():
            keep = (key_mask > 0.5)[:, None, None, :]  # (batch, 1, 1, keys)
            logits = np.where(keep, logits, np.float32(_MASKED_LOGIT))
        weights = softmax(logits)
        if keep is not None and name in self.zero_fully_masked:
            weights = np.where(keep, weights, np.float32(0.0))
        heads = np.swapaxes(weights @ value, -2, -3)  # (..., tokens, heads, key_dim)
        out = self.weights[f"{name}.output.kernel"]  # heads, key_dim, dim
        flat = heads.reshape(*heads.shape[:-2], -1) @ out.reshape(-1, out.shape[-1])
        return flat + self.weights[f"{name}.output.bias"]

    def _block(
        self, name: str, queries: np.ndarray, keys: np.ndarray, key_mask: np.ndarray | None
    ) -> np.ndarray:
        """``model.AttentionBlock``: pre-norm attention plus a feed-forward layer."""
        shared = self._standardize(queries) if keys is queries else None
        attended = self._attention(
            f"{name}.attention",
            self._norm(f"{name}.norm_q", queries, shared),
            self._norm(f"{name}.norm_kv", keys, shared),
            key_mask,
        )
        x = queries + attended
        hidden = self._dense(f"{name}.ff_in", self._norm(f"{name}.norm_ff", x), "gelu")
        return x + self._dense(f"{name}.ff_out", hidden)

    def _axial(
        self, name: str, x: np.ndarray, row_mask: np.ndarray, feature_mask: np.ndarray
    ) -> np.ndarray:
        """``model.AxialBlock``: across features within each row, then across rows through the
        inducing points."""
        batch, rows, features, dim = x.shape
        flat = x.reshape(batch * rows, features, dim)
        fmask = np.broadcast_to(feature_mask[:, None, :], (batch, rows, features)).reshape(
            batch * rows, features
        )
        x = self._block(f"{name}.feature_attention", flat, flat, fmask).reshape(
            batch, rows, features, dim
        )
        cols = x.transpose(0, 2, 1, 3).reshape(batch * features, rows, dim)
        rmask = np.broadcast_to(row_mask[:, None, :], (batch, features, rows)).reshape(
            batch * features, rows
        )
        points = self.weights[f"{name}.points"]  # (1, inducing, dim): broadcast over the sequences
        summary = np.broadcast_to(
            self._block(f"{name}.induce", points, cols, rmask),
            (batch * features, *points.shape[1:]),
        )
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
        cells, row_mask, feature_mask = _without_padding(cells, row_mask, feature_mask)

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


def _without_padding(
    cells: np.ndarray, row_mask: np.ndarray, feature_mask: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The inputs cut to the rows and features some view of the batch has (``encoding.batch``
    pads at the end, up to the model's view size).

    A padded position never reaches an output: it is a masked key of every attention, and the
    row and feature pools skip it; the real positions attend only among themselves. So the cut
    changes nothing but the cost (a table of 4 features was computed as 16). One padded
    position is kept where a batch has none of a kind, so that fully masked attention still
    reads the same (identical) padded values."""
    rows = _kept(row_mask)
    features = _kept(feature_mask)
    return cells[:, :rows, :features], row_mask[:, :rows], feature_mask[:, :features]


def _kept(mask: np.ndarray) -> int:
    """Positions up to the last one that any view uses (at least one)."""
    used = np.flatnonzero(mask.any(axis=0))
    return max(1, int(used[-1]) + 1) if used.size else min(1, mask.shape[1])


def max_difference(
    expected: dict[str, np.ndarray], actual: dict[str, np.ndarray]
) -> dict[str, float]:
    """Largest absolute difference per output present in both."""
    return {
        k: float(
            np.max(
                np.abs(np.asarray(expected[k], np.float64) - np.asarray(actual[k], np.float64)),
                initial=0.0,
            )
        )
        for k in expected
        if k in actual
    }
