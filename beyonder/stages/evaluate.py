"""Evaluate: how well the model picks classifiers on datasets it never saw, next to the
single best classifier of the training datasets (SBS) and the per-dataset best (oracle)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from beyonder.corpus import Corpus, per_dataset, test_datasets
from beyonder.encoding import encode_sample
from beyonder.evaluation import evaluate_methods, single_best, svm_task
from beyonder.inference import BeyonderPredictor


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
