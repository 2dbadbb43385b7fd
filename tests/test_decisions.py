"""Decisions a user can act on: whole-table fit time, a time budget, calibrated intervals and
verifying the top picks, in ``recommend`` and scored by ``evaluate`` (``beyonder/evaluation/decisions.py``).

Nothing here depends on the machine's speed: budgets are set from the model's own predicted
times, and the evaluation metrics are fed fixed durations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import TINY_CLASSIFIERS, table, tiny_recommender

from beyonder.evaluation import decisions
from beyonder.evaluation.crossval import cv_one_sample
from beyonder.selector.corpus import Corpus


@pytest.fixture(scope="module")
def recommender():
    rec = tiny_recommender(sample_rows=120)
    rec.interval_scale = 2.0
    return rec


# --------------------------------------------------------------------------- recommend side


def test_whole_table_time_scales_the_fold_time_by_rows() -> None:
    fold = np.array([0.1, 0.1])
    # a fold fits 400 of a 500-row sample: 4,000 rows is 10x the rows
    out = decisions.table_fit_time(fold, ["logreg", "svm_rbf"], 4000, 500, n_folds=5)
    exponents = [decisions.SCALING_EXPONENTS[c] for c in ("logreg", "svm_rbf")]
    np.testing.assert_allclose(out, 0.1 * 10 ** np.array(exponents))
    assert out[1] > out[0]  # a kernel SVM grows faster than a linear model
    # a table smaller than the sample is fitted on all its rows: 100 rows against 80 a fold
    out = decisions.table_fit_time(fold, ["logreg", "unknown"], 100, 500)
    np.testing.assert_allclose(out, [0.1 * 1.25 ** decisions.SCALING_EXPONENTS["logreg"], 0.125])


@pytest.mark.parametrize("budget", [-1, 0, float("nan"), "soon"])
def test_a_budget_must_be_positive_seconds(budget) -> None:
    with pytest.raises(decisions.DecisionError, match="time budget must be"):
        decisions.check_budget(budget)


@pytest.mark.parametrize("k", [-1, 11, 2.5, True])
def test_verify_k_is_a_whole_number_within_the_portfolio(k) -> None:
    with pytest.raises(decisions.DecisionError, match="verify must be"):
        decisions.check_verify(k, 10)
    assert decisions.check_verify(10, 10) == 10 and decisions.check_verify(None, 10) == 0


def test_recommend_reports_intervals_and_whole_table_fit_time(recommender) -> None:
    ranked = recommender.predict(table(300, seed=3), "class")
    assert (ranked["accuracy_low"] <= ranked["predicted_accuracy"]).all()
    assert (ranked["predicted_accuracy"] <= ranked["accuracy_high"]).all()
    half = 2.0 * (ranked["spread"] + decisions.SPREAD_FLOOR)
    np.testing.assert_allclose(
        ranked["accuracy_high"], np.clip(ranked["predicted_accuracy"] + half, 0, 1)
    )
    # 300 rows against 96 a fold (120-row samples): longer than a fold for every classifier
    assert (ranked["predicted_table_fit_time"] > ranked["predicted_fit_time"]).all()
    close = ranked.attrs["too_close_to_call"]
    assert close[0] == ranked["classifier"].iloc[0]
    assert set(close) == set(
        ranked.loc[ranked["accuracy_high"] >= ranked["accuracy_low"].iloc[0], "classifier"]
    )


def test_a_time_budget_ranks_only_what_is_predicted_to_fit(recommender) -> None:
    frame = table(300, seed=3)
    full = recommender.predict(frame, "class")
    budget = float(full["predicted_table_fit_time"].median())  # the model's own times: no clock
    ranked = recommender.predict(frame, "class", time_budget=budget)
    kept = ranked[ranked["rank"] > 0]
    out = ranked[ranked["rank"] == 0]
    assert (kept["predicted_table_fit_time"] <= budget).all() and (
        out["predicted_table_fit_time"] > budget
    ).all()
    assert kept["rank"].tolist() == list(range(1, len(kept) + 1)) and len(out) > 0
    assert kept["classifier"].tolist() == [
        c for c in full["classifier"] if c in set(kept["classifier"])
    ]
    assert (kept["left_out"] == "").all() and out["left_out"].str.contains(
        "exceeds the budget"
    ).all()
    assert [d["classifier"] for d in ranked.attrs["left_out"]] == out["classifier"].tolist()


def test_verify_cross_validates_the_top_k_and_ranks_them_by_measured_accuracy(recommender) -> None:
    frame = table(300, seed=3)
    predicted = recommender.predict(frame, "class")
    verified = recommender.predict(frame, "class", verify=2)
    top = verified.iloc[:2]
    assert set(top["classifier"]) == set(predicted["classifier"].iloc[:2])
    assert (
        top["measured_accuracy"].between(0, 1).all()
        and top["measured_accuracy"].is_monotonic_decreasing
    )
    assert (top["measured_cv_seconds"] > 0).all()
    rest = verified.iloc[2:]
    assert rest["measured_accuracy"].isna().all()
    assert rest["classifier"].tolist() == predicted["classifier"].iloc[2:].tolist()
    assert verified["rank"].tolist() == list(range(1, len(TINY_CLASSIFIERS) + 1))
    with pytest.raises(ValueError, match="verify must be between 0 and 5"):
        recommender.predict(frame, "class", verify=6)


def test_verify_uses_the_label_stages_protocol(recommender) -> None:
    from beyonder.labels.labelling import CVSettings, label_sample

    sample = recommender.samples(table(300, seed=3), "class", n=1)[0]
    got = decisions.verify_top(sample, ["logreg", "knn"], n_folds=5, seed=recommender.seed)
    expected = label_sample(sample, ["logreg", "knn"], CVSettings(5, recommender.seed))
    assert [g["accuracy"] for g in got] == [e["accuracy"] for e in expected]


def test_the_served_model_takes_budget_and_verify_params(recommender) -> None:
    from mlflow.exceptions import MlflowException

    from beyonder.serving.pyfunc import BeyonderModel

    model = BeyonderModel()
    model.recommender, model.default_target = recommender, "class"
    frame = table(300, seed=3)
    full = recommender.predict(frame, "class")
    budget = float(full["predicted_table_fit_time"].median())
    served = model.predict(None, frame, {"time_budget": budget})
    pd.testing.assert_frame_equal(served, recommender.predict(frame, "class", time_budget=budget))
    with pytest.raises(MlflowException, match="time budget must be a positive"):
        model.predict(None, frame, {"time_budget": -5.0})


def test_cli_options_fail_in_one_line(capsys, tmp_path) -> None:
    from beyonder.cli import main

    table(60).to_csv(tmp_path / "ok.csv", index=False)
    assert main(["recommend", str(tmp_path / "ok.csv"), "--time-budget", "-3"]) == 2
    err = capsys.readouterr().err
    assert (
        err.strip()
        == "beyonder recommend: time budget must be a positive number of seconds, got -3.0"
    )
    assert main(["recommend", str(tmp_path / "ok.csv"), "--verify", "-1"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


# --------------------------------------------------------------------------- evaluate side


def test_fit_time_quality_is_spearman_and_log_mae() -> None:
    true = np.array([[0.01, 0.1, 1.0], [0.02, 0.2, 0.05]])
    out = decisions.fit_time_quality(
        true, {"perfect": true, "tenfold": true * 10, "flat": np.ones_like(true)}
    )
    assert out["perfect"]["spearman"] == pytest.approx(1.0) and out["perfect"]["mae_log10"] == 0
    assert out["tenfold"]["spearman"] == pytest.approx(1.0) and out["tenfold"][
        "mae_log10"
    ] == pytest.approx(1.0)
    assert np.isnan(out["flat"]["spearman"])  # a constant prediction ranks nothing


def test_time_baseline_scales_training_medians_by_size() -> None:
    train_time = np.array([[1.0, 10.0], [2.0, 40.0], [3.0, 30.0]])
    sizes = np.array([100.0, 100.0, 100.0])
    out = decisions.time_baseline(train_time, sizes, np.array([200.0]))
    np.testing.assert_allclose(out, [[4.0, 60.0]])


def test_budget_regret_is_against_the_best_that_truly_fits() -> None:
    true_acc = np.array([[0.9, 0.8, 0.7], [0.6, 0.9, 0.5]])
    true_time = np.array([[5.0, 1.0, 0.5], [0.5, 0.5, 0.5]])
    honest = (true_acc, true_time)
    blind = (true_acc, np.zeros_like(true_time))  # believes everything fits
    rows = decisions.budget_regret(true_acc, true_time, {"honest": honest, "blind": blind}, [2.0])
    methods = rows[0]["methods"]
    assert methods["honest"] == {"mean_regret": 0.0, "over_budget": 0.0}
    # blind picks the 0.9 that takes 5 s on the first table: priced at its accuracy, counted over
    assert methods["blind"]["over_budget"] == 0.5
    assert methods["blind"]["mean_regret"] == pytest.approx(100 * (0.8 - 0.9) / 2)


def test_calibrated_intervals_cover_about_the_nominal_share_of_new_cells() -> None:
    rng = np.random.default_rng(0)
    spread = rng.uniform(0.005, 0.03, size=(400, 10))

    def draw():
        pred = rng.uniform(0.5, 0.9, size=spread.shape)
        return pred + rng.normal(0, 1, spread.shape) * 3 * (spread + decisions.SPREAD_FLOOR), pred

    truth, pred = draw()
    scale = decisions.calibrate_scale(truth, pred, spread)
    new_truth, new_pred = draw()
    out = decisions.interval_coverage(new_truth, new_pred, spread, scale)
    assert abs(out["coverage"] - decisions.DEFAULT_COVERAGE) < 0.03
    assert out["raw_spread_coverage"] < 0.5  # the raw spread alone is far too narrow here


def test_verify_curve_ends_at_the_brute_force_reference() -> None:
    rng = np.random.default_rng(1)
    n_datasets, per, k = 12, 3, 4
    datasets = np.repeat([f"d{i}" for i in range(n_datasets)], per)
    base = rng.uniform(0.6, 0.9, size=(n_datasets, k))
    accuracy = np.repeat(base, per, axis=0) + rng.normal(0, 0.02, size=(n_datasets * per, k))
    cost = np.tile([1.0, 2.0, 3.0, 4.0], (len(datasets), 1))
    pred = np.repeat(base, per, axis=0) + rng.normal(0, 0.05, size=accuracy.shape)
    sbs = dict.fromkeys(datasets.tolist(), 0)
    curve = decisions.verify_curve(datasets, accuracy, cost, pred, sbs, ks=(0, 1, 2))["curve"]
    assert [p["label"] for p in curve] == ["0", "1", "2", "all"]
    index = pd.DataFrame({"dataset": datasets, "sample_id": range(len(datasets))})
    reference = cv_one_sample(Corpus(index, accuracy, cost, ["a", "b", "c", "d"]), sbs)
    assert curve[-1]["mean_regret"] == pytest.approx(reference["mean_regret"])
    assert curve[-1]["gap_closed"] == pytest.approx(reference["gap_closed"])
    assert (
        curve[0]["cpu_seconds"] == 0
        and curve[-1]["cpu_seconds"] == 10
        and curve[-1]["cost_share"] == 1
    )
    assert curve[0]["mean_regret"] == curve[1]["mean_regret"]  # K = 1 measures, but cannot reorder
