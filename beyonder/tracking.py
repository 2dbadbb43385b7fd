"""MLflow: where runs go, per-epoch logging, and the Beyonder pyfunc model in the registry."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import keras
import mlflow
from mlflow.tracking import MlflowClient

EXPERIMENT = "beyonder"
MODEL_NAME = "beyonder"
CHAMPION = "champion"
CHALLENGER = "challenger"


def configure(root: str | Path = ".") -> str:
    """Point MLflow at ``$MLFLOW_TRACKING_URI`` or at ``mlflow.db`` (SQLite) in ``root``."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    root = Path(root).resolve()
    uri = os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{root / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(os.environ.get("MLFLOW_REGISTRY_URI") or uri)
    if mlflow.get_experiment_by_name(EXPERIMENT) is None:
        location = None if "MLFLOW_TRACKING_URI" in os.environ else (root / "mlruns").as_uri()
        mlflow.create_experiment(EXPERIMENT, artifact_location=location)
    mlflow.set_experiment(EXPERIMENT)
    return uri


class EpochLogger(keras.callbacks.Callback):
    """Logs Keras's per-epoch losses to the active MLflow run."""

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if logs:
            mlflow.log_metrics({f"epoch_{k}": float(v) for k, v in logs.items()}, step=epoch)


def alias_version(alias: str, name: str = MODEL_NAME) -> Any | None:
    """The model version that holds ``alias``, or None (no such alias or model)."""
    client = MlflowClient()
    try:
        return client.get_model_version_by_alias(name, alias)
    except mlflow.exceptions.MlflowException:
        return None


def champion_version(name: str = MODEL_NAME) -> Any | None:
    return alias_version(CHAMPION, name)


def register(model_uri: str, name: str = MODEL_NAME) -> Any:
    """Register ``model_uri`` unless a version with that source exists already."""
    client = MlflowClient()
    try:
        for version in client.search_model_versions(f"name='{name}'"):
            if version.source == model_uri:
                return version
    except mlflow.exceptions.MlflowException:
        pass
    return mlflow.register_model(model_uri, name)


def set_alias(version: Any, alias: str, name: str = MODEL_NAME) -> None:
    MlflowClient().set_registered_model_alias(name, alias, str(version.version))
