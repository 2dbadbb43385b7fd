"""Train: labelled samples -> a fitted Beyonder, validated on whole held-out datasets, saved
with the training's cleaning and sampling settings and logged to MLflow.

The corpus, its splits and their rules live in ``beyonder/selector/corpus.py``; this module turns the
typed params into the network's configuration and runs one training, so the train flow
(``flows/train.py``) only orchestrates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd

from beyonder import tracking
from beyonder.config import Layout
from beyonder.evaluation.decisions import validation_scale
from beyonder.params import Params
from beyonder.progress import EpochLogger, EpochProgress
from beyonder.selector.combiner import (
    MeasurementCombiner,
    calibration_labels,
    calibration_predictions,
    params_tiers,
)
from beyonder.selector.corpus import (
    Corpus,
    load_corpus,
    load_measurements,
    test_datasets,
    train_val_masks,
)
from beyonder.selector.encoding import EncodedSample
from beyonder.selector.estimator import Beyonder
from beyonder.selector.inference import BeyonderConfig
from beyonder.serving.recommend import Recommender
from beyonder.serving.tracking import log_pyfunc
from beyonder.storage import write_json


def model_config(params: Params) -> BeyonderConfig:
    """``BeyonderConfig``: the ``train`` section, the ``label`` classifiers and the seed, and
    with ``regularisation`` on its classifiers and C grid (the ``curve`` heads)."""
    tuned = params.regularisation.active()
    return BeyonderConfig(
        **asdict(params.train), classifiers=list(params.label.classifiers), seed=params.seed,
        tuned=tuned, grid=list(params.regularisation.grid) if tuned else [],
    )  # fmt: skip


@dataclass
class TrainingData:
    """The samples a model is fitted on and those it stops early on (whole datasets apart)."""

    train: Corpus
    val: Corpus

    def describe(self) -> str:
        return (
            f"training on {len(self.train.index)} samples of {self.train.index['dataset'].nunique()} "
            f"datasets, validating on {len(self.val.index)} samples of {self.val.index['dataset'].nunique()} datasets"
        )


def training_data(params: Params, layout: Layout) -> TrainingData:
    """The labelled corpus split for training; each dataset's mean labels as its targets when
    ``train.dataset_targets`` says so."""
    corpus = load_corpus(layout, params.label.classifiers, regularisation=params.regularisation)
    train_mask, val_mask = train_val_masks(corpus, params)
    if params.train.dataset_targets:
        corpus = corpus.dataset_means()
    return TrainingData(corpus.subset(train_mask), corpus.subset(val_mask))


def recommender_for(
    estimator: Any,
    params: Params,
    interval_scale: float | None = None,
    combiner: MeasurementCombiner | None = None,
) -> Recommender:
    """The fitted network with the cleaning and sampling it was trained with, so a new table is
    read the way the training samples were, the label stage's CV settings (``--verify``), the
    interval scale calibrated on the validation datasets and the measurement combiner
    (``--budget``) with the ``measure`` section's tiers."""
    return Recommender(
        estimator,
        params.clean,
        sample_rows=params.sample.rows,
        replace=params.sample.replace,
        subsamples=params.sample.subsamples,
        seed=params.seed,
        n_folds=params.label.n_folds,
        fit_timeout=params.label.fit_timeout,
        interval_scale=interval_scale,
        combiner=combiner,
        measure_rows=params.measure.rows,
        measure_folds=params.measure.folds,
    )


def fit_combiner(
    params: Params,
    layout: Layout,
    estimator: Any,
    val_encoded: Sequence[EncodedSample],
    val_index: pd.DataFrame,
    log: Callable[[str], None] = print,
) -> MeasurementCombiner | None:
    """The measurement combiner saved with the model: measurement noise and prices from the
    labels of every dataset but the test ones (replicates and measurement subsamples), the
    model's errors from its predictions of the validation datasets' bootstrap samples
    (``val_encoded``, rows of ``val_index``); ``None`` (logged) when there is too little."""
    classifiers = list(params.label.classifiers)
    corpus = load_corpus(layout, classifiers, include_augmented=False)
    known = set(corpus.index["dataset"]) - test_datasets(corpus, params)
    labels = calibration_labels(
        corpus, load_measurements(layout, classifiers), known, params.label.n_folds
    )
    if not len(val_encoded):
        log(
            "no validation datasets: the model is saved without a measurement combiner (no --budget)"
        )
        return None
    predicted = estimator.predict(list(val_encoded))["accuracy"]
    tiers = params_tiers(params)
    try:
        return MeasurementCombiner(tiers, classifiers).fit(
            labels, calibration_predictions(val_index, predicted, classifiers)
        )
    except ValueError as exc:
        log(f"no measurement combiner (no --budget): {exc}")
        return None


