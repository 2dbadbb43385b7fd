"""Algorithm-selection metrics on small hand-computed examples."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from beyonder.evaluation.metrics import (
    bootstrap_interval,
    choose,
    evaluate_methods,
    regret,
    selection_metrics,
)
from beyonder.labels.summary import single_best

NAN = np.nan

# 3 datasets x 3 classifiers; tests take column 0 as the SBS (as if from training rows).
TRUE = np.array(
    [
        [0.90, 0.80, 0.70],  # best: 0
        [0.70, 0.95, 0.60],  # best: 1
        [0.80, 0.70, 0.85],  # best: 2
    ]
)
# Picks 0, 1, 0: regrets 0, 0, 5 points.
PRED = np.array(
    [
        [0.6, 0.5, 0.4],
        [0.1, 0.9, 0.2],
        [0.9, 0.2, 0.3],
    ]
)


def test_choose_is_argmax_ignoring_nan_with_ties_to_lowest_index():
    pred = np.array([[0.1, NAN, 0.3], [NAN, 0.2, 0.2], [NAN, NAN, NAN]])
    np.testing.assert_array_equal(choose(pred), [2, 1, -1])


def test_regret_in_points():
    np.testing.assert_allclose(regret(TRUE, np.array([0, 1, 0])), [0.0, 0.0, 5.0])
    np.testing.assert_allclose(regret(TRUE, np.array([2, 2, 2])), [20.0, 35.0, 0.0])


def test_regret_of_a_missing_label_is_the_worst_labelled_regret():
    true = np.array([[0.9, NAN, 0.6], [NAN, NAN, NAN]])
    # row 0: best 0.9, worst labelled 0.6 -> picking the unlabelled column costs 30 points
    r = regret(true, np.array([1, 0]))
    assert r[0] == pytest.approx(30.0)
    assert np.isnan(r[1])  # no label at all: undefined
    assert regret(true, np.array([-1, 0]))[0] == pytest.approx(30.0)  # no pick = worst


def test_regret_rejects_bad_choices():
    with pytest.raises(ValueError):
        regret(TRUE, np.array([0, 1]))
    with pytest.raises(ValueError):
        regret(TRUE, np.array([0, 1, 3]))


def test_single_best_is_nan_aware():
    train = np.array([[0.9, 0.5], [NAN, 0.6], [0.7, 0.7]])
    assert single_best(train) == 0  # 0.8 vs 0.6: the NaN is skipped, not counted as 0
    assert single_best(TRUE) == 1  # means 0.8, 0.817, 0.717
    with pytest.raises(ValueError):
        single_best(np.full((2, 2), NAN))


def test_selection_metrics_hand_computed():
    m = selection_metrics(TRUE, PRED, sbs_index=0)
    assert m["n_datasets"] == 3
    assert m["mean_regret"] == pytest.approx(5.0 / 3)
    assert m["median_regret"] == pytest.approx(0.0)
    assert m["max_regret"] == pytest.approx(5.0)
    # SBS (column 0) regrets: 0, 25, 5 -> mean 10
    assert m["sbs_mean_regret"] == pytest.approx(10.0)
    assert m["gap_closed"] == pytest.approx((10.0 - 5.0 / 3) / 10.0)
    assert m["top1"] == pytest.approx(2 / 3)
    assert m["top3"] == pytest.approx(1.0)
    # per-row Spearman: row0 ranks agree (1), row1 pred (0.1,0.9,0.2) vs true (0.7,0.95,0.6): 0.5,
    # row2 pred (0.9,0.2,0.3) vs true (0.8,0.7,0.85): 0.5
    assert m["spearman"] == pytest.approx((1.0 + 0.5 + 0.5) / 3)
    assert m["mae"] == pytest.approx(100 * np.abs(TRUE - PRED).mean())


def test_oracle_and_sbs_anchor_gap_closed():
    oracle = selection_metrics(TRUE, TRUE, sbs_index=0)
    assert oracle["mean_regret"] == 0.0 and oracle["gap_closed"] == pytest.approx(1.0)
    assert oracle["top1"] == 1.0 and oracle["spearman"] == pytest.approx(1.0)
    assert oracle["mae"] == 0.0
    one_hot = np.zeros_like(TRUE)
    one_hot[:, 0] = 1.0
    sbs = selection_metrics(TRUE, one_hot, sbs_index=0)
    assert sbs["gap_closed"] == pytest.approx(0.0)
    assert sbs["mean_regret"] == pytest.approx(sbs["sbs_mean_regret"])


def test_gap_closed_is_nan_when_sbs_is_always_best():
    true = np.array([[0.9, 0.5], [0.8, 0.7]])
    m = selection_metrics(true, np.array([[0.0, 1.0], [0.0, 1.0]]), sbs_index=0)
    assert m["sbs_mean_regret"] == 0.0
    assert np.isnan(m["gap_closed"])


def test_ties_within_tolerance_count_as_hits():
    true = np.array([[0.900, 0.896, 0.50, 0.40], [0.900, 0.880, 0.50, 0.40]])
    pred = np.array([[0.1, 0.9, 0.0, 0.0], [0.1, 0.9, 0.0, 0.0]])  # picks column 1 twice
    m = selection_metrics(true, pred, sbs_index=0, tie_tolerance=0.005)
    assert m["top1"] == pytest.approx(0.5)  # 0.4 points off: hit; 2 points off: miss
    exact = selection_metrics(true, pred, sbs_index=0, tie_tolerance=0.0)
    assert exact["top1"] == 0.0
    boundary = selection_metrics(true, pred, sbs_index=0, tie_tolerance=0.004)
    assert boundary["top1"] == pytest.approx(0.5)  # exactly at the tolerance is a hit


def test_top3_uses_the_three_highest_predictions():
    true = np.array([[0.9, 0.1, 0.2, 0.3, 0.4], [0.9, 0.1, 0.2, 0.3, 0.4]])
    pred = np.array([[0.5, 0.9, 0.8, 0.7, 0.6], [0.7, 0.9, 0.8, 0.1, 0.6]])
    m = selection_metrics(true, pred, sbs_index=0)
    assert m["top1"] == 0.0
    assert m["top3"] == pytest.approx(0.5)  # best (col 0) is 4th in row 0, 3rd in row 1


def test_nan_in_true_and_pred():
    true = np.array(
        [
            [NAN, 0.8, 0.7],  # the unlabelled column can't be best: best is 0.8
            [0.9, NAN, 0.6],  # picking the unlabelled column costs the worst: 30 points
            [NAN, NAN, NAN],  # no label at all: left out of every metric
        ]
    )
    pred = np.array([[0.99, 0.5, 0.4], [0.1, 0.9, 0.2], [0.1, 0.2, 0.3]])
    m = selection_metrics(true, pred, sbs_index=2)
    assert m["n_datasets"] == 2
    # row 0 picks col 0 (unlabelled): worst labelled is 0.7 -> 10 points; row 1: 30 points
    assert m["mean_regret"] == pytest.approx(20.0)
    assert m["top1"] == 0.0
    # top3 covers every column here: the best labelled one is always in it
    assert m["top3"] == 1.0
    # MAE over cells labelled and predicted only: |0.5-0.8|, |0.4-0.7|, |0.1-0.9|, |0.2-0.6|
    assert m["mae"] == pytest.approx(100 * (0.3 + 0.3 + 0.8 + 0.4) / 4)
    # Spearman over the 2 labelled cells: row 0 (0.5,0.4) vs (0.8,0.7) = 1; row 1 (0.1,0.2) vs
    # (0.9,0.6) = -1
    assert m["spearman"] == pytest.approx(0.0)


def test_constant_rows_are_skipped_by_spearman():
    true = np.array([[0.5, 0.5, 0.5], [0.9, 0.8, 0.7]])
    pred = np.array([[0.3, 0.2, 0.1], [0.3, 0.2, 0.1]])
    assert selection_metrics(true, pred, sbs_index=0)["spearman"] == pytest.approx(1.0)
    flat = np.full((2, 3), 0.5)
    assert np.isnan(selection_metrics(true, flat, sbs_index=0)["spearman"])


def test_dataframes_are_aligned_by_labels():
    cols = ["a", "b", "c"]
    true = pd.DataFrame(TRUE, columns=cols, index=["d1", "d2", "d3"])
    pred = pd.DataFrame(PRED, columns=cols, index=["d1", "d2", "d3"])
    shuffled = pred.loc[["d3", "d1", "d2"], ["c", "a", "b"]]
    assert selection_metrics(true, shuffled, 0) == selection_metrics(TRUE, PRED, 0)
    with pytest.raises(ValueError):
        selection_metrics(true, pred.rename(columns={"c": "z"}), 0)
    with pytest.raises(ValueError):
        selection_metrics(TRUE, PRED[:2], 0)


def test_bootstrap_interval():
    assert bootstrap_interval(np.full(10, 3.0)) == (3.0, 3.0)
    values = np.arange(100, dtype=float)
    lo, hi = bootstrap_interval(values, n_boot=2000, seed=1)
    assert lo < values.mean() < hi
    assert hi - lo == pytest.approx(2 * 1.96 * values.std() / 10, rel=0.15)
    assert bootstrap_interval(values, seed=1) == bootstrap_interval(values, seed=1)
    assert bootstrap_interval(np.array([1.0, NAN, 1.0])) == (1.0, 1.0)
    assert all(np.isnan(bootstrap_interval(np.array([NAN]))))


def test_evaluate_methods_adds_baselines_and_is_json_ready():
    result = evaluate_methods(TRUE, {"model": PRED}, sbs_index=0, n_boot=200)
    assert result["n_datasets"] == 3
    assert set(result["methods"]) == {"model", "sbs", "oracle"}
    oracle, sbs, model = (result["methods"][k] for k in ("oracle", "sbs", "model"))
    assert oracle["gap_closed"] == pytest.approx(1.0) and oracle["mean_regret_ci"] == [0.0, 0.0]
    assert sbs["gap_closed"] == pytest.approx(0.0) and sbs["gap_closed_ci"] == [0.0, 0.0]
    assert np.isnan(sbs["spearman"]) and np.isnan(sbs["mae"])  # one-hot: not meaningful
    assert sbs["choice_counts"] == [3, 0, 0] and model["choice_counts"] == [2, 1, 0]
    lo, hi = model["mean_regret_ci"]
    assert lo <= model["mean_regret"] <= hi
    assert model["mean_regret_ci"] == list(bootstrap_interval(regret(TRUE, choose(PRED)), 200))
    json.dumps(result)  # plain floats/ints/lists only


def test_paired_comparison_with_the_sbs():
    # per dataset, model regret minus SBS regret: 0, -25, 0 (the SBS always picks column 0)
    result = evaluate_methods(TRUE, {"model": PRED}, sbs_index=0, n_boot=200)
    model, sbs, oracle = (result["methods"][k] for k in ("model", "sbs", "oracle"))
    assert model["better_worse_than_sbs"] == [1, 0]
    assert oracle["better_worse_than_sbs"] == [2, 0] and sbs["better_worse_than_sbs"] == [0, 0]
    lo, hi = model["regret_vs_sbs_ci"]
    assert -25.0 <= lo < hi <= 0.0
    assert sbs["regret_vs_sbs_ci"] == [0.0, 0.0]
    worse = evaluate_methods(TRUE, {"bad": np.fliplr(TRUE)}, sbs_index=0, n_boot=200)["methods"][
        "bad"
    ]
    assert worse["better_worse_than_sbs"][1] > 0 and worse["regret_vs_sbs_ci"][1] > 0


def test_paired_intervals_between_every_pair_of_methods():
    result = evaluate_methods(TRUE, {"model": PRED, "bad": -TRUE}, sbs_index=0, n_boot=200)
    methods = result["methods"]
    model, bad = methods["model"], methods["bad"]
    assert set(model["regret_vs_ci"]) == {"bad", "sbs", "oracle"}
    assert model["regret_vs_ci"]["sbs"] == model["regret_vs_sbs_ci"]  # the same resamples
    lo, hi = model["regret_vs_ci"]["bad"]
    assert hi < 0  # the worst pick on every dataset loses on every resample
    assert bad["regret_vs_ci"]["model"] == pytest.approx([-hi, -lo])  # a difference, reversed


def test_evaluate_methods_with_sbs_means():
    means = TRUE.mean(axis=0)  # peaks at column 1
    result = evaluate_methods(TRUE, {}, sbs_index=1, n_boot=50, sbs_means=means)
    sbs = result["methods"]["sbs"]
    assert sbs["gap_closed"] == pytest.approx(0.0)
    assert sbs["mae"] == pytest.approx(100 * np.abs(TRUE - means).mean())
    with pytest.raises(ValueError):
        evaluate_methods(TRUE, {}, sbs_index=0, sbs_means=means)


def test_evaluate_methods_keeps_given_baselines_and_drops_unlabelled_rows():
    true = np.vstack([TRUE, np.full(3, NAN)])
    pred = np.vstack([PRED, [0.1, 0.2, 0.3]])
    result = evaluate_methods(true, {"model": pred, "oracle": true}, sbs_index=0, n_boot=50)
    assert result["n_datasets"] == 3
    assert result["methods"]["model"]["mean_regret"] == pytest.approx(5.0 / 3)
