"""Cross-validation folds that never split the copies of one source row.

A bootstrap sample repeats source rows; if a row's copies land on both sides of a split the
test fold is partly memorised and accuracies are inflated (1-NN would look perfect). Folds are
therefore built over groups (source row ids), stratified by class as far as groups allow.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.model_selection import GroupKFold, StratifiedGroupKFold


def group_stratified_folds(
    y: np.ndarray, groups: np.ndarray, n_splits: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified group k-fold splits as (train_idx, test_idx) position arrays.

    All rows sharing a group are in the same test fold, and every row is in exactly one test
    fold. With fewer distinct groups than ``n_splits`` the number of folds drops to the number
    of groups; folds that would come out empty are left out, so fewer than ``n_splits`` pairs
    may be returned. Raises ValueError when there are fewer than 2 groups (or n_splits < 2).
    """
    y = np.asarray(y)
    groups = np.asarray(groups)
    if y.shape[0] != groups.shape[0]:
        raise ValueError(f"y has {y.shape[0]} rows but groups has {groups.shape[0]}")
    if n_splits < 2:
        raise ValueError(f"n_splits must be at least 2, got {n_splits}")
    n_groups = np.unique(groups).shape[0]
    if n_groups < 2:
        raise ValueError(f"need at least 2 distinct groups (source rows) to split, got {n_groups}")
    n_splits = min(n_splits, n_groups)
    # Labels as strings so mixed/odd label types stratify the same way on every platform.
    y_str = y.astype(str)
    dummy_x = np.zeros((y.shape[0], 1))
    with warnings.catch_warnings():
        # "The least populated class in y has only k members": expected on small samples.
        warnings.simplefilter("ignore", UserWarning)
        try:
            splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
            splits = list(splitter.split(dummy_x, y_str, groups))
        except ValueError:
            # Stratification impossible (e.g. a group with mixed labels is fine, but odd
            # inputs can still fail): plain shuffled group k-fold keeps the no-leak guarantee.
            splitter = GroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
            splits = list(splitter.split(dummy_x, y_str, groups))
    return [
        (np.asarray(train, dtype=np.intp), np.asarray(test, dtype=np.intp))
        for train, test in splits
        if len(train) > 0 and len(test) > 0
    ]
