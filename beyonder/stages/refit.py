"""Refit: the configuration that evaluation judged, trained again on every family, is the
model consumers get.

The train stage holds out the test families (for evaluate) and the validation families (for
early stopping), so the model it makes never saw about 45% of the corpus. Once evaluate has
judged that configuration on held-out families and promoted it, this stage fits the same
configuration on all of them, with early stopping replaced by the epoch count validation
chose, registers the result and gives it the ``champion`` alias; the judged model keeps the
``judged`` alias, so the next evaluation compares like with like (a model that never saw the
test families). A configuration evaluate did not promote is not refit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import mlflow
import numpy as np
import pandas as pd

from beyonder import tracking
from beyonder.config import Layout
from beyonder.params import Params
from beyonder.progress import EpochLogger, EpochProgress
from beyonder.selector.corpus import Corpus, load_corpus
from beyonder.selector.encoding import EncodedSample
from beyonder.selector.estimator import Beyonder
from beyonder.serving.recommend import Recommender
from beyonder.serving.tracking import log_pyfunc
from beyonder.stages.train import model_config, recommender_for
from beyonder.storage import read_json, write_json

DECISION_FILE = "decision.json"
"""evaluate's verdict on the judged model (``evaluation/decision.json``), which refit reads."""


def chosen_epochs(train_metrics: dict[str, Any]) -> int:
    """The epoch count validation chose (``best_epoch`` of ``metrics/train.json``: the epoch
    whose weights early stopping restored), else every epoch trained."""
    return int(train_metrics.get("best_epoch") or train_metrics["epochs"])


def refit_corpus(params: Params, layout: Layout) -> Corpus:
    """Every labelled sample of every family (augmented ones too), with each dataset's mean
    labels as its targets when ``train.dataset_targets`` says so."""
    corpus = load_corpus(layout, params.label.classifiers, regularisation=params.regularisation)
    corpus = corpus.subset(~np.all(np.isnan(corpus.accuracy), axis=1))
    return corpus.dataset_means() if params.train.dataset_targets else corpus


def refit_and_register(
    params: Params,
    layout: Layout,
    corpus: Corpus,
    encoded: Sequence[EncodedSample],
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Fit the judged configuration on ``corpus`` for the chosen epochs in one MLflow run,
    save it under ``data/refit/beyonder``, register it and move ``champion`` to it; the
    interval scale and the measurement combiner (``recommend --budget``) are the judged
    model's (calibrated on its validation families: the refit has none left). Returns
    ``metrics/refit.json``'s content."""
    judged = Recommender.load(layout.model / "beyonder")
    epochs = chosen_epochs(read_json(layout.metrics / "train.json"))
    config = replace(model_config(params), epochs=epochs)
    tracking.configure(layout.root)
    with mlflow.start_run(run_name="refit") as run:
        mlflow.log_params(
            {"refit_epochs": epochs, "samples": len(corpus.index), "datasets": corpus.index["dataset"].nunique(),
             "judged_run": read_json(layout.model / "run.json")["run_id"]}
        )  # fmt: skip
        estimator = Beyonder(config).fit(
            encoded, corpus.accuracy, corpus.fit_time, callbacks=[EpochLogger(), EpochProgress(log, epochs)],
            curves=corpus.curves, scores=corpus.metric_scores(config.metrics),
        )  # fmt: skip
        model_dir = recommender_for(estimator, params, judged.interval_scale, judged.combiner).save(
            layout.refit / "beyonder"
        )
        example = pd.read_parquet(layout.root / corpus.index["file"].iloc[0])
        model_uri = log_pyfunc(model_dir, example)
    version = tracking.register(model_uri)
    tracking.set_alias(version, tracking.CHAMPION)
    log(
        f"refit on {corpus.index['dataset'].nunique()} datasets for {epochs} epochs: version {version.version} is champion"
    )
    return {
        "refit": True,
        "version": str(version.version),
        "run_id": run.info.run_id,
        "epochs": epochs,
        "samples": len(corpus.index),
        "datasets": int(corpus.index["dataset"].nunique()),
        "train_loss": estimator.history_["loss"][-1],
    }


def write_refit(result: dict[str, Any], layout: Layout) -> dict[str, Any]:
    """``metrics/refit.json`` and ``data/refit/result.json`` (the stage's output when the
    configuration was not refit, too)."""
    write_json(result, layout.metrics / "refit.json")
    write_json(result, layout.refit / "result.json")
    return result
