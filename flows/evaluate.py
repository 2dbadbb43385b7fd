"""Evaluate flow: metrics on held-out datasets, the report (CSV for ``dvc plots``, PNG
figures; all of ``evaluation`` goes to MLflow), then the registry alias that
``beyonder.champion.decide`` chooses (champion or challenger)."""

from __future__ import annotations

from pathlib import Path

import mlflow
from prefect import flow, get_run_logger

from beyonder import tracking
from beyonder.champion import decide
from beyonder.config import Layout, load_params
from beyonder.corpus import load_corpus, test_datasets
from beyonder.errors import error_line
from beyonder.evaluation import headline
from beyonder.recommend import Recommender
from beyonder.report import write_report
from beyonder.schema import PORTFOLIO
from beyonder.stages.evaluate import (
    decision_headline,
    decision_metrics,
    evaluate,
    predict_corpus,
    predict_outputs,
)
from beyonder.storage import read_json, write_json, write_text


@flow(name="evaluate")
def evaluate_flow(params_path: str = "params.yaml", root: str = ".") -> dict:
    logger = get_run_logger()
    params = load_params(params_path)
    layout = Layout(root)
    classifiers = list((params.get("label") or {}).get("classifiers") or PORTFOLIO)
    corpus = load_corpus(layout, classifiers, include_augmented=False)
    test = corpus.subset(corpus.index["dataset"].isin(test_datasets(corpus, params)).to_numpy())
    recommender = Recommender.load(layout.model / "beyonder")
    outputs = predict_outputs(recommender.estimator, test, Path(root))
    predictions = {"beyonder": outputs["accuracy"]}

    tracking.configure(root)
    run = read_json(layout.model / "run.json")
    champion = tracking.champion_version()
    no_champion = (
        "no champion yet" if champion is None else f"the new model is champion version {champion.version}"
    )
    if champion is not None and champion.source != run["model_uri"]:
        try:
            old = mlflow.pyfunc.load_model(f"models:/{tracking.MODEL_NAME}/{champion.version}")
            old_estimator = old.unwrap_python_model().recommender.estimator
            predictions["champion"] = predict_corpus(old_estimator, test, Path(root))
        except Exception as exc:  # e.g. trained on an older encoding: it cannot serve either
            no_champion = f"champion version {champion.version} cannot predict on this evaluation"
            logger.warning(
                "champion version %s cannot predict on this evaluation (%s); the new model replaces it",
                champion.version, error_line(exc),
            )

    report, table = evaluate(corpus, predictions, params)
    report["decisions"] = decision_metrics(corpus, outputs, recommender.interval_scale, params, root)
    metrics = headline(report)
    metrics["decisions"] = decision_headline(report["decisions"])
    write_json(report, layout.evaluation / "report.json")
    write_text(table.to_csv(index=False), layout.evaluation / "per_dataset.csv")
    write_report(table, report, layout.evaluation)  # regret.csv, rankings.csv, figures/*.png
    write_json(metrics, layout.metrics / "evaluate.json")

    new = report["methods"]["beyonder"]
    version = tracking.register(run["model_uri"])
    decision = decide(report, no_champion=no_champion)
    tracking.set_alias(version, tracking.CHAMPION if decision.promote else tracking.CHALLENGER)
    with mlflow.start_run(run_id=run["run_id"]):
        for method, values in metrics.items():
            if isinstance(values, dict) and method not in ("svm_kernel", "decisions"):
                mlflow.log_metrics({f"eval_{method}_{k}": v for k, v in values.items() if v is not None})
        mlflow.log_artifacts(str(layout.evaluation), artifact_path="evaluation")
    logger.info(
        "mean regret %.2f points (SBS %.2f), gap closed %s; version %s is %s: %s",
        new["mean_regret"], report["methods"]["sbs"]["mean_regret"], new.get("gap_closed"),
        version.version, "champion" if decision.promote else "challenger", decision.reason,
    )
    return metrics
