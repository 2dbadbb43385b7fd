"""Summaries of a label matrix (datasets x classifiers) that training and evaluation share."""

from __future__ import annotations

import warnings

import numpy as np
from numpy.typing import ArrayLike


def single_best(train_true: ArrayLike) -> int:
    """Column with the best mean accuracy over the training rows (``NaN`` labels skipped).

    This is the SBS: it must come from the *training* rows only, or the baseline sees the test.
    """
    t = np.asarray(train_true, dtype=np.float64)
    if t.ndim != 2:
        raise ValueError(f"train_true must be 2-D (datasets x classifiers), got shape {t.shape}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        means = np.nanmean(t, axis=0)
    if np.isnan(means).all():
        raise ValueError("train_true has no labelled cell")
    return int(np.nanargmax(means))
