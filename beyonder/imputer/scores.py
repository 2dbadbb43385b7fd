"""Scoring an imputer: hiding cells by a pattern, scikit-learn's imputers on the same table
encoding, NRMSE and accuracy on the hidden cells. Shared by the ``imputer`` stage's metrics
and ``bench/impute.py``, so both count the same way."""

from __future__ import annotations

import warnings
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from beyonder.config import stable_seed
from beyonder.imputer.imputation import keep_observed, mcar_mask, mnar_mask, table_from_frame
from beyonder.params import LocalSource

PATTERNS = {
    "mcar10": ("mcar", 0.1),
    "mcar20": ("mcar", 0.2),
    "mcar30": ("mcar", 0.3),
    "mnar": ("mnar", 0.2),
}
"""Name -> (mechanism, share of cells): MCAR hides each cell with that probability; MNAR
hides about that share, all from one side of each column (``imputation.mnar_mask``)."""


def hide(X: pd.DataFrame, pattern: str, seed: list[int]) -> tuple[pd.DataFrame, np.ndarray]:
    """``X`` with cells hidden by ``pattern`` (every column keeps two observed cells) and the
    mask of hidden cells."""
    kind, rate = PATTERNS[pattern]
    table = table_from_frame(X)
    rng = np.random.default_rng(seed)
    rows, cols = np.arange(len(X)), np.arange(X.shape[1])
    hidden = (
        mcar_mask(X.shape, rate, rng) if kind == "mcar" else mnar_mask(table, rows, cols, rate, rng)
    )
    hidden &= ~table.missing
    hidden = keep_observed(hidden, table.missing, rng)
    return X.mask(hidden), hidden


def sklearn_fill(X: pd.DataFrame, method: str, seed: int) -> pd.DataFrame:
    """Fill with a scikit-learn imputer; categorical columns as one-hot blocks (KNN,
    iterative) or their most frequent level (simple)."""
    from sklearn.experimental import enable_iterative_imputer  # noqa: F401
    from sklearn.impute import IterativeImputer, KNNImputer, SimpleImputer

    table = table_from_frame(X)
    out = X.copy()
    num = list(np.flatnonzero(~table.categorical))
    cat = list(np.flatnonzero(table.categorical))
    if method == "simple":
        for j in num:
            out.iloc[:, j] = SimpleImputer(strategy="mean").fit_transform(table.values[:, [j]])[
                :, 0
            ]
        for j in cat:
            c = table.codes[:, j]
            out.iloc[:, j] = table.levels[j][np.where(c >= 0, c, 0)]  # level 0: the most frequent
        return out
    blocks, mean, std = [], {}, {}
    for j in num:
        v = table.values[:, j]
        mean[j], std[j] = np.nanmean(v), np.nanstd(v) or 1.0
        blocks.append(((v - mean[j]) / std[j])[:, None])
    for j in cat:
        c = table.codes[:, j]
        onehot = (c[:, None] == np.arange(len(table.levels[j]))[None, :]).astype(float)
        onehot[c < 0] = np.nan
        blocks.append(onehot)
    matrix = np.hstack(blocks)
    if method == "knn":
        imputer = KNNImputer(n_neighbors=5, keep_empty_features=True)
    else:
        imputer = IterativeImputer(max_iter=10, random_state=seed, keep_empty_features=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        filled = imputer.fit_transform(matrix)
    k = 0
    for j in num:
        out.iloc[:, j] = filled[:, k] * std[j] + mean[j]
        k += 1
    for j in cat:
        width = len(table.levels[j])
        c = table.codes[:, j]
        out.iloc[:, j] = table.levels[j][
            np.where(c >= 0, c, filled[:, k : k + width].argmax(axis=1))
        ]
        k += width
    return out


def scores(truth: pd.DataFrame, filled: pd.DataFrame, hidden: np.ndarray) -> dict:
    """NRMSE over hidden numeric cells (per column, RMSE over the column's standard deviation
    in the complete table, then the mean over columns) and accuracy over hidden categorical
    cells; None where the table has no such cell."""
    t = table_from_frame(truth)
    nrmse, correct, total = [], 0, 0
    for j, column in enumerate(truth.columns):
        h = hidden[:, j]
        if not h.any():
            continue
        if t.categorical[j]:
            correct += int(
                (
                    filled[column].astype(str).to_numpy()[h]
                    == truth[column].astype(str).to_numpy()[h]
                ).sum()
            )
            total += int(h.sum())
        else:
            std = np.nanstd(t.values[:, j])
            if std > 0:
                pred = pd.to_numeric(filled[column]).to_numpy(dtype=float)[h]
                nrmse.append(float(np.sqrt(np.mean((pred - t.values[h, j]) ** 2)) / std))
    return {
        "nrmse": float(np.mean(nrmse)) if nrmse else None,
        "accuracy": correct / total if total else None,
    }


def scoring_tables(files: dict[str, Path], names: Sequence[str], max_tables: int, max_rows: int, seed: int,
                   target: str = LocalSource.target) -> list[tuple[str, pd.DataFrame, pd.Series]]:  # fmt: skip
    """(name, features, target as strings) of tables to score on, in a fixed order (a hash of
    the name), the first ``max_tables`` usable ones: at most ``max_rows`` random rows; columns
    with at least 10 values and two distinct ones, ID-like categorical columns dropped (more
    than 50 levels or more levels than half the rows: the clean stage drops them too, and no
    imputer can predict them); at least 2 columns and 20 rows left."""
    from beyonder.data.sources.local import load_file

    chosen = []
    for name in sorted(names, key=lambda n: zlib.crc32(n.encode())):
        loaded = load_file(files[name], target=target)
        if not hasattr(loaded, "frame"):
            continue
        frame = loaded.frame
        if len(frame) > max_rows:
            keep = np.random.default_rng(stable_seed(seed, name)).choice(
                len(frame), max_rows, replace=False
            )
            frame = frame.iloc[np.sort(keep)].reset_index(drop=True)
        y = frame[loaded.target].astype(str)
        X = frame.drop(columns=[loaded.target])
        X = X.loc[:, (X.notna().sum() >= 10) & (X.nunique() > 1)]
        id_like = [
            c for c in X.columns
            if table_from_frame(X[[c]]).categorical[0] and X[c].nunique() > min(50, 0.5 * len(X))
        ]  # fmt: skip
        X = X.drop(columns=id_like)
        if X.shape[1] < 2 or len(X) < 20:
            continue
        chosen.append((name, X, y))
        if len(chosen) >= max_tables:
            break
    return chosen
