"""Evaluate: how well the model picks classifiers on datasets it never saw, next to the
single best classifier of the training datasets (SBS), the per-dataset best (oracle) and the
registered champion; then the registry alias that ``beyonder.evaluation.champion.decide`` chooses.
The evaluate flow (``flows/evaluate.py``) runs these steps in order."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd

from beyonder import tracking
from beyonder.config import Layout
from beyonder.errors import error_line
from beyonder.evaluation import budget, regularisation
from beyonder.evaluation.champion import Decision, decide
from beyonder.evaluation.decisions import decision_report, time_baseline
from beyonder.evaluation.metrics import evaluate_methods, headline, svm_task
from beyonder.evaluation.report import write_budget_curve, write_report
from beyonder.evaluation.workspaces import corpus_groups
from beyonder.labels.summary import single_best
from beyonder.params import Params
from beyonder.schema import RESERVED
from beyonder.selector.combiner import MeasurementCombiner
from beyonder.selector.corpus import (
    Corpus,
    load_corpus,
    load_measurements,
    per_dataset,
    test_datasets,
)
from beyonder.selector.encoding import encode_sample
from beyonder.selector.inference import BeyonderPredictor
from beyonder.serving.recommend import Recommender
from beyonder.storage import read_json, write_json, write_text


def predict_corpus(estimator: BeyonderPredictor, corpus: Corpus, root: str | Path) -> np.ndarray:
    return predict_outputs(estimator, corpus, root)["accuracy"]


def predict_outputs(estimator: BeyonderPredictor, corpus: Corpus, root: str | Path) -> dict[str, np.ndarray]:
    """Everything the model predicts per sample: accuracy, its spread over views, fit time."""
    encoded = [encode_sample(pd.read_parquet(Path(root) / f)) for f in corpus.index["file"]]
    return estimator.predict(encoded)


def sample_sizes(corpus: Corpus, root: str | Path) -> np.ndarray:
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
    params: Params,
    root: str | Path,
    combiner: MeasurementCombiner | None = None,
    predictor: BeyonderPredictor | None = None,
) -> dict[str, Any]:
    """The model's fit-time quality (against training medians per row x feature), regret
    under ``evaluate.time_budgets``, the coverage of its stored intervals and the verify
    curve, on the test datasets (``outputs``: ``predict_outputs`` of their samples, in corpus
    order); with the model's measurement ``combiner``, the budget curve (``budget_curve``:
    regret against CPU seconds of predicting, measuring and brute force; the prediction's
    own CPU timed with ``predictor``)."""
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
    budgets = tuple(params.evaluate.time_budgets)
    report = decision_report(held_out, details, dict.fromkeys(datasets, sbs), sbs_means, budgets, params.label.n_folds)
    if combiner is not None:
        layout = Layout(root)
        if predictor is not None:
            files = [root / f for f in held_out.index["file"]]
            details["prediction_seconds"] = budget.prediction_cpu(predictor, files, params.sample.subsamples)
        tables = budget.labelled_tables(
            held_out, details, dict.fromkeys(datasets, combiner), load_measurements(layout, corpus.classifiers),
            dict.fromkeys(datasets, sbs), corpus_groups(layout), combiner.tiers,
        )  # fmt: skip
        report["budget_curve"] = budget.budget_curve(
            tables, shares=tuple(params.evaluate.budget_shares), n_boot=params.evaluate.n_boot, seed=params.seed
        )
    return report


@dataclass
class Predictions:
    """Predicted accuracies of the test samples per method (``beyonder``, and ``champion``
    when a registered champion other than the new model can predict), and the reason to
    promote without a comparison when there is no such champion."""

    corpus: Corpus
    by_method: dict[str, np.ndarray]
    no_champion: str
    outputs: dict[str, np.ndarray]  # the new model's: accuracy, its spread, fit time
    interval_scale: float | None  # the new model's calibrated interval scale
    combiner: MeasurementCombiner | None = None  # the new model's measurement calibration
    predictor: BeyonderPredictor | None = None  # the new model as recommend runs it


def predict_test(params: Params, layout: Layout, log: Callable[[str], None] = print) -> Predictions:
    """The new model's predictions on the test datasets, and the current champion's."""
    corpus = load_corpus(layout, params.label.classifiers, include_augmented=False, regularisation=params.regularisation)
    test = corpus.subset(corpus.index["dataset"].isin(test_datasets(corpus, params)).to_numpy())
    recommender = Recommender.load(layout.model / "beyonder")
    outputs = predict_outputs(recommender.estimator, test, layout.root)
    by_method = {"beyonder": outputs["accuracy"]}

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
    return Predictions(
        corpus, by_method, no_champion, outputs, recommender.interval_scale, recommender.combiner, recommender.estimator
    )


def write_evaluation(report: dict, table: pd.DataFrame, layout: Layout) -> dict:
    """``evaluation/`` (report, per-dataset CSV, plots' CSVs and figures) and
    ``metrics/evaluate.json``; returns the headline metrics."""
    metrics = headline(report)
    if "decisions" in report:
        metrics["decisions"] = decision_headline(report["decisions"])
    if report.get("regularisation"):
        metrics["regularisation"] = regularisation_headline(report["regularisation"])
    write_json(report, layout.evaluation / "report.json")
    write_text(table.to_csv(index=False), layout.evaluation / "per_dataset.csv")
    write_report(table, report, layout.evaluation)  # regret.csv, rankings.csv, figures/*.png
    write_budget_curve(report.get("decisions", {}).get("budget_curve"), layout.evaluation)
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
            if isinstance(values, dict) and method not in ("svm_kernel", "decisions", "regularisation"):
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


def decision_headline(report: dict[str, Any]) -> dict[str, Any]:
    """A few numbers of ``decision_metrics`` for ``dvc metrics show``: fit-time Spearman and
    log10 MAE (model and baseline), interval coverage, budgeted regret, the verify curve."""
    from beyonder.evaluation.metrics import rounded

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
    curve = report.get("budget_curve") or {}
    for mode in curve.get("modes", []):  # predict, then measure: the policies a user would pick
        if mode["mode"] in ("predicted", "all@full", "brute_force") or mode["mode"].startswith("budget"):
            out[f"curve_{mode['mode']}_regret"] = rounded(mode["mean_regret"])
            out[f"curve_{mode['mode']}_cpu_share"] = rounded(mode["cpu_share"])
    return out


def regularisation_metrics(corpus: Corpus, outputs: dict[str, np.ndarray], params: Params) -> dict[str, Any]:
    """How well the model's ``curve`` heads pick C on the test datasets, next to C = 1 and the
    SBS of C of the training datasets, and its classifier + C answer against the SBS at its
    default (``regularisation.crossval_report`` with one fold); empty for a model without
    those heads or a corpus without C labels. ``outputs``: ``predict_outputs`` of the test
    samples, in corpus order."""
    if "curve" not in outputs or corpus.curves is None:
        return {}
    test_sets = test_datasets(corpus, params)
    is_test = corpus.index["dataset"].isin(test_sets).to_numpy()
    train, held_out = corpus.subset(~is_test), corpus.subset(is_test)
    datasets = sorted(test_sets)
    train_means = np.nanmean(per_dataset(train, train.accuracy, sorted(set(train.index["dataset"]))), axis=0)
    sbs_means = pd.DataFrame([train_means] * len(datasets), index=datasets, columns=corpus.classifiers)
    predicted = pd.DataFrame(per_dataset(held_out, outputs["accuracy"], datasets), index=datasets, columns=corpus.classifiers)
    fold = (set(datasets), regularisation.fold_details(train, held_out, {"beyonder": outputs["curve"]}))
    scoring = params.evaluate
    return regularisation.crossval_report(
        corpus, [fold], sbs_means, {"beyonder": predicted}, scoring.n_boot, params.seed, scoring.tie_tolerance
    )


def regularisation_headline(report: dict[str, Any]) -> dict[str, Any]:
    """A few numbers of ``regularisation_metrics`` for ``dvc metrics show``: per tuned
    classifier the mean regret (points) of the suggested C, of C = 1 and of the SBS of C; pooled,
    the suggested C's regret minus C = 1's with its paired 95% interval; and the combined
    answer's regret next to the SBS classifier at its default."""
    from beyonder.evaluation.metrics import rounded

    out: dict[str, Any] = {}
    for name, part in report.get("classifiers", {}).items():
        for method in ("beyonder", "default", "sbs"):
            if method in part["methods"]:
                out[f"{name}_{method}_regret"] = rounded(part["methods"][method]["mean_regret"])
    pooled = report.get("pooled", {}).get("beyonder", {})
    if "regret_minus_default" in pooled:
        low, high = pooled["regret_minus_default_ci"]
        out.update(
            {
                "regret_minus_default": rounded(pooled["regret_minus_default"]),
                "regret_minus_default_low": rounded(low),
                "regret_minus_default_high": rounded(high),
            }
        )
    for method, values in report.get("combined", {}).get("methods", {}).items():
        if method in ("beyonder", "beyonder_c", "sbs"):
            out[f"combined_{method}_regret"] = rounded(values["mean_regret"])
    return out
