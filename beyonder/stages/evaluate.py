"""Evaluate: how well the model picks classifiers on datasets it never saw, next to the
single best classifier of the training datasets (SBS), the per-dataset best (oracle) and the
registered champion; then the registry alias that ``beyonder.champion.decide`` chooses.
The evaluate flow (``beyonder/flows/evaluate.py``) runs these steps in order."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd

from beyonder import tracking
from beyonder.champion import Decision, decide
from beyonder.config import Layout
from beyonder.corpus import Corpus, load_corpus, per_dataset, test_datasets
from beyonder.encoding import encode_sample
from beyonder.errors import error_line
from beyonder.evaluation import evaluate_methods, headline, single_best, svm_task
from beyonder.inference import BeyonderPredictor
from beyonder.params import Params
from beyonder.recommend import Recommender
from beyonder.report import write_report
from beyonder.storage import read_json, write_json, write_text


def predict_corpus(estimator: BeyonderPredictor, corpus: Corpus, root: str | Path) -> np.ndarray:
    encoded = [encode_sample(pd.read_parquet(Path(root) / f)) for f in corpus.index["file"]]
    return estimator.predict(encoded)["accuracy"]


@dataclass
class Predictions:
    """Predicted accuracies of the test samples per method (``beyonder``, and ``champion``
    when a registered champion other than the new model can predict), and the reason to
    promote without a comparison when there is no such champion."""

    corpus: Corpus
    by_method: dict[str, np.ndarray]
    no_champion: str


def predict_test(params: Params, layout: Layout, log: Callable[[str], None] = print) -> Predictions:
    """The new model's predictions on the test datasets, and the current champion's."""
    corpus = load_corpus(layout, params.label.classifiers, include_augmented=False)
    test = corpus.subset(corpus.index["dataset"].isin(test_datasets(corpus, params)).to_numpy())
    recommender = Recommender.load(layout.model / "beyonder")
    by_method = {"beyonder": predict_corpus(recommender.estimator, test, layout.root)}

    tracking.configure(layout.root)
    run = read_json(layout.model / "run.json")
    champion = tracking.champion_version()
    no_champion = (
        "no champion yet" if champion is None else f"the new model is champion version {champion.version}"
    )
    if champion is not None and champion.source != run["model_uri"]:
        try:
            old = mlflow.pyfunc.load_model(f"models:/{tracking.MODEL_NAME}/{champion.version}")
            old_estimator = old.unwrap_python_model().recommender.estimator
            by_method["champion"] = predict_corpus(old_estimator, test, layout.root)
        except Exception as exc:  # e.g. trained on an older encoding: it cannot serve either
            no_champion = f"champion version {champion.version} cannot predict on this evaluation"
            log(
                f"champion version {champion.version} cannot predict on this evaluation "
                f"({error_line(exc)}); the new model replaces it"
            )
    return Predictions(corpus, by_method, no_champion)


def write_evaluation(report: dict, table: pd.DataFrame, layout: Layout) -> dict:
    """``evaluation/`` (report, per-dataset CSV, plots' CSVs and figures) and
    ``metrics/evaluate.json``; returns the headline metrics."""
    metrics = headline(report)
    write_json(report, layout.evaluation / "report.json")
    write_text(table.to_csv(index=False), layout.evaluation / "per_dataset.csv")
    write_report(table, report, layout.evaluation)  # regret.csv, rankings.csv, figures/*.png
    write_json(metrics, layout.metrics / "evaluate.json")
    return metrics


def register(report: dict, metrics: dict, layout: Layout, no_champion: str) -> tuple[Any, Decision]:
    """Register the new model, alias it champion or challenger as ``decide`` says, and log
    the metrics and ``evaluation/`` to its training run; returns its version and the decision."""
    run = read_json(layout.model / "run.json")
    version = tracking.register(run["model_uri"])
    decision = decide(report, no_champion=no_champion)
    tracking.set_alias(version, tracking.CHAMPION if decision.promote else tracking.CHALLENGER)
    with mlflow.start_run(run_id=run["run_id"]):
        for method, values in metrics.items():
            if isinstance(values, dict) and method != "svm_kernel":
                mlflow.log_metrics({f"eval_{method}_{k}": v for k, v in values.items() if v is not None})
        mlflow.log_artifacts(str(layout.evaluation), artifact_path="evaluation")
    return version, decision


def evaluate(
    corpus: Corpus,
    predictions: dict[str, np.ndarray],
    params: Params,
) -> tuple[dict, pd.DataFrame]:
    """Metrics of every method on the test datasets, plus a per-dataset table for plots.

    ``corpus`` holds the original samples; ``predictions`` maps a method name to its predicted
    accuracies for the test samples of ``corpus`` (in corpus order, test rows only).
    """
    test = test_datasets(corpus, params)
    is_test = corpus.index["dataset"].isin(test).to_numpy()
    train, held_out = corpus.subset(~is_test), corpus.subset(is_test)
    datasets = sorted(test)
    true = per_dataset(held_out, held_out.accuracy, datasets)
    train_means = np.nanmean(per_dataset(train, train.accuracy, sorted(set(train.index["dataset"]))), axis=0)
    sbs = single_best(train_means[None, :])
    preds = {name: per_dataset(held_out, p, datasets) for name, p in predictions.items()}
    kwargs = params.evaluate.scoring(params.seed)
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
