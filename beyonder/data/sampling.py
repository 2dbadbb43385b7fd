"""Stratified bootstrap samples of a cleaned dataset, keeping each row's source id."""

from __future__ import annotations

import numpy as np
import pandas as pd

from beyonder.config import stable_seed
from beyonder.params import SampleParams
from beyonder.schema import ROW_ID, TARGET

MEASUREMENT_MIN_PER_CLASS = 2
"""Rows of each class a measurement subsample keeps (where the class has them): with two, every
training fold of a stratified CV holds every class."""


def bootstrap_samples(
    frame: pd.DataFrame,
    dataset: str,
    rows: int = SampleParams.rows,
    per_dataset: int = SampleParams.per_dataset,
    replace: bool = SampleParams.replace,
    seed: int = 0,
) -> list[tuple[str, pd.DataFrame]]:
    """``per_dataset`` samples of ``min(rows, len(frame))`` rows, drawn per class in proportion.

    Each sample carries ``ROW_ID`` (the row's position in ``frame``) so that labelling can keep
    bootstrap copies of one source row in the same fold. Randomness is keyed by the dataset
    name and sample number, so adding datasets or samples never changes existing ones.
    """
    n = len(frame)
    size = min(rows, n)
    y = frame[TARGET].to_numpy()
    classes, y_idx = np.unique(y, return_inverse=True)
    members = [np.flatnonzero(y_idx == c) for c in range(len(classes))]
    quotas = _quotas(np.array([len(m) for m in members]), size, replace)
    samples = []
    for k in range(per_dataset):
        rng = np.random.default_rng(stable_seed(seed, dataset, k))
        picked = np.concatenate(
            [rng.choice(m, size=q, replace=replace) for m, q in zip(members, quotas, strict=True)]
        )
        picked = picked[rng.permutation(len(picked))]
        sample = frame.iloc[picked].reset_index(drop=True)
        sample.insert(len(sample.columns), ROW_ID, picked.astype(np.int64))
        samples.append((f"{dataset}__s{k}", sample))
    return samples


def measurement_sample(frame: pd.DataFrame, rows: int, seed: int | list[int] = 0) -> pd.DataFrame:
    """A stratified subsample of ``min(rows, len(frame))`` distinct rows (no replacement): what
    a cheap measurement cross-validates the portfolio on. Every class gets at least
    ``MEASUREMENT_MIN_PER_CLASS`` rows where it has them, so that no CV training fold is left
    with one class (which logistic regression and the SVMs refuse). Carries ``ROW_ID`` like a
    bootstrap sample; ``seed`` may be a ``stable_seed`` sequence."""
    size = min(int(rows), len(frame))
    y = frame[TARGET].to_numpy()
    classes, y_idx = np.unique(y, return_inverse=True)
    members = [np.flatnonzero(y_idx == c) for c in range(len(classes))]
    quotas = _quotas(
        np.array([len(m) for m in members]), size, replace=False, minimum=MEASUREMENT_MIN_PER_CLASS
    )
    rng = np.random.default_rng(seed)
    picked = np.concatenate([rng.choice(m, size=q, replace=False) for m, q in zip(members, quotas, strict=True)])
    picked = np.sort(picked)
    sample = frame.iloc[picked].reset_index(drop=True)
    sample.insert(len(sample.columns), ROW_ID, picked.astype(np.int64))
    return sample


def measurement_samples(frame: pd.DataFrame, dataset: str, rows: list[int], seed: int = 0) -> list[tuple[str, pd.DataFrame]]:
    """One measurement subsample per size in ``rows`` (sizes the dataset cannot fill are
    skipped: the whole dataset is already its bootstrap samples' source), keyed by the dataset
    name and size so that adding either changes no other."""
    return [
        (f"{dataset}__m{r}", measurement_sample(frame, r, stable_seed(seed, dataset, "measure", r)))
        for r in rows
        if r < len(frame)
    ]


def _quotas(class_sizes: np.ndarray, size: int, replace: bool, minimum: int = 1) -> np.ndarray:
    """Rows per class: proportional to class size, at least ``minimum`` each (without
    replacement: at most the class's size), summing to ``size``."""
    share = class_sizes / class_sizes.sum()
    quotas = np.maximum(np.floor(share * size).astype(int), minimum)
    if not replace:
        quotas = np.minimum(quotas, class_sizes)
    order = np.argsort(-(share * size - np.floor(share * size)), kind="stable")
    i = 0
    while quotas.sum() < size and i < 10 * len(order):
        c = order[i % len(order)]
        if replace or quotas[c] < class_sizes[c]:
            quotas[c] += 1
        i += 1
    while quotas.sum() > size:
        quotas[np.argmax(quotas)] -= 1
    return quotas
