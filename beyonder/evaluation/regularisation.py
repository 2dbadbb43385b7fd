"""Beyond which model: the regularisation strength C of the tuned classifiers.

The label stage measures, for each classifier of ``params.yaml``'s ``regularisation`` section,
the CV accuracy at each C of a log grid (``svm_rbf@C=0.01``...: same samples, folds, budgets
and cache as the portfolio labels). The network's ``curve`` head predicts that curve; this
module turns a predicted curve into an answer (``suggest``: the C with the highest predicted
accuracy, what is predicted there and at the library default C = 1) and scores such answers
on held-out datasets (``curve_report``), with the conventions of ``beyonder/evaluation/metrics.py``:
regrets in accuracy points against the per-dataset best grid point, paired bootstrap
intervals over datasets.

The baselines of the C question:

* ``default``: always C = 1, what a user gets without tuning;
* ``sbs``: the single C best on average over the training datasets (the SBS of C), per
  classifier and per fold;
* ``oracle``: the per-dataset best grid point (regret 0 by definition).

And of the combined question, "which classifier, at which C": the SBS classifier at its
default C, against Beyonder's pick among every portfolio classifier at its default and every
tuned classifier at every grid point (``combined_report``).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from beyonder.params import EvaluateParams

if TYPE_CHECKING:
    from beyonder.selector.corpus import Corpus

# ``beyonder.evaluation.metrics`` (scipy) is imported where scores are computed, not at import:
# ``recommend`` reads ``suggest`` from here and stays light.

DEFAULT_C = 1.0
"""scikit-learn's default C for LogisticRegression and SVC: what a user gets untuned."""


def default_index(grid: Sequence[float]) -> int | None:
    """Position of C = 1 in the grid, None when it is not on it."""
    close = np.isclose(np.asarray(grid, dtype=np.float64), DEFAULT_C, rtol=1e-9, atol=0.0)
    return int(close.argmax()) if close.any() else None


def suggest(
    curve: np.ndarray,
    tuned: Sequence[str],
    grid: Sequence[float],
    default: np.ndarray | None = None,
) -> list[dict[str, Any]]:
    """Per tuned classifier: the suggested C (the grid point with the highest predicted
    accuracy; ties to the smaller C, i.e. the stronger regularisation), the predicted accuracy
    there and at C = 1 (the curve's own value when 1 is on the grid, else ``default``, the
    accuracy head's prediction for the classifier) and the whole predicted curve.
    ``curve``: (tuned, grid) predicted accuracies."""
    curve = np.asarray(curve, dtype=np.float64).reshape(len(tuned), len(grid))
    at_default = default_index(grid)
    out = []
    for k, name in enumerate(tuned):
        best = int(np.nanargmax(curve[k])) if not np.all(np.isnan(curve[k])) else None
        if at_default is not None:
            base = float(curve[k, at_default])
        else:
            base = float(default[k]) if default is not None else float("nan")
        out.append(
            {
                "classifier": name,
                "suggested_C": None if best is None else float(grid[best]),
                "predicted_accuracy": float("nan") if best is None else float(curve[k, best]),
                "default_C": DEFAULT_C,
                "predicted_accuracy_default": base,
                "curve": {f"{float(c):g}": float(v) for c, v in zip(grid, curve[k], strict=True)},
            }
        )
    return out


# --------------------------------------------------------------------------- evaluation


def per_dataset_curves(
    datasets: np.ndarray, curves: np.ndarray, order: Sequence[str]
) -> np.ndarray:
    """Mean over each dataset's samples of (samples, tuned, grid) values, rows in ``order``."""
    curves = np.asarray(curves, dtype=np.float64)
    flat = pd.DataFrame(curves.reshape(len(curves), -1))
    with warnings.catch_warnings():  # a grid point labelled in no sample of a dataset
        warnings.simplefilter("ignore", RuntimeWarning)
        means = flat.groupby(np.asarray(datasets)).mean().reindex(list(order)).to_numpy(np.float64)
    return means.reshape(len(order), *curves.shape[1:])