def train_and_log(
    params: Params,
    layout: Layout,
    data: TrainingData,
    encoded: tuple[Sequence[EncodedSample], Sequence[EncodedSample]],
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Fit Beyonder in one MLflow run (params, epoch metrics, the pyfunc model), save it under
    ``data/model/beyonder`` with ``run.json`` (what evaluate registers), and write
    ``metrics/train.json``; returns those metrics. ``encoded``: the training and validation
    samples, encoded (the flow encodes them as a task)."""
    config = model_config(params)
    train, val = data.train, data.val
    tracking.configure(layout.root)
    with mlflow.start_run(run_name="train") as run:
        mlflow.log_params(
            {
                f"train.{k}": v
                for k, v in vars(config).items()
                if k not in ("classifiers", "tuned", "grid", "metrics")
            }
        )
        mlflow.log_param("train.metrics", ",".join(config.metrics))
        if config.tuned:
            mlflow.log_params({"regularisation.classifiers": ",".join(config.tuned),
                               "regularisation.grid": ",".join(f"{c:g}" for c in config.grid)})  # fmt: skip
        mlflow.log_params(
            {
                "seed": params.seed,
                "classifiers": ",".join(config.classifiers),
                "train_samples": len(train.index),
                "val_samples": len(val.index),
                "train_datasets": train.index["dataset"].nunique(),
            }
        )
        estimator = Beyonder(config).fit(
            encoded[0],
            train.accuracy,
            train.fit_time,
            validation=(
                encoded[1],
                val.accuracy,
                val.fit_time,
                val.curves,
                val.metric_scores(config.metrics),
            ),
            callbacks=[EpochLogger(), EpochProgress(log, config.epochs)],
            curves=train.curves,
            scores=train.metric_scores(config.metrics),
        )
        boot = (val.index["kind"] == "bootstrap").to_numpy()
        scale = validation_scale(
            estimator, [e for e, b in zip(encoded[1], boot, strict=True) if b],
            val.index["dataset"][boot].tolist(), val.accuracy[boot],
        )  # fmt: skip
        mlflow.log_param("interval_scale", scale)
        val_boot = [e for e, b in zip(encoded[1], boot, strict=True) if b]
        combiner = fit_combiner(
            params, layout, estimator, val_boot, val.index[boot].reset_index(drop=True), log
        )
        if combiner is not None:
            mlflow.log_param(
                "combiner_prediction_sd", float(np.sqrt(np.diag(combiner.prediction_cov_)).mean())
            )
        model_dir = recommender_for(estimator, params, scale, combiner).save(
            layout.model / "beyonder"
        )
        example = pd.read_parquet(Path(layout.root) / train.index["file"].iloc[0])
        model_uri = log_pyfunc(model_dir, example)
        history = estimator.history_
        metrics = {
            "epochs": len(history.get("loss", [])),
            "train_loss": history["loss"][-1],
            "val_loss": min(history["val_loss"]) if history.get("val_loss") else None,
            # the epoch whose weights early stopping kept: what a refit on every family trains for
            "best_epoch": int(np.argmin(history["val_loss"])) + 1
            if history.get("val_loss")
            else len(history.get("loss", [])),
            "train_samples": len(train.index),
            "val_samples": len(val.index),
        }
        write_json({"run_id": run.info.run_id, "model_uri": model_uri}, layout.model / "run.json")
    write_json(metrics, layout.metrics / "train.json")
    log(f"model logged as {model_uri}")
    return metrics
