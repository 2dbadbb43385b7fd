"""The metrics a label carries, all scored on the same fold predictions.

One fit per fold gives the predicted classes and, where the classifier has them, class
probabilities (``predict_proba``) or margins (``decision_function``); every metric below is
read off those, so scoring several costs almost nothing beyond the fit. Names are
scikit-learn's scorer names and every metric is "higher is better" (log loss enters as
``neg_log_loss``), so one ranking rule serves them all.

A metric that cannot be computed for a classifier on a fold (no probabilities for log loss,
a single class in the test fold for ROC AUC) is skipped for that fold; a label whose every
fold was skipped records why in its ``metric_errors``, never a crash.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

METRICS: tuple[str, ...] = (
    "accuracy",
    "balanced_accuracy",
    "f1_macro",
    "roc_auc_ovr",
    "neg_log_loss",
)
"""Every label's metrics, in this order; ``accuracy`` is the default everywhere."""

DEFAULT_METRIC = "accuracy"

SCORE_METRICS = frozenset({"roc_auc_ovr", "neg_log_loss"})
"""Metrics read off class scores (probabilities or margins), not predicted classes alone."""

PROBABILITY_METRICS = frozenset({"neg_log_loss"})
"""Metrics that need class probabilities: a classifier with margins only has none."""

MARGINS_ONLY = frozenset({"svm_linear", "svm_rbf", "svm_poly"})
"""Portfolio members without class probabilities (``SVC`` without Platt scaling, which would
cost five more fits per fold): no log loss for them."""


def unavailable(metric: str, classifier: str) -> str | None:
    """Why ``metric`` cannot be computed for a portfolio member (None: it can)."""
    if metric in PROBABILITY_METRICS and classifier.partition("@")[0] in MARGINS_ONLY:
        return "no probabilities (margins only)"
    return None


class MetricError(ValueError):
    """An unknown metric name; the message lists the known ones."""


def check_metric(name: str) -> str:
    """``name`` if it is a known metric, else one line naming the known ones."""
    if name not in METRICS:
        raise MetricError(f"unknown metric {name!r}; known: {', '.join(METRICS)}")
    return name


def class_scores(
    model: Any, x_test: Any, classes: Sequence[str]
) -> tuple[np.ndarray | None, bool, str | None]:
    """``(scores, are_probabilities, reason)`` of a fitted classifier on the test rows: one
    column per class of ``classes`` (the sample's classes, in order), from ``predict_proba``
    if it has one, else from ``decision_function``. Classes the fold's training part lacked
    get probability 0 (or the lowest margin). ``scores`` is None, with the reason, if the
    classifier gives neither."""
    fitted = [str(c) for c in getattr(model, "classes_", [])]
    if has_probabilities(model):
        values, probabilities = np.asarray(model.predict_proba(x_test), dtype=np.float64), True
    elif hasattr(model, "decision_function"):
        values, probabilities = np.asarray(model.decision_function(x_test), dtype=np.float64), False
        if values.ndim == 1:  # binary: the margin of the second class
            values = np.column_stack([-values, values])
    else:
        return None, False, "no predict_proba or decision_function"
    filler = 0.0 if probabilities else float(np.min(values)) - 1.0
    out = np.full((values.shape[0], len(classes)), filler)
    index = {c: i for i, c in enumerate(classes)}
    for j, c in enumerate(fitted):
        out[:, index[c]] = values[:, j]
    return out, probabilities, None


def has_probabilities(model: Any) -> bool:
    """``predict_proba`` that really exists: an ``SVC`` built without ``probability=True``
    exposes the method but raises, so margins are used for it instead."""
    final = model.steps[-1][1] if hasattr(model, "steps") else model
    return hasattr(model, "predict_proba") and getattr(final, "probability", True) is not False


