"""Label one sample: the group-aware cross-validated accuracy of each portfolio classifier.

These accuracies are the meta-learning targets. All classifiers of a sample are scored on the
same folds (so they are compared on identical splits), folds never split copies of a source
row, and nothing here raises for a failing classifier: the failure is recorded instead, so one
bad estimator cannot stop a labelling run.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import sklearn
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from beyonder import schema
from beyonder.errors import error_line
from beyonder.labels.folds import group_stratified_folds
from beyonder.labels.metrics import (
    METRICS,
    SCORE_METRICS,
    class_scores,
    fold_metrics,
    has_probabilities,
    summarise,
)
from beyonder.labels.portfolio import build_classifier, classifier_config
from beyonder.params import LabelParams

_MAX_ERROR_CHARS = 500


@dataclass(frozen=True)
class CVSettings:
    """How a sample is cross-validated; part of every label's cache key.

    ``fit_timeout`` is a cooperative budget in seconds per fold: a classifier is stopped (with
    error ``"timeout after Xs"`` and NaN accuracy, X = folds * fit_timeout) as soon as its
    total fit+predict time, checked after each fold, exceeds ``folds * fit_timeout``, where
    ``folds`` is the number of folds actually used (fewer than ``n_folds`` when the sample has
    fewer source rows). A running fold is never interrupted (no signals, so it is safe in
    worker threads and processes): one slow fold can overrun the budget before it is noticed.
    """

    n_folds: int = LabelParams.n_folds
    seed: int = 0
    fit_timeout: float | None = None


def split_features(sample: pd.DataFrame) -> tuple[list[str], list[str]]:
    """(numeric, categorical) feature columns: float dtypes are numeric, the rest categorical."""
    features = [c for c in sample.columns if c not in schema.RESERVED]
    numeric = [c for c in features if pd.api.types.is_float_dtype(sample[c].dtype)]
    categorical = [c for c in features if c not in set(numeric)]
    return numeric, categorical


def _as_strings(column: pd.Series) -> pd.Series:
    """A categorical column as object strings with NaN for missing, whatever its dtype was."""
    mask = column.isna().to_numpy()
    values = column.astype(object).to_numpy(copy=True)
    values[~mask] = [str(v) for v in values[~mask]]
    values[mask] = np.nan
    return pd.Series(values, index=column.index, name=column.name, dtype=object)


def _prepare(sample: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, list, list]:
    missing = [c for c in schema.RESERVED if c not in sample.columns]
    if missing:
        raise ValueError(f"sample lacks reserved column(s) {missing}")
    numeric, categorical = split_features(sample)
    x = sample[numeric + categorical].reset_index(drop=True).copy()
    for col in categorical:
        x[col] = _as_strings(x[col])
    y = sample[schema.TARGET].astype(str).to_numpy()
    groups = sample[schema.ROW_ID].to_numpy()
    return x, y, groups, numeric, categorical


def _error_text(exc: BaseException) -> str:
    return error_line(exc, _MAX_ERROR_CHARS)


def _record(
    name: str,
    folds: list[dict[str, float | str]],
    fit_times: list[float],
    predict_times: list[float],
    error: str | None,
    metrics: Sequence[str] = METRICS,
) -> dict[str, Any]:
    def mean(values: list[float]) -> float:
        return float(np.mean(values)) if values else math.nan

    failed = error is not None or not folds
    return {
        "classifier": name,
        **summarise([] if failed else folds, metrics),
        "fit_time": mean(fit_times),
        "predict_time": mean(predict_times),
        "n_folds": len(folds),
        "error": error,
    }


def cv_seconds(record: dict[str, Any]) -> float:
    """Seconds a label's whole cross-validation took, fit and predict over every fold: a record
    keeps its folds' mean times and their count (NaN when no fold finished)."""
    return (record["fit_time"] + record["predict_time"]) * record["n_folds"]


