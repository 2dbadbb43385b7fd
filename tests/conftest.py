"""Shared test setup: offline/quiet environment (set before Keras, Prefect, MLflow or DVC are
imported) and the UCI folder beside the repository."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

for _key, _value in {
    "KERAS_BACKEND": "tensorflow",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DVC_NO_ANALYTICS": "1",
}.items():
    os.environ.setdefault(_key, _value)

SHARED_UCI = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "uci"
"""Same location as ``tests/test_sources.py``'s ``UCI``: ``../shared/datasets/uci``."""


@pytest.fixture(scope="session")
def shared_uci() -> Path:
    """The shared UCI datasets folder; the test is skipped when it is not there."""
    if not SHARED_UCI.is_dir():
        pytest.skip(f"shared UCI datasets not found at {SHARED_UCI}")
    return SHARED_UCI
