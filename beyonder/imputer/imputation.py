"""Masked-cell imputation with the set Transformer: the core (tables, views, masks, network,
training, prediction). The interfaces (``beyonder.impute``, ``BeyonderImputer``, ``beyonder
impute``) are in ``beyonder/imputer/api.py``; the pipeline stage in ``beyonder/stages/imputer.py``.

Why a cell-level model: predicting a hidden cell needs its own row (the other features of
that row: attention across the features of a row) and rows like it (attention across the rows
of a feature), which is exactly what the selector's axial blocks compute before pooling. Here
nothing is pooled: every cell keeps its embedding, and two heads read it:

- numeric cells: the value in standardised units of its column (mean and std of the observed
  cells of the view), trained by MSE on hidden cells only;
- categorical cells: a score per level of the cell's column, the dot product of the cell's
  query with a *level prototype*, the mean key of the observed cells holding that level (plus a
  learned weight on the level's log share). Levels are never named or numbered for the network,
  so renaming or reordering them changes nothing; trained by cross-entropy on hidden cells.

Inputs are target-free (the class column is not a feature unless a caller asks), per-column
(so column order cannot matter) and per-row symmetric (no positional encoding): the same
invariances as the selector. Training hides random cells of real tables (MCAR at a random rate,
and a share of missing-not-at-random masks that hide one side of a column's distribution) and
scores only hidden cells whose true value is known.

Tables larger than a view (``rows`` x ``features``) are filled in chunks of rows that each see
the same random context rows, and columns in random groups; ``views`` passes with different
draws are averaged.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from beyonder.params import ImputerParams, LocalSource, Params
from beyonder.selector.fitting import epoch_batches, fit_batches, seed_keras

CHANNELS = (
    "z",  # standardised value (numeric, observed), clipped; 0 otherwise
    "rank",  # rank in the column among observed cells, or the level's frequency rank, in [-0.5, 0.5]
    "missing",  # 1 where the cell is missing or hidden (what the network must fill)
    "categorical",  # 1 in categorical columns
    "level_share",  # share of the view's rows holding this level (categorical, observed)
    "observed_share",  # share of the column's cells that are observed
    "ridge",  # a ridge regression's estimate of the standardised value from the row's other cells
    "knn",  # the mean standardised value of the row's nearest rows (numeric columns)
)
K_NEIGHBOURS = 5
RIDGE_PENALTIES = (0.01, 0.1, 1.0, 10.0, 100.0)
RIDGE_ROUNDS = 2
N_CHANNELS = len(CHANNELS)
CONFIG_FILE = "imputer.json"
MODEL_FILE = "imputer.keras"
_CLIP_INPUT = 5.0
_CLIP_TARGET = 10.0
MIN_OBSERVED = 2
"""A column needs this many observed cells in a view to be standardised (else it is left out
of the loss); a whole table needs it per column to be imputed at all."""


@dataclass
class ImputerConfig(ImputerParams):
    """Every knob of the network, its training and prediction; saved beside the weights.

    The ``impute`` section of ``params.yaml`` (``ImputerParams``: the one home of its
    defaults) plus the seed (the top-level ``seed`` in the pipeline)."""

    seed: int = 0

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ImputerConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown impute settings {sorted(unknown)} (known: {sorted(known)})")
        return cls(**values)


# ---------------------------------------------------------------------------------------------
# tables


@dataclass
class Table:
    """A table's features as arrays: numeric values (NaN: missing) and categorical codes."""

    values: np.ndarray  # rows x columns float64; NaN where missing or categorical
    codes: np.ndarray  # rows x columns int64; level index (most frequent first), -1 missing/numeric
    categorical: np.ndarray  # columns, bool
    levels: list[np.ndarray | None]  # per column: its levels (original values), None if numeric
    columns: list[Any]

    @property
    def missing(self) -> np.ndarray:
        return np.where(self.categorical[None, :], self.codes < 0, np.isnan(self.values))

    @property
    def shape(self) -> tuple[int, int]:
        return self.values.shape


def is_numeric(series: pd.Series) -> bool:
    """Numbers are imputed as numbers; booleans, strings and categories as levels."""
    return pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(
        series.dtype
    )


def table_from_frame(frame: pd.DataFrame) -> Table:
    """Arrays of a frame's columns; categorical levels ordered by frequency (ties: first seen),
    so the order carries no meaning the network could learn from names."""
    n, p = frame.shape
    values = np.full((n, p), np.nan)
    codes = np.full((n, p), -1, dtype=np.int64)
    categorical = np.zeros(p, dtype=bool)
    levels: list[np.ndarray | None] = []
    for j in range(p):
        series = frame.iloc[:, j]
        if is_numeric(series):
            column = pd.to_numeric(series, errors="coerce").to_numpy(
                dtype=np.float64, na_value=np.nan
            )
            values[:, j] = np.where(np.isfinite(column), column, np.nan)
            levels.append(None)
            continue
        categorical[j] = True
        raw, uniques = pd.factorize(series.astype(object), use_na_sentinel=True)
        counts = np.bincount(raw[raw >= 0], minlength=len(uniques))
        order = np.argsort(-counts, kind="stable")
        remap = np.empty(len(uniques), dtype=np.int64)
        remap[order] = np.arange(len(uniques))
        codes[:, j] = np.where(raw >= 0, remap[np.maximum(raw, 0)], -1)
        levels.append(np.asarray(uniques, dtype=object)[order])
    return Table(values, codes, categorical, levels, list(frame.columns))


