"""Training progress in the log: one line per epoch, so a 40-epoch fit is not silent.

Keras's own progress bar is off in the pipeline (``verbose=0``: it floods captured logs with
carriage returns); MLflow gets every epoch's numbers (``EpochLogger``) but nobody
watches it while a stage runs. This callback writes one plain line per epoch to any logger.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import keras


def epoch_line(
    epoch: int, epochs: int | None, logs: dict[str, Any] | None, seconds: float | None = None
) -> str:
    """``epoch 3/40: train loss 0.1234, val loss 0.2345 (2.1 s)`` (``epoch`` counts from 0,
    as Keras does; a loss Keras did not report reads ``n/a``)."""
    logs = logs or {}

    def loss(key: str) -> str:
        return f"{float(logs[key]):.4f}" if logs.get(key) is not None else "n/a"

    of = f"/{epochs}" if epochs else ""
    took = f" ({seconds:.1f} s)" if seconds is not None else ""
    return f"epoch {epoch + 1}{of}: train loss {loss('loss')}, val loss {loss('val_loss')}{took}"


class EpochLogger(keras.callbacks.Callback):
    """Logs Keras's per-epoch losses to the active MLflow run."""

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        import mlflow

        if logs:
            mlflow.log_metrics({f"epoch_{k}": float(v) for k, v in logs.items()}, step=epoch)


class EpochProgress(keras.callbacks.Callback):
    """Calls ``log`` with ``epoch_line`` at the end of every epoch (e.g. a Prefect run logger's
    ``info``); ``epochs`` is the planned number (early stopping may end sooner)."""

    def __init__(self, log: Callable[[str], Any], epochs: int | None = None) -> None:
        super().__init__()
        self.log = log
        self.epochs = epochs
        self._started = time.monotonic()

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._started = time.monotonic()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.log(epoch_line(epoch, self.epochs, logs, time.monotonic() - self._started))
