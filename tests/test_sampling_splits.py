"""Bootstrap samples (stratified, traceable, keyed by name) and family-grouped splits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from beyonder.data.sampling import bootstrap_samples, measurement_samples
from beyonder.data.splits import DEFAULT_FAMILIES, family_of, grouped_folds, grouped_test_split
from beyonder.labels.folds import group_stratified_folds
from beyonder.params import load_params
from beyonder.schema import ROW_ID, TARGET

REPO = Path(__file__).resolve().parents[1]


def _frame(n: int = 300, seed: int = 0, shares=(0.6, 0.3, 0.1)) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    classes = np.array([f"k{i}" for i in range(len(shares))])
    y = classes[rng.choice(len(shares), size=n, p=np.array(shares) / sum(shares))]
    x = rng.normal(size=n)
    x[::17] = np.nan
    return pd.DataFrame(
        {
            "x": x,
            "serial": np.arange(n, dtype=np.float64),  # unique per source row
            "c": pd.Series(rng.choice(["u", "v"], size=n), dtype="str"),
            TARGET: pd.Series(y, dtype="str"),
        }
    )


# --- bootstrap_samples ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "rows", "expected"), [(300, 100, 100), (80, 100, 80), (300, 300, 300)]
)
def test_sizes_names_and_columns(n: int, rows: int, expected: int) -> None:
    frame = _frame(n)
    samples = bootstrap_samples(frame, "ds", rows=rows, per_dataset=3, seed=1)
    assert [name for name, _ in samples] == ["ds__s0", "ds__s1", "ds__s2"]
    for _, sample in samples:
        assert len(sample) == expected
        assert list(sample.columns) == [*frame.columns, ROW_ID]
        assert sample[ROW_ID].dtype == np.int64
        assert isinstance(sample.index, pd.RangeIndex)
        assert (sample.dtypes.drop(ROW_ID) == frame.dtypes).all()


def test_row_id_points_to_the_source_row() -> None:
    frame = _frame()
    for _, sample in bootstrap_samples(frame, "ds", rows=150, per_dataset=2, seed=3):
        ids = sample[ROW_ID].to_numpy()
        assert ((ids >= 0) & (ids < len(frame))).all()
        source = frame.iloc[ids].reset_index(drop=True)
        pd.testing.assert_frame_equal(sample.drop(columns=[ROW_ID]), source)


def test_class_proportions_are_kept() -> None:
    frame = _frame(n=1000, shares=(0.7, 0.2, 0.08, 0.02))
    source_share = frame[TARGET].value_counts(normalize=True)
    for rows in (50, 200, 333):
        for _, sample in bootstrap_samples(frame, "ds", rows=rows, per_dataset=2, seed=0):
            counts = sample[TARGET].value_counts()
            assert set(counts.index) == set(source_share.index)  # every class, even the rare one
            for cls, share in source_share.items():
                assert abs(counts[cls] - share * rows) <= 1.0 + 1e-9, (rows, cls)


def test_tiny_class_gets_at_least_one_row() -> None:
    frame = _frame(n=400, shares=(0.995, 0.005))
    frame.loc[0, TARGET] = "rare"  # a single row of its own class
    for _, sample in bootstrap_samples(frame, "ds", rows=50, per_dataset=3, seed=0):
        assert (sample[TARGET] == "rare").sum() >= 1
        assert len(sample) == 50


def test_measurement_subsample_keeps_every_class_in_every_training_fold() -> None:
    # a very imbalanced table (1.2% rare): a 100-row subsample in proportion would hold one
    # rare row, and the CV fold that tests it would train on one class
    frame = _frame(n=1500, shares=(0.988, 0.012))
    for name, sample in measurement_samples(frame, "ds", rows=[100, 200], seed=0):
        assert len(sample) == int(name.rsplit("__m", 1)[1]) and sample[ROW_ID].is_unique
        assert (sample[TARGET].value_counts() >= 2).all()
        y = sample[TARGET].to_numpy()
        for train, _ in group_stratified_folds(y, sample[ROW_ID].to_numpy(), n_splits=3, seed=0):
            assert set(y[train]) == set(y)


def test_without_replacement_rows_are_distinct() -> None:
    frame = _frame(n=120)
    for rows in (60, 120, 500):
        for _, sample in bootstrap_samples(
            frame, "ds", rows=rows, per_dataset=2, replace=False, seed=0
        ):
            assert len(sample) == min(rows, len(frame))
            assert sample[ROW_ID].is_unique


def test_with_replacement_has_bootstrap_copies() -> None:
    frame = _frame(n=200)
    _, sample = bootstrap_samples(frame, "ds", rows=200, per_dataset=1, seed=0)[0]
    assert not sample[ROW_ID].is_unique  # a bootstrap of n from n repeats rows (p ~ 1)


def test_deterministic() -> None:
    frame = _frame()
    a = bootstrap_samples(frame, "ds", rows=100, per_dataset=3, seed=7)
    b = bootstrap_samples(frame, "ds", rows=100, per_dataset=3, seed=7)
    for (na, sa), (nb, sb) in zip(a, b, strict=True):
        assert na == nb
        pd.testing.assert_frame_equal(sa, sb)
    c = bootstrap_samples(frame, "ds", rows=100, per_dataset=1, seed=8)
    assert not c[0][1][ROW_ID].equals(a[0][1][ROW_ID])  # the seed matters
    # the samples of one dataset differ from each other
    assert not a[0][1][ROW_ID].equals(a[1][1][ROW_ID])


def test_keyed_by_dataset_name_and_sample_number() -> None:
    frame = _frame()
    alone = bootstrap_samples(frame, "alpha", rows=100, per_dataset=2, seed=0)
    other = bootstrap_samples(frame, "beta", rows=100, per_dataset=2, seed=0)  # another dataset
    again = bootstrap_samples(frame, "alpha", rows=100, per_dataset=4, seed=0)  # more samples
    for (_, s), (_, t) in zip(alone, again[:2], strict=True):
        pd.testing.assert_frame_equal(s, t)
    assert not alone[0][1][ROW_ID].equals(other[0][1][ROW_ID])


def test_stable_across_calls_with_other_datasets_in_between() -> None:
    frames = {"a": _frame(seed=1), "b": _frame(seed=2), "c": _frame(seed=3)}
    first = {
        n: bootstrap_samples(f, n, rows=80, per_dataset=2, seed=0)
        for n, f in frames.items()
        if n != "b"
    }
    second = {n: bootstrap_samples(f, n, rows=80, per_dataset=2, seed=0) for n, f in frames.items()}
    for name in first:
        for (_, s), (_, t) in zip(first[name], second[name], strict=True):
            pd.testing.assert_frame_equal(s, t)


# --- family_of -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("names", "family"),
    [
        (
            ["spect.test", "spect.train", "spectf.test", "spectf.train", "local.spect.test"],
            "family:^spectf?\\.",
        ),
        (["colic", "colic.orig"], "family:^colic"),
        (["anneal", "anneal.orig"], "family:^anneal"),
        (["heart.c", "heart.h", "heart.statlog"], "family:^(heart|cholesterol$)"),
        (["bridges.version1", "bridges.version2"], "family:^bridges"),
        (["column2C", "column3C"], r"family:^column\d"),
        (["solar.flare1", "solar.flare2"], r"family:^solar\.flare"),
    ],
)
def test_families(names: list[str], family: str) -> None:
    assert {family_of(n) for n in names} == {family}


@pytest.mark.parametrize("name", ["iris", "wine", "synthetic.0003", "columns", "solarflare"])
def test_singletons_are_their_own_family(name: str) -> None:
    assert family_of(name) == name


def test_custom_patterns() -> None:
    assert family_of("foo.1", [r"^foo"]) == family_of("foo.2", [r"^foo"]) == "family:^foo"
    assert family_of("spect.test", []) == "spect.test"


def test_openml_prefix_is_ignored() -> None:
    assert (
        family_of("openml.53.heart-statlog")
        == family_of("heart.statlog")
        == "family:^(heart|cholesterol$)"
    )


def test_same_dataset_from_two_sources_is_one_family() -> None:
    assert family_of("sklearn.iris") == family_of("iris")


# --- grouped_test_split ------------------------------------------------------------------------

UCI_LIKE = [
    "anneal", "anneal.orig", "colic", "colic.orig", "spect.test", "spect.train", "spectf.test",
    "spectf.train", "heart.c", "heart.h", "heart.statlog", "iris", "wine", "glass", "zoo", "vote",
    "sonar", "ecoli", "labor", "column2C", "column3C", "solar.flare1", "solar.flare2", "car",
    "bridges.version1", "bridges.version2", "sklearn.digits", "sklearn.breast_cancer",
] + [f"synthetic.{i:04d}" for i in range(12)]  # fmt: skip


def _families_whole(names: list[str], chosen: set[str]) -> None:
    for family in {family_of(n) for n in names}:
        members = {n for n in names if family_of(n) == family}
        assert members <= chosen or not (members & chosen), family


@pytest.mark.parametrize("seed", range(6))
def test_test_split_keeps_families_together(seed: int) -> None:
    test = grouped_test_split(UCI_LIKE, 0.25, seed)
    assert test and test < set(UCI_LIKE)
    _families_whole(UCI_LIKE, test)


def test_test_split_fraction_is_roughly_right() -> None:
    names = [f"d{i}" for i in range(400)]
    shares = [len(grouped_test_split(names, 0.25, seed)) / len(names) for seed in range(5)]
    assert 0.18 < np.mean(shares) < 0.32


def test_test_split_is_deterministic_and_order_free() -> None:
    a = grouped_test_split(UCI_LIKE, 0.3, 5)
    b = grouped_test_split(list(reversed(UCI_LIKE)) + UCI_LIKE[:3], 0.3, 5)
    assert a == b
    assert any(grouped_test_split(UCI_LIKE, 0.3, s) != a for s in range(6, 12))


@pytest.mark.parametrize("seed", range(10))
def test_tiny_corpora_hold_one_out_and_keep_one(seed: int) -> None:
    for names in (["a", "b"], ["a", "b", "c"], ["spect.test", "spect.train", "iris"]):
        for fraction in (0.01, 0.25, 0.99, 1.0):
            test = grouped_test_split(names, fraction, seed)
            assert test, (names, fraction)
            assert test != set(names), (names, fraction)
            _families_whole(names, test)


def test_single_family_or_zero_fraction_holds_nothing_out() -> None:
    assert grouped_test_split(["spect.test", "spectf.train"], 0.5, 0) == set()
    assert grouped_test_split(["only"], 0.5, 0) == set()
    assert grouped_test_split(UCI_LIKE, 0.0, 0) == set()


def test_empty_corpus_holds_nothing_out() -> None:
    assert grouped_test_split([], 0.25, 0) == set()


@pytest.mark.parametrize("seed", range(5))
def test_adding_datasets_does_not_move_others(seed: int) -> None:
    before = grouped_test_split(UCI_LIKE, 0.25, seed)
    extra = ["newset", "another.one", "spect.extra", "heart.x"]
    after = grouped_test_split(UCI_LIKE + extra, 0.25, seed)
    assert after & set(UCI_LIKE) == before
    # a new member of a family follows the family
    assert ("spect.extra" in after) == ("spect.test" in before)
    assert ("heart.x" in after) == ("heart.c" in before)


def test_only_eligible_families_are_held_out() -> None:
    eligible = {n for n in UCI_LIKE if not n.startswith("synthetic.")} - {"spect.test"}
    for seed in range(6):
        test = grouped_test_split(UCI_LIKE, 0.5, seed, eligible=eligible)
        assert test <= eligible
        assert not test & {"spect.train", "spectf.test", "spectf.train"}  # family not all eligible


def test_default_families_match_params_yaml() -> None:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    assert (
        tuple(params["split"]["families"])
        == DEFAULT_FAMILIES
        == tuple(load_params(REPO / "params.yaml").split.families)
    )


# --- grouped_folds ---------------------------------------------------------------------------


@pytest.mark.parametrize(("n_folds", "seed"), [(2, 0), (3, 1), (5, 2), (5, 3)])
def test_folds_partition_the_datasets(n_folds: int, seed: int) -> None:
    folds = grouped_folds(UCI_LIKE, n_folds, seed)
    assert len(folds) == n_folds
    assert all(folds)
    seen = [n for fold in folds for n in fold]
    assert sorted(seen) == sorted(set(UCI_LIKE))  # each dataset in exactly one fold
    for fold in folds:
        _families_whole(UCI_LIKE, fold)
    sizes = [len(f) for f in folds]
    assert max(sizes) - min(sizes) <= 4  # balanced up to the largest family


def test_folds_deterministic() -> None:
    assert grouped_folds(UCI_LIKE, 4, 9) == grouped_folds(list(reversed(UCI_LIKE)), 4, 9)
    assert any(grouped_folds(UCI_LIKE, 4, s) != grouped_folds(UCI_LIKE, 4, 9) for s in range(3))


def test_more_folds_than_families() -> None:
    folds = grouped_folds(["spect.test", "spectf.train", "iris"], 4, 0)
    assert sorted(len(f) for f in folds) == [0, 0, 1, 2]
