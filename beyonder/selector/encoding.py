"""Turn a dataset sample into the tensors the model reads.

Every number here is invariant to the things that must not matter: row order, column order,
class label ids (classes enter only through class-wise statistics) and positive affine
rescaling of a numeric column (values enter as robust z-scores and ranks). Columns are
independent, so a random subset of columns is a valid view of the same dataset.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from beyonder.schema import RESERVED, TARGET

CELL_CHANNELS = (
    "z",  # robust z-score of a numeric value, clipped; 0 for categorical / missing
    "rank",  # rank of the value in its column, in [-0.5, 0.5]; category frequency rank for categoricals
    "missing",  # 1 where the cell is missing
    "categorical",  # 1 in categorical columns
    "level_share",  # share of rows with this categorical level (0 for numeric)
    "class_mean",  # mean of the cell's channel "z" over rows of the row's class (numeric) or
    # p(level | class) - p(level) (categorical): how this column tells the row's class apart
    "class_std",  # std of "z" within the row's class (numeric), 0 for categorical
    "class_share",  # share of rows in the row's class
)
GLOBAL_FEATURES = (
    "log_rows",
    "log_features",
    "log_classes",
    "class_entropy",
    "minority_share",
    "categorical_share",
    "missing_share",
    "distinct_row_share",
    # landmarkers: 2-fold accuracy of very cheap models, minus the majority-class rate
    "landmark_1nn",
    "landmark_centroid",
    "landmark_naive_bayes",
    "landmark_stump",
    "landmark_linear",
    "majority_rate",
)
N_LANDMARKS = 6
N_CHANNELS = len(CELL_CHANNELS)
N_GLOBALS = len(GLOBAL_FEATURES)
_CLIP = 5.0


@dataclass
class EncodedSample:
    """Cells (rows x features x channels) and dataset-level features of one sample."""

    cells: np.ndarray
    globals: np.ndarray


def split_sample(sample: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """Features (reserved columns removed) and the target as strings."""
    features = sample.drop(columns=[c for c in RESERVED if c in sample.columns])
    return features, sample[TARGET].astype(str).to_numpy()


def encode_sample(sample: pd.DataFrame) -> EncodedSample:
    """Encode every row and column of a cleaned sample (features plus ``TARGET``)."""
    features, y = split_sample(sample)
    n_rows, n_features = features.shape
    classes, y_idx = np.unique(y, return_inverse=True)
    onehot = np.eye(len(classes), dtype=np.float64)[y_idx]  # rows x classes
    class_count = onehot.sum(axis=0)
    class_share = class_count / n_rows

    cells = np.zeros((n_rows, n_features, N_CHANNELS), dtype=np.float32)
    cells[:, :, 7] = class_share[y_idx][:, None]
    numeric = [
        j
        for j, dtype in enumerate(features.dtypes)
        if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
    ]
    categorical = [j for j in range(n_features) if j not in set(numeric)]
    keys = np.zeros(n_rows, dtype=np.uint64)
    if numeric:
        keys += _encode_numeric(
            features.iloc[:, numeric].to_numpy(np.float64), onehot, y_idx, cells, numeric
        )
    if categorical:
        keys += _encode_categorical(
            features.iloc[:, categorical], y_idx, class_count, cells, categorical
        )

    missing_share = float(cells[:, :, 2].mean()) if n_features else 0.0
    entropy = -np.sum(class_share * np.log(class_share)) / max(np.log(len(classes)), 1e-9)
    distinct = len(np.unique(np.stack([keys, y_idx.astype(np.uint64)]), axis=1).T)
    globals_ = np.array(
        [
            np.log(n_rows),
            np.log(max(n_features, 1)),
            np.log(len(classes)),
            entropy if len(classes) > 1 else 0.0,
            class_share.min(),
            len(categorical) / max(n_features, 1),
            missing_share,
            distinct / n_rows,
        ],
        dtype=np.float32,
    )
    marks = landmarks(cells, y_idx, keys)
    return EncodedSample(cells=cells, globals=np.concatenate([globals_, marks]).astype(np.float32))


def _encode_numeric(
    x: np.ndarray, onehot: np.ndarray, y_idx: np.ndarray, cells: np.ndarray, columns: list[int]
) -> np.ndarray:
    """All numeric columns at once; returns their part of the row keys.

    A row key is a sum of per-cell hashes that equal rows share whatever the row and column
    order; numeric cells are hashed by dense rank, so positive affine rescaling keeps them.
    """
    missing = ~np.isfinite(x)
    x = np.where(missing, np.nan, x)
    median, q25, q75 = _column_quantiles(x, (0.5, 0.25, 0.75))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-missing columns
        std = np.nanstd(x, axis=0)
    scale = (q75 - q25) / 1.349
    scale = np.where(scale > 1e-12, scale, std)
    scale = np.where(scale > 1e-12, scale, 1.0)
    z = np.nan_to_num(np.clip((x - median) / scale, -_CLIP, _CLIP), nan=0.0)
    frame = pd.DataFrame(x)
    ranks = np.nan_to_num(frame.rank(method="average", pct=True).to_numpy() - 0.5, nan=0.0)
    present = (~missing).astype(np.float64)
    counts = onehot.T @ present  # classes x columns: non-missing values
    sums = onehot.T @ z
    sq = onehot.T @ (z * z)
    mean = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
    var = np.divide(sq, counts, out=np.zeros_like(sq), where=counts > 0) - mean**2
    cells[:, columns, 0] = z
    cells[:, columns, 1] = ranks
    cells[:, columns, 2] = missing
    cells[:, columns, 5] = mean[y_idx]
    cells[:, columns, 6] = np.sqrt(np.maximum(var, 0.0))[y_idx]
    dense = frame.rank(method="dense").to_numpy()
    keys = np.zeros(len(x), dtype=np.uint64)
    for j in range(dense.shape[1]):
        keys += pd.util.hash_array(dense[:, j])
    return keys


def _column_quantiles(x: np.ndarray, qs: tuple[float, ...]) -> list[np.ndarray]:
    """Per-column quantiles ignoring NaN (linear interpolation, as ``np.nanpercentile``),
    from one sort of the whole matrix instead of one call per column."""
    xs = np.sort(x, axis=0)  # NaN last
    n = (~np.isnan(x)).sum(axis=0)
    cols = np.arange(x.shape[1])
    out = []
    for q in qs:
        pos = q * np.maximum(n - 1, 0)
        lo = np.floor(pos).astype(int)
        hi = np.minimum(lo + 1, np.maximum(n - 1, 0))
        frac = pos - lo
        value = xs[lo, cols] * (1 - frac) + xs[hi, cols] * frac
        out.append(np.where(n > 0, value, np.nan))
    return out


def _encode_categorical(
    frame: pd.DataFrame,
    y_idx: np.ndarray,
    class_count: np.ndarray,
    cells: np.ndarray,
    columns: list[int],
) -> np.ndarray:
    """All categorical columns at once (level shares and class lift); returns their part of
    the row keys.

    Each column is factorized on its own; the levels of all columns are then numbered in one
    range, so counting levels and (class, level) pairs is one ``bincount`` for the sample.
    """
    n_rows = len(frame)
    keys = np.zeros(n_rows, dtype=np.uint64)
    codes = np.empty((n_rows, len(columns)), dtype=np.int64)
    offsets = np.zeros(len(columns) + 1, dtype=np.int64)
    for k in range(len(columns)):
        values = frame.iloc[:, k]
        # cleaned categorical columns are already strings: converting them again costs a copy
        strings = values if isinstance(values.dtype, pd.StringDtype) else values.astype("string")
        column_codes, levels = pd.factorize(strings, use_na_sentinel=True)
        # the row keys are pandas' hash of each cell's string (a missing cell hashes to the
        # largest uint64, as pandas does), computed once per level instead of once per cell
        hashes = np.append(
            pd.util.hash_array(np.asarray(levels, dtype=object), categorize=False),
            np.iinfo(np.uint64).max,
        )
        keys += hashes[column_codes]  # code -1 (missing) takes the last entry
        codes[:, k] = np.where(column_codes >= 0, column_codes + offsets[k], -1)
        offsets[k + 1] = offsets[k] + len(levels)
    n_levels = int(offsets[-1])
    present = codes >= 0
    rows, cols = np.nonzero(present)
    level = codes[rows, cols]
    level_share = np.bincount(level, minlength=n_levels) / n_rows
    # rank of a level by frequency within its column (ties averaged): no dependence on names
    freq_rank = np.zeros(n_levels)
    for k in range(len(columns)):
        segment = slice(offsets[k], offsets[k + 1])
        freq_rank[segment] = (
            pd.Series(level_share[segment]).rank(method="average", pct=True).to_numpy() - 0.5
        )
    n_classes = len(class_count)
    by_class = np.bincount(y_idx[rows] * n_levels + level, minlength=n_classes * n_levels)
    lift = by_class.reshape(n_classes, n_levels) / class_count[:, None] - level_share[None, :]
    out = cells[:, columns]
    out[..., 2] = ~present
    out[..., 3] = 1.0
    out[rows, cols, 1] = freq_rank[level]
    out[rows, cols, 4] = level_share[level]
    out[rows, cols, 5] = lift[y_idx[rows], level]
    cells[:, columns] = out
    return keys


def landmarks(
    cells: np.ndarray, y_idx: np.ndarray, groups: np.ndarray, max_rows: int = 500
) -> np.ndarray:
    """Accuracies of cheap models on a 2-fold split (equal rows, e.g. bootstrap copies of one
    source row, share a ``groups`` key and stay on one side),
    relative to the majority-class rate; the last value is that rate.

    Landmarkers are among the strongest classic meta-features (see META_LEARNING_NOTES). Only
    target-free channels are used as inputs: value (z-score or level share) and missing flag.
    """
    order = np.argsort(groups, kind="stable")  # a canonical row order: ties break the same way
    X = np.concatenate([cells[:, :, 0] + cells[:, :, 4], cells[:, :, 2]], axis=1).astype(np.float64)
    X, y_idx, groups = X[order], y_idx[order], groups[order]
    n = len(y_idx)
    if n > max_rows:  # the encoding may see more rows than a sample; cap the cost
        keep = np.random.default_rng(0).choice(n, max_rows, replace=False)
        X, y_idx, groups = X[keep], y_idx[keep], groups[keep]
    unique_groups = np.unique(groups)
    side = np.random.default_rng(0).random(len(unique_groups)) < 0.5
    fold = side[np.searchsorted(unique_groups, groups)]
    majority = np.bincount(y_idx).max() / len(y_idx)
    scores = []
    for name in ("1nn", "centroid", "naive_bayes", "stump", "linear"):
        correct, total = 0, 0
        for test_side in (False, True):
            tr, te = fold != test_side, fold == test_side
            if tr.sum() < 2 or te.sum() < 1 or len(np.unique(y_idx[tr])) < 2:
                continue
            pred = _landmark_predict(name, X[tr], y_idx[tr], X[te])
            correct += int((pred == y_idx[te]).sum())
            total += int(te.sum())
        scores.append(correct / total - majority if total else 0.0)
    return np.array([*scores, majority], dtype=np.float32)


def _landmark_predict(name: str, X: np.ndarray, y: np.ndarray, X_test: np.ndarray) -> np.ndarray:
    classes = np.unique(y)
    if name == "1nn":
        d = (X_test**2).sum(1)[:, None] - 2 * X_test @ X.T + (X**2).sum(1)[None, :]
        return y[np.argmin(d, axis=1)]
    means = np.stack([X[y == c].mean(axis=0) for c in classes])
    if name == "centroid":
        d = ((X_test[:, None, :] - means[None]) ** 2).sum(-1)
        return classes[np.argmin(d, axis=1)]
    if name == "naive_bayes":
        var = np.stack([X[y == c].var(axis=0) for c in classes]) + 1e-3
        prior = np.log(np.array([np.mean(y == c) for c in classes]))
        ll = -0.5 * (((X_test[:, None, :] - means[None]) ** 2) / var[None] + np.log(var[None])).sum(
            -1
        )
        return classes[np.argmax(ll + prior[None], axis=1)]
    if name == "stump":  # on the value columns only (the second half holds missing flags)
        half = X.shape[1] // 2
        return _stump(X[:, :half], y, X_test[:, :half], classes)
    # linear: least squares on one-hot targets (a ridge classifier)
    Y = (y[:, None] == classes[None]).astype(np.float64)
    A = np.hstack([X, np.ones((len(X), 1))])
    W = np.linalg.solve(A.T @ A + 1e-1 * np.eye(A.shape[1]), A.T @ Y)
    return classes[np.argmax(np.hstack([X_test, np.ones((len(X_test), 1))]) @ W, axis=1)]


def _stump(
    X: np.ndarray,
    y: np.ndarray,
    X_test: np.ndarray,
    classes: np.ndarray,
    max_counts: int = 2_000_000,
) -> np.ndarray:
    """The best single-feature, single-threshold split (by training accuracy; ties go to the
    first feature, then the first threshold). Features are scored in chunks of whole
    matrices: a Python loop per feature cost more than the network on wide tables."""
    onehot = (y[:, None] == classes[None]).astype(np.float64)
    n, n_features = X.shape
    best = (-1.0, 0, 0.0, classes[0], classes[0])
    chunk = max(1, max_counts // max(1, n * len(classes)))  # bounds the n x chunk x classes counts
    for start in range(0, n_features, chunk):
        block = X[:, start : start + chunk]
        order = np.argsort(block, axis=0, kind="stable")
        xs = np.take_along_axis(block, order, axis=0)
        counts = np.cumsum(onehot[order], axis=0)  # rows x features x classes
        left, right = counts[:-1], counts[-1][None] - counts[:-1]
        acc = np.where(np.diff(xs, axis=0) > 0, left.max(2) + right.max(2), -np.inf)
        if acc.size == 0 or not np.isfinite(acc).any():
            continue
        c, j = np.unravel_index(np.argmax(acc.T), acc.T.shape)[
            ::-1
        ]  # feature-major: first j, then c
        if acc[c, j] > best[0]:
            best = (
                acc[c, j],
                start + j,
                (xs[c, j] + xs[c + 1, j]) / 2,
                classes[left[c, j].argmax()],
                classes[right[c, j].argmax()],
            )
    _, j, threshold, left_class, right_class = best
    return np.where(X_test[:, j] <= threshold, left_class, right_class)


def view(
    encoded: EncodedSample, rows: int, features: int, rng: np.random.Generator | None
) -> EncodedSample:
    """A view of at most ``rows`` rows and ``features`` columns.

    With ``rng`` None the view keeps the first rows/columns (the caller should then pass a
    sample that already fits, as the invariance tests do); otherwise it draws a random subset,
    which doubles as label-preserving augmentation (row and column order never matter).
    """
    cells = encoded.cells
    n_rows, n_features = cells.shape[:2]
    if rng is None:
        return EncodedSample(cells[:rows, :features], encoded.globals)
    row_idx = rng.permutation(n_rows)[:rows] if n_rows > rows else rng.permutation(n_rows)
    feat_idx = rng.permutation(n_features)[:features]
    return EncodedSample(cells[np.ix_(row_idx, feat_idx)], encoded.globals)


def batch(views: list[EncodedSample], rows: int, features: int) -> dict[str, np.ndarray]:
    """Pad views to fixed (rows, features) and stack them into model inputs with masks."""
    n = len(views)
    cells = np.zeros((n, rows, features, N_CHANNELS), dtype=np.float32)
    row_mask = np.zeros((n, rows), dtype=np.float32)
    feature_mask = np.zeros((n, features), dtype=np.float32)
    globals_ = np.zeros((n, N_GLOBALS), dtype=np.float32)
    for i, v in enumerate(views):
        r, f = v.cells.shape[:2]
        cells[i, :r, :f] = v.cells[:rows, :features]
        row_mask[i, : min(r, rows)] = 1.0
        feature_mask[i, : min(f, features)] = 1.0
        globals_[i] = v.globals
    return {"cells": cells, "row_mask": row_mask, "feature_mask": feature_mask, "globals": globals_}