# ---------------------------------------------------------------------------------------------
# views: the network's inputs for some rows and columns, with some cells hidden


@dataclass
class View:
    """One view's inputs, targets and the numbers needed to map predictions back."""

    cells: np.ndarray  # rows x features x N_CHANNELS
    levels: np.ndarray  # rows x features int32: the view's level index of observed cells, else -1
    numeric_target: np.ndarray  # rows x features float32, NaN where not scored
    level_target: np.ndarray  # rows x features int32, -1 where not scored
    mean: np.ndarray  # features: the standardisation of numeric columns
    std: np.ndarray
    level_map: list[np.ndarray]  # per feature: the table's level code of each view level index
    votes: np.ndarray  # rows x features x max_levels: the nearest rows' share of each view level
    numeric_weight: np.ndarray | None = None  # rows x features: each scored cell's loss weight


def encode_view(
    table: Table, rows: np.ndarray, cols: np.ndarray, hidden: np.ndarray | None, max_levels: int
) -> View:
    """Encode ``table[rows, cols]`` with ``hidden`` cells (rows x cols bool) treated as missing.

    Every statistic comes from the view's own observed cells, so training views (a subset of a
    table) and prediction views (a whole small table, or a chunk plus its context) look alike.
    """
    x = table.values[np.ix_(rows, cols)]
    codes = table.codes[np.ix_(rows, cols)]
    cat = table.categorical[cols]
    truth_missing = np.where(cat[None, :], codes < 0, np.isnan(x))
    hidden = np.zeros_like(truth_missing) if hidden is None else hidden
    observed = ~truth_missing & ~hidden
    n, p = x.shape
    cells = np.zeros((n, p, N_CHANNELS), dtype=np.float32)
    levels_in = np.full((n, p), -1, dtype=np.int32)
    numeric_target = np.full((n, p), np.nan, dtype=np.float32)
    level_target = np.full((n, p), -1, dtype=np.int32)
    mean, std = np.zeros(p), np.ones(p)
    level_map: list[np.ndarray] = [np.zeros(0, dtype=np.int64) for _ in range(p)]
    count = observed.sum(axis=0)
    cells[:, :, 2] = ~observed
    cells[:, :, 3] = cat[None, :]
    cells[:, :, 5] = (count / max(n, 1))[None, :]
    scored = hidden & ~truth_missing & (count >= MIN_OBSERVED)[None, :]

    num = np.flatnonzero(~cat)
    if len(num):
        xo = np.where(observed[:, num], x[:, num], np.nan)
        ok = count[num] > 0
        m = np.zeros(len(num))
        s = np.ones(len(num))
        if ok.any():
            m[ok] = np.nanmean(xo[:, ok], axis=0)
            s[ok] = np.nanstd(xo[:, ok], axis=0)
        s = np.where(s > 1e-9 * np.maximum(1.0, np.abs(m)), s, 1.0)
        mean[num], std[num] = m, s
        z = (x[:, num] - m) / s
        cells[:, num, 0] = np.where(observed[:, num], np.clip(z, -_CLIP_INPUT, _CLIP_INPUT), 0.0)
        ranks = pd.DataFrame(xo).rank(method="average", pct=True).to_numpy() - 0.5
        cells[:, num, 1] = np.nan_to_num(ranks, nan=0.0)
        numeric_target[:, num] = np.where(
            scored[:, num], np.clip(np.nan_to_num(z), -_CLIP_TARGET, _CLIP_TARGET), np.nan
        )
        # a column's squared errors count relative to the variance of all its true values (in
        # these units), as NRMSE counts them: a few hidden outliers must not drown the rest
        present = np.where(~truth_missing[:, num], numeric_target[:, num], np.nan)
        present = np.where(
            observed[:, num], np.clip(np.nan_to_num(z), -_CLIP_TARGET, _CLIP_TARGET), present
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # columns with no true value here
            spread = (
                np.nan_to_num(np.nanvar(present, axis=0), nan=1.0)
                if len(present)
                else np.ones(len(num))
            )
        numeric_weight = np.zeros((n, p), dtype=np.float32)
        numeric_weight[:, num] = 1.0 / np.maximum(spread, 0.5)[None, :]

    for j in np.flatnonzero(cat):
        c = codes[:, j]
        seen = c[observed[:, j]]
        n_table_levels = len(table.levels[cols[j]])
        counts = np.bincount(seen, minlength=n_table_levels)
        order = np.argsort(-counts, kind="stable")
        order = order[counts[order] > 0][:max_levels]
        local = np.full(n_table_levels + 1, -1, dtype=np.int32)  # last slot: code -1
        local[order] = np.arange(len(order))
        level_map[j] = order
        local_codes = local[c]
        share = counts / max(n, 1)
        present = np.flatnonzero(counts > 0)
        freq_rank = np.zeros(n_table_levels)
        if len(present):
            freq_rank[present] = pd.Series(counts[present]).rank(pct=True).to_numpy() - 0.5
        obs = observed[:, j]
        cells[obs, j, 4] = share[c[obs]]
        cells[obs, j, 1] = freq_rank[c[obs]]
        levels_in[obs, j] = local_codes[obs]
        level_target[:, j] = np.where(scored[:, j], local_codes, -1)
    votes = _cheap_estimates(cells, observed, levels_in, max_levels)
    weight = numeric_weight if len(num) else np.zeros((n, p), dtype=np.float32)
    return View(cells, levels_in, numeric_target, level_target, mean, std, level_map, votes, weight)


def ridge_loo(a: np.ndarray, y: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Ridge regression of ``y`` on ``a`` (with an intercept) predicting ``query``'s rows, its
    penalty chosen among ``RIDGE_PENALTIES`` by exact leave-one-out error (from one SVD): near
    collinear columns (parts of a whole, sizes and their squares) want almost none, noisy
    small views much; one fixed penalty served neither."""
    mean_a, mean_y = a.mean(axis=0), y.mean()
    u, s, vt = np.linalg.svd(a - mean_a, full_matrices=False)
    uy = u.T @ (y - mean_y)
    best_error, best_w = np.inf, np.zeros(a.shape[1])
    for penalty in RIDGE_PENALTIES:
        shrink = s / (s * s + penalty)
        w = vt.T @ (shrink * uy)
        hat = (u * u) @ (s * shrink) + 1.0 / len(y)  # leverage, the intercept's share included
        residual = (y - mean_y - (a - mean_a) @ w) / np.maximum(1.0 - hat, 1e-6)
        error = float(np.mean(residual * residual))
        if error < best_error:
            best_error, best_w = error, w
    return mean_y + (query - mean_a) @ best_w


def _cheap_estimates(
    cells: np.ndarray, observed: np.ndarray, levels: np.ndarray, max_levels: int
) -> np.ndarray:
    """Fill the ``ridge`` and ``knn`` channels in place; return the nearest rows' level votes.

    Two classic imputers, computed inside the view from its observed cells only: what a cell's
    row predicts linearly, and what the rows most like it hold. The network reads them as
    channels and learns from many tables when to trust, mix or correct them: it starts where
    the classic methods stand instead of having to rediscover regression from scratch."""
    n, p = observed.shape
    votes = np.zeros((n, p, max_levels), dtype=np.float32)
    # every cell as a number: standardised value, or level frequency rank; missing -> 0 (mean)
    x = np.where(observed, cells[:, :, 0] + 2.0 * cells[:, :, 1] * cells[:, :, 3], 0.0).astype(
        np.float64
    )
    o = observed.astype(np.float64)
    categorical = cells[0, :, 3] > 0 if n else np.zeros(p, dtype=bool)
    # chained ridge regressions (IterativeImputer's idea, two rounds): each numeric column from
    # the others, missing predictors at their mean first, then at the first round's estimates
    filled = x.copy()
    for _ in range(RIDGE_ROUNDS):
        estimates = filled.copy()
        for j in np.flatnonzero(~categorical):
            rows = observed[:, j]
            if rows.sum() < MIN_OBSERVED or p < 2:
                continue
            a = np.delete(filled, j, axis=1)
            cells[:, j, 6] = np.clip(ridge_loo(a[rows], x[rows, j], a), -_CLIP_INPUT, _CLIP_INPUT)
            estimates[:, j] = np.where(observed[:, j], x[:, j], cells[:, j, 6])
        filled = estimates
    # nearest rows by the mean squared difference over the features both rows hold
    both = o @ o.T
    sq = (x * x) @ o.T
    d = (sq + sq.T - 2.0 * x @ x.T) / np.maximum(both, 1.0)
    d = np.where(both > 0, d, np.inf)
    np.fill_diagonal(d, np.inf)
    for j in range(p):
        holders = np.flatnonzero(observed[:, j])
        if len(holders) == 0:
            continue
        k = min(K_NEIGHBOURS, len(holders))
        dj = d[:, holders]
        near = (
            holders[np.argpartition(dj, k - 1, axis=1)[:, :k]]
            if k < len(holders)
            else np.broadcast_to(holders, (n, k))
        )
        if categorical[j]:
            lv = levels[near, j]  # n x k
            for level in range(max_levels):
                votes[:, j, level] = (lv == level).mean(axis=1)
        else:
            cells[:, j, 7] = x[near, j].mean(axis=1)
    return votes


def network_inputs(views: Sequence[View], rows: int, features: int) -> dict[str, np.ndarray]:
    """Pad views to one fixed shape (TensorFlow traces a graph per new shape) with masks."""
    n = len(views)
    cells = np.zeros((n, rows, features, N_CHANNELS), dtype=np.float32)
    levels = np.full((n, rows, features), -1, dtype=np.int32)
    votes = np.zeros((n, rows, features, views[0].votes.shape[-1] if n else 1), dtype=np.float32)
    row_mask = np.zeros((n, rows), dtype=np.float32)
    feature_mask = np.zeros((n, features), dtype=np.float32)
    for i, v in enumerate(views):
        r, f = v.levels.shape
        cells[i, :r, :f] = v.cells
        levels[i, :r, :f] = v.levels
        votes[i, :r, :f] = v.votes
        row_mask[i, :r] = 1.0
        feature_mask[i, :f] = 1.0
    return {
        "cells": cells,
        "levels": levels,
        "votes": votes,
        "row_mask": row_mask,
        "feature_mask": feature_mask,
    }


def network_targets(views: Sequence[View], rows: int, features: int) -> dict[str, np.ndarray]:
    """Per cell: (standardised value or NaN, loss weight) and the level index or -1."""
    n = len(views)
    numeric = np.full((n, rows, features, 2), np.nan, dtype=np.float32)
    level = np.full((n, rows, features), -1, dtype=np.int32)
    for i, v in enumerate(views):
        r, f = v.levels.shape
        numeric[i, :r, :f, 0] = v.numeric_target
        numeric[i, :r, :f, 1] = v.numeric_weight
        level[i, :r, :f] = v.level_target
    return {"numeric": numeric, "level": level}


def mcar_mask(shape: tuple[int, int], rate: float, rng: np.random.Generator) -> np.ndarray:
    """Each cell hidden with probability ``rate``, independently (missing completely at random)."""
    return rng.random(shape) < rate


def mnar_mask(table: Table, rows: np.ndarray, cols: np.ndarray, rate: float, rng: np.random.Generator,
              quantile: float = 0.5, upper: bool = True) -> np.ndarray:  # fmt: skip
    """Missing not at random: in numeric columns, cells beyond the column's ``quantile`` (above
    it if ``upper``) are hidden with probability ``rate / share beyond``, the others never; in
    categorical columns, cells of the most frequent level are hidden likewise. About ``rate``
    of the cells go, but which ones depends on the hidden values themselves."""
    x = table.values[np.ix_(rows, cols)]
    codes = table.codes[np.ix_(rows, cols)]
    cat = table.categorical[cols]
    beyond = np.zeros(x.shape, dtype=bool)
    for j in range(len(cols)):
        if cat[j]:
            beyond[:, j] = codes[:, j] == 0
        elif np.isfinite(x[:, j]).any():
            cut = np.nanquantile(x[:, j], quantile)
            beyond[:, j] = (x[:, j] > cut) if upper else (x[:, j] < cut)
    share = np.maximum(beyond.mean(axis=0, keepdims=True), 1e-9)
    return beyond & (rng.random(x.shape) < np.minimum(1.0, rate / share))


def keep_observed(
    hidden: np.ndarray, missing: np.ndarray, rng: np.random.Generator, minimum: int = MIN_OBSERVED
) -> np.ndarray:
    """``hidden`` with cells given back so every column keeps ``minimum`` observed cells."""
    hidden = hidden.copy()
    for j in range(hidden.shape[1]):
        observed = ~missing[:, j] & ~hidden[:, j]
        short = minimum - int(observed.sum())
        if short > 0:
            candidates = np.flatnonzero(hidden[:, j] & ~missing[:, j])
            if len(candidates):
                hidden[rng.choice(candidates, min(short, len(candidates)), replace=False), j] = (
                    False
                )
    return hidden


def training_view(table: Table, config: ImputerConfig, rng: np.random.Generator) -> View:
    """A random view of a table with a random mask: MCAR at a random rate, or MNAR."""
    n, p = table.shape
    n_rows = min(n, config.rows)
    if n_rows > 8 and rng.random() < 0.25:  # small tables happen too
        n_rows = int(rng.integers(8, n_rows + 1))
    n_cols = min(p, config.features)
    if n_cols > 2 and rng.random() < 0.25:
        n_cols = int(rng.integers(2, n_cols + 1))
    rows = np.sort(rng.choice(n, n_rows, replace=False))
    cols = rng.choice(p, n_cols, replace=False)
    rate = float(rng.uniform(config.mask_min, config.mask_max))
    if rng.random() < config.mnar_share:
        hidden = mnar_mask(
            table, rows, cols, rate, rng, float(rng.uniform(0.3, 0.7)), bool(rng.random() < 0.5)
        )
    else:
        hidden = mcar_mask((n_rows, n_cols), rate, rng)
    hidden = keep_observed(hidden, table.missing[np.ix_(rows, cols)], rng)
    return encode_view(table, rows, cols, hidden, config.levels)


# ---------------------------------------------------------------------------------------------
# the network


def build_network(config: ImputerConfig):
    """Cells in, per cell a standardised value and a score per level of its column out.

    The blocks are the selector's ``AttentionBlock`` (``model.py``): across the features of a
    row, then across all rows of a feature (full attention: a view has at most ``rows`` rows,
    and filling a cell from the rows most like its row is what KNN does; the selector's
    inducing points would squeeze that through a few summaries)."""
    import keras
    from keras import layers

    CellBlock, LevelScores, SqueezeLast = _layers()
    c = config
    cells = keras.Input((None, None, N_CHANNELS), name="cells")
    levels = keras.Input((None, None), dtype="int32", name="levels")
    votes = keras.Input((None, None, c.levels), name="votes")
    row_mask = keras.Input((None,), name="row_mask")
    feature_mask = keras.Input((None,), name="feature_mask")
    x = layers.Dense(c.dim, activation="gelu", name="cell_embed")(cells)
    x = layers.Dense(c.dim, name="cell_project")(x)
    for i in range(c.blocks):
        x = CellBlock(c.dim, c.heads, c.dropout, name=f"cell_block_{i}")(x, row_mask, feature_mask)
    h = layers.LayerNormalization(name="cell_norm")(x)
    numeric = layers.Dense(c.dim, activation="gelu", name="numeric_hidden")(h)
    numeric = layers.Dense(1, name="numeric_out")(numeric)
    # plus a linear path on the cell's own channels (the ridge and knn estimates among them), so
    # the network starts near a learned blend of the classic imputers and learns corrections
    numeric = layers.Add(name="numeric_sum")(
        [numeric, layers.Dense(1, use_bias=False, name="numeric_linear")(cells)]
    )
    numeric = SqueezeLast(name="numeric")(numeric)
    level = LevelScores(c.dim, c.levels, name="level")(h, levels, votes, row_mask)
    return keras.Model(
        inputs={
            "cells": cells,
            "levels": levels,
            "votes": votes,
            "row_mask": row_mask,
            "feature_mask": feature_mask,
        },
        outputs={"numeric": numeric, "level": level},
        name="beyonder_imputer",
    )


_LAYERS: tuple = ()


def _layers() -> tuple:
    """The custom layers, defined on first use so that importing this module stays light
    (no TensorFlow for reading tables or for the benchmark's baselines)."""
    global _LAYERS
    if _LAYERS:
        return _LAYERS
    import keras
    from keras import layers, ops

    from beyonder.selector.model import (
        AttentionBlock,
        attend_across_features,
        cells_from_columns,
        column_sequences,
    )

    @keras.saving.register_keras_serializable(package="beyonder")
    class CellBlock(layers.Layer):
        """Attention across the features of each row, then across the rows of each feature."""

        def __init__(self, dim: int, heads: int, dropout: float = 0.0, **kwargs):
            super().__init__(**kwargs)
            self.dim, self.heads, self.dropout = dim, heads, dropout
            self.feature_attention = AttentionBlock(dim, heads, dropout)
            self.row_attention = AttentionBlock(dim, heads, dropout)

        def build(self, input_shape):
            seq = (None, None, self.dim)
            self.feature_attention.build(seq, seq)
            self.row_attention.build(seq, seq)

        def call(self, x, row_mask, feature_mask, training=False):
            x = attend_across_features(self.feature_attention, x, feature_mask, training)
            cols, rmask = column_sequences(x, row_mask)
            cols = self.row_attention(cols, cols, rmask, training=training)
            return cells_from_columns(cols, ops.shape(x)[0], ops.shape(x)[1], ops.shape(x)[2])

        def get_config(self):
            return {
                **super().get_config(),
                "dim": self.dim,
                "heads": self.heads,
                "dropout": self.dropout,
            }

    @keras.saving.register_keras_serializable(package="beyonder")
    class LevelScores(layers.Layer):
        """A score per level of the cell's column: the cell's query against each level's
        prototype (the mean key of the observed cells holding it), plus learned weights on the
        level's log share and on its share among the row's nearest rows. Absent levels score -1e9. No level has an embedding of its own, so
        the scores cannot depend on level names or order."""

        def __init__(self, dim: int, levels: int, **kwargs):
            super().__init__(**kwargs)
            self.dim, self.levels = dim, levels
            self.query = layers.Dense(dim, name="query")
            self.key = layers.Dense(dim, name="key")

        def build(self, h_shape, levels_shape=None, votes_shape=None, row_mask_shape=None):
            self.query.build(h_shape)
            self.key.build(h_shape)
            self.prior = self.add_weight(shape=(), initializer="ones", name="prior")
            self.vote = self.add_weight(shape=(), initializer="ones", name="vote")

        def call(self, h, levels, votes, row_mask):
            onehot = ops.one_hot(ops.maximum(levels, 0), self.levels) * ops.cast(
                ops.expand_dims(levels >= 0, -1), h.dtype
            )
            onehot = onehot * ops.expand_dims(ops.expand_dims(row_mask, -1), -1)
            count = ops.sum(onehot, axis=1)  # batch, features, levels
            keys = self.key(h)
            proto = ops.einsum("brfl,brfd->bfld", onehot, keys) / ops.expand_dims(
                ops.maximum(count, 1.0), -1
            )
            scores = ops.einsum("brfd,bfld->brfl", self.query(h), proto) / math.sqrt(self.dim)
            share = count / ops.maximum(ops.sum(count, axis=-1, keepdims=True), 1.0)
            scores = scores + self.prior * ops.expand_dims(ops.log(share + 1e-6), 1)
            scores = scores + self.vote * 3.0 * votes
            return ops.where(ops.expand_dims(count, 1) > 0, scores, -1e9)

        def get_config(self):
            return {**super().get_config(), "dim": self.dim, "levels": self.levels}

    @keras.saving.register_keras_serializable(package="beyonder")
    class SqueezeLast(layers.Layer):
        def call(self, x):
            return ops.squeeze(x, -1)

    _LAYERS = (CellBlock, LevelScores, SqueezeLast)
    return _LAYERS


def numeric_loss(y_true, y_pred):
    """Weighted MSE over hidden numeric cells; ``y_true[..., 0]`` the value (NaN: not scored),
    ``y_true[..., 1]`` the weight (see ``encode_view``)."""
    from keras import ops

    value, weight = y_true[..., 0], y_true[..., 1]
    mask = ops.cast(ops.logical_not(ops.isnan(value)), y_pred.dtype)
    t = ops.where(mask > 0, value, 0.0)
    w = ops.where(mask > 0, weight, 0.0)
    return ops.sum(w * (y_pred - t) ** 2, axis=(1, 2)) / ops.maximum(
        ops.sum(mask, axis=(1, 2)), 1.0
    )


def level_loss(y_true, y_pred):
    """Cross-entropy over hidden categorical cells (-1: not scored)."""
    from keras import ops

    y_true = ops.cast(y_true, "int32")
    mask = ops.cast(y_true >= 0, y_pred.dtype)
    logp = ops.log_softmax(y_pred, axis=-1)
    picked = ops.sum(ops.one_hot(ops.maximum(y_true, 0), ops.shape(y_pred)[-1]) * logp, axis=-1)
    return -ops.sum(mask * picked, axis=(1, 2)) / ops.maximum(ops.sum(mask, axis=(1, 2)), 1.0)


class _Batches:
    """Random views of the tables with random masks (``fitting.BatchSource``); a fresh draw
    every epoch (training), the same draw every time (validation), reproducible from the seed."""

    def __init__(self, tables: Sequence[Table], config: ImputerConfig, shuffle: bool):
        self.tables, self.config, self.shuffle = list(tables), config, shuffle
        self.epoch = 0
        self.items = np.repeat(np.arange(len(self.tables)), config.views_per_table)
        self._plan()

    def _plan(self) -> None:
        rng = np.random.default_rng([self.config.seed, self.epoch, int(self.shuffle), 7])
        batches = epoch_batches(rng, len(self.items), self.config.batch_size, self.shuffle)
        self.batches = [self.items[b] for b in batches]

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, index: int):
        rng = np.random.default_rng([self.config.seed, self.epoch, index, int(self.shuffle), 11])
        views = [training_view(self.tables[i], self.config, rng) for i in self.batches[index]]
        c = self.config
        return network_inputs(views, c.rows, c.features), network_targets(views, c.rows, c.features)

    def on_epoch_end(self) -> None:
        if self.shuffle:
            self.epoch += 1
            self._plan()


# ---------------------------------------------------------------------------------------------
# the estimator


class CellImputer:
    """The trained network and its config: ``fit`` on tables, ``predict`` a table's missing cells."""

    def __init__(self, config: ImputerConfig | None = None):
        self.config = config or ImputerConfig()
        self.model_ = None
        self.history_: dict[str, list[float]] = {}

    def fit(self, tables: Sequence[Table], validation: Sequence[Table] = (), callbacks: Sequence[Any] = (),
            verbose: int = 0) -> CellImputer:  # fmt: skip
        import keras

        c = self.config
        _layers()
        seed_keras(c.seed)  # a fit must not depend on earlier ones, nor on other threads
        model = build_network(c)
        model.compile(
            optimizer=keras.optimizers.AdamW(c.learning_rate, weight_decay=1e-4),
            loss={"numeric": numeric_loss, "level": level_loss},
            jit_compile=False,
        )
        train = _Batches(tables, c, shuffle=True)
        all_callbacks = list(callbacks)
        val = None
        if len(validation):
            val = _Batches(validation, c, shuffle=False)
            all_callbacks.append(
                keras.callbacks.EarlyStopping(
                    patience=c.patience, restore_best_weights=True, monitor="val_loss"
                )
            )
        self.history_ = fit_batches(
            model, train, c.epochs, validation=val, callbacks=all_callbacks, verbose=verbose
        )
        self.model_ = model
        return self

    def predict(self, table: Table, seed: int | None = None, views: int | None = None,
                context: Table | None = None) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """Filled values and codes for every missing cell of ``table`` (others as they are).

        ``context``: rows of another table with the same columns (e.g. what a scikit-learn
        transformer was fitted on) that every view sees as context rows."""
        if self.model_ is None:
            raise RuntimeError("the imputer is not fitted: call fit() or CellImputer.load()")
        c = self.config
        rng = np.random.default_rng([c.seed if seed is None else seed, 3])
        full = table if context is None else stack_tables(table, context)
        n_own = table.shape[0]
        n, p = full.shape
        missing = full.missing
        num_sum = np.zeros((n, p))
        num_count = np.zeros((n, p))
        level_prob: dict[int, np.ndarray] = {
            j: np.zeros((n, len(full.levels[j]))) for j in np.flatnonzero(full.categorical)
        }
        plans = view_plan(n, p, n_own, c, rng)
        if len(plans) > 1:  # one view holds the whole table: more passes would repeat it
            for _ in range(max(1, views or c.views) - 1):
                plans.extend(view_plan(n, p, n_own, c, rng))
        for start in range(0, len(plans), 64):
            chunk = plans[start : start + 64]
            encoded = [encode_view(full, rows, cols, None, c.levels) for rows, cols in chunk]
            rows = c.predict_rows if n > c.rows else c.rows  # small tables: the training shape
            out = self.model_.predict_on_batch(network_inputs(encoded, rows, c.features))
            numeric, scores = np.asarray(out["numeric"]), np.asarray(out["level"])
            for k, ((rows, cols), v) in enumerate(zip(chunk, encoded, strict=True)):
                for jj, j in enumerate(cols):
                    need = missing[rows, j]
                    if not need.any():
                        continue
                    r = rows[need]
                    if full.categorical[j]:
                        mapping = v.level_map[jj]
                        if len(mapping) == 0:
                            continue
                        s = scores[k, : len(rows), jj, : len(mapping)][need]
                        prob = np.exp(s - s.max(axis=1, keepdims=True))
                        prob /= prob.sum(axis=1, keepdims=True)
                        level_prob[j][np.ix_(r, mapping)] += prob
                    else:
                        num_sum[r, j] += numeric[k, : len(rows), jj][need] * v.std[jj] + v.mean[jj]
                        num_count[r, j] += 1
        values, codes = full.values.copy(), full.codes.copy()
        for j in range(p):
            need = missing[:, j]
            if not need.any():
                continue
            if full.categorical[j]:
                prob = level_prob[j][need]
                fallback = 0  # the most frequent level
                codes[need, j] = np.where(prob.sum(axis=1) > 0, prob.argmax(axis=1), fallback)
            else:
                observed = full.values[~need, j]
                estimate = np.divide(num_sum[need, j], num_count[need, j],
                                     out=np.full(need.sum(), observed.mean()), where=num_count[need, j] > 0)  # fmt: skip
                values[need, j] = np.clip(estimate, observed.min(), observed.max())
        return values[:n_own], codes[:n_own]

    def save(self, directory: str | Path) -> Path:
        """``imputer.keras`` and ``imputer.json`` (the config), each written whole or not at all."""
        if self.model_ is None:
            raise RuntimeError("nothing to save: the imputer is not fitted")
        from beyonder.storage import write_json

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        tmp = directory / f".{MODEL_FILE}.tmp.keras"
        self.model_.save(tmp)
        tmp.replace(directory / MODEL_FILE)
        write_json(asdict(self.config), directory / CONFIG_FILE)
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> CellImputer:
        """Load a saved imputer (Keras safe mode: no code is deserialised)."""
        import keras

        _layers()
        directory = Path(directory)
        est = cls(ImputerConfig.from_dict(json.loads((directory / CONFIG_FILE).read_text())))
        est.model_ = keras.saving.load_model(directory / MODEL_FILE, compile=False, safe_mode=True)
        return est


def stack_tables(table: Table, context: Table) -> Table:
    """``table``'s rows followed by ``context``'s, with ``context``'s codes mapped onto
    ``table``'s levels (levels only one side has are appended)."""
    levels = []
    codes = np.concatenate([table.codes, np.full(context.codes.shape, -1)], axis=0)
    for j in range(table.shape[1]):
        if not table.categorical[j]:
            levels.append(None)
            continue
        own = list(table.levels[j])
        index = {v: i for i, v in enumerate(own)}
        for v in context.levels[j]:
            if v not in index:
                index[v] = len(own)
                own.append(v)
        mapping = np.array([index[v] for v in context.levels[j]], dtype=np.int64)
        c = context.codes[:, j]
        codes[table.shape[0] :, j] = np.where(
            c >= 0, mapping[np.maximum(c, 0)] if len(mapping) else -1, -1
        )
        levels.append(np.asarray(own, dtype=object))
    return Table(
        np.concatenate([table.values, context.values], axis=0),
        codes,
        table.categorical,
        levels,
        table.columns,
    )


def view_plan(
    n: int, p: int, n_own: int, config: ImputerConfig, rng: np.random.Generator
) -> list[tuple[np.ndarray, np.ndarray]]:
    """One pass over a table: (rows, columns) of each view, covering every own cell.

    Rows: all of them if they fit, else shared context rows (drawn once per pass, from the whole
    table, context rows of another table included) plus a chunk of the rest. Columns: all if
    they fit, else a random partition into groups of nearly equal size."""
    c = config
    view_rows = max(c.rows, c.predict_rows)
    if p <= c.features:
        groups = [np.arange(p)]
    else:
        order = rng.permutation(p)
        groups = [np.sort(g) for g in np.array_split(order, math.ceil(p / c.features))]
    if n <= view_rows:
        chunks = [np.arange(n)]
    else:
        context = rng.choice(n, min(c.context_rows, view_rows - 1), replace=False)
        rest = np.setdiff1d(np.arange(n_own), context)
        rest = rest[rng.permutation(len(rest))]
        size = view_rows - len(context)
        chunks = [
            np.sort(np.concatenate([context, rest[i : i + size]]))
            for i in range(0, len(rest), size)
        ]
        if not chunks:
            chunks = [np.sort(context)]
    return [(rows, cols) for rows in chunks for cols in groups]


# ---------------------------------------------------------------------------------------------
# the corpus: which tables train the imputer, which are held out


def corpus_files(folders: Sequence[str | Path]) -> dict[str, Path]:
    """Dataset name (as the local source names it) -> file, over the folders in order."""
    from beyonder.data.datasets import safe_name
    from beyonder.data.sources.local import SUFFIXES

    files: dict[str, Path] = {}
    for folder in folders:
        for path in sorted(Path(folder).iterdir(), key=lambda q: q.name):
            if path.suffix.lower() in SUFFIXES and path.is_file() and not path.name.startswith("."):
                files.setdefault(safe_name(path.stem), path)
    return files


def split_names(names: Sequence[str], params: Params) -> tuple[list[str], list[str], list[str]]:
    """(train, validation, test) dataset names by the pipeline's own family rules and seeds:
    the test families are those ``evaluate`` holds out (``split.test_fraction``, ``seed``), the
    validation families those ``train`` stops early on, so a table the benchmark scores was
    never trained on, by the selector or the imputer."""
    from beyonder.data.splits import grouped_test_split

    split = params.split
    families = tuple(split.families)
    test = grouped_test_split(names, split.test_fraction, params.seed, families)
    rest = sorted(set(names) - test)
    val = grouped_test_split(rest, split.val_fraction, params.seed + 1, families)
    if len(val) == len(rest):
        val = set()
    return sorted(set(rest) - val), sorted(val), sorted(test)


def load_features(path: Path, target: str = LocalSource.target) -> pd.DataFrame:
    """A corpus file's feature columns (the target dropped), read by the local source."""
    from beyonder.data.datasets import LoadFailure
    from beyonder.data.sources.local import load_file

    loaded = load_file(path, target=target)
    if isinstance(loaded, LoadFailure):
        raise ValueError(f"{path}: {loaded.reason}")
    return loaded.frame.drop(columns=[loaded.target])


def training_table(frame: pd.DataFrame, max_rows: int, seed: Sequence[int] | int) -> Table | None:
    """A table to train on: at most ``max_rows`` random rows, columns with at least
    ``MIN_OBSERVED`` observed cells; None if fewer than 2 columns or 8 rows remain."""
    if len(frame) > max_rows:
        keep = np.sort(np.random.default_rng(seed).choice(len(frame), max_rows, replace=False))
        frame = frame.iloc[keep]
    frame = frame.loc[:, frame.notna().sum() >= MIN_OBSERVED]
    if frame.shape[1] < 2 or len(frame) < 8:
        return None
    return table_from_frame(frame.reset_index(drop=True))
