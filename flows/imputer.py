"""Imputer flow: train the masked-cell imputer on the corpus's training families, score it on
the validation families, log it to MLflow and register it as ``beyonder-imputer``: champion
if it beats mean imputation and the current champion on those tables, else challenger."""

from __future__ import annotations

from dataclasses import asdict

import mlflow
from prefect import flow, get_run_logger, task

from beyonder import tracking
from beyonder.config import Layout
from beyonder.imputer.imputation import CellImputer
from beyonder.imputer.tracking import log_imputer
from beyonder.params import load_params
from beyonder.progress import EpochProgress
from beyonder.stages.imputer import (
    corpus_split,
    imputer_config,
    load_tables,
    register_imputer,
    validation_scores,
)
from beyonder.storage import write_json


@task(name="load-tables")
def load_task(files: dict, names: list[str], config, target: str):
    return load_tables(files, names, config, target)


@flow(name="imputer")
def imputer_flow(params_path: str = "params.yaml", root: str = ".") -> dict:
    logger = get_run_logger()
    params = load_params(params_path)
    layout = Layout(root)
    config = imputer_config(params)
    files, train_names, val_names, test_names = corpus_split(params)
    target = params.ingest.local.target
    train, val = (
        load_task(files, train_names, config, target),
        load_task(files, val_names, config, target),
    )
    logger.info("training the imputer on %d tables, validating on %d (%d test tables never seen)",
                len(train), len(val), len(test_names))  # fmt: skip
    tracking.configure(root)
    with mlflow.start_run(run_name="imputer") as run:
        mlflow.log_params({f"impute.{k}": v for k, v in asdict(config).items()})
        mlflow.log_params({"train_tables": len(train), "val_tables": len(val)})
        imputer = CellImputer(config).fit(
            train, val, callbacks=[EpochProgress(logger.info, config.epochs)]
        )
        folder = imputer.save(layout.data / "imputer")
        metrics = validation_scores(imputer, files, val_names, params)
        history = imputer.history_
        metrics.update(
            {
                "epochs": len(history.get("loss", [])),
                "train_loss": round(history["loss"][-1], 4),
                "val_loss": round(min(history["val_loss"]), 4) if history.get("val_loss") else None,
                "train_tables": len(train),
                "val_tables": len(val),
            }
        )
        mlflow.log_metrics({k: float(v) for k, v in metrics.items() if isinstance(v, int | float)})
        model_uri = log_imputer(folder)
        version, decision = register_imputer(model_uri, metrics, files, val_names, params, root)
        metrics["promoted"] = int(decision.promote)
        mlflow.set_tag("decision", decision.reason)
        write_json({"run_id": run.info.run_id, "model_uri": model_uri, "version": str(version.version),
                    "promoted": decision.promote, "decision": decision.reason}, folder / "run.json")  # fmt: skip
    write_json(metrics, layout.metrics / "imputer.json")
    alias = tracking.CHAMPION if decision.promote else tracking.CHALLENGER
    logger.info("imputer: %s; registered %s version %s @%s: %s", metrics, tracking.IMPUTER_NAME, version.version,
                alias, decision.reason)  # fmt: skip
    return metrics
