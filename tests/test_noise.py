"""Noise injection: per-source-row noise, copies stay identical, missing stays missing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from beyonder import schema
from beyonder.data.noise import inject_noise

FEATURES = ["x1", "x2", "c"]


def _sample(seed: int = 0, n_source: int = 80, n_rows: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    source = pd.DataFrame(
        {
            "x1": rng.normal(size=n_source),
            "x2": rng.normal(loc=50, scale=10, size=n_source),
            "c": rng.choice(["u", "v", "w", "z"], size=n_source).astype(object),
            schema.TARGET: rng.choice(["a", "b", "c"], size=n_source).astype(object),
        }
    )
    source.loc[::7, "x1"] = np.nan
    source.loc[::5, "c"] = np.nan
    idx = rng.integers(0, n_source, n_rows)
    sample = source.iloc[idx].reset_index(drop=True)
    sample[schema.ROW_ID] = idx
    return sample


def _copies_identical(frame: pd.DataFrame) -> bool:
    cols = [*FEATURES, schema.TARGET]
    for _, group in frame.groupby(schema.ROW_ID):
        first = group[cols].iloc[[0] * len(group)].reset_index(drop=True)
        if not first.equals(group[cols].reset_index(drop=True)):
            return False
    return True


@pytest.mark.parametrize("seed", range(5))
def test_copies_get_the_same_noise(seed: int) -> None:
    sample = _sample(seed)
    noisy = inject_noise(sample, np.random.default_rng(seed), 0.3, 0.3, 0.3)
    assert _copies_identical(sample)
    assert _copies_identical(noisy)
    assert noisy[schema.ROW_ID].equals(sample[schema.ROW_ID])
    assert list(noisy.columns) == list(sample.columns)
    assert (noisy.dtypes == sample.dtypes).all()


def test_missing_stays_missing_and_input_untouched() -> None:
    sample = _sample()
    before = sample.copy()
    noisy = inject_noise(sample, np.random.default_rng(0), 0.5, 0.9, 0.9)
    pd.testing.assert_frame_equal(sample, before)
    for col in FEATURES:
        assert noisy[col].isna().equals(sample[col].isna())


def test_flips_always_pick_another_level_of_the_column() -> None:
    sample = _sample()
    noisy = inject_noise(sample, np.random.default_rng(1), 0.0, 1.0, 1.0)
    observed = sample["c"].notna()
    assert (noisy.loc[observed, "c"] != sample.loc[observed, "c"]).all()
    assert set(noisy.loc[observed, "c"]) <= set(sample["c"].dropna())
    assert (noisy[schema.TARGET] != sample[schema.TARGET]).all()
    assert set(noisy[schema.TARGET]) <= set(sample[schema.TARGET])
    pd.testing.assert_series_equal(noisy["x1"], sample["x1"])  # zero jitter


def test_rates_are_roughly_respected() -> None:
    sample = _sample(n_source=2000, n_rows=2000)
    noisy = inject_noise(sample, np.random.default_rng(2), 0.1, 0.2, 0.1)
    per_source = noisy.assign(
        flipped=noisy["c"] != sample["c"], relabelled=noisy[schema.TARGET] != sample[schema.TARGET]
    ).drop_duplicates(schema.ROW_ID)
    observed = per_source["c"].notna()
    assert 0.16 < per_source.loc[observed, "flipped"].mean() < 0.24
    assert 0.07 < per_source["relabelled"].mean() < 0.13
    delta = (noisy["x2"] - sample["x2"]).drop_duplicates()
    assert 0.8 < delta.std() / (0.1 * sample["x2"].std()) < 1.2


def test_zero_noise_is_identity() -> None:
    sample = _sample()
    noisy = inject_noise(sample, np.random.default_rng(0), 0.0, 0.0, 0.0)
    pd.testing.assert_frame_equal(noisy, sample)


def test_deterministic_for_a_seed() -> None:
    sample = _sample()
    a = inject_noise(sample, np.random.default_rng(5))
    b = inject_noise(sample, np.random.default_rng(5))
    c = inject_noise(sample, np.random.default_rng(6))
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)


def test_string_dtype_and_single_level_columns() -> None:
    sample = _sample()
    sample["c"] = sample["c"].astype("str")
    sample["const"] = "k"
    noisy = inject_noise(sample, np.random.default_rng(0), 0.1, 1.0, 0.0)
    assert noisy["c"].dtype == sample["c"].dtype
    assert (noisy["const"] == "k").all()
    assert noisy["c"].isna().equals(sample["c"].isna())


def test_invalid_rates_raise() -> None:
    with pytest.raises(ValueError):
        inject_noise(_sample(), np.random.default_rng(0), label_noise=1.5)
    with pytest.raises(ValueError):
        inject_noise(_sample(), np.random.default_rng(0), numeric_jitter=-0.1)
