"""Evaluate: how well the model picks classifiers on datasets it never saw, next to the
single best classifier of the training datasets (SBS), the per-dataset best (oracle) and the
registered champion; then the registry alias that ``beyonder.evaluation.champion.decide`` chooses.
The evaluate flow (``flows/evaluate.py``) runs these steps in order."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd

from beyonder import tracking
from beyonder.config import Layout
from beyonder.errors import error_line
from beyonder.evaluation import budget, regularisation
from beyonder.evaluation.champion import Decision, decide_metrics
from beyonder.evaluation.decisions import decision_report, time_baseline
from beyonder.evaluation.metrics import HEADLINE, evaluate_methods, headline, rounded, svm_task
from beyonder.evaluation.report import write_budget_curve, write_report
from beyonder.evaluation.truth import (
    OTHER_GROUP,
    brute_force,
    dataset_groups,
    metric_predictions,
    minority_shares,
)
from beyonder.evaluation.workspaces import corpus_groups
from beyonder.labels.metrics import METRICS
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


def predict_outputs(
    estimator: BeyonderPredictor, corpus: Corpus, root: str | Path
) -> dict[str, np.ndarray]:
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
    train_means = np.nanmean(
        per_dataset(train, train.accuracy, sorted(set(train.index["dataset"]))), axis=0
    )
    datasets = sorted(test_sets)
    sbs_means = pd.DataFrame(
        [train_means] * len(datasets), index=datasets, columns=corpus.classifiers
    )
    sbs = int(np.nanargmax(train_means))
    details = {
        "accuracy": outputs["accuracy"],
        "view_std": outputs["accuracy_spread"],
        "fit_time": outputs["fit_time"],
        "baseline_time": time_baseline(
            train.fit_time, sample_sizes(train, root), sample_sizes(held_out, root)
        ),
        "interval_scale": np.full(
            len(held_out.index), np.nan if interval_scale is None else interval_scale
        ),
    }
    budgets = tuple(params.evaluate.time_budgets)
    report = decision_report(
        held_out, details, dict.fromkeys(datasets, sbs), sbs_means, budgets, params.label.n_folds
    )
    if combiner is not None:
        layout = Layout(root)
        if predictor is not None:
            files = [root / f for f in held_out.index["file"]]
            details["prediction_seconds"] = budget.prediction_cpu(
                predictor, files, params.sample.subsamples
            )
        tables = budget.labelled_tables(
            held_out, details, dict.fromkeys(datasets, combiner), load_measurements(layout, corpus.classifiers),
            dict.fromkeys(datasets, sbs), corpus_groups(layout), combiner.tiers,
        )  # fmt: skip
        report["budget_curve"] = budget.budget_curve(
            tables,
            shares=tuple(params.evaluate.budget_shares),
            n_boot=params.evaluate.n_boot,
            seed=params.seed,
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
    scores: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    """Per method, its predictions of the other metrics (metric -> test samples x classifiers)."""
    groups: dict[str, str] = field(default_factory=dict)
    """Dataset -> report group (``evaluate.groups``)."""
    minority: dict[str, float] = field(default_factory=dict)
    """Test dataset -> the share of its rarest class (imbalanced tasks are reported apart)."""
    combiner: MeasurementCombiner | None = None  # the new model's measurement calibration
    predictor: BeyonderPredictor | None = None  # the new model as recommend runs it


def predict_test(params: Params, layout: Layout, log: Callable[[str], None] = print) -> Predictions:
    """The new model's predictions on the test datasets, and the current champion's."""
    corpus = load_corpus(
        layout,
        params.label.classifiers,
        include_augmented=False,
        regularisation=params.regularisation,
    )
    test = corpus.subset(corpus.index["dataset"].isin(test_datasets(corpus, params)).to_numpy())
    recommender = Recommender.load(layout.model / "beyonder")
    outputs = predict_outputs(recommender.estimator, test, layout.root)
    by_method = {"beyonder": outputs["accuracy"]}
    classifiers = list(corpus.classifiers)
    scores = {
        "beyonder": metric_predictions(outputs, recommender.estimator.config.metrics, classifiers)
    }

    tracking.configure(layout.root)
    run = read_json(layout.model / "run.json")
    # the model to beat: the last judged one (it never saw these test families either), or,
    # in a registry older than refitting, the champion itself
    champion = tracking.alias_version(tracking.JUDGED) or tracking.champion_version()
    no_champion = (
        "no champion yet"
        if champion is None
        else f"the new model is champion version {champion.version}"
    )
    if champion is not None and champion.source != run["model_uri"]:
        try:
            old = mlflow.pyfunc.load_model(f"models:/{tracking.MODEL_NAME}/{champion.version}")
            old_estimator = old.unwrap_python_model().recommender.estimator
            old_outputs = predict_outputs(old_estimator, test, layout.root)
            by_method["champion"] = old_outputs["accuracy"]
            scores["champion"] = metric_predictions(
                old_outputs, old_estimator.config.metrics, classifiers
            )
        except Exception as exc:  # e.g. trained on an older encoding: it cannot serve either
            no_champion = f"champion version {champion.version} cannot predict on this evaluation"
            log(
                f"champion version {champion.version} cannot predict on this evaluation "
                f"({error_line(exc)}); the new model replaces it"
            )
    groups = dataset_groups(corpus_groups(layout), params.evaluate.groups)
    minority = minority_shares(test, layout.root)
    return Predictions(
        corpus, by_method, no_champion, outputs, recommender.interval_scale, scores, groups, minority,
        combiner=recommender.combiner, predictor=recommender.estimator,
    )  # fmt: skip


def write_evaluation(report: dict, table: pd.DataFrame, layout: Layout) -> dict:
    """``evaluation/`` (report, per-dataset CSV, plots' CSVs and figures) and
    ``metrics/evaluate.json``; returns the headline metrics."""
    metrics = headline(report)
    if "headline_group" in report:
        metrics["group"] = report["headline_group"]
    if "brute_force" in report:
        metrics["brute_force"] = {k: rounded(v) for k, v in report["brute_force"].items()}
    if report.get("groups"):
        metrics["groups"] = groups_headline(report["groups"])
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


def register(
    report: dict, metrics: dict, layout: Layout, no_champion: str, judged: list[str] | None = None
) -> tuple[Any, Decision]:
    """Register the new model, alias it champion or challenger as ``decide_metrics`` says on
    the ``judged`` metrics (``evaluate.metrics``), and log the metrics and ``evaluation/`` to
    its training run; returns its version and the decision."""
    run = read_json(layout.model / "run.json")
    version = tracking.register(run["model_uri"])
    decision = decide_metrics(report, judged or ["accuracy"], no_champion=no_champion)
    if decision.promote:  # champion until the refit stage replaces it with its refit twin
        tracking.set_alias(version, tracking.JUDGED)
        tracking.set_alias(version, tracking.CHAMPION)
    else:
        tracking.set_alias(version, tracking.CHALLENGER)
    write_json(
        {"version": str(version.version), "promote": decision.promote, "reason": decision.reason},
        layout.evaluation / "decision.json",
    )
    with mlflow.start_run(run_id=run["run_id"]):
        for method, values in metrics.items():
            if isinstance(values, dict) and method not in (
                "svm_kernel",
                "decisions",
                "regularisation",
                "groups",
            ):
                mlflow.log_metrics(
                    {
                        f"eval_{method}_{k}": v
                        for k, v in values.items()
                        if isinstance(v, int | float)
                    }
                )
        mlflow.log_artifacts(str(layout.evaluation), artifact_path="evaluation")
    return version, decision


def headline_datasets(test: set[str], groups: dict[str, str], params: Params) -> list[str]:
    """The test datasets of the headline group (the first of ``evaluate.groups``); all of
    them when the groups are unknown (no ingest manifest) or the headline group has none."""
    headline_group = next(iter(params.evaluate.groups), None)
    chosen = sorted(d for d in test if groups.get(d) == headline_group)
    return chosen or sorted(test)


def evaluate(
    corpus: Corpus,
    predictions: dict[str, np.ndarray],
    params: Params,
    groups: dict[str, str] | None = None,
    scores: dict[str, dict[str, np.ndarray]] | None = None,
    minority: dict[str, float] | None = None,
) -> tuple[dict, pd.DataFrame]:
    """Metrics of every method on the headline group's test datasets (accuracy), the same per
    report group and metric under ``groups`` (with the noise ceiling, brute force, beside
    them), plus a per-dataset table for plots.

    ``corpus`` holds the original samples; ``predictions`` maps a method name to its predicted
    accuracies for the test samples of ``corpus`` (in corpus order, test rows only); ``scores``
    maps a method to its predictions of other metrics (``metric_predictions``); ``groups``
    maps a dataset to its report group (``truth.dataset_groups``); ``minority`` its rarest
    class's share (``minority_shares``).
    """
    groups = groups or {}
    test = test_datasets(corpus, params)
    is_test = corpus.index["dataset"].isin(test).to_numpy()
    train, held_out = corpus.subset(~is_test), corpus.subset(is_test)
    datasets = headline_datasets(test, groups, params)
    true = per_dataset(held_out, held_out.accuracy, datasets)
    train_means = np.nanmean(
        per_dataset(train, train.accuracy, sorted(set(train.index["dataset"]))), axis=0
    )
    sbs = single_best(train_means[None, :])
    preds = {name: per_dataset(held_out, p, datasets) for name, p in predictions.items()}
    kwargs = params.evaluate.scoring(params.seed)
    report = evaluate_methods(true, preds, sbs, sbs_means=train_means, **kwargs)
    report["sbs_classifier"] = corpus.classifiers[sbs]
    report["test_datasets"] = datasets
    report["missing_labels"] = int(np.isnan(held_out.accuracy).sum())
    report["svm_kernel"] = svm_task(true, preds, corpus.classifiers, kwargs)
    report["headline_group"] = (
        next(iter(params.evaluate.groups), None) if len(datasets) < len(test) else "all"
    )
    report["brute_force"] = _without_rows(
        brute_force(*_replicates(held_out, "accuracy", datasets), dict.fromkeys(datasets, sbs))
    )
    imbalanced = {d for d, share in (minority or {}).items() if share < params.evaluate.imbalance}
    report["groups"] = group_reports(
        train, held_out, predictions, scores or {}, groups, imbalanced, params
    )

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


def _replicates(corpus: Corpus, metric: str, datasets: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The dataset of each sample of ``datasets`` and that sample's labels of ``metric``."""
    rows = corpus.index["dataset"].isin(datasets).to_numpy()
    return corpus.index["dataset"].to_numpy()[rows], corpus.metric(metric)[rows]


def _without_rows(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k != "per_dataset"}


def group_reports(
    train: Corpus,
    held_out: Corpus,
    predictions: dict[str, np.ndarray],
    scores: dict[str, dict[str, np.ndarray]],
    groups: dict[str, str],
    imbalanced: set[str],
    params: Params,
) -> dict[str, dict[str, Any]]:
    """Per report group (``evaluate.groups``, in order, then any other) and metric: every
    method's metrics against that metric's truth and SBS (the training datasets' best on
    average for that metric), the noise ceiling (``brute_force``), and the same on the
    group's imbalanced tasks (rarest class below ``evaluate.imbalance``) when it has any."""
    kwargs = params.evaluate.scoring(params.seed)
    test = sorted(set(held_out.index["dataset"]))
    order = [
        *params.evaluate.groups,
        *sorted({groups.get(d, OTHER_GROUP) for d in test} - set(params.evaluate.groups)),
    ]
    metrics = [m for m in METRICS if m == "accuracy" or m in held_out.metrics]
    out: dict[str, dict[str, Any]] = {}
    for group in order:
        members = sorted(d for d in test if groups.get(d, OTHER_GROUP) == group)
        if not members:
            continue
        out[group] = {}
        for metric in metrics:
            if metric == "accuracy":
                methods = dict(predictions)
            else:
                methods = {
                    name: by_metric[metric]
                    for name, by_metric in scores.items()
                    if metric in by_metric
                }
            report = _metric_report(train, held_out, metric, members, methods, kwargs)
            if report is None:
                continue
            subset = sorted(set(members) & imbalanced)
            if subset:
                report["imbalanced"] = _metric_report(
                    train, held_out, metric, subset, methods, kwargs, brief=True
                )
            out[group][metric] = report
    return out


def _metric_report(
    train: Corpus,
    held_out: Corpus,
    metric: str,
    datasets: list[str],
    methods: dict[str, np.ndarray],
    kwargs: dict,
    brief: bool = False,
) -> dict[str, Any] | None:
    """``evaluate_methods`` on ``datasets`` for one metric, its SBS from the training datasets,
    and brute force on the same datasets; None when the metric has no training labels."""
    with (
        warnings.catch_warnings()
    ):  # a classifier without labels of this metric (log loss of an SVM)
        warnings.simplefilter("ignore", RuntimeWarning)
        train_means = np.nanmean(
            per_dataset(train, train.metric(metric), sorted(set(train.index["dataset"]))), axis=0
        )
    if np.isnan(train_means).all():
        return None
    sbs = single_best(train_means[None, :])
    true = per_dataset(held_out, held_out.metric(metric), datasets)
    preds = {name: per_dataset(held_out, p, datasets) for name, p in methods.items()}
    report = evaluate_methods(true, preds, sbs, sbs_means=train_means, **kwargs)
    report["sbs_classifier"] = held_out.classifiers[sbs]
    report["brute_force"] = _without_rows(
        brute_force(*_replicates(held_out, metric, datasets), dict.fromkeys(datasets, sbs))
    )
    if brief:
        return {
            "n_datasets": report["n_datasets"],
            "methods": {k: {m: v[m] for m in HEADLINE} for k, v in report["methods"].items()},
            "brute_force": report["brute_force"],
        }
    return report


def groups_headline(groups: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Per group and metric, for ``dvc metrics show``: datasets, each method's mean regret and
    gap closed, Beyonder's regret minus the SBS's with its paired interval, brute force's."""
    out: dict[str, Any] = {}
    for group, by_metric in groups.items():
        for metric, report in by_metric.items():
            row: dict[str, Any] = {"n_datasets": report["n_datasets"]}
            for method, values in report["methods"].items():
                if method == "oracle":
                    continue
                row[f"{method}_regret"] = rounded(values["mean_regret"])
                if method != "sbs":
                    row[f"{method}_gap_closed"] = rounded(values.get("gap_closed"))
            row.update({f"beyonder_{k}": v for k, v in _versus_sbs_of(report).items()})
            row["brute_force_regret"] = rounded(report["brute_force"]["mean_regret"])
            row["brute_force_gap_closed"] = rounded(report["brute_force"]["gap_closed"])
            out[f"{group}_{metric}"] = row
    return out


def _versus_sbs_of(report: dict[str, Any]) -> dict[str, Any]:
    beyonder = report["methods"].get("beyonder")
    if beyonder is None:
        return {}
    low, high = beyonder.get("regret_vs_sbs_ci") or (None, None)
    return {"minus_sbs_low": rounded(low), "minus_sbs_high": rounded(high)}


def decision_headline(report: dict[str, Any]) -> dict[str, Any]:
    """A few numbers of ``decision_metrics`` for ``dvc metrics show``: fit-time Spearman and
    log10 MAE (model and baseline), interval coverage, budgeted regret, the verify curve."""
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
        if mode["mode"] in ("predicted", "all@full", "brute_force") or mode["mode"].startswith(
            "budget"
        ):
            out[f"curve_{mode['mode']}_regret"] = rounded(mode["mean_regret"])
            out[f"curve_{mode['mode']}_cpu_share"] = rounded(mode["cpu_share"])
    return out


def regularisation_metrics(
    corpus: Corpus, outputs: dict[str, np.ndarray], params: Params
) -> dict[str, Any]:
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
    train_means = np.nanmean(
        per_dataset(train, train.accuracy, sorted(set(train.index["dataset"]))), axis=0
    )
    sbs_means = pd.DataFrame(
        [train_means] * len(datasets), index=datasets, columns=corpus.classifiers
    )
    predicted = pd.DataFrame(
        per_dataset(held_out, outputs["accuracy"], datasets),
        index=datasets,
        columns=corpus.classifiers,
    )
    fold = (
        set(datasets),
        regularisation.fold_details(train, held_out, {"beyonder": outputs["curve"]}),
    )
    scoring = params.evaluate
    return regularisation.crossval_report(
        corpus,
        [fold],
        sbs_means,
        {"beyonder": predicted},
        scoring.n_boot,
        params.seed,
        scoring.tie_tolerance,
    )


def regularisation_headline(report: dict[str, Any]) -> dict[str, Any]:
    """A few numbers of ``regularisation_metrics`` for ``dvc metrics show``: per tuned
    classifier the mean regret (points) of the suggested C, of C = 1 and of the SBS of C; pooled,
    the suggested C's regret minus C = 1's with its paired 95% interval; and the combined
    answer's regret next to the SBS classifier at its default."""
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
