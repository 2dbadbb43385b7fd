"""The labelled corpus as the library sees it: samples with their labels as matrices, loaded
from a pipeline workspace, split by dataset family into training, validation and test.

The train and evaluate stages and ``beyonder evaluate --corpus`` (``beyonder/crossval.py``)
all read it from here, so a split or a per-dataset mean means the same thing everywhere.
The test datasets are chosen by family, from the seed, and never reach training, not even as
noisy copies or derived tasks; validation (for early stopping) is a second grouped split of
the remaining datasets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from beyonder.config import Layout
from beyonder.encoding import EncodedSample, encode_sample
from beyonder.params import Params
from beyonder.splits import grouped_test_split
from beyonder.storage import read_json


@dataclass
class Corpus:
    """Samples with their labels as matrices (rows = samples, columns = classifiers)."""

    index: pd.DataFrame  # sample_id, dataset, kind, file, ...
    accuracy: np.ndarray
    fit_time: np.ndarray
    classifiers: list[str]

    def subset(self, mask: np.ndarray) -> Corpus:
        return Corpus(
            self.index[mask].reset_index(drop=True),
            self.accuracy[mask],
            self.fit_time[mask],
            self.classifiers,
        )

    def dataset_means(self) -> Corpus:
        """The same samples, each labelled with the mean accuracy of its dataset's samples of
        its kind (and task). A sample's own CV is a noisy estimate (about 1.5-2 points on 500
        rows) of what every bootstrap sample of the dataset estimates; noisy copies are averaged
        apart from the clean ones, since their noise changes the truth, and each derived task
        apart from the others. Fit times stay per sample."""
        task = self.index["task"].fillna("") if "task" in self.index else ""
        keys = (self.index["dataset"].astype(str) + "\0" + self.index["kind"].astype(str) + "\0" + task).to_numpy()
        means = pd.DataFrame(self.accuracy).groupby(keys).transform("mean").to_numpy(np.float64)
        return Corpus(self.index, means, self.fit_time, self.classifiers)


def load_corpus(layout: Layout, classifiers: list[str], include_augmented: bool = True) -> Corpus:
    """Original samples (and augmented ones) with their labels, in a fixed order."""
    entries = read_json(layout.samples / "index.json")
    tables = [pd.read_parquet(layout.labels / "labels.parquet")]
    aug_index = layout.augmented / "index.json"
    if include_augmented and aug_index.exists():
        entries += read_json(aug_index)
        tables.append(pd.read_parquet(layout.augmented / "labels.parquet"))
    index = pd.DataFrame(entries).sort_values("sample_id").reset_index(drop=True)
    labels = pd.concat(tables, ignore_index=True)
    acc = labels.pivot_table(index="sample_id", columns="classifier", values="accuracy", dropna=False)
    time = labels.pivot_table(index="sample_id", columns="classifier", values="fit_time", dropna=False)
    acc = acc.reindex(index=index["sample_id"], columns=classifiers)
    time = time.reindex(index=index["sample_id"], columns=classifiers)
    return Corpus(index, acc.to_numpy(np.float64), time.to_numpy(np.float64), list(classifiers))


def test_datasets(corpus: Corpus, params: Params) -> set[str]:
    """Datasets held out for evaluation: whole families of the original (non-augmented) data."""
    split = params.split
    original = corpus.index[corpus.index["kind"] == "bootstrap"]
    eligible = None
    if split.test_sources:
        eligible = set(original.loc[original["source"].isin(split.test_sources), "dataset"])
    return grouped_test_split(original["dataset"], split.test_fraction, params.seed, split.families, eligible)


def train_val_masks(corpus: Corpus, params: Params) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks over the corpus: training samples and validation samples.

    Samples without a single label are dropped; samples of test datasets never appear.
    """
    split = params.split
    test = test_datasets(corpus, params)
    datasets = corpus.index["dataset"]
    usable = ~np.all(np.isnan(corpus.accuracy), axis=1) & ~datasets.isin(test).to_numpy()
    candidates = sorted(set(datasets[usable]))
    val = grouped_test_split(candidates, split.val_fraction, params.seed + 1, split.families)
    if len(val) == len(candidates):  # tiny corpora: keep at least one dataset for training
        val = set()
    in_val = datasets.isin(val).to_numpy()
    return usable & ~in_val, usable & in_val


def encode_corpus(corpus: Corpus, layout: Layout) -> list[EncodedSample]:
    return [encode_sample(pd.read_parquet(layout.root / f)) for f in corpus.index["file"]]


def per_dataset_mean(corpus: Corpus, values: np.ndarray) -> pd.DataFrame:
    """Mean of per-sample values over each dataset's samples (one row per dataset)."""
    frame = pd.DataFrame(values, columns=corpus.classifiers)
    return frame.groupby(corpus.index["dataset"].to_numpy()).mean()


def per_dataset(corpus: Corpus, values: np.ndarray, datasets: list[str]) -> np.ndarray:
    """``per_dataset_mean`` as an array whose rows follow ``datasets``."""
    return per_dataset_mean(corpus, values).reindex(datasets).to_numpy(np.float64)
