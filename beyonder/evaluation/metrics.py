"""Algorithm-selection metrics (ASlib conventions) for predicted portfolio accuracies.

The meta-model is judged as a *selector*: for each test dataset it picks the classifier with the
highest predicted accuracy, and pays the regret of that pick against the per-dataset best
(the oracle, or VBS). The single best solver (SBS, best on average over the *training* datasets)
is the baseline; ``gap_closed`` says which share of the SBS-to-oracle gap a method closes.

Conventions (documented because every one changes the numbers):

* ``true`` and ``pred`` are ``(n_datasets, n_classifiers)``; accuracies in ``[0, 1]``; ``NaN`` in
  ``true`` is a missing label, ``NaN`` in ``pred`` is "no prediction" (never chosen).
* Rows whose ``true`` is all ``NaN`` carry no information and are left out of every metric.
* Regrets and MAE are in accuracy *points* (x100).
* A classifier whose label is missing can't be the oracle's best. If a method *chooses* it (or
  predicts nothing at all on a row), its regret is that of the worst labelled classifier on that
  row: the pessimistic reading, so a method can't gain from missing labels.
* Ties in ``pred`` go to the lowest column index (``np.argmax``), so results are deterministic.
* ``top1``/``top3`` count a hit when the pick is within ``tie_tolerance`` (accuracy units) of the
  row's best: single CV runs are noisy (notes: ~1.5-2 points standard error on 500 rows).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from beyonder.params import EvaluateParams
from beyonder.schema import SVM_KERNELS

ArrayLike = np.ndarray | pd.DataFrame


def _as_matrix(values: ArrayLike, name: str) -> np.ndarray:
    matrix = np.asarray(values, dtype=np.float64)
    if matrix.ndim != 2:
        raise ValueError(f"{name} must be 2-D (datasets x classifiers), got shape {matrix.shape}")
    return matrix


def _aligned(true: ArrayLike, pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Both as float matrices; DataFrames are aligned by labels so a column swap can't slip by."""
    if isinstance(true, pd.DataFrame) and isinstance(pred, pd.DataFrame):
        if set(true.columns) != set(pred.columns) or set(true.index) != set(pred.index):
            raise ValueError("true and pred DataFrames have different rows or columns")
        pred = pred.loc[true.index, true.columns]
    t, p = _as_matrix(true, "true"), _as_matrix(pred, "pred")
    if t.shape != p.shape:
        raise ValueError(f"true {t.shape} and pred {p.shape} have different shapes")
    return t, p


def choose(pred: ArrayLike) -> np.ndarray:
    """Index of the highest prediction per row, ignoring ``NaN``; ``-1`` where a row is all ``NaN``.

    Ties go to the lowest column index.
    """
    p = _as_matrix(pred, "pred")
    empty = np.isnan(p).all(axis=1)
    choice = np.argmax(np.where(np.isnan(p), -np.inf, p), axis=1).astype(np.int64)
    choice[empty] = -1
    return choice