def fold_metrics(
    y_test: np.ndarray,
    predicted: np.ndarray,
    scores: np.ndarray | None,
    probabilities: bool,
    classes: Sequence[str],
    metrics: Sequence[str] = METRICS,
) -> dict[str, float | str]:
    """The ``metrics`` of one fold: each a number, or a one-line reason it cannot be computed.

    Computed with numpy from one confusion matrix and the class scores, to the values of
    scikit-learn's ``balanced_accuracy_score``, ``f1_score(average="macro", zero_division=0)``,
    ``roc_auc_score`` and ``log_loss`` (``tests/test_label_metrics.py`` checks them against
    each other): those functions validate their input on every call, which on a 500-row
    sample costs more than the fold's predictions, and labelling calls them 250 times a sample.
    """
    y_test, predicted = np.asarray(y_test).astype(str), np.asarray(predicted).astype(str)
    out: dict[str, float | str] = {}
    counts = None
    for name in metrics:
        if name == "accuracy":
            out[name] = float(np.mean(predicted == y_test))
        elif name in ("balanced_accuracy", "f1_macro"):
            counts = counts if counts is not None else _confusion(y_test, predicted)
            out[name] = (
                _balanced_accuracy(counts) if name == "balanced_accuracy" else _f1_macro(counts)
            )
        elif name == "roc_auc_ovr":
            out[name] = _auc(y_test, scores, classes) if scores is not None else "no class scores"
        elif name == "neg_log_loss":
            out[name] = (
                -_log_loss(y_test, _normalised(scores), classes)
                if probabilities
                else "no probabilities"
            )
        else:
            raise MetricError(check_metric(name))
    return out


def _confusion(y_test: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Confusion matrix (true x predicted) over the classes seen in either, sorted."""
    labels, codes = np.unique(np.concatenate([y_test, predicted]), return_inverse=True)
    n = len(y_test)
    return np.bincount(codes[:n] * len(labels) + codes[n:], minlength=len(labels) ** 2).reshape(
        len(labels), -1
    )


def _balanced_accuracy(counts: np.ndarray) -> float:
    """Mean recall over the classes present in the test fold."""
    support = counts.sum(axis=1)
    present = support > 0
    return float(np.mean(np.diag(counts)[present] / support[present]))


def _f1_macro(counts: np.ndarray) -> float:
    """Mean F1 over the classes in the test fold or the predictions (none is 0/0)."""
    tp = np.diag(counts).astype(np.float64)
    fn, fp = counts.sum(axis=1) - tp, counts.sum(axis=0) - tp
    return float(np.mean(2 * tp / (2 * tp + fn + fp)))


def _log_loss(y_test: np.ndarray, probabilities: np.ndarray, classes: Sequence[str]) -> float:
    """Mean negative log-probability of the true class, clipped at machine epsilon."""
    index = {c: i for i, c in enumerate(classes)}
    truth = probabilities[np.arange(len(y_test)), [index[c] for c in y_test]]
    eps = np.finfo(np.float64).eps
    return float(np.mean(-np.log(np.clip(truth, eps, 1 - eps))))


def _normalised(probabilities: np.ndarray) -> np.ndarray:
    """Rows that sum to one (a class missing from the training fold left a gap)."""
    total = probabilities.sum(axis=1, keepdims=True)
    return np.divide(
        probabilities,
        total,
        out=np.full_like(probabilities, 1.0 / probabilities.shape[1]),
        where=total > 0,
    )


def _auc(y_test: np.ndarray, scores: np.ndarray, classes: Sequence[str]) -> float | str:
    """Macro one-vs-rest ROC AUC over the classes present in the test fold (for two classes,
    the ordinary AUC); a fold with one class has none."""
    present = [i for i, c in enumerate(classes) if (y_test == c).any()]
    if len(present) < 2:
        return "one class in the test fold"
    if len(classes) == 2:
        return _binary_auc(y_test == classes[1], scores[:, 1])
    return float(np.mean([_binary_auc(y_test == classes[i], scores[:, i]) for i in present]))


def _binary_auc(positive: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC as the Mann-Whitney statistic: the chance that a positive outscores a negative,
    ties counting one half (the area under the ROC curve with tied scores joined linearly)."""
    # imported here: ``recommend`` imports this module (the metric names), and SciPy's stats
    # are slow to import (bench/RESULTS.md, "Recommendation latency")
    from scipy.stats import rankdata

    ranks = rankdata(score)
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def summarise(
    folds: list[dict[str, float | str]], metrics: Sequence[str] = METRICS
) -> dict[str, Any]:
    """Mean and standard deviation over the folds of each metric (``<metric>`` and
    ``<metric>_std``), from the folds where it could be computed; ``metric_errors`` maps a
    metric no fold could compute to the first fold's reason."""
    out: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name in metrics:
        values = [f[name] for f in folds if isinstance(f.get(name), float)]
        out[name] = float(np.mean(values)) if values else math.nan
        out[f"{name}_std"] = float(np.std(values)) if values else math.nan
        if not values and folds:
            errors[name] = str(next(f[name] for f in folds if name in f))
    out["metric_errors"] = errors or None
    return out
