"""Test helpers: a tiny Beyonder registered in a throwaway MLflow registry, without running
the pipeline (no labelling, no training graph: the weights are the random initial ones,
which is all that tests of the plumbing need)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

from beyonder.stages.label import LABEL_COLUMNS

TINY_CLASSIFIERS = ["logreg", "decision_tree", "knn", "svm_linear", "svm_rbf"]
REPEATABLE_LABEL_COLUMNS = [c for c in LABEL_COLUMNS if c not in ("fit_time", "predict_time")]
"""Labels table columns that must not depend on how or when the work ran (timings do)."""

PREFECT_SERVER = """
import sys
from beyonder.quiet import quiet_environment
quiet_environment()
from flows.runtime import prefect_api
with prefect_api() as url:
    print("URL " + url, flush=True)
    sys.stdin.read()  # serves until its stdin is closed (or it is killed)
"""
"""``python -c PREFECT_SERVER`` (from the repository root): a process that starts the
temporary Prefect server the way every ``beyonder`` command does and prints ``URL <api url>``."""


def imported_modules(path: Path) -> set[str]:
    """Absolute names a Python file imports, at the top or inside functions: modules, and
    ``module.name`` for each name taken from one (it may be a submodule)."""
    import ast

    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def mixed_frame(n: int = 120, seed: int = 0, target: str = "class") -> pd.DataFrame:
    """A small table of mixed types that classifiers can learn: a signal ``x``, an integer
    ``count``, a categorical ``colour`` and a ``noise`` column (both with gaps), and a yes/no
    ``target`` that follows ``x``."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    frame = pd.DataFrame(
        {
            "x": x,
            "count": rng.integers(0, 7, size=n),
            "colour": rng.choice(["red", "green", "blue"], size=n).astype(object),
            "noise": rng.normal(size=n),
        }
    )
    frame.loc[::9, "noise"] = np.nan
    frame.loc[::11, "colour"] = None
    frame[target] = np.where(x + rng.normal(scale=0.7, size=n) > 0, "yes", "no").astype(object)
    return frame


def tiny_recommender(classifiers: list[str] | None = None, seed: int = 0, sample_rows: int = 120):
    """A ``Recommender`` around a small, untrained network (dim 16, one block)."""
    import keras

    from beyonder.data.cleaning import CleaningConfig
    from beyonder.selector.estimator import Beyonder, BeyonderConfig, new_network
    from beyonder.serving.recommend import Recommender

    config = BeyonderConfig(
        classifiers=list(classifiers or TINY_CLASSIFIERS),
        epochs=1, rows=64, max_features=16, dim=16, heads=4, blocks=1, inducing=8, batch_size=8,
        seed=seed,
    )  # fmt: skip
    keras.utils.set_random_seed(seed)
    estimator = Beyonder(config)
    estimator.model_ = new_network(config)
    return Recommender(
        estimator, CleaningConfig(), sample_rows=sample_rows, replace=True, subsamples=3, seed=seed
    )


def use_registry(directory: Path) -> str:
    """Point MLflow (this process and its children) at a registry in ``directory``, with the
    ``beyonder`` experiment's artifacts there too; returns the tracking URI."""
    import mlflow

    directory.mkdir(parents=True, exist_ok=True)
    uri = f"sqlite:///{directory / 'mlflow.db'}"
    os.environ["MLFLOW_TRACKING_URI"] = uri
    os.environ.pop("MLFLOW_REGISTRY_URI", None)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    if mlflow.get_experiment_by_name("beyonder") is None:
        mlflow.create_experiment("beyonder", artifact_location=(directory / "mlruns").as_uri())
    return uri


def register_tiny_model(directory: Path, alias: str = "champion", recommender=None):
    """Log a tiny model as the pipeline does (models-from-code pyfunc), register it as
    ``beyonder`` and give it ``alias``; returns the model version."""
    import mlflow

    from beyonder import tracking
    from beyonder.schema import ROW_ID, TARGET
    from beyonder.serving.tracking import log_pyfunc

    use_registry(directory)
    recommender = recommender or tiny_recommender()
    example = table(60, seed=1).rename(columns={"class": TARGET})
    example[ROW_ID] = np.arange(len(example))
    mlflow.set_experiment("beyonder")
    with mlflow.start_run(run_name="tiny"):
        model_dir = recommender.save(directory / "tiny_model")
        uri = log_pyfunc(model_dir, example)
    version = tracking.register(uri)
    tracking.set_alias(version, alias)
    return version


def table(n_rows: int = 150, seed: int = 0, n_classes: int = 3) -> pd.DataFrame:
    """A small mixed table with a ``class`` column (numeric, categorical, missing values)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, size=n_rows)
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=n_rows) + y,
            "b": rng.lognormal(size=n_rows),
            "c": rng.integers(0, 5, size=n_rows),
            "colour": rng.choice(["red", "green", "blue"], size=n_rows),
            "d": np.where(rng.random(n_rows) < 0.1, np.nan, rng.normal(size=n_rows) - y),
        }
    )
    frame["class"] = np.array(["setosa", "versicolor", "virginica", "x", "y"])[y]
    return frame


@contextmanager
def tiny_registry(directory: Path) -> Iterator[SimpleNamespace]:
    """A tiny model registered as champion (version 1) in a throwaway SQLite registry under
    ``directory``, and a 300-row table beside it; MLflow points at the registry inside the
    block and back where it was afterwards. Yields ``dir``, ``uri``, ``version``, ``csv``."""
    import mlflow

    from beyonder.serving import recommend

    saved = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    old_uri = mlflow.get_tracking_uri()
    recommend.clear_cache()
    try:
        version = register_tiny_model(directory)
        data = directory / "data"
        data.mkdir()
        table(300, seed=3).to_csv(data / "table.csv", index=False)
        yield SimpleNamespace(
            dir=directory,
            uri=os.environ["MLFLOW_TRACKING_URI"],
            version=version,
            csv=data / "table.csv",
        )
    finally:
        recommend.clear_cache()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        mlflow.set_tracking_uri(old_uri)
        mlflow.set_registry_uri(old_uri)
