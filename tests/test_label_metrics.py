"""The metrics a label carries: each equals scikit-learn's scorer on the same fold, a metric
that cannot be computed is a reason (never a crash), and one fit serves them all."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score, f1_score, log_loss, roc_auc_score
from sklearn.svm import SVC

from beyonder.labels.metrics import (
    METRICS,
    MetricError,
    check_metric,
    class_scores,
    fold_metrics,
    summarise,
)


def _fit(model, n=90, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    y = np.array(
        [f"c{i}" for i in (x[:, 0] * 1.5 + rng.normal(size=n) > 0).astype(int) + (x[:, 1] > 0.8)]
    )[:n]
    if classes == 2:
        y = np.where(y == "c2", "c1", y)
    return model.fit(x[:60], y[:60]), x[60:], y[60:]


@pytest.mark.parametrize("classes", [2, 3])
def test_fold_metrics_are_sklearns_scorers_on_the_same_predictions(classes: int) -> None:
    model, x, y = _fit(LogisticRegression(), classes=classes)
    labels = sorted(set(model.classes_))
    scores, probabilities, reason = class_scores(model, x, labels)
    assert probabilities and reason is None
    got = fold_metrics(y, model.predict(x), scores, probabilities, labels)
    proba = model.predict_proba(x)
    assert got["accuracy"] == pytest.approx(np.mean(model.predict(x) == y))
    assert got["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, model.predict(x)))
    assert got["f1_macro"] == pytest.approx(f1_score(y, model.predict(x), average="macro"))
    expected_auc = (
        roc_auc_score(y, proba[:, 1])
        if classes == 2
        else roc_auc_score(y, proba, multi_class="ovr")
    )
    assert got["roc_auc_ovr"] == pytest.approx(expected_auc)
    assert got["neg_log_loss"] == pytest.approx(-log_loss(y, proba, labels=labels))


def test_margins_give_auc_but_no_log_loss_with_the_reason() -> None:
    model, x, y = _fit(SVC())
    labels = sorted(set(model.classes_))
    scores, probabilities, _ = class_scores(model, x, labels)
    got = fold_metrics(y, model.predict(x), scores, probabilities, labels)
    assert 0.5 < got["roc_auc_ovr"] <= 1.0
    assert got["neg_log_loss"] == "no probabilities"


def test_a_class_missing_from_the_training_fold_scores_as_zero_probability() -> None:
    model, x, y = _fit(LogisticRegression(), classes=2)
    labels = sorted({*model.classes_, "never_seen"})
    scores, _, _ = class_scores(model, x, labels)
    assert scores.shape == (len(x), 3) and (scores[:, labels.index("never_seen")] == 0).all()
    got = fold_metrics(y, model.predict(x), scores, True, labels)
    assert math.isfinite(got["neg_log_loss"]) and 0 <= got["roc_auc_ovr"] <= 1


def test_one_class_in_a_test_fold_has_no_auc_and_the_label_says_why() -> None:
    y = np.array(["a"] * 5)
    scores = np.tile([0.7, 0.3], (5, 1))
    fold = fold_metrics(y, y, scores, True, ["a", "b"])
    assert fold["roc_auc_ovr"] == "one class in the test fold" and fold["accuracy"] == 1.0
    record = summarise([fold, fold])
    assert math.isnan(record["roc_auc_ovr"]) and record["metric_errors"] == {
        "roc_auc_ovr": "one class in the test fold"
    }
    assert record["accuracy"] == 1.0 and record["accuracy_std"] == 0.0


def test_summarise_averages_the_folds_that_could_be_scored() -> None:
    folds = [
        {"accuracy": 0.5, "roc_auc_ovr": 0.8},
        {"accuracy": 0.7, "roc_auc_ovr": "one class in the test fold"},
    ]
    record = summarise(folds, ["accuracy", "roc_auc_ovr"])
    assert record["accuracy"] == pytest.approx(0.6) and record["roc_auc_ovr"] == pytest.approx(0.8)
    assert record["metric_errors"] is None


def test_an_unknown_metric_is_one_line_naming_the_known_ones() -> None:
    with pytest.raises(
        MetricError, match="unknown metric 'auc'; known: accuracy, balanced_accuracy"
    ):
        check_metric("auc")
    assert [check_metric(m) for m in METRICS] == list(METRICS)


def test_every_metric_is_higher_is_better() -> None:
    y = pd.Series(["a", "b", "a", "b"]).to_numpy()
    good = fold_metrics(
        y, y, np.array([[0.9, 0.1], [0.1, 0.9], [0.8, 0.2], [0.2, 0.8]]), True, ["a", "b"]
    )
    bad = fold_metrics(
        y, y[::-1], np.array([[0.4, 0.6], [0.6, 0.4], [0.3, 0.7], [0.7, 0.3]]), True, ["a", "b"]
    )
    assert all(good[m] > bad[m] for m in METRICS)


@pytest.mark.parametrize("seed", range(6))
def test_numpy_metrics_equal_sklearns_with_ties_and_classes_missing_from_a_side(seed: int) -> None:
    """fold_metrics computes without sklearn's per-call validation; it must give sklearn's
    values, also when the predictions hold a class the fold lacks and scores tie."""
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 6))
    classes = [f"k{i}" for i in range(k)]
    y = rng.choice(classes[:-1] if seed % 2 and k > 2 else classes, size=40)
    predicted = rng.choice(classes, size=40)
    proba = rng.dirichlet(np.ones(k), size=40).round(1)  # rounding makes ties
    proba = proba / proba.sum(axis=1, keepdims=True)
    got = fold_metrics(y, predicted, proba, True, classes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "y_pred contains classes not in y_true"
        assert got["balanced_accuracy"] == pytest.approx(
            balanced_accuracy_score(y, predicted), abs=1e-12
        )
    assert got["f1_macro"] == pytest.approx(
        f1_score(y, predicted, average="macro", zero_division=0), abs=1e-12
    )
    assert got["neg_log_loss"] == pytest.approx(
        -log_loss(y, y_proba=proba, labels=classes), abs=1e-12
    )
    if k == 2:
        expected = roc_auc_score(y == classes[1], proba[:, 1])
    else:
        present = [i for i, c in enumerate(classes) if (y == c).any()]
        expected = np.mean([roc_auc_score(y == classes[i], proba[:, i]) for i in present])
    assert got["roc_auc_ovr"] == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(
    "name", ["random_forest", "knn", "gaussian_nb", "logreg", "hist_gb", "decision_tree"]
)
def test_one_prediction_pass_gives_predicts_classes(name: str) -> None:
    """Labelling reads the class off predict_proba (one pass); it must be predict's class."""
    from beyonder.labels.portfolio import build_classifier

    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        rng.normal(size=(150, 3)).round(1), columns=["a", "b", "c"]
    )  # rounding makes ties
    y = np.array(["c0", "c1", "c2"])[
        (frame["a"] + rng.normal(size=150) > 0).astype(int) + (frame["b"] > 0.8)
    ]
    model = build_classifier(name, 0, ["a", "b", "c"], []).fit(frame[:90], y[:90])
    frame = frame[90:]
    labels = sorted(set(model.classes_))
    scores, probabilities, _ = class_scores(model, frame, labels)
    assert probabilities
    np.testing.assert_array_equal(
        np.asarray(labels)[np.argmax(scores, axis=1)], model.predict(frame)
    )
