"""MLflow: where runs and the registry are, and the Beyonder model's versions and aliases.

The one home of the tracking location: every stage, the consumers and the quarantine report
point MLflow here. MLflow itself is imported only by the functions that use it (about a
second), so ``tracking_uri`` is free for code that must stay light (``recommend``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

EXPERIMENT = "beyonder"
MODEL_NAME = "beyonder"
IMPUTER_NAME = "beyonder-imputer"
"""The registered imputer (``beyonder impute``, the ``imputer`` stage)."""
CHAMPION = "champion"
CHALLENGER = "challenger"
JUDGED = "judged"
"""The model evaluate last promoted, trained without the test families: what the next
evaluation compares a new model with (the champion itself is refit on every family)."""
DATABASE = "mlflow.db"
"""The SQLite file of runs and registry in the repository root, unless $MLFLOW_TRACKING_URI."""


def tracking_uri(root: str | Path = ".") -> str:
    """``$MLFLOW_TRACKING_URI``, else the SQLite database ``mlflow.db`` in ``root``."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path(root).resolve() / DATABASE}"


def configure(root: str | Path = ".") -> str:
    """Point MLflow at ``tracking_uri(root)`` (registry: ``$MLFLOW_REGISTRY_URI`` or the same),
    artifacts of a new experiment in ``root/mlruns``; returns the tracking URI."""
    import mlflow

    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    root = Path(root).resolve()
    uri = tracking_uri(root)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(os.environ.get("MLFLOW_REGISTRY_URI") or uri)
    if mlflow.get_experiment_by_name(EXPERIMENT) is None:
        location = None if "MLFLOW_TRACKING_URI" in os.environ else (root / "mlruns").as_uri()
        mlflow.create_experiment(EXPERIMENT, artifact_location=location)
    mlflow.set_experiment(EXPERIMENT)
    return uri


def alias_version(alias: str, name: str = MODEL_NAME) -> Any | None:
    """The model version that holds ``alias``, or None (no such alias or model)."""
    import mlflow
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    try:
        return client.get_model_version_by_alias(name, alias)
    except mlflow.exceptions.MlflowException:
        return None


def champion_version(name: str = MODEL_NAME) -> Any | None:
    return alias_version(CHAMPION, name)


def register(model_uri: str, name: str = MODEL_NAME) -> Any:
    """Register ``model_uri`` unless a version with that source exists already."""
    import mlflow
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    try:
        for version in client.search_model_versions(f"name='{name}'"):
            if version.source == model_uri:
                return version
    except mlflow.exceptions.MlflowException:
        pass
    return mlflow.register_model(model_uri, name)


def set_alias(version: Any, alias: str, name: str = MODEL_NAME) -> None:
    from mlflow.tracking import MlflowClient

    MlflowClient().set_registered_model_alias(name, alias, str(version.version))


def log_crossval(result: dict[str, Any], setting: dict[str, Any], root: str | Path = ".") -> None:
    """One MLflow run for a ``beyonder evaluate --corpus`` report: its setting as params, each
    method's headline metrics (``<method>_<metric>``), the one-sample CV reference, and the
    whole report as ``crossval.json``."""
    import mlflow

    configure(root)
    with mlflow.start_run(run_name="crossval"):
        mlflow.log_params(dict(setting))
        for method, metrics in result["methods"].items():
            mlflow.log_metrics(
                {f"{method}_{k}": v for k, v in metrics.items() if isinstance(v, float)}
            )
        reference = {k: v for k, v in result["cv_one_sample"].items() if isinstance(v, float)}
        mlflow.log_metrics({f"cv_one_sample_{k}": v for k, v in reference.items()})
        mlflow.log_dict(result, "crossval.json")


def pinned(packages: Sequence[str]) -> list[str]:
    """Each package at the release series installed here (``numpy~=2.4.6``), or unpinned
    where it is not installed."""
    requirements = []
    for package in packages:
        try:
            requirements.append(f"{package}~={version(package)}")
        except PackageNotFoundError:
            requirements.append(package)
    return requirements
