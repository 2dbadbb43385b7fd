"""A seeded generator of varied classification datasets, to widen the meta-training set.

A meta-model only learns which classifier wins from datasets on which *different* classifiers
win, so the generators are mixed on purpose:

- ``make_classification``: scikit-learn's hypercube clusters (class_sep, clusters, flip_y);
- ``linear``: argmax of noisy linear scores (favours linear models);
- ``mlp``: argmax of a random small MLP of (possibly correlated) inputs, SCM-like (smooth
  non-linear boundaries: RBF SVMs, boosting);
- ``tree``: a random axis-aligned decision tree labels the inputs (favours trees/forests);
- ``checkerboard``: XOR-like parity of quantile cells of a few features (trees, not linear);
- ``prototype``: nearest weighted prototype (favours k-NN / RBF kernels);
- ``blobs``: class-conditional Gaussians, diagonal or rotated (naive Bayes / QDA-like).

Each dataset then gets nuisance columns (redundant mixtures and pure noise), per-column scales,
heavy tails and integer rounding, a share of columns quantile-binned into string levels
(``c0``, ``c1``...), missing cells (NaN) and flipped labels. Class priors are skewed towards a
random power law by ``imbalance``. Dataset ``i`` of ``load_synthetic`` is drawn from
``np.random.default_rng([seed, i])`` only, so it never depends on how many datasets are made.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.datasets import make_classification

from beyonder.data.datasets import RawDataset, safe_name

SOURCE = "synthetic"
TARGET = "class"
GENERATORS = (
    "make_classification",
    "linear",
    "mlp",
    "tree",
    "checkerboard",
    "prototype",
    "blobs",
)
INPUTS = ("gaussian", "correlated", "uniform", "heavy_tailed", "mixed")
MIN_PER_CLASS = 6
"""Rows each class gets before label noise (5-fold stratified CV needs 5)."""


@dataclass(frozen=True)
class SyntheticSpec:
    """Ranges the parameters of each dataset are drawn from (inclusive)."""

    rows: tuple[int, int] = (80, 1200)
    features: tuple[int, int] = (2, 40)
    informative_share: tuple[float, float] = (0.2, 1.0)
    classes: tuple[int, int] = (2, 8)
    imbalance: tuple[float, float] = (0.0, 0.8)
    """Weight of a random power-law prior against the uniform one (0 = balanced)."""
    categorical_share: tuple[float, float] = (0.0, 0.5)
    missing_share: tuple[float, float] = (0.0, 0.15)
    label_noise: tuple[float, float] = (0.0, 0.2)
    generators: tuple[str, ...] = GENERATORS
    zero_chance: float = 0.3
    """Chance that categorical/missing/label-noise shares are each exactly 0 (clean datasets)."""

    @classmethod
    def from_ranges(cls, ranges: dict[str, Any]) -> SyntheticSpec:
        """A spec from a params ``spec`` mapping, whose ranges YAML reads as lists."""
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in ranges.items()})

    def __post_init__(self) -> None:
        for field_name in ("rows", "features", "classes"):
            lo, hi = getattr(self, field_name)
            if not 1 <= lo <= hi:
                raise ValueError(f"{field_name} must satisfy 1 <= min <= max, got {(lo, hi)}")
        if self.classes[0] < 2:
            raise ValueError(f"classes must be at least 2, got {self.classes}")
        if self.rows[0] < 2 * MIN_PER_CLASS:
            raise ValueError(f"rows must be at least {2 * MIN_PER_CLASS}, got {self.rows}")
        for field_name in (
            "informative_share",
            "imbalance",
            "categorical_share",
            "missing_share",
            "label_noise",
        ):
            lo, hi = getattr(self, field_name)
            if not 0.0 <= lo <= hi <= 1.0:
                raise ValueError(f"{field_name} must satisfy 0 <= min <= max <= 1, got {(lo, hi)}")
        unknown = set(self.generators) - set(GENERATORS)
        if unknown or not self.generators:
            raise ValueError(f"generators must be a non-empty subset of {GENERATORS}")
        if not 0.0 <= self.zero_chance <= 1.0:
            raise ValueError(f"zero_chance must be in [0, 1], got {self.zero_chance}")


def load_synthetic(
    n_datasets: int,
    seed: int,
    spec: SyntheticSpec | None = None,
    prefix: str = "synthetic",
) -> Iterator[RawDataset]:
    """Yield ``n_datasets`` datasets named ``<prefix>.0000``...; same seed, same datasets."""
    spec = spec or SyntheticSpec()
    for i in range(n_datasets):
        rng = np.random.default_rng([seed, i])
        dataset = generate_dataset(rng, spec, f"{prefix}.{i:04d}")
        dataset.origin = f"synthetic:seed={seed}:index={i}"
        dataset.meta["seed"] = [int(seed), i]
        yield dataset


def generate_dataset(rng: np.random.Generator, spec: SyntheticSpec, name: str) -> RawDataset:
    """One dataset drawn from ``spec`` with ``rng``; ``meta`` records every drawn parameter."""
    n_rows = _log_uniform_int(rng, *spec.rows)
    n_features = _log_uniform_int(rng, *spec.features)
    n_classes = int(rng.integers(spec.classes[0], spec.classes[1] + 1))
    n_classes = max(2, min(n_classes, n_rows // (2 * MIN_PER_CLASS)))
    n_informative = int(
        np.clip(round(rng.uniform(*spec.informative_share) * n_features), 1, n_features)
    )
    imbalance = float(rng.uniform(*spec.imbalance))
    priors = _priors(rng, n_classes, imbalance, n_rows)
    categorical_share = _share(rng, spec.categorical_share, spec.zero_chance)
    missing_share = _share(rng, spec.missing_share, spec.zero_chance)
    label_noise = _share(rng, spec.label_noise, spec.zero_chance)
    kind = str(spec.generators[int(rng.integers(len(spec.generators)))])

    x_inf, y, params = _GENERATORS[kind](rng, n_rows, n_informative, n_classes, priors)
    kind = params.pop("kind", kind)
    n_informative = x_inf.shape[1]
    x, informative, nuisance = _add_nuisance(rng, x_inf, max(n_features, n_informative))
    x, transforms = _transform_columns(rng, x)
    columns = [f"x{j}" for j in range(x.shape[1])]
    frame = pd.DataFrame({c: x[:, j] for j, c in enumerate(columns)})
    categorical = _binarise_categoricals(rng, frame, categorical_share)
    missing_cells = _inject_missing(rng, frame, missing_share)
    y, flipped = _flip_labels(rng, y, n_classes, label_noise)
    frame[TARGET] = pd.Series([f"y{k}" for k in y], dtype="str")

    meta = {
        "format": "synthetic",
        "generator": kind,
        "params": _jsonable(params),
        "n_rows": int(n_rows),
        "n_features": int(x.shape[1]),
        "n_informative": int(n_informative),
        "informative_columns": [columns[j] for j in informative],
        "nuisance": nuisance,
        "n_classes": int(n_classes),
        "priors": [round(float(p), 4) for p in priors],
        "class_counts": np.bincount(y, minlength=n_classes).tolist(),
        "imbalance": round(imbalance, 4),
        "categorical_share": round(categorical_share, 4),
        "categorical_columns": categorical,
        "missing_share": round(missing_share, 4),
        "missing_cells": int(missing_cells),
        "label_noise": round(label_noise, 4),
        "flipped_labels": int(flipped),
        "transforms": transforms,
        "spec": _jsonable(asdict(spec)),
    }
    return RawDataset(
        name=safe_name(name),
        source=SOURCE,
        frame=frame,
        target=TARGET,
        origin=f"synthetic:{safe_name(name)}",
        meta=meta,
    )


# --- parameter draws ---------------------------------------------------------------------


def _log_uniform_int(rng: np.random.Generator, lo: int, hi: int) -> int:
    """Log-uniform integer: small and large sizes are equally common on a log scale."""
    value = math.exp(rng.uniform(math.log(lo), math.log(hi + 1)))
    return int(min(max(math.floor(value), lo), hi))


def _share(rng: np.random.Generator, bounds: tuple[float, float], zero_chance: float) -> float:
    draw = float(rng.uniform(*bounds))
    zero = rng.random() < zero_chance
    return float(bounds[0]) if zero else draw


def _priors(rng: np.random.Generator, k: int, imbalance: float, n_rows: int) -> np.ndarray:
    """Uniform priors mixed with a shuffled power law; every class keeps MIN_PER_CLASS rows."""
    alpha = rng.uniform(0.5, 2.5)
    skew = 1.0 / np.arange(1, k + 1) ** alpha
    skew = rng.permutation(skew / skew.sum())
    priors = (1 - imbalance) / k + imbalance * skew
    floor = MIN_PER_CLASS / n_rows
    priors = np.maximum(priors, floor)
    return priors / priors.sum()


def _counts(priors: np.ndarray, n: int) -> np.ndarray:
    """Exact class counts for ``n`` rows (largest remainder), each at least MIN_PER_CLASS."""
    raw = priors * n
    counts = np.floor(raw).astype(int)
    order = np.argsort(-(raw - counts), kind="stable")
    counts[order[: n - counts.sum()]] += 1
    for k in np.flatnonzero(counts < MIN_PER_CLASS):
        need = MIN_PER_CLASS - counts[k]
        counts[k] += need
        counts[int(np.argmax(counts))] -= need
    return counts


# --- inputs ------------------------------------------------------------------------------


def _inputs(rng: np.random.Generator, n: int, d: int) -> tuple[np.ndarray, str]:
    kind = str(INPUTS[int(rng.integers(len(INPUTS)))])
    if kind == "mixed":
        x = np.column_stack([_marginal(rng, n, str(rng.choice(INPUTS[:4]))) for _ in range(d)])
    elif kind == "correlated":
        a = rng.normal(size=(d, d))
        cov = a @ a.T / d + 0.1 * np.eye(d)
        x = rng.standard_normal((n, d)) @ np.linalg.cholesky(cov).T
        x = (x - x.mean(0)) / (x.std(0) + 1e-12)
    else:
        x = np.column_stack([_marginal(rng, n, kind) for _ in range(d)])
    return x, kind


def _marginal(rng: np.random.Generator, n: int, kind: str) -> np.ndarray:
    if kind == "uniform":
        return rng.uniform(-math.sqrt(3), math.sqrt(3), n)
    if kind == "heavy_tailed":
        return rng.standard_t(rng.uniform(1.5, 5.0), n)
    if kind == "correlated":  # as a marginal: a skewed variable
        return rng.gamma(rng.uniform(0.5, 3.0), 1.0, n)
    return rng.standard_normal(n)


# --- label rules -------------------------------------------------------------------------

GeneratorFn = Callable[
    [np.random.Generator, int, int, int, np.ndarray], tuple[np.ndarray, np.ndarray, dict]
]


def _gen_make_classification(rng, n, d, k, priors):
    clusters = int(rng.integers(1, 4))
    while clusters > 1 and k * clusters > 2**d:
        clusters -= 1
    if k * clusters > 2**d:
        return _gen_prototype(rng, n, d, k, priors)  # too few informative features for k
    params = {
        "class_sep": float(rng.uniform(0.3, 2.5)),
        "n_clusters_per_class": clusters,
        "flip_y": float(rng.uniform(0.0, 0.05)),
        "hypercube": bool(rng.random() < 0.7),
    }
    x, y = make_classification(
        n_samples=n,
        n_features=d,
        n_informative=d,
        n_redundant=0,
        n_repeated=0,
        n_classes=k,
        weights=list(priors),
        shuffle=True,
        random_state=int(rng.integers(2**31 - 1)),
        **params,
    )
    return x, _top_up_labels(rng, y, k), params


def _gen_linear(rng, n, d, k, priors):
    x, inputs = _inputs(rng, n, d)
    w = rng.normal(size=(d, k)) * (rng.random((d, 1)) < rng.uniform(0.3, 1.0) + 0.01)
    scores = x @ w
    noise = float(rng.uniform(0.0, 1.0))
    scores = scores + noise * scores.std() * rng.standard_normal(scores.shape)
    return x, _labels_from_scores(scores, priors), {"input": inputs, "score_noise": noise}


def _gen_mlp(rng, n, d, k, priors):
    x, inputs = _inputs(rng, n, d)
    depth = int(rng.integers(1, 4))
    width = int(rng.integers(8, 65))
    activation = str(rng.choice(["tanh", "relu", "sin"]))
    gain = float(rng.uniform(1.0, 3.0))
    h = x
    for _ in range(depth):
        w = rng.normal(size=(h.shape[1], width)) * gain / math.sqrt(h.shape[1])
        h = h @ w + rng.normal(size=width) * 0.5
        h = (
            np.tanh(h)
            if activation == "tanh"
            else np.sin(h)
            if activation == "sin"
            else np.maximum(h, 0)
        )
    scores = h @ rng.normal(size=(width, k))
    scores = scores + 0.1 * scores.std() * rng.standard_normal(scores.shape)
    params = {
        "input": inputs,
        "depth": depth,
        "width": width,
        "activation": activation,
        "gain": gain,
    }
    return x, _labels_from_scores(scores, priors), params


def _gen_tree(rng, n, d, k, priors):
    x, inputs = _inputs(rng, n, d)
    max_depth = int(rng.integers(2, 7))
    leaf = np.zeros(n, dtype=int)
    n_leaves = 0
    stack = [(np.arange(n), 0)]
    while stack:
        rows, depth = stack.pop()
        if depth >= max_depth or len(rows) < 2 * MIN_PER_CLASS:
            leaf[rows] = n_leaves
            n_leaves += 1
            continue
        feature = int(rng.integers(d))
        threshold = np.quantile(x[rows, feature], rng.uniform(0.2, 0.8))
        left = rows[x[rows, feature] <= threshold]
        right = rows[x[rows, feature] > threshold]
        if len(left) == 0 or len(right) == 0:
            leaf[rows] = n_leaves
            n_leaves += 1
            continue
        stack.extend([(right, depth + 1), (left, depth + 1)])
    scores = rng.normal(size=(n_leaves, k))[leaf] * 3.0
    params = {"input": inputs, "max_depth": max_depth, "leaves": n_leaves}
    return x, _labels_from_scores(scores, priors), params


def _gen_checkerboard(rng, n, d, k, priors):
    r = int(min(d, rng.integers(1, 4)))
    cuts = [int(rng.integers(1, 4)) for _ in range(r)]
    while math.prod(c + 1 for c in cuts) < k:  # enough cells for every class
        cuts[int(rng.integers(r))] += 1
    # class = sum(digit_i * m_i) mod k: neighbouring cells always differ (XOR-like parity);
    # m must reach every class, else fall back to the mixed-radix cell index.
    radix = [math.prod(c + 1 for c in cuts[:i]) for i in range(r)]
    multipliers = radix
    for _ in range(10):
        trial = [int(m) for m in rng.integers(1, k, size=r)]
        if _residues(cuts, trial, k) == k:
            multipliers = trial
            break
    pool = 4 * n
    x, inputs = _inputs(rng, pool, d)
    features = rng.choice(d, size=r, replace=False)
    y = np.zeros(pool, dtype=int)
    for f, c, m in zip(features, cuts, multipliers, strict=True):
        edges = np.quantile(x[:, f], np.sort(rng.uniform(0.1, 0.9, c)))
        y += np.searchsorted(edges, x[:, f]) * m
    y = (y + int(rng.integers(k))) % k
    keep = _subsample_to_priors(rng, y, n, priors)
    params = {
        "input": inputs,
        "features": [int(f) for f in features],
        "cuts": cuts,
        "multipliers": multipliers,
    }
    return x[keep], _top_up_labels(rng, y[keep], k), params


def _residues(cuts: list[int], multipliers: list[int], k: int) -> int:
    """How many classes ``sum(digit_i * m_i) mod k`` reaches over all cells."""
    reached = {0}
    for c, m in zip(cuts, multipliers, strict=True):
        reached = {(v + digit * m) % k for v in reached for digit in range(c + 1)}
    return len(reached)


def _gen_prototype(rng, n, d, k, priors):
    x, inputs = _inputs(rng, n, d)
    per_class = int(rng.integers(1, 13))  # many small Voronoi cells: local methods shine
    prototypes = x[rng.choice(n, size=min(n, k * per_class), replace=False)]
    owner = np.arange(len(prototypes)) % k
    weights = rng.gamma(rng.choice([1.0, 5.0]), 1.0, d)  # anisotropic or near-Euclidean metric
    dist = (((x[:, None, :] - prototypes[None, :, :]) ** 2) * weights).sum(-1)
    scores = np.empty((n, k))
    for c in range(k):
        scores[:, c] = -np.sqrt(dist[:, owner == c].min(1))
    params = {"input": inputs, "prototypes_per_class": per_class, "kind": "prototype"}
    return x, _labels_from_scores(scores, priors), params


def _gen_blobs(rng, n, d, k, priors):
    counts = _counts(priors, n)
    separation = float(rng.uniform(0.5, 2.5))
    rotated = bool(rng.random() < 0.5)
    spread = float(rng.uniform(0.2, 1.0))
    parts = []
    for c in range(k):
        mean = rng.normal(size=d) * separation
        scale = np.exp(rng.normal(0.0, spread, d))  # class-specific variances (naive Bayes)
        z = rng.standard_normal((counts[c], d)) * scale
        if rotated:
            q, _ = np.linalg.qr(rng.normal(size=(d, d)))
            z = z @ q
        parts.append(z + mean)
    x = np.vstack(parts)
    y = np.repeat(np.arange(k), counts)
    order = rng.permutation(n)
    params = {"separation": separation, "rotated": rotated, "variance_spread": spread}
    return x[order], y[order], params


_GENERATORS: dict[str, GeneratorFn] = {
    "make_classification": _gen_make_classification,
    "linear": _gen_linear,
    "mlp": _gen_mlp,
    "tree": _gen_tree,
    "checkerboard": _gen_checkerboard,
    "prototype": _gen_prototype,
    "blobs": _gen_blobs,
}


def _labels_from_scores(scores: np.ndarray, priors: np.ndarray) -> np.ndarray:
    """argmax(scores + bias), the bias tuned so class shares approach ``priors``.

    Shifting a per-class bias keeps the rule's boundaries' shape (and a tree's leaves pure)
    while moving the class balance; a final top-up guarantees MIN_PER_CLASS rows per class.
    """
    n, k = scores.shape
    s = scores - scores.max(1, keepdims=True)
    top2 = np.sort(s, axis=1)[:, -2] if k > 1 else np.zeros(n)
    scale = float(np.median(-top2))
    if not scale > 0:
        scale = float(np.mean(-top2)) or 1.0
    s = s / scale  # in units of the typical winner-to-runner-up gap
    target = np.maximum(priors * n, 1.0)
    bias = np.zeros(k)
    best_bias, best_error = bias.copy(), np.inf
    step = 0.5
    for _ in range(300):
        counts = np.bincount(np.argmax(s + bias, 1), minlength=k)
        error = float(np.abs(counts - target).sum())
        if error < best_error:
            best_bias, best_error = bias.copy(), error
        if np.all(np.abs(counts - target) <= max(1.0, 0.02 * n)):
            break
        bias = bias + step * (np.log(target) - np.log(counts + 0.5))
        step *= 0.98
    bias = best_bias
    biased = s + bias
    labels = np.argmax(biased, 1)
    counts = np.bincount(labels, minlength=k)
    for c in np.flatnonzero(counts < MIN_PER_CLASS):
        margin = biased[:, c] - biased[np.arange(n), labels]
        _fill_class(labels, counts, c, np.argsort(-margin, kind="stable"))
    return labels


def _fill_class(labels: np.ndarray, counts: np.ndarray, c: int, order: np.ndarray) -> None:
    """Relabel rows, in ``order``, of classes that can spare one (more than MIN_PER_CLASS
    rows) to class ``c`` until it has MIN_PER_CLASS; ``labels`` and ``counts`` change in place."""
    for row in order:
        if counts[c] >= MIN_PER_CLASS:
            break
        donor = labels[row]
        if donor != c and counts[donor] > MIN_PER_CLASS:
            labels[row] = c
            counts[donor] -= 1
            counts[c] += 1


def _top_up_labels(rng: np.random.Generator, y: np.ndarray, k: int) -> np.ndarray:
    """Relabel random rows of big classes so that every class has MIN_PER_CLASS rows."""
    y = np.asarray(y, dtype=int).copy()
    counts = np.bincount(y, minlength=k)
    for c in np.flatnonzero(counts < MIN_PER_CLASS):
        _fill_class(y, counts, c, rng.permutation(len(y)))
    return y


def _subsample_to_priors(
    rng: np.random.Generator, y: np.ndarray, n: int, priors: np.ndarray
) -> np.ndarray:
    """Row indices of ``n`` pool rows whose class shares follow ``priors`` as far as possible."""
    want = _counts(priors, n)
    chosen = []
    for c, m in enumerate(want):
        rows = np.flatnonzero(y == c)
        chosen.append(rng.permutation(rows)[:m])
    keep = np.concatenate(chosen)
    if len(keep) < n:  # some class was short in the pool: fill from the rest
        rest = np.setdiff1d(np.arange(len(y)), keep)
        keep = np.concatenate([keep, rng.permutation(rest)[: n - len(keep)]])
    return rng.permutation(keep)


# --- columns -----------------------------------------------------------------------------


def _add_nuisance(
    rng: np.random.Generator, x_inf: np.ndarray, n_features: int
) -> tuple[np.ndarray, list[int], dict]:
    """Append redundant mixtures and pure-noise columns, then shuffle the column order."""
    n, d = x_inf.shape
    extra = n_features - d
    redundant_share = float(rng.uniform(0.0, 0.5)) if rng.random() < 0.6 else 0.0
    n_redundant = int(rng.binomial(extra, redundant_share)) if extra else 0
    blocks = [x_inf]
    if n_redundant:
        mix = rng.normal(size=(d, n_redundant))
        red = x_inf @ mix / math.sqrt(d)
        red = red + rng.uniform(0.0, 0.5) * rng.standard_normal(red.shape)
        blocks.append(red)
    for _ in range(extra - n_redundant):
        blocks.append(_marginal(rng, n, str(rng.choice(INPUTS[:4])))[:, None])
    x = np.hstack(blocks)
    order = rng.permutation(x.shape[1])
    informative = sorted(int(np.flatnonzero(order == j)[0]) for j in range(d))
    return x[:, order], informative, {"redundant": n_redundant, "noise": extra - n_redundant}


def _transform_columns(rng: np.random.Generator, x: np.ndarray) -> tuple[np.ndarray, dict]:
    """Different scales, heavy (log-normal) tails and integer counts, column by column."""
    x = x.astype(float, copy=True)
    p_heavy = float(rng.uniform(0.0, 0.3))
    p_int = float(rng.uniform(0.0, 0.3))
    rescale = bool(rng.random() < 0.6)
    heavy, integer = [], []
    for j in range(x.shape[1]):
        col = x[:, j]
        centre = np.median(col)
        spread = np.subtract(*np.percentile(col, [75, 25])) or (col.std() or 1.0)
        z = np.clip((col - centre) / spread, -8, 8)
        if rng.random() < p_heavy:
            col = np.exp(z * rng.uniform(0.5, 1.5))
            heavy.append(j)
        if rescale:
            col = col * 10 ** rng.uniform(-2, 3) + rng.normal() * 10 ** rng.uniform(-1, 2)
        if rng.random() < p_int:
            col = np.round(
                (col - col.min()) / ((col.max() - col.min()) or 1.0) * rng.integers(3, 30)
            )
            integer.append(j)
        x[:, j] = col
    transforms = {
        "rescaled": rescale,
        "heavy_tailed": [f"x{j}" for j in heavy],
        "integer": [f"x{j}" for j in integer],
    }
    return x, transforms


def _binarise_categoricals(
    rng: np.random.Generator, frame: pd.DataFrame, share: float
) -> list[str]:
    """Quantile-bin a share of the columns into string levels ``c0``... (in place)."""
    n_cat = int(round(share * frame.shape[1]))
    if n_cat == 0:
        return []
    chosen = sorted(rng.choice(frame.shape[1], size=n_cat, replace=False).tolist())
    names = []
    for j in chosen:
        column = frame.columns[j]
        values = frame[column].to_numpy()
        levels = int(rng.integers(2, 9))
        edges = np.unique(np.quantile(values, np.linspace(0, 1, levels + 1)[1:-1]))
        codes = np.searchsorted(edges, values, side="right")
        if rng.random() < 0.5:  # nominal, not ordinal: the level names lose their order
            codes = rng.permutation(len(edges) + 1)[codes]
        frame[column] = pd.Series([f"c{c}" for c in codes], dtype="str")
        names.append(str(column))
    return names


def _inject_missing(rng: np.random.Generator, frame: pd.DataFrame, share: float) -> int:
    """Blank cells at random, at a rate that varies by column around ``share`` (in place)."""
    if share <= 0:
        return 0
    n, p = frame.shape
    weights = rng.gamma(0.7, 1.0, p)
    rates = np.clip(share * weights / max(weights.mean(), 1e-12), 0.0, 0.6)
    total = 0
    for j, column in enumerate(list(frame.columns)):
        mask = rng.random(n) < rates[j]
        if mask.any():
            frame.loc[mask, column] = np.nan
            total += int(mask.sum())
    return total


def _flip_labels(
    rng: np.random.Generator, y: np.ndarray, k: int, share: float
) -> tuple[np.ndarray, int]:
    """Move a share of the labels to a different random class (label noise)."""
    y = np.asarray(y, dtype=int).copy()
    flip = rng.random(len(y)) < share
    y[flip] = (y[flip] + rng.integers(1, k, size=int(flip.sum()))) % k
    return y, int(flip.sum())


def _jsonable(value: object) -> object:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
