"""Logging the Beyonder pyfunc model to MLflow, with its signature and an input example."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.types.schema import ColSpec, ParamSchema, ParamSpec, Schema

import beyonder
import beyonder.serving.pyfunc
from beyonder import tracking
from beyonder.schema import ROW_ID, TARGET
from beyonder.serving.recommend import MODEL_ARTIFACT

DEFAULT_TARGET = "class"
SERVING_PACKAGES = ("mlflow", "numpy", "pandas", "pyarrow", "threadpoolctl", "pyyaml")
"""What the served model imports (``beyonder.serving.pyfunc`` -> ``recommend`` -> ``network``):
no TensorFlow, no Keras, no Prefect."""

OUTPUT_SCHEMA = Schema(
    [
        ColSpec("long", "rank"),
        ColSpec("string", "classifier"),
        ColSpec("double", "predicted_accuracy"),
        ColSpec("double", "spread"),
        ColSpec("double", "accuracy_low"),
        ColSpec("double", "accuracy_high"),
        ColSpec("double", "predicted_fit_time"),
        ColSpec("double", "predicted_table_fit_time"),
    ]
)


def signature() -> ModelSignature:
    """Input: any table (its columns differ per dataset, so they are checked by the model
    itself); the ``target`` param names the class column, ``time_budget`` and ``verify`` are
    ``recommend``'s; output: the ranked portfolio."""
    return ModelSignature(
        inputs=None,
        outputs=OUTPUT_SCHEMA,
        params=ParamSchema(
            [
                ParamSpec("target", "string", DEFAULT_TARGET),
                ParamSpec("time_budget", "double", None),  # seconds; None: no budget
                ParamSpec("verify", "long", 0),  # K top picks to cross-validate
                ParamSpec("budget", "double", None),  # CPU seconds of measurements; None: none
                ParamSpec("metric", "string", "accuracy"),  # rank by this metric's prediction
            ]
        ),
    )


def input_example(sample: pd.DataFrame, rows_per_class: int = 12) -> pd.DataFrame:
    """A few rows of every class of a training sample, target renamed to ``class``."""
    frame = sample.drop(columns=[ROW_ID]).groupby(TARGET, group_keys=False).head(rows_per_class)
    return frame.rename(columns={TARGET: DEFAULT_TARGET}).reset_index(drop=True)


def serving_requirements() -> list[str]:
    """The served model's pip requirements: each package it imports, at the release series
    installed here (``numpy~=2.4.6``: 2.4.6 or a later 2.4.x), which the tests ran on.

    Not ``beyonder``: on a package index that name is an unrelated project; the code travels
    with the model instead (``code_paths`` in ``log_pyfunc``)."""
    return tracking.pinned(SERVING_PACKAGES)


def log_pyfunc(model_dir: Path, example: pd.DataFrame) -> str:
    """Log the model in the active run, self-contained: the saved recommender (its NumPy
    network included) as an artifact, the ``beyonder`` package as code, and the real pip
    requirements, so ``mlflow models serve`` builds a working environment without this
    repository installed. Returns its URI."""
    info = mlflow.pyfunc.log_model(
        name="model",
        python_model=beyonder.serving.pyfunc.__file__,
        artifacts={MODEL_ARTIFACT: str(model_dir)},
        code_paths=[str(Path(beyonder.__file__).parent)],
        model_config={"target": DEFAULT_TARGET},
        signature=signature(),
        input_example=(input_example(example), {"target": DEFAULT_TARGET}),
        pip_requirements=serving_requirements(),
    )
    return info.model_uri
