"""Offline and quiet: no telemetry from Prefect, MLflow or DVC, and TensorFlow's start-up lines
kept off the console.

At import, TensorFlow's C++ runtime writes ``oneDNN custom operations are on ...`` and absl's
``All log messages before absl::InitializeLog() ...`` straight to file descriptor 2, on some
CPUs and not on others, whatever ``TF_CPP_MIN_LOG_LEVEL`` says. A command whose contract is
"one line on stderr for bad input" cannot let that through, so commands that need Keras import
it here first, with descriptor 2 pointed at ``/dev/null`` for the length of the import only.
Errors raised by the import itself still reach the caller as Python exceptions.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

QUIET_ENV = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DVC_NO_ANALYTICS": "1",
    "DASK_LOGGING__DISTRIBUTED": "warning",
    "KERAS_BACKEND": "tensorflow",
    "TF_CPP_MIN_LOG_LEVEL": "2",
}
"""Settings that keep every component offline and quiet; set before any of them is imported."""


def quiet_environment() -> None:
    """Offline settings; must run before Prefect, MLflow or Keras are imported."""
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)


@contextmanager
def silenced_stderr() -> Iterator[None]:
    """Descriptor 2 goes to ``/dev/null`` inside the block (C and Python writes alike)."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_tensorflow() -> None:
    """Import TensorFlow and Keras once, without their start-up chatter on the console."""
    if "tensorflow" in sys.modules and "keras" in sys.modules:
        return
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with silenced_stderr():
        import keras  # noqa: F401
        import tensorflow  # noqa: F401