def _chosen_true(true: np.ndarray, choice: np.ndarray) -> np.ndarray:
    """True accuracy of each row's pick; a missing label or no pick counts as the row's worst."""
    choice = np.asarray(choice, dtype=np.int64)
    if choice.shape != (true.shape[0],):
        raise ValueError(
            f"choice must have one entry per row ({true.shape[0]}), got {choice.shape}"
        )
    if ((choice < -1) | (choice >= true.shape[1])).any():
        raise ValueError("choice has an index outside the classifier columns")
    rows = np.arange(true.shape[0])
    picked = true[rows, np.clip(choice, 0, None)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows -> NaN, handled by callers
        worst = np.nanmin(true, axis=1) if true.shape[1] else np.full(true.shape[0], np.nan)
    return np.where((choice < 0) | np.isnan(picked), worst, picked)


def _row_best(true: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmax(true, axis=1)


def regret(true: ArrayLike, choice: np.ndarray) -> np.ndarray:
    """Per-row regret in accuracy points: best labelled accuracy minus that of the pick.

    A pick whose label is missing (or ``-1``, no pick) pays the worst labelled classifier's
    regret; a row with no label at all gives ``NaN``.
    """
    t = _as_matrix(true, "true")
    return 100.0 * (_row_best(t) - _chosen_true(t, choice))


def pick_regret(truth: np.ndarray, pick: int) -> float:
    """``regret`` of one pick against one row of true scores (the same rule for a missing
    label: the worst labelled classifier's regret), for the replays that price one replicate's
    pick on the others' mean."""
    return float(regret(np.asarray(truth, dtype=float)[None, :], np.array([int(pick)]))[0])


def spearman_rows(true: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Spearman correlation per row over the cells labelled and predicted; ``NaN`` where undefined."""
    # imported here: ``recommend`` imports this module (through ``decisions``), and SciPy's
    # stats are slow to import (bench/RESULTS.md, "Recommendation latency")
    from scipy.stats import spearmanr

    out = np.full(true.shape[0], np.nan)
    for i in range(true.shape[0]):
        ok = ~np.isnan(true[i]) & ~np.isnan(pred[i])
        if ok.sum() < 2:
            continue
        t, p = true[i, ok], pred[i, ok]
        if np.ptp(t) == 0 or np.ptp(p) == 0:  # constant row: correlation undefined
            continue
        out[i] = spearmanr(t, p).statistic
    return out


def _per_row(
    true: np.ndarray, pred: np.ndarray, sbs_index: int | np.ndarray, tie_tolerance: float
) -> dict:
    """Per-row arrays behind the metrics (rows with no label already removed)."""
    choice = choose(pred)
    best = _row_best(true)
    hit_line = best - tie_tolerance - 1e-12  # float slack so "exactly tolerance" is a hit
    picked = _chosen_true(true, choice)
    method_regret = 100.0 * (best - picked)
    sbs_regret = regret(true, np.broadcast_to(np.asarray(sbs_index), (true.shape[0],)))

    # top3: the 3 highest predictions (NaN never ranked, ties by column index).
    order = np.argsort(np.where(np.isnan(pred), np.inf, -pred), axis=1, kind="stable")[:, :3]
    rows = np.arange(true.shape[0])[:, None]
    top_true = true[rows, order]
    top_true = np.where(np.isnan(pred[rows, order]), np.nan, top_true)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        top3_best = np.nanmax(top_true, axis=1)
    return {
        "choice": choice,
        "regret": method_regret,
        "sbs_regret": sbs_regret,
        "top1": picked >= hit_line,
        "top3": np.nan_to_num(top3_best, nan=-np.inf) >= hit_line,
        "spearman": spearman_rows(true, pred),
    }


def _labelled_rows(true: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keep = ~np.isnan(true).all(axis=1)
    return true[keep], pred[keep]


def _nanmean(values: np.ndarray) -> float:
    values = values[~np.isnan(values)]
    return float(values.mean()) if values.size else float("nan")


def _gap(sbs_mean: float, method_mean: float) -> float:
    if not np.isfinite(sbs_mean) or sbs_mean <= 1e-12:
        return float("nan")
    return float((sbs_mean - method_mean) / sbs_mean)


def _sbs_rows(true: np.ndarray, sbs_index: int | np.ndarray) -> np.ndarray:
    """The SBS column per labelled row: one index for all rows, or one per row (e.g. when the
    SBS is taken from each cross-validation fold's own training datasets)."""
    index = np.asarray(sbs_index, dtype=int)
    if index.ndim == 0:
        return index
    if index.shape != (true.shape[0],):
        raise ValueError("a per-row sbs_index needs one entry per row of true")
    return index[~np.isnan(true).all(axis=1)]


def selection_metrics(
    true: ArrayLike,
    pred: ArrayLike,
    sbs_index: int | np.ndarray,
    tie_tolerance: float = EvaluateParams.tie_tolerance,
) -> dict:
    """Selection quality of ``pred`` against ``true``: regret, gap closed, top-k, rank, MAE.

    ``gap_closed`` is ``NaN`` when the SBS has zero regret (nothing to close).
    """
    t_all, p_all = _aligned(true, pred)
    sbs_index = _sbs_rows(t_all, sbs_index)
    t, p = _labelled_rows(t_all, p_all)
    if np.any((sbs_index < 0) | (sbs_index >= t.shape[1])):
        raise ValueError(f"sbs_index {sbs_index} outside 0..{t.shape[1] - 1}")
    n = t.shape[0]
    if n == 0:
        nan = float("nan")
        return {
            "n_datasets": 0, "mean_regret": nan, "median_regret": nan, "max_regret": nan,
            "sbs_mean_regret": nan, "gap_closed": nan, "top1": nan, "top3": nan,
            "spearman": nan, "mae": nan,
        }  # fmt: skip
    rows = _per_row(t, p, sbs_index, tie_tolerance)
    both = ~np.isnan(t) & ~np.isnan(p)
    mean_regret = float(rows["regret"].mean())
    sbs_mean = float(rows["sbs_regret"].mean())
    return {
        "n_datasets": int(n),
        "mean_regret": mean_regret,
        "median_regret": float(np.median(rows["regret"])),
        "max_regret": float(rows["regret"].max()),
        "sbs_mean_regret": sbs_mean,
        "gap_closed": _gap(sbs_mean, mean_regret),
        "top1": float(rows["top1"].mean()),
        "top3": float(rows["top3"].mean()),
        "spearman": _nanmean(rows["spearman"]),
        "mae": float(100.0 * np.abs(t[both] - p[both]).mean()) if both.any() else float("nan"),
    }


def bootstrap_interval(
    per_row_values: np.ndarray,
    n_boot: int = EvaluateParams.n_boot,
    seed: int = 0,
    alpha: float = 0.05,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean over datasets (``NaN`` values left out).

    Resampling datasets is the honest unit: with tens of test datasets one bad pick moves the
    mean, and the interval shows by how much.
    """
    values = np.asarray(per_row_values, dtype=np.float64).ravel()
    values = values[~np.isnan(values)]
    if values.size == 0:
        return float("nan"), float("nan")
    idx = np.random.default_rng(seed).integers(0, values.size, size=(n_boot, values.size))
    means = values[idx].mean(axis=1)
    lo, hi = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def evaluate_methods(
    true: ArrayLike,
    preds: dict[str, ArrayLike],
    sbs_index: int | np.ndarray,
    tie_tolerance: float = EvaluateParams.tie_tolerance,
    n_boot: int = EvaluateParams.n_boot,
    seed: int = 0,
    alpha: float = 0.05,
    sbs_means: np.ndarray | None = None,
) -> dict:
    """Metrics of every method side by side, always with the ``sbs`` and ``oracle`` baselines.

    Unless given in ``preds``: ``oracle`` predicts ``true``; ``sbs`` predicts ``sbs_means`` (the
    training mean accuracy per classifier, whose argmax must be ``sbs_index``) on every row, or,
    without them, a one-hot on ``sbs_index`` whose ``spearman`` and ``mae`` are reported as
    ``NaN`` (they would describe the one-hot, not the SBS). Each method also gets
    ``mean_regret_ci`` and ``gap_closed_ci`` (bootstrap over datasets, the same resamples for
    every method, so they compare), ``regret_vs_sbs_ci`` (paired: the interval of the method's
    mean regret minus the SBS's on the same resamples; below zero throughout = reliably better),
    ``regret_vs_ci`` (the same paired interval against every other method: ``{other: [lo,
    hi]}``), ``better_worse_than_sbs`` (datasets where its pick beats / trails the SBS's) and
    ``choice_counts`` (picks per classifier column).
    """
    t_all = _as_matrix(true, "true")
    methods: dict[str, ArrayLike] = dict(preds)
    one_hot_sbs = False
    if "sbs" not in methods:
        if sbs_means is not None:
            means = np.asarray(sbs_means, dtype=np.float64).ravel()
            if means.shape != (t_all.shape[1],) or int(np.nanargmax(means)) != sbs_index:
                raise ValueError("sbs_means must have one value per column and peak at sbs_index")
            methods["sbs"] = np.broadcast_to(means, t_all.shape).copy()
        else:
            one_hot = np.zeros_like(t_all)
            one_hot[:, sbs_index] = 1.0
            methods["sbs"] = one_hot
            one_hot_sbs = True
    if "oracle" not in methods:
        methods["oracle"] = t_all.copy()

    keep = ~np.isnan(t_all).all(axis=1)
    n = int(keep.sum())
    boot = np.random.default_rng(seed).integers(0, n, size=(n_boot, n)) if n else None
    results: dict[str, dict] = {}
    boot_means: dict[str, np.ndarray] = {}  # each method's mean regret per resample
    q = [alpha / 2, 1 - alpha / 2]
    for name, pred in methods.items():
        metrics = selection_metrics(true, pred, sbs_index, tie_tolerance)
        if boot is not None:
            t_full, p_full = _aligned(true, pred)
            t, p = _labelled_rows(t_full, p_full)
            rows = _per_row(t, p, _sbs_rows(t_full, sbs_index), tie_tolerance)
            method_means = boot_means[name] = rows["regret"][boot].mean(axis=1)
            sbs_boot = rows["sbs_regret"][boot].mean(axis=1)  # the SBS's mean regret per resample
            with np.errstate(divide="ignore", invalid="ignore"):
                gaps = np.where(sbs_boot > 1e-12, (sbs_boot - method_means) / sbs_boot, np.nan)
            metrics["mean_regret_ci"] = [float(v) for v in np.quantile(method_means, q)]
            metrics["regret_vs_sbs_ci"] = [
                float(v) for v in np.quantile(method_means - sbs_boot, q)
            ]
            metrics["better_worse_than_sbs"] = [
                int((rows["regret"] < rows["sbs_regret"] - 1e-9).sum()),
                int((rows["regret"] > rows["sbs_regret"] + 1e-9).sum()),
            ]
            gaps = gaps[~np.isnan(gaps)]
            metrics["gap_closed_ci"] = (
                [float(v) for v in np.quantile(gaps, q)] if gaps.size else [float("nan")] * 2
            )
            metrics["choice_counts"] = np.bincount(
                rows["choice"][rows["choice"] >= 0], minlength=t.shape[1]
            ).tolist()
        else:
            metrics["mean_regret_ci"] = [float("nan")] * 2
            metrics["regret_vs_sbs_ci"] = [float("nan")] * 2
            metrics["better_worse_than_sbs"] = [0, 0]
            metrics["gap_closed_ci"] = [float("nan")] * 2
            metrics["choice_counts"] = [0] * t_all.shape[1]
        if name == "sbs" and one_hot_sbs:
            metrics["spearman"] = metrics["mae"] = float("nan")
        results[name] = metrics
    for name, metrics in results.items():  # paired: every pair on the same resampled datasets
        metrics["regret_vs_ci"] = {
            other: [float(v) for v in np.quantile(boot_means[name] - boot_means[other], q)]
            if boot is not None
            else [float("nan")] * 2
            for other in results
            if other != name
        }
    return {
        "n_datasets": n,
        "sbs_index": np.asarray(sbs_index).tolist(),
        "tie_tolerance": float(tie_tolerance),
        "methods": results,
    }


HEADLINE = ("mean_regret", "median_regret", "gap_closed", "top1", "top3", "spearman", "mae")
"""The metrics of each method that ``dvc metrics show`` and the crossval summary print."""


def svm_task(
    true: np.ndarray, preds: dict[str, np.ndarray], classifiers: list[str], kwargs: dict
) -> dict:
    """Choosing the SVM kernel: the methods against always-``svm_rbf``."""
    cols = [classifiers.index(k) for k in SVM_KERNELS if k in classifiers]
    if len(cols) < 2 or "svm_rbf" not in classifiers:
        return {}
    rbf = [classifiers[c] for c in cols].index("svm_rbf")
    sub = {name: p[:, cols] for name, p in preds.items()}
    report = evaluate_methods(true[:, cols], sub, rbf, **kwargs)
    return {
        name: {k: m[k] for k in ("mean_regret", "top1") if k in m}
        for name, m in report["methods"].items()
    }


def headline(report: dict) -> dict:
    """The metrics for ``dvc metrics show``: a few numbers per method, and each method's mean
    regret minus the SBS's with its paired 95% interval (``regret_minus_sbs``, ``_low``,
    ``_high``): a mean regret alone does not say whether a method is reliably better than
    always picking the SBS, the interval does (below zero throughout: reliably better)."""
    out: dict[str, Any] = {
        "n_datasets": report["n_datasets"],
        "missing_labels": report["missing_labels"],
    }
    for method, metrics in report["methods"].items():
        out[method] = {k: rounded(metrics.get(k)) for k in HEADLINE if k in metrics}
        out[method].update(_versus_sbs(metrics))
    if report.get("svm_kernel"):
        out["svm_kernel"] = {
            m: {k: rounded(v) for k, v in vals.items()} for m, vals in report["svm_kernel"].items()
        }
    return out


def _versus_sbs(metrics: dict) -> dict:
    """Mean regret minus the SBS's (points) and the paired bootstrap interval of it."""
    if "mean_regret" not in metrics or "sbs_mean_regret" not in metrics:
        return {}
    low, high = metrics.get("regret_vs_sbs_ci") or (None, None)
    return {
        "regret_minus_sbs": rounded(
            float(metrics["mean_regret"]) - float(metrics["sbs_mean_regret"])
        ),
        "regret_minus_sbs_low": rounded(low),
        "regret_minus_sbs_high": rounded(high),
    }


def rounded(value: Any) -> float | None:
    """A metric for JSON: 4 decimals, ``None`` for missing or NaN."""
    if value is None:
        return None
    value = float(value)
    return None if np.isnan(value) else round(value, 4)
