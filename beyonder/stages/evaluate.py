"""Evaluate: how well the model picks classifiers on datasets it never saw, next to the
single best classifier of the training datasets (SBS) and the per-dataset best (oracle)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from beyonder.corpus import Corpus, per_dataset, test_datasets
from beyonder.decisions import DEFAULT_BUDGETS, decision_report, time_baseline
from beyonder.encoding import encode_sample
from beyonder.evaluation import evaluate_methods, single_best, svm_task
from beyonder.inference import BeyonderPredictor
from beyonder.schema import RESERVED


def predict_corpus(estimator: BeyonderPredictor, corpus: Corpus, root) -> np.ndarray:
    return predict_outputs(estimator, corpus, root)["accuracy"]


def predict_outputs(estimator: BeyonderPredictor, corpus: Corpus, root) -> dict[str, np.ndarray]:
    """Everything the model predicts per sample: accuracy, its spread over views, fit time."""
    encoded = [encode_sample(pd.read_parquet(root / f)) for f in corpus.index["file"]]
    return estimator.predict(encoded)


def sample_sizes(corpus: Corpus, root) -> np.ndarray:
    """Rows x features of each sample, from its Parquet metadata (nothing is read)."""
    import pyarrow.parquet as pq

    sizes = []
    for file, rows in zip(corpus.index["file"], corpus.index["rows"], strict=True):
        features = len([c for c in pq.read_schema(root / file).names if c not in RESERVED])
        sizes.append(float(rows) * max(features, 1))
    return np.array(sizes)


def decision_metrics(
    corpus: Corpus,
    outputs: dict[str, np.ndarray],
    interval_scale: float | None,
    params: dict[str, Any],
    root,
) -> dict[str, Any]:
    """The model's fit-time quality (against training medians per row x feature), regret
    under ``evaluate.time_budgets``, the coverage of its stored intervals and the verify
    curve, on the test datasets (``outputs``: ``predict_outputs`` of their samples, in corpus
    order)."""
    from pathlib import Path

    root = Path(root)
    test_sets = test_datasets(corpus, params)
    is_test = corpus.index["dataset"].isin(test_sets).to_numpy()
    train, held_out = corpus.subset(~is_test), corpus.subset(is_test)
    train_means = np.nanmean(per_dataset(train, train.accuracy, sorted(set(train.index["dataset"]))), axis=0)
    datasets = sorted(test_sets)
    sbs_means = pd.DataFrame([train_means] * len(datasets), index=datasets, columns=corpus.classifiers)
    sbs = int(np.nanargmax(train_means))
    details = {
        "accuracy": outputs["accuracy"],
        "view_std": outputs["accuracy_spread"],
        "fit_time": outputs["fit_time"],
        "baseline_time": time_baseline(train.fit_time, sample_sizes(train, root), sample_sizes(held_out, root)),
        "interval_scale": np.full(len(held_out.index), np.nan if interval_scale is None else interval_scale),
    }
    budgets = tuple(float(b) for b in (params.get("evaluate") or {}).get("time_budgets") or DEFAULT_BUDGETS)
    n_folds = int((params.get("label") or {}).get("n_folds", 5))
    return decision_report(held_out, details, dict.fromkeys(datasets, sbs), sbs_means, budgets, n_folds)


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


def decision_headline(report: dict[str, Any]) -> dict[str, Any]:
    """A few numbers of ``decision_metrics`` for ``dvc metrics show``: fit-time Spearman and
    log10 MAE (model and baseline), interval coverage, budgeted regret, the verify curve."""
    from beyonder.evaluation import rounded

    out: dict[str, Any] = {}
    for name, quality in report["fit_time"].items():
        out[f"fit_time_{name}_spearman"] = rounded(quality["spearman"])
        out[f"fit_time_{name}_mae_log10"] = rounded(quality["mae_log10"])
    out["interval_coverage"] = rounded(report["intervals"]["coverage"])
    for row in report["budget"]:
        for name, values in row["methods"].items():
            out[f"budget_{row['budget']:g}s_{name}_regret"] = rounded(values["mean_regret"])
    for point in report["verify"]["curve"]:
        out[f"verify_{point['label']}_regret"] = rounded(point["mean_regret"])
        out[f"verify_{point['label']}_cpu_seconds"] = rounded(point["cpu_seconds"])
    return out
