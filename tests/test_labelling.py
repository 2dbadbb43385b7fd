"""Labelling: CV accuracies per classifier on shared group folds, failures recorded not raised."""

from __future__ import annotations

import math
import re
import time
import warnings

import numpy as np
import pandas as pd
import pytest
from helpers import mixed_frame
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedKFold
from sklearn.neighbors import KNeighborsClassifier

import beyonder.labels.labelling as labelling
from beyonder import schema
from beyonder.labels.labelling import CVSettings, label_key, label_sample
from beyonder.labels.metrics import METRICS
from beyonder.labels.portfolio import PORTFOLIO_NAMES

KEYS = {
    "classifier", *METRICS, *(f"{m}_std" for m in METRICS), "metric_errors",
    "fit_time", "predict_time", "n_folds", "error",
}  # fmt: skip


def _sample(n_source: int = 40, n_rows: int = 60, seed: int = 0) -> pd.DataFrame:
    source = mixed_frame(n_source, seed, target=schema.TARGET)
    idx = np.random.default_rng(seed).integers(0, n_source, n_rows)
    sample = source.iloc[idx].reset_index(drop=True)
    sample[schema.ROW_ID] = idx
    return sample


class _Boom:
    def fit(self, x, y):
        raise RuntimeError("boom")

    def predict(self, x):  # pragma: no cover - never reached
        raise AssertionError


class _Slow:
    """Predicts the majority class after sleeping: a stand-in for a slow fit."""

    def __init__(self, delay: float) -> None:
        self.delay = delay

    def fit(self, x, y):
        time.sleep(self.delay)
        values, counts = np.unique(y, return_counts=True)
        self.label_ = values[np.argmax(counts)]
        return self

    def predict(self, x):
        return np.full(len(x), self.label_, dtype=object)


class _Warns(_Slow):
    def fit(self, x, y):
        warnings.warn("did not converge", ConvergenceWarning, stacklevel=2)
        return super().fit(x, y)


def _patch(monkeypatch: pytest.MonkeyPatch, extra: dict) -> None:
    original = labelling.build_classifier

    def build(name, seed, numeric, categorical):
        return extra[name]() if name in extra else original(name, seed, numeric, categorical)

    monkeypatch.setattr(labelling, "build_classifier", build)


def test_all_classifiers_give_valid_records() -> None:
    records = label_sample(_sample(), PORTFOLIO_NAMES, CVSettings(n_folds=3, seed=0))
    assert [r["classifier"] for r in records] == list(PORTFOLIO_NAMES)
    for r in records:
        assert set(r) == KEYS
        assert r["error"] is None, r
        assert 0.0 <= r["accuracy"] <= 1.0
        assert r["accuracy_std"] >= 0.0
        assert r["fit_time"] >= 0.0 and r["predict_time"] >= 0.0
        assert r["n_folds"] == 3
        for metric in ("balanced_accuracy", "f1_macro", "roc_auc_ovr"):
            assert 0.0 <= r[metric] <= 1.0, (r["classifier"], metric)
        if r["classifier"].startswith(
            "svm_"
        ):  # margins only: AUC yes, log loss no, with the reason
            assert math.isnan(r["neg_log_loss"]) and r["metric_errors"] == {
                "neg_log_loss": "no probabilities"
            }
        else:
            assert r["neg_log_loss"] <= 0.0 and r["metric_errors"] is None


def test_deterministic() -> None:
    sample = _sample(seed=1)
    names = ["extra_trees", "hist_gb", "svm_rbf"]  # seeded + randomised, kept small for speed
    cv = CVSettings(n_folds=3, seed=7)
    first = [r["accuracy"] for r in label_sample(sample, names, cv)]
    second = [r["accuracy"] for r in label_sample(sample.copy(), names, cv)]
    assert first == second


