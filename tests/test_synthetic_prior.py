"""``bench/synthetic_prior.py``: the figures that judge a synthetic prior by its rankings."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location(
    "synthetic_prior", REPO / "bench" / "synthetic_prior.py"
)
prior = importlib.util.module_from_spec(spec)
spec.loader.exec_module(prior)

REAL = pd.DataFrame(
    [[0.95, 0.8, 0.7], [0.9, 0.8, 0.7], [0.7, 0.9, 0.8], [0.60, 0.603, 0.5]],
    columns=["a", "b", "c"],
)


def test_winner_shares_split_ties_and_sum_to_one() -> None:
    shares = prior.winner_shares(REAL)
    # a wins twice, b once, and a and b tie (within half a point) on the last table
    np.testing.assert_allclose(shares, [2.5 / 4, 1.5 / 4, 0.0])


def test_a_group_compared_with_itself_is_identical_and_a_reversed_one_is_not() -> None:
    same = prior.compare(REAL, REAL)
    assert same["winner_tv_distance"] == 0 and same["mean_rank_spearman"] == pytest.approx(1.0)
    assert same["favourite"] == "a"
    assert same["favourite_regret_on_real"] == pytest.approx(100 * (0.2 + 0.003) / 4, abs=0.01)
    reversed_ = REAL[["c", "b", "a"]].set_axis(["a", "b", "c"], axis=1)
    other = prior.compare(reversed_, REAL)
    assert other["winner_tv_distance"] > 0.5 and other["mean_rank_spearman"] < 0.9


def test_closest_mix_keeps_the_generators_that_rank_like_real_tables() -> None:
    synthetic = pd.concat(
        [REAL, REAL[["c", "b", "a"]].set_axis(["a", "b", "c"], axis=1)], ignore_index=True
    )
    synthetic.index = [f"s{i}" for i in range(len(synthetic))]
    made_by = {f"s{i}": "good" if i < 4 else "bad" for i in range(8)}
    assert prior.closest_mix(synthetic, made_by, ["bad", "good"], REAL) == ("good",)