def sbs_of_c(train_curves: np.ndarray) -> np.ndarray:
    """Per tuned classifier, the grid index with the best mean accuracy over the training
    datasets (``train_curves``: datasets x tuned x grid, each dataset weighted alike); -1 for a
    classifier without any training label."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        means = np.nanmean(np.asarray(train_curves, dtype=np.float64), axis=0)  # tuned x grid
    out = np.full(means.shape[0], -1, dtype=np.int64)
    for k, row in enumerate(means):
        if not np.all(np.isnan(row)):
            out[k] = int(np.nanargmax(row))
    return out


def _one_hot(index: np.ndarray, width: int) -> np.ndarray:
    """Rows with 1 at ``index`` (per row) and 0 elsewhere: a fixed choice as a prediction."""
    out = np.zeros((len(index), width))
    ok = index >= 0
    out[np.flatnonzero(ok), index[ok]] = 1.0
    out[~ok] = np.nan
    return out


def curve_report(
    true: np.ndarray,
    preds: dict[str, np.ndarray],
    sbs_index: np.ndarray,
    tuned: Sequence[str],
    grid: Sequence[float],
    n_boot: int = EvaluateParams.n_boot,
    seed: int = 0,
    tie_tolerance: float = EvaluateParams.tie_tolerance,
) -> dict[str, Any]:
    """How well each method picks C, per tuned classifier and pooled over them.

    ``true``: (datasets, tuned, grid) mean labels; ``preds``: method -> (datasets, tuned,
    grid) predicted accuracies (a method picks the C of its highest prediction); ``sbs_index``:
    (datasets, tuned) the SBS of C of each dataset's fold. ``default`` (C = 1, when on the grid)
    and ``sbs`` are added. Per classifier, ``evaluate_methods``' metrics (``mean_regret`` and
    its interval, ``regret_vs_ci``: paired intervals against every other method); ``pooled``:
    each dataset's regret averaged over the tuned classifiers (datasets lacking a classifier's
    curve average the others), with the paired 95% interval of every method's mean regret
    minus ``default``'s and minus ``sbs``'s. Regrets in accuracy points."""
    from beyonder.evaluation.metrics import evaluate_methods, regret

    true = np.asarray(true, dtype=np.float64)
    n, n_tuned, n_grid = true.shape
    sbs_index = np.asarray(sbs_index, dtype=np.int64).reshape(n, n_tuned)
    at_default = default_index(grid)
    per_classifier: dict[str, Any] = {}
    regrets: dict[str, list[np.ndarray]] = {}
    for k, name in enumerate(tuned):
        t = true[:, k, :]
        labelled = ~np.all(np.isnan(t), axis=1) & (sbs_index[:, k] >= 0)
        if not labelled.any():
            continue
        t = t[labelled]
        methods = {m: np.asarray(p, dtype=np.float64)[labelled, k, :] for m, p in preds.items()}
        methods["sbs"] = _one_hot(sbs_index[labelled, k], n_grid)
        if at_default is not None:
            methods["default"] = _one_hot(np.full(len(t), at_default), n_grid)
        report = evaluate_methods(
            t,
            methods,
            sbs_index[labelled, k],
            tie_tolerance=tie_tolerance,
            n_boot=n_boot,
            seed=seed,
        )
        per_classifier[name] = {
            "n_datasets": report["n_datasets"],
            "methods": {
                m: {
                    "mean_regret": v["mean_regret"],
                    "median_regret": v["median_regret"],
                    "mean_regret_ci": v["mean_regret_ci"],
                    "top1": v["top1"],
                    "regret_vs_ci": v["regret_vs_ci"],
                    "choice_counts": v["choice_counts"],
                }
                for m, v in report["methods"].items()
            },
            "best_C_counts": np.bincount(np.nanargmax(t, axis=1), minlength=n_grid).tolist(),
        }
        for m, p in methods.items():
            row = np.full(n, np.nan)
            row[labelled] = regret(t, _choose(p))
            regrets.setdefault(m, []).append(row)
    return {
        "tuned": list(tuned),
        "grid": [float(c) for c in grid],
        "classifiers": per_classifier,
        "pooled": _pooled(regrets, n_boot, seed),
    }


def _choose(pred: np.ndarray) -> np.ndarray:
    """Each row's highest prediction (NaN never chosen; -1 when a row has none)."""
    empty = np.all(np.isnan(pred), axis=1)
    choice = np.argmax(np.where(np.isnan(pred), -np.inf, pred), axis=1)
    return np.where(empty, -1, choice)


