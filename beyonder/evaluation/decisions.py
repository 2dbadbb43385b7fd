"""Answers a user can act on: fit time for the whole table, a time budget, intervals whose
coverage is measured, and checking the model's top picks by cross-validating them.

Two halves. ``recommend`` uses the first (``table_fit_time``, ``apply_budget``,
``intervals``, ``too_close_to_call``, ``verify_top``); ``evaluate`` (the pipeline stage and
``beyonder evaluate --corpus``) scores them with the second (``fit_time_quality``,
``budget_regret``, ``calibrate_scale``, ``interval_coverage``, ``verify_curve``), so every
number ``recommend`` prints has a measured counterpart on held-out datasets.

No TensorFlow and no Prefect here: ``recommend`` imports it.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from beyonder.errors import require_extra
from beyonder.evaluation.metrics import pick_regret
from beyonder.params import EvaluateParams, LabelParams
from beyonder.selector.corpus import Corpus, per_dataset_mean

SCALING_EXPONENTS: dict[str, float] = {
    "logreg": 0.55,
    "gaussian_nb": 0.5,
    "knn": 0.45,
    "decision_tree": 0.65,
    "random_forest": 0.6,
    "extra_trees": 0.5,
    "hist_gb": 0.45,
    "svm_linear": 0.9,
    "svm_rbf": 1.15,
    "svm_poly": 1.25,
}
"""Fit time grows as ``rows ** exponent`` from the sample's fold to the whole table. The
exponents are the medians that real fits implied on the six largest tables of the bundled
corpus (5,000-12,000 rows; ``bench/fit_time_scaling.py``, ``bench/RESULTS.md``): below 1 for
all but the kernel SVMs because a fit's fixed costs (preprocessing, 100 trees, boosting
rounds) still dominate at a few thousand rows. Checked on other tables; far beyond 12,000
rows the asymptotic growth takes over and these underestimate. Not listed: linear."""

DEFAULT_COVERAGE = 0.8
"""The nominal coverage of the intervals ``recommend`` prints and ``evaluate`` measures."""
SPREAD_FLOOR = 0.005
"""Added to every spread before scaling: a spread of ~0 (one view read whole) would otherwise
give an interval of width 0, however wrong the prediction."""
DEFAULT_BUDGETS = tuple(EvaluateParams().time_budgets)
"""Budgets (seconds per CV fold fit on a sample) that ``evaluate`` scores: on 500-row samples
they leave out the forests, then boosting (params: ``evaluate.time_budgets``)."""
VERIFY_KS = (0, 1, 2, 3, 5)
"""The K of ``recommend --verify K`` that ``evaluate`` scores (plus the whole portfolio)."""


class DecisionError(ValueError):
    """Bad input to a decision option (negative budget, K out of range); one line."""


# --------------------------------------------------------------------------- recommend side


def table_fit_time(
    sample_time: np.ndarray,
    classifiers: Sequence[str],
    table_rows: int,
    sample_rows: int,
    n_folds: int = LabelParams.n_folds,
) -> np.ndarray:
    """Predicted seconds to fit each classifier once on the whole table of ``table_rows``.

    The model predicts the seconds of one CV fold fit on a sample of ``min(sample_rows,
    table_rows)`` rows, i.e. on ``(n_folds - 1) / n_folds`` of it; this scales that time to
    ``table_rows`` rows by ``SCALING_EXPONENTS`` (a tree grows about linearly with rows, a
    kernel SVM about quadratically), which is what a user with a large table has to wait."""
    fold_rows = max(1.0, min(sample_rows, table_rows) * (n_folds - 1) / n_folds)
    ratio = max(table_rows, 1) / fold_rows
    exponents = np.array([SCALING_EXPONENTS.get(c, 1.0) for c in classifiers])
    return np.asarray(sample_time, dtype=np.float64) * ratio**exponents


def check_budget(budget: float | None) -> float | None:
    """The budget as a positive number of seconds, or ``None``; raises ``DecisionError``."""
    if budget is None:
        return None
    try:
        value = float(budget)
    except (TypeError, ValueError):
        raise DecisionError(f"time budget must be a number of seconds, got {budget!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise DecisionError(f"time budget must be a positive number of seconds, got {budget!r}")
    return value


def check_verify(k: int | None, n_classifiers: int) -> int:
    """``--verify K`` as an int in ``0..n_classifiers``; raises ``DecisionError``."""
    if k is None:
        return 0
    try:
        value = int(k)
        whole = float(k) == value
    except (TypeError, ValueError):
        whole = False
    if not whole or isinstance(k, bool):
        raise DecisionError(f"verify must be a whole number of classifiers, got {k!r}")
    if value < 0 or value > n_classifiers:
        raise DecisionError(
            f"verify must be between 0 and {n_classifiers} (the portfolio's size), got {k}"
        )
    return value


def apply_budget(
    table: pd.DataFrame, budget: float
) -> tuple[pd.DataFrame, pd.DataFrame, list[dict[str, Any]]]:
    """The ranked table without the classifiers predicted to take longer than ``budget``
    seconds to fit on the whole table (re-ranked), their rows, and for each the reason."""
    over = table["predicted_table_fit_time"] > budget
    left_out = [
        {
            "classifier": str(r["classifier"]),
            "predicted_accuracy": float(r["predicted_accuracy"]),
            "predicted_table_fit_time": float(r["predicted_table_fit_time"]),
            "reason": f"predicted fit time {r['predicted_table_fit_time']:.3g} s on the whole table "
            f"exceeds the budget of {budget:g} s",
        }
        for r in table[over].to_dict("records")
    ]
    kept = table[~over].reset_index(drop=True)
    kept["rank"] = np.arange(1, len(kept) + 1)
    return kept, table[over].reset_index(drop=True), left_out


def intervals(pred: np.ndarray, spread: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """``pred -/+ scale * (spread + SPREAD_FLOOR)``, clipped to [0, 1]."""
    half = scale * (np.asarray(spread, dtype=np.float64) + SPREAD_FLOOR)
    return np.clip(pred - half, 0.0, 1.0), np.clip(pred + half, 0.0, 1.0)


def too_close_to_call(table: pd.DataFrame) -> list[str]:
    """The classifiers whose upper bound reaches the top one's lower bound: the data cannot
    tell them apart from the top pick (the top one included; one name = a clear winner)."""
    if table.empty or "accuracy_low" not in table:
        return []
    floor = float(table["accuracy_low"].iloc[0])
    return [
        str(c)
        for c, hi in zip(table["classifier"], table["accuracy_high"], strict=True)
        if hi >= floor
    ]


def dask_address(explicit: str | None = None) -> str | None:
    """The Dask scheduler to verify on: ``explicit``, else ``$BEYONDER_DASK_ADDRESS`` (as the
    label stage reads it); ``None`` runs in this process."""
    return explicit or os.environ.get("BEYONDER_DASK_ADDRESS") or None


def verify_top(
    sample: pd.DataFrame,
    classifiers: Sequence[str],
    n_folds: int = LabelParams.n_folds,
    seed: int = 0,
    fit_timeout: float | None = None,
    address: str | None = None,
) -> list[dict[str, Any]]:
    """Cross-validate ``classifiers`` on one cleaned sample with the label stage's protocol
    (``labelling.label_sample``: group-aware stratified folds shared by all of them), one
    classifier per Dask task when ``address`` names a scheduler, else here, in order."""
    from beyonder.labels.labelling import CVSettings, label_sample

    cv = CVSettings(n_folds=n_folds, seed=seed, fit_timeout=fit_timeout)
    if not classifiers:
        return []
    if address:
        require_extra(f"--verify on the Dask scheduler {address}", ("distributed",))
        from distributed import Client

        with Client(address, timeout="10s") as client:
            futures = [
                client.submit(label_sample, sample, [c], cv, pure=False) for c in classifiers
            ]
            return [f.result()[0] for f in futures]
    return label_sample(sample, list(classifiers), cv)


# --------------------------------------------------------------------------- evaluate side


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 2:
        return float("nan")
    ra, rb = pd.Series(a[ok]).rank().to_numpy(), pd.Series(b[ok]).rank().to_numpy()
    if np.ptp(ra) == 0 or np.ptp(rb) == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def time_baseline(
    train_time: np.ndarray, train_size: np.ndarray, test_size: np.ndarray
) -> np.ndarray:
    """Each classifier's median seconds per (row x feature) on the training samples, times the
    test sample's rows x features: what one knows of fit time without a model."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        rate = np.nanmedian(
            np.asarray(train_time, dtype=np.float64) / np.asarray(train_size)[:, None], axis=0
        )
    return np.asarray(test_size, dtype=np.float64)[:, None] * rate[None, :]


