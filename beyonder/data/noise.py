"""Augmentation by noise injection: a perturbed twin of a sample for more meta-training data.

Noise is drawn per *source row* (``ROW_ID``), not per sample row, so the copies of one source
row in a bootstrap sample stay exact duplicates of each other: the sample keeps its bootstrap
structure and group-aware folds stay meaningful. Missing cells stay missing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from beyonder import schema
from beyonder.params import NoiseParams


def _flip_levels(
    column: pd.Series, src: np.ndarray, n_src: int, prob: float, rng: np.random.Generator
) -> pd.Series:
    """Replace cells by a uniformly chosen *other* level of the column with probability prob."""
    codes, levels = pd.factorize(column, sort=True)  # missing -> code -1
    n_levels = len(levels)
    flip = rng.random(n_src) < prob
    # Offset in 1..L-1 so the new level always differs from the old one.
    offset = rng.integers(1, max(n_levels, 2), size=n_src)
    if n_levels < 2 or not flip.any():
        return column.copy()
    row_flip = flip[src] & (codes >= 0)
    new_codes = np.where(row_flip, (codes + offset[src]) % n_levels, codes)
    values = np.asarray(levels, dtype=object)[np.maximum(new_codes, 0)]
    missing = codes < 0
    values[missing] = column.to_numpy(dtype=object)[missing]
    out = pd.Series(values, index=column.index, name=column.name, dtype=object)
    try:
        return out.astype(column.dtype)
    except (TypeError, ValueError):
        return out


def inject_noise(
    sample: pd.DataFrame,
    rng: np.random.Generator,
    numeric_jitter: float = NoiseParams.numeric_jitter,
    categorical_flip: float = NoiseParams.categorical_flip,
    label_noise: float = NoiseParams.label_noise,
) -> pd.DataFrame:
    """A noisy copy of ``sample`` (the input is not modified).

    - float columns: ``x + numeric_jitter * std(column) * N(0, 1)``;
    - other feature columns: each cell swapped for a random other level of its column with
      probability ``categorical_flip``;
    - ``TARGET``: swapped for a random other class with probability ``label_noise``.

    All draws are per source row id, so copies of a row get the same noise. ``ROW_ID`` is kept
    (rows are treated as their own source when it is absent). Deterministic for a given rng
    state: the draws are made column by column in frame order.
    """
    for name, value in [
        ("numeric_jitter", numeric_jitter),
        ("categorical_flip", categorical_flip),
        ("label_noise", label_noise),
    ]:
        if not value >= 0:
            raise ValueError(f"{name} must be >= 0, got {value}")
    if categorical_flip > 1 or label_noise > 1:
        raise ValueError("categorical_flip and label_noise are probabilities (<= 1)")
    if schema.ROW_ID in sample.columns:
        _, src = np.unique(sample[schema.ROW_ID].to_numpy(), return_inverse=True)
    else:
        src = np.arange(len(sample))
    src = np.asarray(src).reshape(-1)
    n_src = int(src.max()) + 1 if len(src) else 0
    out = sample.copy()
    for col in sample.columns:
        if col == schema.ROW_ID:
            continue
        column = sample[col]
        if col == schema.TARGET:
            out[col] = _flip_levels(column, src, n_src, label_noise, rng)
        elif pd.api.types.is_float_dtype(column.dtype):
            z = rng.standard_normal(n_src)
            std = float(column.std())
            if numeric_jitter > 0 and np.isfinite(std) and std > 0:
                out[col] = column + numeric_jitter * std * z[src]
        else:
            out[col] = _flip_levels(column, src, n_src, categorical_flip, rng)
    return out