def _pooled(regrets: dict[str, list[np.ndarray]], n_boot: int, seed: int) -> dict[str, Any]:
    """Per method: the mean over datasets of its regret averaged over the tuned classifiers,
    with its bootstrap interval and paired intervals against ``default`` and ``sbs``."""
    from beyonder.evaluation.metrics import bootstrap_interval

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        per_dataset = {m: np.nanmean(np.vstack(rows), axis=0) for m, rows in regrets.items()}
    out: dict[str, Any] = {}
    for m, values in per_dataset.items():
        entry: dict[str, Any] = {
            "n_datasets": int(np.sum(~np.isnan(values))),
            "mean_regret": _mean(values),
            "mean_regret_ci": list(bootstrap_interval(values, n_boot, seed)),
        }
        for other in ("default", "sbs"):
            if other in per_dataset and other != m:
                diff = values - per_dataset[other]
                entry[f"regret_minus_{other}"] = _mean(diff)
                entry[f"regret_minus_{other}_ci"] = list(bootstrap_interval(diff, n_boot, seed))
                entry[f"better_worse_than_{other}"] = [
                    int(np.sum(diff < -1e-9)),
                    int(np.sum(diff > 1e-9)),
                ]
        out[m] = entry
    return out


def extended(
    accuracy: np.ndarray,
    curves: np.ndarray,
    classifiers: Sequence[str],
    tuned: Sequence[str],
    grid: Sequence[float],
) -> tuple[np.ndarray, list[str]]:
    """Every (classifier, C) answer as one matrix: each portfolio classifier at its default
    (``accuracy``), then each tuned classifier at each grid point other than C = 1 (its C = 1
    is its portfolio column; ``curves`` supply the rest). Returns the (rows, answers) values
    and the answers' names (``svm_rbf@C=0.01``)."""
    at_default = default_index(grid)
    keep = [j for j in range(len(grid)) if j != at_default]
    values = [np.asarray(accuracy, dtype=np.float64)]
    names = list(classifiers)
    curves = np.asarray(curves, dtype=np.float64)
    for k, name in enumerate(tuned):
        values.append(curves[:, k, keep])
        names += [f"{name}@C={float(grid[j]):g}" for j in keep]
    return np.hstack(values), names


def combined_report(
    true_accuracy: np.ndarray,
    true_curves: np.ndarray,
    preds: dict[str, tuple[np.ndarray, np.ndarray | None]],
    sbs_classifier: np.ndarray,
    classifiers: Sequence[str],
    tuned: Sequence[str],
    grid: Sequence[float],
    n_boot: int = EvaluateParams.n_boot,
    seed: int = 0,
    tie_tolerance: float = EvaluateParams.tie_tolerance,
) -> dict[str, Any]:
    """The combined answer "which classifier, at which C", scored against the best of every
    portfolio classifier at its default and every tuned classifier at every grid point.

    ``preds``: method -> (predicted accuracies (datasets, classifiers), predicted curves
    (datasets, tuned, grid) or None). With curves, a method picks among every answer (for a
    tuned classifier at C = 1, its curve's value when 1 is on the grid, so its curve alone
    decides its C); without, it picks a classifier at its default C. ``sbs_classifier``: per
    dataset, the SBS classifier's column (each fold's own): the baseline, at its default C.
    Datasets without every C label are left out (their best answer is unknown)."""
    from beyonder.evaluation.metrics import evaluate_methods

    true_all, names = extended(true_accuracy, true_curves, classifiers, tuned, grid)
    n_plain = len(classifiers)
    complete = ~np.isnan(np.asarray(true_curves, dtype=np.float64)).reshape(len(true_all), -1).any(
        axis=1
    )
    complete &= ~np.all(np.isnan(true_accuracy), axis=1)
    if not complete.any():
        return {}
    at_default = default_index(grid)
    methods = {}
    for name, (accuracy, curves) in preds.items():
        accuracy = np.asarray(accuracy, dtype=np.float64)
        if curves is None:
            pred = np.hstack([accuracy, np.full((len(accuracy), len(names) - n_plain), np.nan)])
        else:
            curves = np.asarray(curves, dtype=np.float64)
            pred, _ = extended(accuracy, curves, classifiers, tuned, grid)
            if at_default is not None:  # the tuned classifier at C = 1, from its curve
                for k, clf in enumerate(tuned):
                    if clf in classifiers:
                        pred[:, list(classifiers).index(clf)] = curves[:, k, at_default]
        methods[name] = pred[complete]
    sbs = np.asarray(sbs_classifier, dtype=np.int64)[complete]
    methods["sbs"] = _one_hot(sbs, len(names))
    report = evaluate_methods(
        true_all[complete], methods, sbs, tie_tolerance=tie_tolerance, n_boot=n_boot, seed=seed
    )
    return {
        "n_datasets": report["n_datasets"],
        "answers": names,
        "methods": {
            m: {
                "mean_regret": v["mean_regret"],
                "mean_regret_ci": v["mean_regret_ci"],
                "regret_vs_sbs_ci": v["regret_vs_sbs_ci"],
                "regret_vs_ci": v["regret_vs_ci"],
                "better_worse_than_sbs": v["better_worse_than_sbs"],
                "top1": v["top1"],
            }
            for m, v in report["methods"].items()
        },
    }


