"""Group folds never split copies of one source row; every row is tested exactly once."""

from __future__ import annotations

import numpy as np
import pytest

from beyonder.labels.folds import group_stratified_folds


def _bootstrap(seed: int) -> tuple[np.ndarray, np.ndarray, int]:
    rng = np.random.default_rng(seed)
    n_source = int(rng.integers(2, 60))
    n_classes = int(rng.integers(1, 5))
    source_y = rng.integers(0, n_classes, n_source).astype(str)
    n_rows = int(rng.integers(2, 120))
    groups = rng.integers(0, n_source, n_rows)
    if np.unique(groups).size < 2:  # guarantee >= 2 groups
        groups[0], groups[-1] = 0, 1
    return source_y[groups], groups, int(rng.integers(2, 8))


@pytest.mark.parametrize("seed", range(150))
def test_no_group_on_both_sides_and_full_partition(seed: int) -> None:
    y, groups, n_splits = _bootstrap(seed)
    folds = group_stratified_folds(y, groups, n_splits, seed)
    assert 2 <= len(folds) <= n_splits
    counts = np.zeros(len(y), dtype=int)
    for train, test in folds:
        assert len(train) > 0 and len(test) > 0
        assert set(groups[train]).isdisjoint(groups[test])
        assert np.union1d(train, test).size == len(y)
        assert np.intersect1d(train, test).size == 0
        counts[test] += 1
    assert (counts == 1).all()


def test_deterministic_for_a_seed_and_varies_with_it() -> None:
    y = np.tile(["a", "b"], 100)
    groups = np.arange(200) // 2  # pairs of copies
    a = group_stratified_folds(y, groups, 5, seed=1)
    b = group_stratified_folds(y, groups, 5, seed=1)
    c = group_stratified_folds(y, groups, 5, seed=2)
    assert all(np.array_equal(t1, t2) for (_, t1), (_, t2) in zip(a, b, strict=True))
    assert any(not np.array_equal(t1, t2) for (_, t1), (_, t2) in zip(a, c, strict=True))


def test_stratified_when_groups_allow() -> None:
    y = np.repeat(["a", "b"], [100, 100])
    groups = np.arange(200)
    for _, test in group_stratified_folds(y, groups, 5, seed=0):
        assert (y[test] == "a").sum() == 20


def test_fewer_groups_than_splits_reduces_folds() -> None:
    y = np.array(["a", "a", "b", "b", "b"])
    groups = np.array([0, 0, 1, 1, 2])
    folds = group_stratified_folds(y, groups, 10, seed=0)
    assert len(folds) == 3


def test_fewer_than_two_groups_raises() -> None:
    with pytest.raises(ValueError, match="at least 2 distinct groups"):
        group_stratified_folds(np.array(["a", "b"]), np.array([7, 7]), 5, seed=0)


def test_length_mismatch_raises() -> None:
    with pytest.raises(ValueError, match="rows"):
        group_stratified_folds(np.array(["a", "b"]), np.array([1]), 5, seed=0)
