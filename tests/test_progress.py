"""Training says where it is: one log line per epoch with the train and validation losses."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from beyonder.progress import EpochProgress, epoch_line
from beyonder.schema import ROW_ID, TARGET


def test_epoch_line() -> None:
    line = epoch_line(2, 40, {"loss": 0.12345, "val_loss": 0.5}, seconds=2.06)
    assert line == "epoch 3/40: train loss 0.1235, val loss 0.5000 (2.1 s)"
    assert epoch_line(0, None, {"loss": 1.0}) == "epoch 1: train loss 1.0000, val loss n/a"


def _sample(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(30, 3)), columns=["a", "b", "c"])
    frame[TARGET] = np.where(frame["a"] > 0, "p", "q")
    frame[ROW_ID] = np.arange(30)
    return frame


def test_a_fit_logs_one_line_per_epoch_with_both_losses() -> None:
    from beyonder.selector.encoding import encode_sample
    from beyonder.selector.estimator import Beyonder, BeyonderConfig

    config = BeyonderConfig(
        classifiers=["logreg", "knn"], dim=8, heads=2, blocks=1, inducing=4, epochs=3, batch_size=4,
        patience=10,
    )  # fmt: skip
    samples = [encode_sample(_sample(s)) for s in range(6)]
    rng = np.random.default_rng(0)
    accuracy, fit_time = rng.uniform(0.5, 1, (6, 2)), rng.uniform(0.01, 1, (6, 2))
    lines: list[str] = []
    Beyonder(config).fit(
        samples[:4], accuracy[:4], fit_time[:4],
        validation=(samples[4:], accuracy[4:], fit_time[4:]),
        callbacks=[EpochProgress(lines.append, config.epochs)],
    )  # fmt: skip
    assert len(lines) == 3, lines
    for i, line in enumerate(lines, start=1):
        assert re.fullmatch(
            rf"epoch {i}/3: train loss \d+\.\d{{4}}, val loss \d+\.\d{{4}} \(\d+\.\d s\)", line
        ), line
