"""Train flow: fit Beyonder on the training datasets and log everything to MLflow."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd
from prefect import flow, get_run_logger, task

from beyonder import tracking
from beyonder.config import Layout, load_params
from beyonder.corpus import encode_corpus, load_corpus, train_val_masks
from beyonder.decisions import validation_scale
from beyonder.estimator import Beyonder
from beyonder.progress import EpochLogger, EpochProgress
from beyonder.recommend import Recommender
from beyonder.schema import PORTFOLIO
from beyonder.stages.clean import cleaning_config
from beyonder.stages.train import model_config
from beyonder.storage import write_json
from beyonder.tracking_model import log_pyfunc


@task(name="encode-samples")
def encode_task(corpus, root: str):
    return encode_corpus(corpus, Layout(root))


@flow(name="train")
def train_flow(params_path: str = "params.yaml", root: str = ".") -> dict:
    logger = get_run_logger()
    params = load_params(params_path)
    layout = Layout(root)
    classifiers = list((params.get("label") or {}).get("classifiers") or PORTFOLIO)
    corpus = load_corpus(layout, classifiers)
    train_mask, val_mask = train_val_masks(corpus, params)
    config = model_config(params, classifiers)
    if config.dataset_targets:
        corpus = corpus.dataset_means()
    train, val = corpus.subset(train_mask), corpus.subset(val_mask)
    logger.info(
        "training on %d samples of %d datasets, validating on %d samples of %d datasets",
        len(train.index), train.index["dataset"].nunique(), len(val.index), val.index["dataset"].nunique(),
    )
    encoded_train, encoded_val = encode_task(train, root), encode_task(val, root)
    sample_cfg = params.get("sample") or {}
    tracking.configure(root)
    with mlflow.start_run(run_name="train") as run:
        mlflow.log_params({f"train.{k}": v for k, v in vars(config).items() if k != "classifiers"})
        mlflow.log_params(
            {
                "seed": params.get("seed", 0),
                "classifiers": ",".join(classifiers),
                "train_samples": len(train.index),
                "val_samples": len(val.index),
                "train_datasets": train.index["dataset"].nunique(),
            }
        )
        estimator = Beyonder(config).fit(
            encoded_train,
            train.accuracy,
            train.fit_time,
            validation=(encoded_val, val.accuracy, val.fit_time),
            callbacks=[EpochLogger(), EpochProgress(logger.info, config.epochs)],
        )
        label_cfg = params.get("label") or {}
        boot = (val.index["kind"] == "bootstrap").to_numpy()
        scale = validation_scale(
            estimator, [e for e, b in zip(encoded_val, boot, strict=True) if b],
            val.index["dataset"][boot].tolist(), val.accuracy[boot],
        )  # fmt: skip
        recommender = Recommender(
            estimator,
            cleaning_config(params),
            sample_rows=int(sample_cfg.get("rows", 500)),
            replace=bool(sample_cfg.get("replace", True)),
            subsamples=int(sample_cfg.get("subsamples", 4)),
            seed=int(params.get("seed", 0)),
            n_folds=int(label_cfg.get("n_folds", 5)),
            fit_timeout=float(label_cfg["fit_timeout"]) if label_cfg.get("fit_timeout") else None,
            interval_scale=scale,
        )
        mlflow.log_param("interval_scale", scale)
        model_dir = recommender.save(layout.model / "beyonder")
        example = pd.read_parquet(Path(root) / train.index["file"].iloc[0])
        model_uri = log_pyfunc(model_dir, example)
        history = estimator.history_
        metrics = {
            "epochs": len(history.get("loss", [])),
            "train_loss": history["loss"][-1],
            "val_loss": min(history["val_loss"]) if history.get("val_loss") else None,
            "train_samples": len(train.index),
            "val_samples": len(val.index),
        }
        write_json({"run_id": run.info.run_id, "model_uri": model_uri}, layout.model / "run.json")
    write_json(metrics, layout.metrics / "train.json")
    logger.info("model logged as %s", model_uri)
    return metrics