def fit_time_quality(
    true_time: np.ndarray, preds: dict[str, np.ndarray]
) -> dict[str, dict[str, float]]:
    """Per method: mean over datasets of the Spearman correlation between predicted and true
    fit times across classifiers, and the MAE of log10 seconds over all cells (rows =
    datasets, columns = classifiers)."""
    true_time = np.asarray(true_time, dtype=np.float64)
    out = {}
    for name, pred in preds.items():
        pred = np.asarray(pred, dtype=np.float64)
        rho = [_spearman(true_time[i], pred[i]) for i in range(len(true_time))]
        ok = np.isfinite(true_time) & np.isfinite(pred) & (true_time > 0) & (pred > 0)
        mae = np.abs(np.log10(true_time[ok]) - np.log10(pred[ok])).mean() if ok.any() else np.nan
        rho = np.array(rho)
        out[name] = {
            "spearman": float(np.nanmean(rho)) if np.isfinite(rho).any() else float("nan"),
            "mae_log10": float(mae),
            "n_datasets": int(np.isfinite(rho).sum()),
        }
    return out


def budget_regret(
    true_acc: np.ndarray,
    true_time: np.ndarray,
    choosers: dict[str, tuple[np.ndarray, np.ndarray]],
    budgets: Sequence[float],
) -> list[dict[str, Any]]:
    """Per budget: each chooser's mean regret against the best classifier that truly fits in
    it, and how often its pick truly did not fit.

    ``choosers`` maps a name to (predicted accuracy, predicted time); a chooser picks the
    highest predicted accuracy among the classifiers whose predicted time fits (none fits:
    the fastest predicted). A pick that truly overruns is still priced at its accuracy (the
    user waited longer, the answer was that good) and counted in ``over_budget``. Datasets
    where nothing truly fits are left out."""
    true_acc = np.asarray(true_acc, dtype=np.float64)
    true_time = np.asarray(true_time, dtype=np.float64)
    rows = []
    for budget in budgets:
        fits = true_time <= budget
        feasible = np.where(fits, true_acc, np.nan)
        usable = np.isfinite(feasible).any(axis=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            best = np.nanmax(feasible[usable], axis=1)
        row: dict[str, Any] = {
            "budget": float(budget),
            "n_datasets": int(usable.sum()),
            "fit_share": float(np.nanmean(fits[usable])) if usable.any() else float("nan"),
            "methods": {},
        }
        for name, (acc, time) in choosers.items():
            acc, time = np.asarray(acc)[usable], np.asarray(time)[usable]
            allowed = np.where(time <= budget, np.nan_to_num(acc, nan=-np.inf), -np.inf)
            pick = np.where(
                np.isfinite(allowed).any(axis=1), allowed.argmax(axis=1), np.nanargmin(time, axis=1)
            )
            picked = true_acc[usable][np.arange(len(pick)), pick]
            over = ~fits[usable][np.arange(len(pick)), pick]
            regret = 100.0 * (best - np.nan_to_num(picked, nan=0.0))
            row["methods"][name] = {
                "mean_regret": float(regret.mean()) if len(regret) else float("nan"),
                "over_budget": float(over.mean()) if len(over) else float("nan"),
            }
        rows.append(row)
    return rows


def calibrate_scale(
    true: np.ndarray, pred: np.ndarray, spread: np.ndarray, coverage: float = DEFAULT_COVERAGE
) -> float:
    """The multiplier of ``spread + SPREAD_FLOOR`` that makes ``coverage`` of the validation
    cells' true accuracies fall inside ``pred -/+ half-width`` (split-conformal: the
    ``ceil((n + 1) coverage) / n`` quantile of the normalised residuals). ``nan`` when there
    is no cell to calibrate on."""
    true, pred, spread = (np.asarray(a, dtype=np.float64).ravel() for a in (true, pred, spread))
    ok = np.isfinite(true) & np.isfinite(pred) & np.isfinite(spread)
    if not ok.any():
        return float("nan")
    scores = np.abs(true[ok] - pred[ok]) / (spread[ok] + SPREAD_FLOOR)
    level = min(1.0, math.ceil((scores.size + 1) * coverage) / scores.size)
    return float(np.quantile(scores, level, method="higher"))


def interval_coverage(
    true: np.ndarray, pred: np.ndarray, spread: np.ndarray, scale: float | np.ndarray
) -> dict[str, float]:
    """Share of held-out cells whose true accuracy lies inside the interval, the interval's
    mean width (points), and the raw spread's coverage (``pred -/+ spread``) for comparison."""
    true, pred, spread = (np.asarray(a, dtype=np.float64) for a in (true, pred, spread))
    scale = np.broadcast_to(np.asarray(scale, dtype=np.float64), true.shape)
    ok = np.isfinite(true) & np.isfinite(pred) & np.isfinite(spread) & np.isfinite(scale)
    if not ok.any():
        return {"nominal": DEFAULT_COVERAGE, "coverage": float("nan"), "mean_width": float("nan"),
                "raw_spread_coverage": float("nan"), "cells": 0}  # fmt: skip
    low, high = intervals(pred[ok], spread[ok], scale[ok])
    inside = (true[ok] >= low) & (true[ok] <= high)
    raw = np.abs(true[ok] - pred[ok]) <= spread[ok]
    return {
        "nominal": DEFAULT_COVERAGE,
        "coverage": float(inside.mean()),
        "mean_width": float(100.0 * (high - low).mean()),
        "raw_spread_coverage": float(raw.mean()),
        "cells": int(ok.sum()),
    }


def verify_curve(
    datasets: np.ndarray,
    accuracy: np.ndarray,
    cost: np.ndarray,
    pred: np.ndarray,
    sbs_index: dict[str, int],
    ks: Sequence[int] = VERIFY_KS,
) -> dict[str, Any]:
    """``recommend --verify K`` replayed on labelled samples, with ``cv_one_sample``'s protocol.

    For each sample of a dataset with at least two labelled samples: the K classifiers with
    the highest predicted accuracy (``pred``, predicted from that sample) are "verified" with
    that sample's own CV labels (``accuracy``), the pick is the best measured one (K = 0: the
    top predicted), and the pick is priced with the mean labels of the dataset's *other*
    samples, as is the SBS. Cost: the CPU seconds of those K labels (``cost``: seconds of all
    CV folds per classifier and sample); ``blend_*``: the same K measured, the pick the best
    mean of measured and predicted accuracy (a CV of 500 rows is noisy too). Also the whole
    portfolio (every classifier measured: ``cv_one_sample``). Returns, per K, mean regret,
    gap closed and mean CPU seconds per table, averaged per dataset first."""
    datasets = np.asarray(datasets)
    n_classifiers = accuracy.shape[1]
    steps = [int(k) for k in ks if 0 <= int(k) < n_classifiers] + [n_classifiers]
    regrets: dict[int, list[float]] = {k: [] for k in steps}
    blended: dict[int, list[float]] = {k: [] for k in steps}
    costs: dict[int, list[float]] = {k: [] for k in steps}
    sbs_regret: list[float] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for dataset in sorted(set(datasets.tolist())):
            rows = np.flatnonzero(datasets == dataset)
            rows = rows[~np.all(np.isnan(accuracy[rows]), axis=1)]
            if len(rows) < 2 or dataset not in sbs_index:
                continue
            per_k: dict[int, list[float]] = {k: [] for k in steps}
            per_k_blend: dict[int, list[float]] = {k: [] for k in steps}
            per_k_cost: dict[int, list[float]] = {k: [] for k in steps}
            sbs = []
            for i in rows:
                truth = np.nanmean(accuracy[[r for r in rows if r != i]], axis=0)
                order = np.argsort(-np.nan_to_num(pred[i], nan=-np.inf), kind="stable")
                for k in steps:
                    if k == 0:
                        pick = blend = order[0]
                        spent = 0.0
                    else:
                        top = order[:k]
                        measured = np.nan_to_num(accuracy[i, top], nan=-np.inf)
                        pick = (
                            top[int(np.argmax(measured))]
                            if np.isfinite(measured).any()
                            else order[0]
                        )
                        mixed = (measured + np.nan_to_num(pred[i, top], nan=-np.inf)) / 2
                        blend = top[int(np.argmax(mixed))] if np.isfinite(mixed).any() else order[0]
                        spent = float(np.nansum(cost[i, top]))
                    per_k[k].append(pick_regret(truth, pick))
                    per_k_blend[k].append(pick_regret(truth, blend))
                    per_k_cost[k].append(spent)
                sbs.append(pick_regret(truth, sbs_index[dataset]))
            for k in steps:
                regrets[k].append(float(np.mean(per_k[k])))
                blended[k].append(float(np.mean(per_k_blend[k])))
                costs[k].append(float(np.mean(per_k_cost[k])))
            sbs_regret.append(float(np.mean(sbs)))
    sbs_mean = float(np.mean(sbs_regret)) if sbs_regret else float("nan")
    whole_cost = float(np.mean(costs[n_classifiers])) if costs[n_classifiers] else float("nan")
    curve = []
    for k in steps:
        mean_regret = float(np.mean(regrets[k])) if regrets[k] else float("nan")
        mean_cost = float(np.mean(costs[k])) if costs[k] else float("nan")
        blend_regret = float(np.mean(blended[k])) if blended[k] else float("nan")
        curve.append(
            {
                "k": k,
                "label": "all" if k == n_classifiers else str(k),
                "mean_regret": mean_regret,
                "gap_closed": (sbs_mean - mean_regret) / sbs_mean
                if sbs_mean > 1e-12
                else float("nan"),
                "blend_mean_regret": blend_regret,
                "blend_gap_closed": (sbs_mean - blend_regret) / sbs_mean
                if sbs_mean > 1e-12
                else float("nan"),
                "cpu_seconds": mean_cost,
                "cost_share": mean_cost / whole_cost if whole_cost > 0 else float("nan"),
            }
        )
    return {"n_datasets": len(sbs_regret), "sbs_mean_regret": sbs_mean, "curve": curve}


def dataset_spread(samples_pred: np.ndarray, samples_view_std: np.ndarray) -> np.ndarray:
    """One dataset's spread as ``recommend`` computes it from its subsamples: the variance of
    the per-sample means plus the mean variance over views, square-rooted."""
    return np.sqrt(samples_pred.var(axis=0) + (samples_view_std**2).mean(axis=0))


def per_dataset_spread(
    datasets: np.ndarray, pred: np.ndarray, view_std: np.ndarray, order: Sequence[str]
) -> np.ndarray:
    """``dataset_spread`` for every dataset of ``order`` (rows follow ``order``)."""
    datasets = np.asarray(datasets)
    out = np.full((len(order), pred.shape[1]), np.nan)
    for j, d in enumerate(order):
        rows = np.flatnonzero(datasets == d)
        if len(rows):
            out[j] = dataset_spread(pred[rows], view_std[rows])
    return out


def validation_scale(
    estimator: Any,
    encoded: Sequence[Any],
    datasets: Sequence[str],
    accuracy: np.ndarray,
    coverage: float = DEFAULT_COVERAGE,
) -> float | None:
    """The interval scale of a trained model, calibrated on its validation samples
    (``encoded``, with their ``datasets`` and labels ``accuracy``) read per dataset as
    ``recommend`` reads a table: the mean and spread over its samples against the mean of
    their labels. Stored with the model (``Recommender.interval_scale``); ``None`` when there
    is nothing to calibrate on."""
    if not len(encoded):
        return None
    out = estimator.predict(list(encoded))
    names = np.asarray(datasets)
    order = sorted(set(names.tolist()))
    pred = pd.DataFrame(out["accuracy"]).groupby(names).mean().reindex(order).to_numpy()
    truth = pd.DataFrame(accuracy).groupby(names).mean().reindex(order).to_numpy()
    spread = per_dataset_spread(names, out["accuracy"], out["accuracy_spread"], order)
    scale = calibrate_scale(truth, pred, spread, coverage)
    return None if not np.isfinite(scale) else scale


def decision_report(
    test: Corpus,
    details: dict[str, np.ndarray],
    sbs_index: dict[str, int],
    sbs_means: pd.DataFrame,
    budgets: tuple[float, ...] = DEFAULT_BUDGETS,
    n_folds: int = LabelParams.n_folds,
) -> dict[str, Any]:
    """Fit-time quality, budgeted regret, interval coverage and the verify curve of the main
    Beyonder on the test samples of ``test`` (``details``: per sample, in ``test`` order,
    from ``decision_details``; ``interval_scale`` per sample: its fold's)."""
    datasets = sorted(set(test.index["dataset"]))
    names = test.index["dataset"].to_numpy()
    true_acc = per_dataset_mean(test, test.accuracy).reindex(datasets).to_numpy()
    true_time = per_dataset_mean(test, test.fit_time).reindex(datasets).to_numpy()
    pred_acc = per_dataset_mean(test, details["accuracy"]).reindex(datasets).to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        log_time = (
            per_dataset_mean(test, np.log10(details["fit_time"])).reindex(datasets).to_numpy()
        )
        pred_time = 10**log_time
        baseline = (
            10
            ** per_dataset_mean(test, np.log10(details["baseline_time"]))
            .reindex(datasets)
            .to_numpy()
        )
    spread = per_dataset_spread(names, details["accuracy"], details["view_std"], datasets)
    scale = pd.Series(details["interval_scale"]).groupby(names).first().reindex(datasets).to_numpy()
    sbs_table = sbs_means.reindex(datasets).to_numpy()
    choosers = {"beyonder": (pred_acc, pred_time), "sbs_with_baseline_times": (sbs_table, baseline)}
    coverage = interval_coverage(true_acc, pred_acc, spread, scale[:, None])
    coverage["mean_scale"] = float(np.nanmean(scale)) if np.isfinite(scale).any() else float("nan")
    return {
        "fit_time": fit_time_quality(true_time, {"beyonder": pred_time, "baseline": baseline}),
        "budget": budget_regret(true_acc, true_time, choosers, budgets),
        "intervals": coverage,
        "verify": verify_curve(
            names, test.accuracy, test.cv_seconds(n_folds), details["accuracy"], sbs_index
        ),
    }
