"""Fine-tuning for users: a registered Beyonder adapted to their own labels or portfolio.

The encoder (everything up to the ``dataset_embedding`` layer) is frozen; only the heads
(``head_hidden`` and the deep and linear parts of ``accuracy`` and ``fit_time``) learn, plus,
with ``unfreeze=N``, the last ``N`` layers with weights below them. When the portfolio
changes, the ``accuracy`` and ``fit_time`` heads are rebuilt with one output per classifier of the new portfolio: the
weights of classifiers kept are copied, a new classifier starts from the mean of the old
ones (the "average classifier"), and classifiers dropped go away.

Labels come in one of two long tables (CSV or Parquet), one row per (dataset or sample,
classifier); several rows for one pair are averaged:

* **datasets**: columns ``dataset``, ``classifier``, ``accuracy`` (in [0, 1]) and optionally
  ``fit_time`` (seconds per fit), plus a folder of CSV/ARFF/Parquet files whose names (without
  suffix) are the ``dataset`` values. Each dataset is cleaned and bootstrapped exactly as the
  model reads a table when recommending, and every sample carries its dataset's labels.
* **samples**: the pipeline's own labels table (``data/labels/labels.parquet``: columns
  ``sample_id``, ``classifier``, ``accuracy``, ``fit_time``, ...) with the sample index that
  names each sample's file (``data/samples/index.json``). This is the cheap way to add a
  classifier: add it to ``label.classifiers``, ``dvc repro label`` (only the new labels are
  computed), then fine-tune instead of retraining.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from beyonder.selector.encoding import encode_sample
from beyonder.selector.finetune import finetune_estimator, trainable
from beyonder.serving.recommend import Recommender, RecommendError, read_table


class FinetuneError(RecommendError):
    """The labels or datasets cannot be used; the message is one line for the user."""


@dataclass
class LabelledSamples:
    """Cleaned samples (features, ``TARGET``, ``ROW_ID``) with one label row each."""

    samples: list[pd.DataFrame]
    accuracy: np.ndarray  # samples x classifiers, NaN = no label
    fit_time: np.ndarray  # seconds, NaN = no label
    classifiers: list[str]
    groups: list[str]  # the dataset (or sample) each sample comes from


# --------------------------------------------------------------------------- labels


def read_labels(path: str | Path) -> pd.DataFrame:
    """A labels table from CSV or Parquet, checked: ``classifier`` and ``accuracy`` columns,
    and ``dataset`` or ``sample_id``; accuracies in [0, 1]."""
    path = Path(path)
    if not path.is_file():
        raise FinetuneError(f"{path}: no such labels file")
    try:
        labels = pd.read_parquet(path) if path.suffix.lower() == ".parquet" else pd.read_csv(path)
    except Exception as exc:  # any reader error is the user's file, not a bug
        raise FinetuneError(f"{path}: unreadable labels table ({type(exc).__name__})") from None
    missing = [c for c in ("classifier", "accuracy") if c not in labels.columns]
    if missing or not ({"dataset", "sample_id"} & set(labels.columns)):
        need = "classifier, accuracy and dataset (or sample_id)"
        raise FinetuneError(
            f"{path}: labels need columns {need}; found {', '.join(map(str, labels.columns))}"
        )
    labels = labels.copy()
    labels["classifier"] = labels["classifier"].astype(str)
    labels["accuracy"] = pd.to_numeric(labels["accuracy"], errors="coerce")
    if "fit_time" in labels.columns:
        labels["fit_time"] = pd.to_numeric(labels["fit_time"], errors="coerce")
    acc = labels["accuracy"].dropna()
    if acc.empty:
        raise FinetuneError(f"{path}: no accuracy values")
    if ((acc < 0) | (acc > 1)).any():
        raise FinetuneError(
            f"{path}: accuracies must be in [0, 1] (found {acc.min():g}..{acc.max():g})"
        )
    return labels


def _matrix(
    labels: pd.DataFrame, key: str, keys: list[str], classifiers: list[str], column: str
) -> np.ndarray:
    if column not in labels.columns:
        return np.full((len(keys), len(classifiers)), math.nan)
    table = labels.pivot_table(
        index=key, columns="classifier", values=column, aggfunc="mean", dropna=False
    )
    return table.reindex(index=keys, columns=classifiers).to_numpy(np.float64)


def from_datasets(
    labels: pd.DataFrame,
    folder: str | Path,
    recommender: Recommender,
    classifiers: list[str],
    target: str | None = None,
    per_dataset: int | None = None,
) -> LabelledSamples:
    """Samples of the datasets in ``folder`` named by ``labels["dataset"]``, each labelled
    with its dataset's row of ``labels``."""
    from beyonder.data.datasets import safe_name
    from beyonder.data.sources.local import SUFFIXES

    folder = Path(folder)
    if not folder.is_dir():
        raise FinetuneError(f"{folder}: no such datasets folder")
    files: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() in SUFFIXES and path.is_file():
            files.setdefault(path.stem, path)
            files.setdefault(safe_name(path.stem), path)
    names = sorted({str(d) for d in labels["dataset"].dropna()})
    absent = [n for n in names if n not in files and safe_name(n) not in files]
    if absent:
        shown = ", ".join(absent[:5]) + (" ..." if len(absent) > 5 else "")
        raise FinetuneError(f"{len(absent)} labelled dataset(s) not found in {folder}: {shown}")
    labels = labels.assign(dataset=labels["dataset"].astype(str))
    acc = _matrix(labels, "dataset", names, classifiers, "accuracy")
    time = _matrix(labels, "dataset", names, classifiers, "fit_time")
    samples, rows, groups = [], [], []
    for i, name in enumerate(names):
        frame, column = read_table(files.get(name) or files[safe_name(name)], target)
        try:
            drawn = recommender.samples(
                frame, column, name=name, n=per_dataset or recommender.subsamples
            )
        except RecommendError as exc:
            raise FinetuneError(f"dataset {name}: {exc}") from None
        samples += drawn
        rows += [i] * len(drawn)
        groups += [name] * len(drawn)
    return LabelledSamples(samples, acc[rows], time[rows], list(classifiers), groups)