def test_folds_computed_once_and_shared(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    original = labelling.group_stratified_folds

    def counting(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(labelling, "group_stratified_folds", counting)
    label_sample(_sample(), ["decision_tree", "gaussian_nb"], CVSettings(n_folds=3))
    assert len(calls) == 1


def test_failing_classifier_is_recorded_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    _patch(monkeypatch, {"logreg": _Boom})
    records = label_sample(_sample(), ["logreg", "decision_tree"], CVSettings(n_folds=3))
    bad, good = records
    assert bad["error"] == "RuntimeError: boom"
    assert math.isnan(bad["accuracy"]) and bad["n_folds"] == 0
    assert good["error"] is None and 0.0 <= good["accuracy"] <= 1.0


def test_unsplittable_sample_fails_every_classifier_without_raising() -> None:
    sample = _sample().assign(**{schema.ROW_ID: 0})
    records = label_sample(sample, ["knn", "logreg"], CVSettings())
    assert all(r["error"].startswith("ValueError") for r in records)
    assert all(math.isnan(r["accuracy"]) for r in records)


def test_timeout_is_cooperative_per_classifier(monkeypatch: pytest.MonkeyPatch) -> None:
    _patch(monkeypatch, {"knn": lambda: _Slow(0.1), "logreg": lambda: _Slow(0.0)})
    cv = CVSettings(n_folds=5, seed=0, fit_timeout=0.01)  # budget 5 * 0.01 = 0.05 s
    slow, fast = label_sample(_sample(), ["knn", "logreg"], cv)
    assert slow["error"] == "timeout after 0.05s"
    assert math.isnan(slow["accuracy"])
    assert 1 <= slow["n_folds"] < 5  # stopped after the first fold that broke the budget
    assert fast["error"] is None and fast["n_folds"] == 5


def test_no_timeout_without_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    _patch(monkeypatch, {"knn": lambda: _Slow(0.01)})
    (record,) = label_sample(_sample(), ["knn"], CVSettings(n_folds=3, fit_timeout=None))
    assert record["error"] is None and record["n_folds"] == 3


def test_convergence_warnings_are_silenced(monkeypatch: pytest.MonkeyPatch) -> None:
    _patch(monkeypatch, {"logreg": lambda: _Warns(0.0)})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        (record,) = label_sample(_sample(), ["logreg"], CVSettings(n_folds=3))
    assert record["error"] is None
    assert not [w for w in caught if issubclass(w.category, ConvergenceWarning)]


def test_group_folds_stop_copy_leakage(monkeypatch: pytest.MonkeyPatch) -> None:
    """Labels are pure noise, each source row copied 3 times: only leakage can score high."""
    rng = np.random.default_rng(0)
    n_source = 60
    features = rng.normal(size=(n_source, 4))
    labels = rng.choice(["a", "b"], size=n_source)
    idx = np.repeat(np.arange(n_source), 3)
    sample = pd.DataFrame(features[idx], columns=["f0", "f1", "f2", "f3"])
    sample[schema.TARGET] = labels[idx]
    sample[schema.ROW_ID] = idx

    x, y = sample[["f0", "f1", "f2", "f3"]].to_numpy(), sample[schema.TARGET].to_numpy()
    leaky = np.mean(
        [
            np.mean(KNeighborsClassifier(1).fit(x[tr], y[tr]).predict(x[te]) == y[te])
            for tr, te in StratifiedKFold(5, shuffle=True, random_state=0).split(x, y)
        ]
    )
    assert leaky > 0.9  # sanity: row-wise folds leak copies

    _patch(monkeypatch, {"knn": lambda: KNeighborsClassifier(n_neighbors=1)})
    (record,) = label_sample(sample, ["knn"], CVSettings(n_folds=5, seed=0))
    assert record["error"] is None
    assert record["accuracy"] < 0.75


def test_label_key_is_content_addressed() -> None:
    base = CVSettings(n_folds=5, seed=0, fit_timeout=None)
    key = label_key("abc123", "svm_rbf", base)
    assert re.fullmatch(r"[0-9a-f]{24}", key)
    assert label_key("abc123", "svm_rbf", CVSettings()) == key
    variants = [
        label_key("abc124", "svm_rbf", base),
        label_key("abc123", "svm_poly", base),
        label_key("abc123", "svm_rbf", CVSettings(n_folds=10)),
        label_key("abc123", "svm_rbf", CVSettings(seed=1)),
        label_key("abc123", "svm_rbf", CVSettings(fit_timeout=30.0)),
    ]
    assert len({key, *variants}) == 6


def test_label_key_changes_with_sklearn_version(monkeypatch: pytest.MonkeyPatch) -> None:
    key = label_key("abc", "knn", CVSettings())
    monkeypatch.setattr(labelling.sklearn, "__version__", "0.0.0")
    assert label_key("abc", "knn", CVSettings()) != key


def test_label_keys_are_pinned() -> None:
    """The keys of the default CV settings (``params.yaml``: 5 folds, seed 42, 60 s a fit) for
    a fixed sample hash. Every cached and shipped label (``corpus/labels.parquet``) is found by
    such a key: a change here, by the code or by a new scikit-learn, recomputes the whole
    corpus's labels on the next run (over an hour on 2 cores: "From scratch" in
    ``bench/RESULTS.md``), so it must be deliberate and come with reshipped labels."""
    cv = CVSettings(n_folds=5, seed=42, fit_timeout=60.0)
    assert {name: label_key("0123456789abcdef", name, cv) for name in
            ("logreg", "random_forest", "svm_rbf@C=10")} == {
        "logreg": "082d439661405a8336a2a203",
        "random_forest": "9538c319334ed908b77cfe0d",
        "svm_rbf@C=10": "b0510258d62f6fa05bb5b7f1",
    }  # fmt: skip
