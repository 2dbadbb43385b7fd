"""Predict, then measure: the measurement combiner's calibration (``selector/combiner.py``), the
budget's allocation (``evaluation/budget.py``), ``recommend --budget`` and ``--plot``, and the
regret-against-CPU curve that ``evaluate`` reports.

The combiner is calibrated on a synthetic world whose truth is known: each dataset has true
accuracies, a prediction that misses them by a shift shared by all classifiers plus a little
of its own, replicate CV labels around the truth, and measurement subsamples biased low (a
small sample learns less) with noise shared by the classifiers measured on it. Nothing here
depends on the machine's speed: budgets are set from the model's own predicted costs.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from helpers import TINY_CLASSIFIERS, table, tiny_recommender

from beyonder.evaluation import budget
from beyonder.evaluation.budget import (
    MIN_GAIN,
    STOPS,
    BudgetError,
    LabelledTable,
    budget_curve,
    check_against_brute_force,
    check_budget_value,
    next_measurement,
    spend_budget,
)
from beyonder.selector.combiner import (
    FULL,
    MeasurementCombiner,
    expected_max_gain,
    tiers_for,
)

CLASSIFIERS = ["a", "b", "c", "d"]
BIAS = {"m100": -0.04, "m200": -0.02}
NOISE = {"m100": 0.05, "m200": 0.035}
REPLICATE_SD = 0.02
FOLD_FIT = np.array([0.01, 0.02, 0.05, 0.1])
TIERS = tiers_for([100, 200], 3, 500, 5)


def world(
    n: int,
    seed: int,
    classifiers: list[str] = CLASSIFIERS,
    shift_sd: float = 0.05,
    own_sd: float = 0.015,
):
    """Long labels and predictions of ``n`` synthetic datasets, and their truths; the
    predictions miss by a shift of ``shift_sd`` shared by all classifiers and ``own_sd`` each."""
    rng = np.random.default_rng(seed)
    C = len(classifiers)
    labels, predictions, truths = [], [], {}
    for d in range(n):
        name = f"d{d}"
        theta = np.clip(0.75 + rng.normal(0, 0.08) + rng.normal(0, 0.04, C), 0.05, 0.99)
        truths[name] = theta
        pred = theta - rng.normal(0, shift_sd) - rng.normal(0, own_sd, C)
        fit = FOLD_FIT[:C] if C == len(FOLD_FIT) else np.full(C, 0.02)
        for r in range(4):
            label = theta + rng.normal(0, REPLICATE_SD, C)
            for c in range(C):
                labels.append(
                    (name, FULL, f"{name}__s{r}", classifiers[c], label[c], 5.5 * fit[c], fit[c])
                )
                predictions.append(
                    (name, f"{name}__s{r}", classifiers[c], pred[c] + rng.normal(0, 0.003))
                )
        for tier, bias in BIAS.items():
            measured = theta + bias + rng.normal(0, NOISE[tier] / 2) + rng.normal(0, NOISE[tier], C)
            for c in range(C):
                labels.append(
                    (
                        name,
                        tier,
                        f"{name}__{tier}",
                        classifiers[c],
                        measured[c],
                        2.0 * fit[c],
                        fit[c] / 2,
                    )
                )
    return (
        pd.DataFrame(
            labels,
            columns=[
                "dataset",
                "tier",
                "replicate",
                "classifier",
                "accuracy",
                "seconds",
                "fit_time",
            ],
        ),
        pd.DataFrame(predictions, columns=["dataset", "replicate", "classifier", "predicted"]),
        truths,
    )


@pytest.fixture(scope="module")
def fitted() -> MeasurementCombiner:
    labels, predictions, _ = world(120, seed=0)
    return MeasurementCombiner(TIERS, CLASSIFIERS).fit(labels, predictions)


# --------------------------------------------------------------------------- the combiner


def test_the_calibration_recovers_the_tiers_bias_noise_and_price(
    fitted: MeasurementCombiner,
) -> None:
    names = [t.name for t in fitted.tiers]
    for tier, bias in BIAS.items():
        np.testing.assert_allclose(fitted.bias_[names.index(tier)], bias, atol=0.015)
    assert np.all(fitted.bias_[names.index(FULL)] == 0)
    C = len(CLASSIFIERS)
    sd = {
        t: np.sqrt(np.diag(fitted.noise_cov_))[i * C : (i + 1) * C].mean()
        for i, t in enumerate(names)
    }
    assert sd[FULL] < sd["m200"] < sd["m100"]  # more rows, less noise
    assert sd[FULL] == pytest.approx(REPLICATE_SD, rel=0.25)
    # the noise of one subsample is shared by the classifiers measured on it
    i = names.index("m100") * C
    assert fitted.noise_cov_[i, i + 1] > 0.1 * fitted.noise_cov_[i, i]
    # the model's errors: a shift shared by all classifiers, so strongly correlated
    e = fitted.prediction_cov_
    assert e[0, 1] / np.sqrt(e[0, 0] * e[1, 1]) > 0.7
    # price: CV seconds per predicted fold-fit second
    np.testing.assert_allclose(fitted.cost_ratio_[names.index(FULL)], 5.5, rtol=1e-6)
    np.testing.assert_allclose(fitted.cost_ratio_[names.index("m100")], 2.0, rtol=1e-6)


def test_a_measurement_moves_its_classifier_and_the_unmeasured_ones(
    fitted: MeasurementCombiner,
) -> None:
    predicted = np.array([0.80, 0.78, 0.75, 0.70])
    slot = fitted.slot(FULL, "a")
    mean, cov = fitted.posterior(predicted, {slot: 0.90})
    # between prediction and measurement, nearer the less noisy one (the full sample's CV)
    assert 0.80 < mean[0] < 0.90 and mean[0] > 0.85
    # the others move the same way: the table is easier than predicted
    assert np.all(mean[1:] > predicted[1:])
    assert np.all(np.diag(cov) < np.diag(fitted.prediction_cov_))
    # a 100-row measurement is biased low and noisier: the same reading says less
    cheap, _ = fitted.posterior(predicted, {fitted.slot("m100", "a"): 0.90})
    assert cheap[0] - 0.80 > mean[0] - 0.80 - 0.1 and cheap[0] < mean[0] + 0.04
    # nothing measured: the prediction itself
    np.testing.assert_allclose(fitted.posterior(predicted, {})[0], predicted)


def test_combining_beats_either_source_alone_on_new_datasets(fitted: MeasurementCombiner) -> None:
    labels, predictions, truths = world(80, seed=1)
    err = {"predicted": [], "measured": [], "combined": []}
    for dataset, truth in truths.items():
        p = predictions[predictions["replicate"] == f"{dataset}__s0"]["predicted"].to_numpy()
        m = labels[(labels["dataset"] == dataset) & (labels["tier"] == "m200")][
            "accuracy"
        ].to_numpy()
        observed = {fitted.slot("m200", c): float(v) for c, v in zip(CLASSIFIERS, m, strict=True)}
        mean, _ = fitted.posterior(p, observed)
        err["predicted"].append(np.mean((p - truth) ** 2))
        err["measured"].append(np.mean((m - truth) ** 2))
        err["combined"].append(np.mean((mean - truth) ** 2))
    mse = {k: float(np.mean(v)) for k, v in err.items()}
    assert mse["combined"] < mse["predicted"] and mse["combined"] < mse["measured"], mse


def test_the_combiner_round_trips_through_json(fitted: MeasurementCombiner) -> None:
    again = MeasurementCombiner.from_dict(json.loads(json.dumps(fitted.to_dict())))
    predicted = np.array([0.8, 0.7, 0.75, 0.6])
    observed = {fitted.slot("m100", "b"): 0.72, fitted.slot(FULL, "c"): 0.8}
    for a, b in zip(
        fitted.posterior(predicted, observed), again.posterior(predicted, observed), strict=True
    ):
        np.testing.assert_allclose(a, b)
    assert again.tiers == fitted.tiers


def test_too_little_to_calibrate_on_is_one_line() -> None:
    labels, predictions, _ = world(5, seed=2)
    with pytest.raises(ValueError, match="out-of-sample predictions of at least 2"):
        MeasurementCombiner(TIERS, CLASSIFIERS).fit(labels, predictions.iloc[:4])


def test_expected_gain_of_the_best_line_is_exact() -> None:
    rng = np.random.default_rng(0)
    z = rng.normal(size=400_000)
    for _ in range(4):
        a, b = rng.normal(size=5), rng.normal(size=5)
        monte_carlo = np.max(a[:, None] + b[:, None] * z[None, :], axis=0).mean() - a.max()
        assert expected_max_gain(a, b) == pytest.approx(monte_carlo, abs=0.01)
    assert expected_max_gain(np.array([0.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(
        1 / np.sqrt(2 * np.pi)
    )
    assert expected_max_gain(np.array([0.5, 0.1]), np.zeros(2)) == 0.0


# --------------------------------------------------------------------------- the allocation


def test_a_budget_buys_only_what_it_can_afford(fitted: MeasurementCombiner) -> None:
    predicted = np.array([0.80, 0.79, 0.70, 0.60])
    costs = fitted.predicted_costs(FOLD_FIT)
    allowed = np.ones(costs.shape, dtype=bool)
    step = next_measurement(fitted, predicted, {}, costs, 10.0, set(), allowed)
    assert step is not None and step[1] >= MIN_GAIN
    cheapest = float(costs.min())
    assert next_measurement(fitted, predicted, {}, costs, cheapest * 0.99, set(), allowed) is None
    # one cheap measurement alone says little (mostly the shift shared by all): not worth it
    assert next_measurement(fitted, predicted, {}, costs, cheapest * 1.01, set(), allowed) is None
    # the two leaders compared on one subsample are
    pair = float(costs[0, :2].sum())
    slot, _ = next_measurement(fitted, predicted, {}, costs, pair * 1.01, set(), allowed)
    assert costs.ravel()[slot] <= pair * 1.01 and slot % len(CLASSIFIERS) in (0, 1)
    # the two close leaders are worth measuring, the clear losers are not
    slot, _ = step
    assert fitted.classifiers[slot % len(CLASSIFIERS)] in ("a", "b")
    # a measurement not allowed on this table (its tier needs more rows) is never chosen
    allowed[:] = False
    allowed[[t.name for t in fitted.tiers].index(FULL)] = True
    slot, _ = next_measurement(fitted, predicted, {}, costs, 10.0, set(), allowed)
    assert fitted.tiers[slot // len(CLASSIFIERS)].name == FULL


def test_nothing_is_measured_when_the_winner_is_clear(fitted: MeasurementCombiner) -> None:
    predicted = np.array([0.99, 0.30, 0.20, 0.10])
    costs = fitted.predicted_costs(FOLD_FIT)
    assert (
        next_measurement(
            fitted, predicted, {}, costs, 10.0, set(), np.ones(costs.shape, dtype=bool)
        )
        is None
    )


def test_spending_charges_what_each_measurement_cost_and_says_why_it_stopped(
    fitted: MeasurementCombiner,
) -> None:
    predicted = np.array([0.80, 0.79, 0.70, 0.60])
    costs = fitted.predicted_costs(FOLD_FIT)
    allowed = np.ones(costs.shape, dtype=bool)
    taken: list[int] = []

    def measure(slot: int, gain: float) -> tuple[float, float]:
        assert gain >= MIN_GAIN and slot not in taken
        taken.append(slot)
        # each measurement costs twice its predicted price; the second one fails
        return (float("nan") if len(taken) == 2 else 0.8), 2 * float(costs.ravel()[slot])

    budget = float(costs.sum())
    spending = spend_budget(fitted, predicted, costs, allowed, budget, measure)
    assert len(taken) >= 2 and spending.spent == pytest.approx(2 * costs.ravel()[taken].sum())
    assert set(spending.observed) == set(taken) - {taken[1]}
    # it stopped with affordable measurements left: none was worth its seconds
    assert spending.stopped == "nothing_worth_it" and spending.spent < budget / 2
    assert next_measurement(fitted, predicted, spending.observed, costs, budget - spending.spent,
                            set(taken), allowed) is None  # fmt: skip
    # a measurement that costs the whole budget leaves nothing that fits
    taken.clear()
    dear = spend_budget(fitted, predicted, costs, allowed, budget, lambda s, g: (0.8, budget))
    assert (dear.spent, len(dear.observed), dear.stopped) == (budget, 1, "budget_spent")
    # a budget below the cheapest measurement buys nothing, and says so
    nothing = spend_budget(fitted, predicted, costs, allowed, float(costs.min()) / 2, measure)
    assert (nothing.spent, nothing.observed, nothing.stopped) == (0.0, {}, "budget_spent")
    # one measurement allowed and a dead heat: it is taken, and then all are measured
    one = np.zeros_like(allowed)
    one.ravel()[int(np.argmin(costs))] = True
    tie = spend_budget(fitted, np.full(4, 0.8), costs, one, budget, lambda s, g: (0.8, 1.0))
    assert (tie.spent, list(tie.observed), tie.stopped) == (
        1.0,
        [int(np.argmin(costs))],
        "all_measured",
    )
    # a clear winner: nothing is worth measuring though everything fits
    clear = spend_budget(
        fitted, np.array([0.99, 0.30, 0.20, 0.10]), costs, allowed, budget, measure
    )
    assert (clear.spent, clear.stopped) == (0.0, "nothing_worth_it")
    assert set(STOPS) == {"nothing_worth_it", "budget_spent", "all_measured"}


@pytest.mark.parametrize("value", [-1, 0, float("nan"), float("inf"), "soon", True])
def test_bad_budgets_are_one_line(value) -> None:
    with pytest.raises(BudgetError, match="budget must be a") as info:
        check_budget_value(value)
    assert "\n" not in str(info.value)
    assert check_budget_value("2.5") == 2.5 and check_budget_value(None) is None
    with pytest.raises(BudgetError, match="more than brute force is predicted to cost"):
        check_against_brute_force(5.0, 4.0, 10, 500)


# --------------------------------------------------------------------------- recommend --budget


@pytest.fixture(scope="module")
def calibrated():
    rec = tiny_recommender(sample_rows=120)
    rec.interval_scale = 2.0
    # an untrained network's predictions are far apart: errors of that size make them uncertain
    labels, predictions, _ = world(60, seed=3, classifiers=TINY_CLASSIFIERS, own_sd=0.15)
    rec.combiner = MeasurementCombiner(tiers_for([100, 200], 3, 120, 5), TINY_CLASSIFIERS).fit(
        labels, predictions
    )
    return rec


def test_recommend_spends_the_budget_and_says_what_it_bought(calibrated) -> None:
    frame = table(300, seed=3)
    plain = calibrated.predict(frame, "class")
    costs = calibrated.combiner.predicted_costs(
        plain.set_index("classifier")["predicted_fit_time"].reindex(TINY_CLASSIFIERS).to_numpy()
    )
    brute = float(costs[-1].sum())
    answer = calibrated.predict(frame, "class", budget=brute)
    attrs = answer.attrs
    assert attrs["budget"] == brute and attrs["brute_force_seconds"] == pytest.approx(brute)
    taken = attrs["measurements"]
    assert taken, "a budget of brute force's price buys at least one measurement"
    spent = 0.0
    for item in taken:  # each was affordable, by its predicted price, when it was chosen
        assert item["predicted_seconds"] <= brute - spent + 1e-9
        spent += item["cv_seconds"]
    assert attrs["budget_spent"] == pytest.approx(spent)
    assert attrs["budget_stopped"] in STOPS
    assert answer["estimated_accuracy"].is_monotonic_decreasing
    assert answer["rank"].tolist() == list(range(1, len(TINY_CLASSIFIERS) + 1))
    assert (answer["estimated_low"] <= answer["estimated_accuracy"]).all()
    measured = answer[answer["measured_tier"] != ""]
    assert set(measured["classifier"]) == {m["classifier"] for m in taken if m["error"] is None}
    assert measured["measured_accuracy"].between(0, 1).all()
    # the prediction columns are untouched
    pd.testing.assert_series_equal(
        answer.set_index("classifier")["predicted_accuracy"].sort_index(),
        plain.set_index("classifier")["predicted_accuracy"].sort_index(),
    )


def test_recommend_refuses_bad_budgets_in_one_line(calibrated) -> None:
    from beyonder.serving.recommend import RecommendError

    frame = table(300, seed=3)
    for value, message in [
        (-1, "positive"),
        ("soon", "number of CPU seconds"),
        (1e9, "more than brute force"),
    ]:
        with pytest.raises(RecommendError, match=message) as info:
            calibrated.predict(frame, "class", budget=value)
        assert "\n" not in str(info.value)
    with pytest.raises(RecommendError, match="not both"):
        calibrated.predict(frame, "class", budget=1.0, verify=2)
    bare = tiny_recommender(sample_rows=120)
    with pytest.raises(RecommendError, match="no measurement calibration"):
        bare.predict(frame, "class", budget=1.0)


def test_a_failing_measurement_is_recorded_and_the_answer_goes_on(calibrated, monkeypatch) -> None:
    frame = table(300, seed=3)
    monkeypatch.setattr(calibrated, "fit_timeout", 1e-9)  # every measurement times out
    answer = calibrated.predict(frame, "class", budget=_brute(calibrated, frame))
    taken = answer.attrs["measurements"]
    assert taken and all(m["error"] and m["error"].startswith("timeout after") for m in taken)
    assert (answer["measured_tier"] == "").all()
    np.testing.assert_allclose(answer["estimated_accuracy"], answer["predicted_accuracy"])


def test_verify_with_a_calibrated_model_combines_instead_of_replacing(calibrated) -> None:
    frame = table(300, seed=3)
    answer = calibrated.predict(frame, "class", verify=2)
    measured = answer[answer["measured_tier"] != ""]
    assert len(measured) == 2 and (measured["measured_tier"] == "120 rows, 5-fold CV").all()
    assert answer["estimated_accuracy"].is_monotonic_decreasing
    assert len(answer.attrs["measurements"]) == 2


def test_a_budget_ranks_by_accuracy_and_verify_by_the_chosen_metric(calibrated) -> None:
    """The combiner is calibrated on accuracy: a budget with another metric is one line;
    verify K with another metric ranks the K by that measured metric, not combined."""
    from beyonder.serving.recommend import RecommendError

    frame = table(300, seed=3)
    with pytest.raises(RecommendError, match="not balanced_accuracy") as info:
        calibrated.predict(frame, "class", budget=1.0, metric="balanced_accuracy")
    assert "\n" not in str(info.value)
    answer = calibrated.predict(frame, "class", verify=2, metric="balanced_accuracy")
    assert "estimated_accuracy" not in answer and "measured_balanced_accuracy" in answer
    assert (
        answer.attrs["metric"] == "balanced_accuracy"
        and answer["measured_balanced_accuracy"].iloc[:2].notna().all()
    )


def test_ctrl_c_during_a_measurement_stops_and_writes_nothing(
    calibrated, monkeypatch, tmp_path
) -> None:
    import beyonder.labels.labelling as labelling

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(labelling, "label_sample", interrupted)
    with pytest.raises(KeyboardInterrupt):
        calibrated.predict(
            table(300, seed=3), "class", budget=_brute(calibrated, table(300, seed=3))
        )


def test_the_served_model_takes_a_budget(calibrated) -> None:
    from mlflow.exceptions import MlflowException

    from beyonder.serving.pyfunc import BeyonderModel

    model = BeyonderModel()
    model.recommender, model.default_target = calibrated, "class"
    frame = table(300, seed=3)
    served = model.predict(None, frame, {"budget": _brute(calibrated, frame)})
    assert "estimated_accuracy" in served and served.attrs["measurements"]
    with pytest.raises(MlflowException, match="budget must be a positive"):
        model.predict(None, frame, {"budget": -2.0})


def _brute(rec, frame: pd.DataFrame) -> float:
    plain = rec.predict(frame, "class")
    fit = (
        plain.set_index("classifier")["predicted_fit_time"]
        .reindex(rec.combiner.classifiers)
        .to_numpy()
    )
    return float(rec.combiner.predicted_costs(fit)[-1].sum())


def test_cli_budget_json_plot_and_bad_options(calibrated, tmp_path, capsys) -> None:
    from beyonder.cli import main

    folder = calibrated.save(tmp_path / "model")
    path = tmp_path / "t.csv"
    table(300, seed=3).to_csv(path, index=False)
    base = ["recommend", str(path), "--model", str(folder)]
    for option, message in [
        (["--budget", "soon"], "budget must be a number of CPU seconds, got 'soon'"),
        (["--budget", "-1"], "budget must be a positive number of CPU seconds, got '-1'"),
        (["--budget", "1", "--verify", "2"], "give --budget or --verify, not both"),
        (["--budget", "1", "--metric", "f1_macro"], "so it ranks by accuracy, not f1_macro"),
        (["--plot", str(tmp_path / "x.txt")], "plot file must end in .png or .html"),
        (["--budget", "1e9"], "more than brute force is predicted to cost"),
    ]:
        assert main(base + option) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err
    # just under brute force's price: the command predicts it again from the saved model and
    # the CSV, and may land a hair below this process's figure (a budget above it is refused)
    budget_s = 0.99 * _brute(calibrated, table(300, seed=3))
    png = tmp_path / "answer.png"
    assert main([*base, "--budget", repr(budget_s), "--plot", str(png), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["budget"] == budget_s and out["measurements"]
    assert out["budget_stopped"] in STOPS
    assert out["plot"] == str(png) and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "estimated_accuracy" in out["ranking"][0]
    assert main([*base, "--budget", repr(budget_s)]) == 0
    text = capsys.readouterr().out
    assert "measured" in text and f"budget {budget_s:g} CPU s" in text
    assert f"stopped: {STOPS[out['budget_stopped']]}" in text


# --------------------------------------------------------------------------- --plot


def test_the_frontier_keeps_only_what_nothing_beats() -> None:
    from beyonder.serving.plot import frontier

    time = np.array([1.0, 2.0, 3.0, 0.5, 2.0])
    accuracy = np.array([0.8, 0.7, 0.9, 0.6, 0.85])
    assert frontier(time, accuracy).tolist() == [3, 0, 4, 2]


def test_the_plot_is_a_png_or_a_page(calibrated, tmp_path) -> None:
    from beyonder.serving.plot import PlotError, check_plot_path, write_plot

    answer = calibrated.predict(table(300, seed=3), "class", verify=2)
    png = write_plot(answer, tmp_path / "a.png", "t")
    assert png.read_bytes()[:4] == b"\x89PNG"
    page = write_plot(answer, tmp_path / "sub" / "a.html", "t").read_text()
    assert "<svg" in page and "<table" in page and "estimated_accuracy" in page
    assert not list(tmp_path.rglob("*.tmp"))
    with pytest.raises(PlotError):
        check_plot_path(tmp_path / "a.pdf")


# --------------------------------------------------------------------------- the evaluation curve


def _tables(fitted: MeasurementCombiner, n: int, seed: int) -> list[LabelledTable]:
    labels, predictions, _ = world(n, seed=seed)
    out = []
    for d, group in labels.groupby("dataset"):
        full = group[group["tier"] == FULL].pivot(
            index="replicate", columns="classifier", values="accuracy"
        )
        seconds = group[group["tier"] == FULL].pivot(
            index="replicate", columns="classifier", values="seconds"
        )
        pred = predictions[predictions["dataset"] == d].pivot(
            index="replicate", columns="classifier", values="predicted"
        )
        tiers = {
            t: (
                group[group["tier"] == t]
                .set_index("classifier")["accuracy"]
                .reindex(CLASSIFIERS)
                .to_numpy(),
                group[group["tier"] == t]
                .set_index("classifier")["seconds"]
                .reindex(CLASSIFIERS)
                .to_numpy(),
            )
            for t in BIAS
        }
        out.append(
            LabelledTable(
                str(d), pred[CLASSIFIERS].to_numpy(), np.tile(FOLD_FIT, (len(pred), 1)), full[CLASSIFIERS].to_numpy(),
                seconds[CLASSIFIERS].to_numpy(), tiers, fitted, sbs=0, prediction_seconds=np.full(len(pred), 0.01),
                group="even" if int(str(d)[1:]) % 2 == 0 else "odd",
            )
        )  # fmt: skip
    return out


def test_the_budget_curve_prices_brute_force_on_the_other_replicates(
    fitted: MeasurementCombiner,
) -> None:
    curve = budget_curve(_tables(fitted, 30, seed=4), shares=(0.1, 1.0), n_boot=100)
    modes = {m["mode"]: m for m in curve["modes"]}
    assert curve["n_datasets"] == 30 and set(curve["by_group"]) == {"even", "odd"}
    assert modes["brute_force"]["cpu_share"] == pytest.approx(1.0)
    assert modes["sbs"]["cpu_seconds"] == 0 and modes["predicted"]["cpu_seconds"] == pytest.approx(
        0.01
    )
    assert modes["brute_force"]["regret_vs_brute_force_ci"] == [0.0, 0.0]
    for name in ("top1@m100", "all@m200", "all@full", "verify3", "budget0.1", "budget1"):
        assert name in modes
    assert modes["budget0.1"]["cpu_seconds"] <= modes["budget1"]["cpu_seconds"]
    assert curve["brute_force_mean_regret"] == modes["brute_force"]["mean_regret"]
    # everything measured on the full sample and combined with the prediction: no worse than CV alone
    assert modes["all@full"]["mean_regret"] <= modes["brute_force"]["mean_regret"] + 0.2
    assert budget.headline(curve)["cheapest_at_brute_force_regret"] is not None
    # how each budget ended: every replay once per mode, and the CPU it spent adds up
    endings = curve["budget_endings"]
    assert endings["replays"] == sum(len(t.accuracy) for t in _tables(fitted, 30, seed=4))
    assert endings["brute_force_price"]["predicted_over_actual_total"] > 0
    assert set(curve["by_group"]["even"]["budget_endings"]["modes"]) == {"budget0.1", "budget1"}
    for mode in ("budget0.1", "budget1"):
        parts = endings["modes"][mode]
        assert set(parts) == set(STOPS)
        assert sum(p["replays"] for p in parts.values()) == pytest.approx(1.0)
        assert sum(p["brute_force_cpu"] for p in parts.values()) == pytest.approx(1.0)
        spent = sum(p["brute_force_cpu"] * p["spent"] for p in parts.values() if p["replays"])
        measuring = modes[mode]["cpu_seconds"] - 0.01  # less the prediction's own CPU
        assert spent == pytest.approx(measuring / modes["brute_force"]["cpu_seconds"])


def test_the_truth_leaves_out_the_users_replicate(fitted: MeasurementCombiner) -> None:
    # replicate 0 says "c" wins by far, the others say "a": picking by replicate 0's CV is
    # priced on the others, so brute force regrets when replicate 0 is the user's table
    accuracy = np.array([[0.70, 0.60, 0.95, 0.5]] + [[0.90, 0.60, 0.80, 0.5]] * 3)
    table_ = LabelledTable("x", np.tile([0.8, 0.7, 0.75, 0.6], (4, 1)), np.tile(FOLD_FIT, (4, 1)), accuracy,
                           np.ones((4, 4)), {}, fitted, sbs=0)  # fmt: skip
    curve = budget_curve([table_], shares=(1.0,), n_boot=10)
    brute = next(m for m in curve["modes"] if m["mode"] == "brute_force")
    expected = []
    for r in range(4):
        truth = accuracy[[o for o in range(4) if o != r]].mean(axis=0)
        expected.append(100 * (truth.max() - truth[np.argmax(accuracy[r])]))
    assert expected[0] == pytest.approx(10.0)  # replicate 0's "c" priced on the others' "a"
    assert brute["mean_regret"] == pytest.approx(np.mean(expected))
    assert brute["cpu_seconds"] == pytest.approx(4.0)


def test_evaluate_corpus_reports_the_curve_per_group() -> None:
    """``cross_validate`` on a tiny in-memory corpus (three replicates and two measurement
    subsamples per dataset, two folders): each fold calibrates its own combiner and the
    decisions report carries the curve, overall and per folder."""
    from beyonder.data.splits import grouped_folds
    from beyonder.evaluation.crossval import RunSettings, Workspace, cross_validate
    from beyonder.schema import ROW_ID, TARGET
    from beyonder.selector.corpus import Corpus
    from beyonder.selector.encoding import encode_sample
    from beyonder.selector.estimator import BeyonderConfig

    classifiers = ["logreg", "knn", "random_forest", "svm_rbf"]
    rng = np.random.default_rng(0)
    index, accuracy, encoded, measured = [], [], {}, []
    n = 20
    for d in range(n):
        linear = d % 2 == 0
        base = np.array([0.9, 0.7, 0.75, 0.8]) if linear else np.array([0.6, 0.85, 0.9, 0.8])
        for s in range(3):
            x = rng.normal(size=(60, 3))
            frame = pd.DataFrame(x, columns=["a", "b", "c"])
            frame[TARGET] = np.where(
                x[:, 0] + (x[:, 1] if linear else np.sin(3 * x[:, 1])) > 0, "p", "q"
            )
            frame[ROW_ID] = np.arange(60)
            sample_id = f"d{d}__s{s}"
            index.append(
                {"sample_id": sample_id, "dataset": f"d{d}", "kind": "bootstrap", "file": ""}
            )
            accuracy.append(np.clip(base + rng.normal(0, 0.02, 4), 0, 1))
            encoded[sample_id] = encode_sample(frame)
        for tier, bias in BIAS.items():
            values = np.clip(base + bias + rng.normal(0, 0.04, 4), 0, 1)
            measured += [
                (f"d{d}", tier, c, v, 0.05, 0.01) for c, v in zip(classifiers, values, strict=True)
            ]
    acc = np.array(accuracy)
    corpus = Corpus(
        pd.DataFrame(index), acc, np.full_like(acc, 0.01), classifiers, np.full_like(acc, 0.001)
    )
    measurements = pd.DataFrame(
        measured, columns=["dataset", "tier", "classifier", "accuracy", "seconds", "fit_time"]
    )
    groups = {f"d{d}": "even" if d % 2 == 0 else "odd" for d in range(n)}
    ws = Workspace(corpus, None, encoded, {}, groups=groups, measurements=measurements)
    folds = grouped_folds(sorted(groups), 2, seed=0, families=())
    config = BeyonderConfig(
        classifiers=classifiers, dim=8, heads=2, blocks=1, inducing=4, epochs=1, batch_size=8
    )
    settings = RunSettings(
        ("beyonder",), n_boot=50, tiers=tiers_for([100, 200], 3, 500, 5), curve_shares=(0.2, 1.0),
        report_groups={"natural": ["even"], "binarized": ["odd"]},
    )  # fmt: skip
    report = cross_validate(ws, folds, config, settings)
    curve = report["decisions"]["budget_curve"]
    modes = {m["mode"]: m for m in curve["modes"]}
    # a fold with too few validation datasets to calibrate on leaves its datasets out; the
    # curve comes per report group (evaluate.groups), as the metric tables do
    assert curve["n_datasets"] >= n // 2 and set(curve["by_group"]) == {"natural", "binarized"}
    assert {
        "sbs",
        "predicted",
        "top2@m100",
        "all@full",
        "budget0.2",
        "budget1",
        "brute_force",
    } <= set(modes)
    assert modes["brute_force"]["cpu_share"] == pytest.approx(1.0)
    assert modes["brute_force"]["cpu_seconds"] == pytest.approx(4 * 5 * 0.011)
    assert modes["all@m100"]["cpu_seconds"] == pytest.approx(
        4 * 0.05
    )  # no sample files: no prediction cost
    # what the report kept gives the same curve again, without training (bench/budget_replay.py)
    again = budget.replay(
        report["decisions"]["replay"],
        corpus,
        measurements,
        settings.tiers,
        groups,
        shares=(0.2, 1.0),
        n_boot=50,
    )
    assert again["modes"] == curve["modes"]


def test_the_plot_needs_matplotlib_and_says_so(monkeypatch, tmp_path) -> None:
    """The light install has no matplotlib: ``--plot`` is one line naming the extra."""
    import importlib.util

    from beyonder import errors
    from beyonder.serving.plot import check_plot_path

    real = importlib.util.find_spec
    monkeypatch.setattr(
        errors.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "matplotlib" else real(name, *a),
    )
    with pytest.raises(
        errors.MissingExtra,
        match=r"--plot a.png needs the pipeline extra \(matplotlib not installed\)",
    ):
        check_plot_path(tmp_path / "a.png")


def test_the_curves_brute_force_is_the_group_tables(fitted: MeasurementCombiner) -> None:
    """One rule for brute force everywhere: the curve's point equals ``truth.brute_force``'s
    (the group tables' noise ceiling) per dataset, a pick whose label is missing on the other
    replicates included (it pays the worst labelled classifier's regret, as in ``regret``)."""
    from beyonder.evaluation.truth import brute_force

    accuracy = np.array([[0.70, 0.60, 0.95, 0.5], [0.90, 0.60, np.nan, 0.5],
                         [0.85, 0.65, np.nan, 0.5], [0.90, 0.60, np.nan, 0.5]])  # fmt: skip
    accuracy_b = np.array([[0.60, 0.90, 0.70, 0.5]] * 2 + [[0.90, 0.60, 0.70, 0.5]] * 2)
    tables = [
        LabelledTable(name, np.tile([0.8, 0.7, 0.75, 0.6], (4, 1)), np.tile(FOLD_FIT, (4, 1)),
                      values, np.ones((4, 4)), {}, fitted, sbs=0)
        for name, values in (("a", accuracy), ("b", accuracy_b))
    ]  # fmt: skip
    curve = budget_curve(tables, shares=(1.0,), n_boot=10)
    reference = brute_force(np.repeat(["a", "b"], 4), np.vstack([accuracy, accuracy_b]))
    for name in ("a", "b"):
        assert curve["per_dataset"][name]["brute_force"][0] == pytest.approx(
            reference["per_dataset"][name], abs=1e-4
        )
    assert curve["brute_force_mean_regret"] == pytest.approx(reference["mean_regret"], abs=1e-4)