def from_sample_index(
    labels: pd.DataFrame, index: str | Path, classifiers: list[str], root: str | Path = "."
) -> LabelledSamples:
    """The pipeline's samples (``index.json``: ``sample_id`` and ``file`` relative to
    ``root``) that have a row in ``labels``."""
    index = Path(index)
    if not index.is_file():
        raise FinetuneError(f"{index}: no such sample index (e.g. data/samples/index.json)")
    entries = {e["sample_id"]: e for e in json.loads(index.read_text())}
    ids = sorted({str(s) for s in labels["sample_id"].dropna()} & set(entries))
    if not ids:
        raise FinetuneError(f"no sample_id of the labels is in {index}")
    labels = labels.assign(sample_id=labels["sample_id"].astype(str))
    samples = [pd.read_parquet(Path(root) / entries[s]["file"]) for s in ids]
    groups = [str(entries[s].get("dataset", s)) for s in ids]
    return LabelledSamples(
        samples,
        _matrix(labels, "sample_id", ids, classifiers, "accuracy"),
        _matrix(labels, "sample_id", ids, classifiers, "fit_time"),
        list(classifiers),
        groups,
    )


def portfolio(
    model_classifiers: list[str], labelled: list[str], requested: list[str] | None = None
) -> list[str]:
    """The portfolio after fine-tuning: ``requested`` if given; else the model's, plus any
    labelled classifier it lacks (appended in label order)."""
    if requested:
        if len(set(requested)) != len(requested):
            raise FinetuneError("--classifiers names a classifier twice")
        return list(requested)
    return list(model_classifiers) + [
        c for c in dict.fromkeys(labelled) if c not in model_classifiers
    ]


def finetune(
    recommender: Recommender,
    data: LabelledSamples,
    epochs: int = 5,
    unfreeze: int = 0,
    learning_rate: float = 1e-3,
    callbacks: tuple = (),
) -> tuple[Recommender, dict[str, Any]]:
    """A new ``Recommender`` whose heads (and ``unfreeze`` more layers) were trained on
    ``data`` for ``epochs`` epochs with the encoder frozen; ``recommender`` is left as is.
    Returns it with a summary (trainable layers, losses)."""
    old = trainable(recommender.estimator)
    if old.model_ is None:
        raise FinetuneError("the base model is not fitted")
    labelled = ~np.all(np.isnan(data.accuracy), axis=1)
    if not labelled.any():
        raise FinetuneError("no sample has an accuracy label for a classifier of the portfolio")
    if epochs < 1:
        raise FinetuneError("epochs must be at least 1")
    encoded = [encode_sample(s) for s, keep in zip(data.samples, labelled, strict=True) if keep]
    estimator, layers = finetune_estimator(
        old, encoded, data.accuracy[labelled], data.fit_time[labelled], list(data.classifiers),
        epochs, unfreeze, learning_rate, callbacks,
    )  # fmt: skip
    tuned = Recommender(
        estimator, recommender.cleaning, recommender.sample_rows, recommender.replace,
        recommender.subsamples, recommender.seed,
    )  # fmt: skip
    summary = {
        "samples": int(labelled.sum()),
        "groups": len({g for g, keep in zip(data.groups, labelled, strict=True) if keep}),
        "classifiers": list(data.classifiers),
        "added": [c for c in data.classifiers if c not in old.config.classifiers],
        "removed": [c for c in old.config.classifiers if c not in data.classifiers],
        "trainable_layers": layers,
        "epochs": int(epochs),
        "loss": estimator.history_.get("loss", []),
    }
    return tuned, summary


# --------------------------------------------------------------------------- registry


def register_finetuned(
    base: Recommender,
    data: LabelledSamples,
    base_model: str,
    labels_path: str,
    epochs: int = 10,
    unfreeze: int = 0,
    learning_rate: float = 1e-3,
    alias: str | None = "challenger",
    root: str | Path = ".",
) -> dict[str, Any]:
    """Fine-tune ``base`` on ``data`` in an MLflow run (params, per-epoch losses, the model),
    register the result as a new version of the ``beyonder`` model and give it ``alias``."""
    import tempfile

    import mlflow

    from beyonder import tracking
    from beyonder.progress import EpochLogger
    from beyonder.serving.tracking import log_pyfunc

    tracking.configure(root)
    with mlflow.start_run(run_name="finetune") as run:
        mlflow.log_params(
            {
                "base_model": base_model,
                "labels": str(labels_path),
                "epochs": epochs,
                "unfreeze": unfreeze,
                "learning_rate": learning_rate,
                "classifiers": ",".join(data.classifiers),
                "samples": len(data.samples),
            }
        )
        tuned, summary = finetune(
            base, data, epochs, unfreeze, learning_rate, callbacks=(EpochLogger(),)
        )
        if summary["loss"]:
            mlflow.log_metric("train_loss", summary["loss"][-1])
        with tempfile.TemporaryDirectory(prefix="beyonder-finetune-") as tmp:
            model_dir = tuned.save(Path(tmp) / "beyonder")
            model_uri = log_pyfunc(model_dir, data.samples[0])
        version = tracking.register(model_uri)
        if alias:
            tracking.set_alias(version, alias)
    return {
        **summary,
        "name": tracking.MODEL_NAME,
        "version": str(version.version),
        "alias": alias,
        "run_id": run.info.run_id,
        "model_uri": model_uri,
    }
