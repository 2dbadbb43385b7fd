"""Recommend classifiers for a new table: clean it exactly as training did, draw the same
kind of bootstrap samples, and average the model's predictions over them."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from beyonder.cleaning import CleaningConfig, clean_dataset
from beyonder.encoding import encode_sample
from beyonder.estimator import Beyonder
from beyonder.sampling import bootstrap_samples
from beyonder.schema import SVM_KERNELS, TARGET

PIPELINE_FILE = "pipeline.json"


class RecommendError(ValueError):
    """The table cannot be used; the message is one line for the user."""


class Recommender:
    """A fitted Beyonder plus the cleaning and sampling settings it was trained with."""

    def __init__(
        self,
        estimator: Beyonder,
        cleaning: CleaningConfig | None = None,
        sample_rows: int = 500,
        replace: bool = True,
        subsamples: int = 4,
        seed: int = 0,
    ):
        self.estimator = estimator
        self.cleaning = cleaning or CleaningConfig()
        self.sample_rows = sample_rows
        self.replace = replace
        self.subsamples = subsamples
        self.seed = seed

    def settings(self) -> dict[str, Any]:
        return {
            "cleaning": asdict(self.cleaning),
            "sample_rows": self.sample_rows,
            "replace": self.replace,
            "subsamples": self.subsamples,
            "seed": self.seed,
        }

    def save(self, directory: str | Path) -> Path:
        directory = self.estimator.save(directory)
        (directory / PIPELINE_FILE).write_text(json.dumps(self.settings(), indent=2) + "\n")
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> Recommender:
        directory = Path(directory)
        settings = json.loads((directory / PIPELINE_FILE).read_text())
        return cls(
            Beyonder.load(directory),
            CleaningConfig(**settings["cleaning"]),
            settings["sample_rows"],
            settings["replace"],
            settings["subsamples"],
            settings["seed"],
        )

    def samples(self, frame: pd.DataFrame, target: str) -> list[pd.DataFrame]:
        """Cleaned bootstrap samples of ``frame`` (one if it fits in a single sample)."""
        if target not in frame.columns:
            shown = ", ".join(map(str, list(frame.columns)[:8]))
            raise RecommendError(f"no target column {target!r} (columns: {shown})")
        data = frame.rename(columns={target: TARGET})
        try:
            cleaned, _ = clean_dataset(data, self.cleaning)
        except ValueError as exc:
            raise RecommendError(str(exc)) from exc
        n = 1 if len(cleaned) <= self.sample_rows and not self.replace else self.subsamples
        drawn = bootstrap_samples(cleaned, "input", self.sample_rows, n, self.replace, self.seed)
        return [s for _, s in drawn]

    def predict(self, frame: pd.DataFrame, target: str) -> pd.DataFrame:
        """Ranked table: classifier, predicted accuracy, spread, predicted fit time (s)."""
        encoded = [encode_sample(s) for s in self.samples(frame, target)]
        out = self.estimator.predict(encoded)
        accuracy = out["accuracy"]  # samples x classifiers
        table = pd.DataFrame(
            {
                "classifier": self.estimator.config.classifiers,
                "predicted_accuracy": accuracy.mean(axis=0),
                "spread": np.sqrt(accuracy.var(axis=0) + (out["accuracy_spread"] ** 2).mean(axis=0)),
                "predicted_fit_time": out["fit_time"].mean(axis=0),
            }
        )
        table = table.sort_values("predicted_accuracy", ascending=False, kind="stable")
        table.insert(0, "rank", np.arange(1, len(table) + 1))
        return table.reset_index(drop=True)


def best_svm_kernel(table: pd.DataFrame) -> str | None:
    """The SVM kernel with the highest predicted accuracy in a ranked table."""
    svms = table[table["classifier"].isin(SVM_KERNELS)]
    return None if svms.empty else str(svms.iloc[0]["classifier"])