def _label_one(
    name: str,
    x: pd.DataFrame,
    y: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
    numeric: list[str],
    categorical: list[str],
    cv: CVSettings,
    metrics: Sequence[str] = METRICS,
) -> dict[str, Any]:
    budget = None if cv.fit_timeout is None else cv.fit_timeout * len(folds)
    classes = sorted(set(y))
    class_names = np.asarray(classes)
    needs_scores = bool(set(metrics) & SCORE_METRICS)
    scores: list[dict[str, float | str]] = []
    fit_times: list[float] = []
    predict_times: list[float] = []
    elapsed = 0.0
    for train, test in folds:
        try:
            model = build_classifier(name, cv.seed, numeric, categorical)
            start = time.perf_counter()
            model.fit(x.iloc[train], y[train])
            fitted = time.perf_counter()
            x_test = x.iloc[test]
            margins, probabilities = None, False
            if needs_scores and has_probabilities(model):
                # one pass: the class is the most probable one, as these classifiers' predict
                # says, so predict's own call to predict_proba is not paid twice
                margins, probabilities, _ = class_scores(model, x_test, classes)
                predicted = class_names[np.argmax(margins, axis=1)]
            else:
                predicted = model.predict(x_test)
            done = time.perf_counter()
            if needs_scores and margins is None:  # margins only: predict's vote is not their argmax
                margins, probabilities, _ = class_scores(model, x_test, classes)
        except Exception as exc:  # any estimator failure becomes a record
            return _record(name, scores, fit_times, predict_times, _error_text(exc), metrics)
        fit_times.append(fitted - start)
        predict_times.append(done - fitted)
        scores.append(fold_metrics(y[test], predicted, margins, probabilities, classes, metrics))
        elapsed += done - start
        if budget is not None and elapsed > budget:
            return _record(
                name, scores, fit_times, predict_times, f"timeout after {budget:g}s", metrics
            )
    return _record(name, scores, fit_times, predict_times, None, metrics)


def label_sample(
    sample: pd.DataFrame,
    classifiers: Sequence[str],
    cv: CVSettings,
    metrics: Sequence[str] = METRICS,
) -> list[dict[str, Any]]:
    """One record per classifier: mean/std CV score of each metric, mean fit/predict seconds,
    errors.

    Keys: classifier; for each of ``metrics`` (``labels.metrics.METRICS``; the label stage
    always scores them all) its mean ``<metric>`` (NaN on failure or timeout) and
    ``<metric>_std`` over the folds; ``metric_errors`` (None, or why a metric could not be
    computed for this classifier); fit_time and predict_time (mean seconds per completed
    fold: the fit, and the prediction of classes); n_folds (folds completed); error (None or
    ``"ExceptionType: message"`` / ``"timeout after Xs"``). Folds group copies of a source row
    (``ROW_ID``) and are shared by all classifiers. Runs single-threaded and never raises for
    a failing classifier; deterministic for a given sample and settings (timings aside).
    """
    try:
        x, y, groups, numeric, categorical = _prepare(sample)
        folds = group_stratified_folds(y, groups, cv.n_folds, cv.seed)
        if not folds:
            raise ValueError("no usable folds")
    except Exception as exc:  # an unlabelable sample fails every classifier
        error = _error_text(exc)
        return [_record(name, [], [], [], error, metrics) for name in classifiers]
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        # a fold's test part may lack a class the model predicts: balanced accuracy says so
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
        return [
            _label_one(name, x, y, folds, numeric, categorical, cv, metrics) for name in classifiers
        ]


@functools.cache
def _classifier_config(classifier: str) -> dict[str, Any]:
    """``classifier_config``, built once per name and process: building the reference
    pipeline takes a fraction of a millisecond, and a run on the whole corpus keys every
    sample under every name twice, when it looks for pending labels and when it assembles
    the table (``bench/label_lookup.py``: 61.7 CPU s against 7.6 with the C grid). Read only:
    ``label_key`` serialises it."""
    return classifier_config(classifier)


def label_key(sample_hash: str, classifier: str, cv: CVSettings) -> str:
    """Content address of one label: 24 hex chars of sha256 over everything that determines it.

    Covers the sample's content hash, the classifier's full hyper-parameters, the CV settings,
    the metrics a label carries and the sklearn version, so a cached label is reused only when it would be recomputed
    identically. An unknown classifier raises ValueError.
    """
    payload = {
        "sample": sample_hash,
        "classifier": _classifier_config(classifier),
        "n_folds": cv.n_folds,
        "seed": cv.seed,
        "fit_timeout": cv.fit_timeout,
        "metrics": list(METRICS),
        "sklearn": sklearn.__version__,
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()[:24]
