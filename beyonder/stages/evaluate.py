"""Evaluate: how well the model picks classifiers on datasets it never saw, next to the
single best classifier of the training datasets (SBS) and the per-dataset best (oracle)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from beyonder.encoding import encode_sample
from beyonder.evaluation import evaluate_methods, single_best
from beyonder.inference import BeyonderPredictor
from beyonder.schema import SVM_KERNELS
from beyonder.stages.train import Corpus, test_datasets

HEADLINE = ("mean_regret", "median_regret", "gap_closed", "top1", "top3", "spearman", "mae")


def per_dataset_mean(corpus: Corpus, values: np.ndarray) -> pd.DataFrame:
    """Mean of per-sample values over each dataset's samples (one row per dataset)."""
    frame = pd.DataFrame(values, columns=corpus.classifiers)
    return frame.groupby(corpus.index["dataset"].to_numpy()).mean()


def per_dataset(corpus: Corpus, values: np.ndarray, datasets: list[str]) -> np.ndarray:
    """``per_dataset_mean`` as an array whose rows follow ``datasets``."""
    return per_dataset_mean(corpus, values).reindex(datasets).to_numpy(np.float64)


def predict_corpus(estimator: BeyonderPredictor, corpus: Corpus, root) -> np.ndarray:
    encoded = [encode_sample(pd.read_parquet(root / f)) for f in corpus.index["file"]]
    return estimator.predict(encoded)["accuracy"]


def evaluate(
    corpus: Corpus,
    predictions: dict[str, np.ndarray],
    params: dict[str, Any],
) -> tuple[dict, pd.DataFrame]:
    """Metrics of every method on the test datasets, plus a per-dataset table for plots.

    ``corpus`` holds the original samples; ``predictions`` maps a method name to its predicted
    accuracies for the test samples of ``corpus`` (in corpus order, test rows only).
    """
    cfg = params.get("evaluate") or {}
    test = test_datasets(corpus, params)
    is_test = corpus.index["dataset"].isin(test).to_numpy()
    train, held_out = corpus.subset(~is_test), corpus.subset(is_test)
    datasets = sorted(test)
    true = per_dataset(held_out, held_out.accuracy, datasets)
    train_means = np.nanmean(per_dataset(train, train.accuracy, sorted(set(train.index["dataset"]))), axis=0)
    sbs = single_best(train_means[None, :])
    preds = {name: per_dataset(held_out, p, datasets) for name, p in predictions.items()}
    kwargs = {
        "tie_tolerance": float(cfg.get("tie_tolerance", 0.005)),
        "n_boot": int(cfg.get("n_boot", 1000)),
        "seed": int(params.get("seed", 0)),
    }
    report = evaluate_methods(true, preds, sbs, sbs_means=train_means, **kwargs)
    report["sbs_classifier"] = corpus.classifiers[sbs]
    report["test_datasets"] = datasets
    report["missing_labels"] = int(np.isnan(held_out.accuracy).sum())
    report["svm_kernel"] = svm_task(true, preds, corpus.classifiers, kwargs)

    rows = []
    for name, pred in preds.items():
        for i, dataset in enumerate(datasets):
            for j, clf in enumerate(corpus.classifiers):
                rows.append(
                    {
                        "method": name,
                        "dataset": dataset,
                        "classifier": clf,
                        "true_accuracy": true[i, j],
                        "predicted_accuracy": pred[i, j],
                    }
                )
    return report, pd.DataFrame(rows)


def svm_task(true: np.ndarray, preds: dict[str, np.ndarray], classifiers: list[str], kwargs: dict) -> dict:
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
    out: dict[str, Any] = {"n_datasets": report["n_datasets"], "missing_labels": report["missing_labels"]}
    for method, metrics in report["methods"].items():
        out[method] = {k: _round(metrics.get(k)) for k in HEADLINE if k in metrics}
        out[method].update(_versus_sbs(metrics))
    if report.get("svm_kernel"):
        out["svm_kernel"] = {
            m: {k: _round(v) for k, v in vals.items()} for m, vals in report["svm_kernel"].items()
        }
    return out


def _versus_sbs(metrics: dict) -> dict:
    """Mean regret minus the SBS's (points) and the paired bootstrap interval of it."""
    if "mean_regret" not in metrics or "sbs_mean_regret" not in metrics:
        return {}
    low, high = metrics.get("regret_vs_sbs_ci") or (None, None)
    return {
        "regret_minus_sbs": _round(float(metrics["mean_regret"]) - float(metrics["sbs_mean_regret"])),
        "regret_minus_sbs_low": _round(low),
        "regret_minus_sbs_high": _round(high),
    }


def _round(value: Any) -> Any:
    if value is None:
        return None
    value = float(value)
    return None if np.isnan(value) else round(value, 4)
