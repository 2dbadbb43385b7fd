"""Logging the imputer to MLflow as a pyfunc model (``beyonder/imputer/pyfunc.py``); apart
from ``tracking_model`` so the selector's stages do not depend on the imputer's code."""

from __future__ import annotations

from pathlib import Path

import mlflow

from beyonder.tracking import pinned

IMPUTER_PACKAGES = (
    "mlflow",
    "numpy",
    "pandas",
    "pyarrow",
    "scikit-learn",
    "keras",
    "tensorflow-cpu",
    "liac-arff",
    "pyyaml",
)
"""What the served imputer imports: its network runs in Keras."""


def log_imputer(model_dir: Path) -> str:
    """Log the trained imputer in the active run as a pyfunc model (``beyonder/imputer/pyfunc.py``),
    with the ``beyonder`` package as code and its requirements; returns its URI."""
    import beyonder.imputer.pyfunc
    from beyonder.imputer.api import ARTIFACT

    requirements = pinned(IMPUTER_PACKAGES)
    info = mlflow.pyfunc.log_model(
        name="imputer_model",
        python_model=beyonder.imputer.pyfunc.__file__,
        artifacts={ARTIFACT: str(model_dir)},
        code_paths=[str(Path(beyonder.__file__).parent)],
        pip_requirements=requirements,
    )
    return info.model_uri