# --------------------------------------------------------------------------- cross-validation

CURVE_PREFIX = "curve_"
"""Keys of a fold's details that hold a method's predicted curves (``curve_beyonder``)."""


def fold_details(
    train: Corpus, test: Corpus, curves: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """What ``crossval_report`` needs from one fold, one row per test sample: each method's
    predicted curves (``curve_<method>``: samples x tuned x grid) and the fold's SBS of C
    (``sbs_c``: the grid index per tuned classifier, from the training datasets' curves)."""
    if train.curves is None or not len(test.index):
        return {}
    names = sorted(set(train.index["dataset"]))
    best = sbs_of_c(per_dataset_curves(train.index["dataset"].to_numpy(), train.curves, names))
    out = {f"{CURVE_PREFIX}{m}": np.asarray(c, dtype=np.float64) for m, c in curves.items()}
    out["sbs_c"] = np.tile(best, (len(test.index), 1))
    return out


def folds_within(
    original: Corpus, folds: list[tuple[set[str], dict[str, Any]]], members: set[str]
) -> list[tuple[set[str], dict[str, Any]]]:
    """``crossval_report``'s folds cut down to some datasets (a report group: natural tasks
    apart from binarised ones): each fold's test datasets among ``members``, and its C details
    (one row per test sample, in corpus order) for their samples only. Folds left without a
    member are dropped."""
    datasets = original.index["dataset"]
    out = []
    for test_sets, details in folds:
        keep = datasets[datasets.isin(test_sets)].isin(members).to_numpy()
        c_details = {
            key: np.asarray(value)[keep]
            for key, value in details.items()
            if key.startswith(CURVE_PREFIX) or key == "sbs_c"
        }
        if "sbs_c" in c_details and keep.any():
            out.append((test_sets & members, c_details))
    return out


def crossval_report(
    original: Corpus,
    folds: list[tuple[set[str], dict[str, Any]]],
    sbs_means: pd.DataFrame,
    predictions: dict[str, pd.DataFrame],
    n_boot: int = EvaluateParams.n_boot,
    seed: int = 0,
    tie_tolerance: float = EvaluateParams.tie_tolerance,
) -> dict[str, Any]:
    """The regularisation tables of ``beyonder evaluate --corpus``, every fold's test
    datasets pooled (each scored by its own fold's models and SBS): ``curve_report`` for C,
    ``combined_report`` for classifier + C. ``folds``: (test datasets, ``fold_details``) per
    fold; ``sbs_means``: each test dataset's fold's training mean accuracies; ``predictions``:
    per method, per-dataset mean predicted accuracies."""
    if original.curves is None:
        return {}
    parts, pooled = [], {}
    for test_sets, details in folds:
        if "sbs_c" not in details:
            continue
        rows = original.index["dataset"].isin(test_sets).to_numpy().nonzero()[0]
        parts.append(rows)
        for key, value in details.items():
            if key.startswith(CURVE_PREFIX) or key == "sbs_c":
                pooled.setdefault(key, []).append(value)
    if not parts:
        return {}
    order = np.concatenate(parts)
    names = original.index["dataset"].to_numpy()[order]
    datasets = sorted(set(names))
    truth = per_dataset_curves(names, original.curves[order], datasets)
    curve_preds = {
        key[len(CURVE_PREFIX) :]: per_dataset_curves(names, np.concatenate(values), datasets)
        for key, values in pooled.items()
        if key.startswith(CURVE_PREFIX)
    }
    sbs_c = (
        pd.DataFrame(np.concatenate(pooled["sbs_c"]))
        .groupby(names)
        .first()
        .reindex(datasets)
        .to_numpy()
    )
    report = curve_report(
        truth, curve_preds, sbs_c, original.tuned, original.grid, n_boot, seed, tie_tolerance
    )
    true_accuracy = (
        pd.DataFrame(original.accuracy[order], columns=original.classifiers).groupby(names).mean()
    )
    true_accuracy = true_accuracy.reindex(datasets).to_numpy(np.float64)
    sbs_classifier = np.nanargmax(sbs_means.reindex(datasets).to_numpy(np.float64), axis=1)
    combined_preds: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
    for method, frame in predictions.items():
        if method not in curve_preds:
            continue
        accuracy = frame.reindex(datasets).to_numpy(np.float64)
        combined_preds[method] = (accuracy, None)
        combined_preds[f"{method}_c"] = (accuracy, curve_preds[method])
    report["combined"] = combined_report(
        true_accuracy, truth, combined_preds, sbs_classifier, original.classifiers, original.tuned,
        original.grid, n_boot, seed, tie_tolerance,
    )  # fmt: skip
    report["sbs_c"] = {
        name: [float(original.grid[i]) if i >= 0 else None for i in sbs_c[:, k].astype(int)]
        for k, name in enumerate(original.tuned)
    }
    report["datasets"] = datasets
    report["cv_one_sample"] = cv_one_sample(
        names, original.curves[order], original.grid, original.tuned
    )
    return report


def cv_one_sample(
    datasets: np.ndarray, curves: np.ndarray, grid: Sequence[float], tuned: Sequence[str]
) -> dict[str, Any]:
    """The brute-force reference for C (as ``crossval.cv_one_sample`` for the classifier):
    pick each dataset's C by the C-grid CV of one of its samples, price that pick with the mean
    labels of its *other* samples (so pick and truth share no CV noise), and price C = 1 on the
    same truths. What grid-searching C on the table itself achieves: the realistic ceiling of
    any C selector that reads one sample. Needs two labelled samples per dataset; per tuned
    classifier and pooled (each dataset's regret averaged over the tuned classifiers)."""
    curves = np.asarray(curves, dtype=np.float64)
    at_default = default_index(grid)
    out: dict[str, Any] = {}
    pooled: dict[str, list[list[float]]] = {"cv": [], "default": []}
    groups = pd.Series(np.arange(len(curves))).groupby(np.asarray(datasets)).indices
    for k, name in enumerate(tuned):
        cv_regret, default_regret = [], []
        for rows in groups.values():
            values = curves[rows, k, :]
            values = values[~np.isnan(values).any(axis=1)]
            if len(values) < 2:
                cv_regret.append(np.nan)
                default_regret.append(np.nan)
                continue
            truth = np.array(
                [np.delete(values, i, axis=0).mean(axis=0) for i in range(len(values))]
            )
            best = truth.max(axis=1)
            picks = values.argmax(axis=1)
            cv_regret.append(float(np.mean(100 * (best - truth[np.arange(len(truth)), picks]))))
            default_regret.append(
                float(np.mean(100 * (best - truth[:, at_default])))
                if at_default is not None
                else np.nan
            )
        cv_array, default_array = np.array(cv_regret), np.array(default_regret)
        pooled["cv"].append(cv_regret)
        pooled["default"].append(default_regret)
        out[name] = {
            "n_datasets": int(np.sum(~np.isnan(cv_array))),
            "mean_regret": _mean(cv_array),
            "default_mean_regret": _mean(default_array),
        }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        cv_pooled = np.nanmean(np.array(pooled["cv"]), axis=0) if pooled["cv"] else np.array([])
        default_pooled = (
            np.nanmean(np.array(pooled["default"]), axis=0) if pooled["default"] else np.array([])
        )
    out["pooled"] = {"mean_regret": _mean(cv_pooled), "default_mean_regret": _mean(default_pooled)}
    return out


def _mean(values: np.ndarray) -> float:
    values = values[~np.isnan(values)]
    return float(values.mean()) if values.size else float("nan")
