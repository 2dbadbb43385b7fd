"""Logging the Beyonder pyfunc model to MLflow, with its signature and an input example."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.types.schema import ColSpec, ParamSchema, ParamSpec, Schema

import beyonder.pyfunc_model
from beyonder.schema import ROW_ID, TARGET

DEFAULT_TARGET = "class"

OUTPUT_SCHEMA = Schema(
    [
        ColSpec("long", "rank"),
        ColSpec("string", "classifier"),
        ColSpec("double", "predicted_accuracy"),
        ColSpec("double", "spread"),
        ColSpec("double", "predicted_fit_time"),
    ]
)


def signature() -> ModelSignature:
    """Input: any table (its columns differ per dataset, so they are checked by the model
    itself); the ``target`` param names the class column; output: the ranked portfolio."""
    return ModelSignature(
        inputs=None,
        outputs=OUTPUT_SCHEMA,
        params=ParamSchema([ParamSpec("target", "string", DEFAULT_TARGET)]),
    )


def input_example(sample: pd.DataFrame, rows_per_class: int = 12) -> pd.DataFrame:
    """A few rows of every class of a training sample, target renamed to ``class``."""
    frame = sample.drop(columns=[ROW_ID]).groupby(TARGET, group_keys=False).head(rows_per_class)
    return frame.rename(columns={TARGET: DEFAULT_TARGET}).reset_index(drop=True)


def log_pyfunc(model_dir: Path, example: pd.DataFrame) -> str:
    """Log the model in the active run; returns its URI."""
    info = mlflow.pyfunc.log_model(
        name="model",
        python_model=beyonder.pyfunc_model.__file__,
        artifacts={"beyonder": str(model_dir)},
        model_config={"target": DEFAULT_TARGET},
        signature=signature(),
        input_example=(input_example(example), {"target": DEFAULT_TARGET}),
        pip_requirements=["beyonder"],
    )
    return info.model_uri
