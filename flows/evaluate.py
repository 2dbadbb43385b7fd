"""Evaluate flow: metrics on held-out datasets, the report (CSV for ``dvc plots``, PNG
figures; all of ``evaluation`` goes to MLflow), then the registry alias that
``beyonder.evaluation.champion.decide`` chooses (champion or challenger). The steps are
``beyonder.stages.evaluate``'s."""

from __future__ import annotations

from prefect import flow, get_run_logger

from beyonder.config import Layout
from beyonder.params import load_params
from beyonder.stages.evaluate import (
    decision_metrics,
    evaluate,
    predict_test,
    register,
    regularisation_metrics,
    write_evaluation,
)


@flow(name="evaluate")
def evaluate_flow(params_path: str = "params.yaml", root: str = ".") -> dict:
    logger = get_run_logger()
    params = load_params(params_path)
    layout = Layout(root)
    predictions = predict_test(params, layout, log=logger.warning)
    report, table = evaluate(
        predictions.corpus,
        predictions.by_method,
        params,
        predictions.groups,
        predictions.scores,
        predictions.minority,
    )
    report["decisions"] = decision_metrics(
        predictions.corpus, predictions.outputs, predictions.interval_scale, params, layout.root,
        predictions.combiner, predictions.predictor,
    )  # fmt: skip
    if curves := regularisation_metrics(predictions.corpus, predictions.outputs, params):
        report["regularisation"] = curves
    metrics = write_evaluation(report, table, layout)
    version, decision = register(
        report, metrics, layout, predictions.no_champion, list(params.evaluate.metrics)
    )
    new = report["methods"]["beyonder"]
    logger.info(
        "mean regret %.2f points (SBS %.2f), gap closed %s; version %s is %s: %s",
        new["mean_regret"],
        report["methods"]["sbs"]["mean_regret"],
        new.get("gap_closed"),
        version.version,
        "champion" if decision.promote else "challenger",
        decision.reason,
    )
    return metrics
