"""The labelled corpus as the library sees it: samples with their labels as matrices, loaded
from a pipeline workspace, split by dataset family into training, validation and test.

The train and evaluate stages and ``beyonder evaluate --corpus`` (``beyonder/evaluation/crossval.py``)
all read it from here, so a split or a per-dataset mean means the same thing everywhere.
The test datasets are chosen by family, from the seed, and never reach training, not even as
noisy copies or derived tasks; validation (for early stopping) is a second grouped split of
the remaining datasets.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from beyonder.config import Layout
from beyonder.data.splits import grouped_test_split
from beyonder.labels.metrics import METRICS
from beyonder.params import LabelParams, Params, RegularisationParams
from beyonder.selector.encoding import EncodedSample, encode_sample
from beyonder.storage import read_json


@dataclass
class Corpus:
    """Samples with their labels as matrices (rows = samples, columns = classifiers)."""

    index: pd.DataFrame  # sample_id, dataset, kind, file, ...
    accuracy: np.ndarray
    fit_time: np.ndarray
    classifiers: list[str]
    predict_time: np.ndarray | None = None  # seconds per fold, for the cost of verifying picks
    curves: np.ndarray | None = None
    """The regularisation labels: (samples, ``tuned``, ``grid``) CV accuracies, NaN missing."""
    tuned: list[str] = field(default_factory=list)
    """The classifiers whose C varies along ``curves``' second axis."""
    grid: list[float] = field(default_factory=list)
    """The C values along ``curves``' last axis."""
    scores: np.ndarray | None = None
    """The other metrics' labels: (samples, ``metrics``, classifiers), NaN missing."""
    metrics: list[str] = field(default_factory=list)
    """The metrics along ``scores``' second axis (``labels.metrics.METRICS`` but accuracy)."""

    def subset(self, mask: np.ndarray) -> Corpus:
        return Corpus(
            self.index[mask].reset_index(drop=True),
            self.accuracy[mask],
            self.fit_time[mask],
            self.classifiers,
            None if self.predict_time is None else self.predict_time[mask],
            None if self.curves is None else self.curves[mask],
            self.tuned,
            self.grid,
            None if self.scores is None else self.scores[mask],
            self.metrics,
        )

    def metric(self, name: str) -> np.ndarray:
        """The labels of one metric, (samples, classifiers): ``accuracy`` or one of ``metrics``
        (all NaN for a metric this corpus has no labels of)."""
        if name == "accuracy":
            return self.accuracy
        if self.scores is None or name not in self.metrics:
            return np.full_like(self.accuracy, np.nan)
        return self.scores[:, self.metrics.index(name)]

    def metric_scores(self, names: list[str]) -> np.ndarray | None:
        """``scores`` for the metrics ``names``, in that order (None for no names)."""
        if not names:
            return None
        return np.stack([self.metric(n) for n in names], axis=1)

    def flat_curves(self) -> np.ndarray:
        """``curves`` as (samples, tuned x grid), the layout of the network's ``curve`` head."""
        if self.curves is None:
            return np.full((len(self.index), 0), np.nan)
        return self.curves.reshape(len(self.index), -1)

    def cv_seconds(self, n_folds: int = LabelParams.n_folds) -> np.ndarray:
        """Seconds of each label's whole cross-validation (fit and predict, every fold), from
        the labels' per-fold time columns: what measuring that classifier on the sample cost."""
        per_fold = (
            self.fit_time
            if self.predict_time is None
            else self.fit_time + np.nan_to_num(self.predict_time)
        )
        return n_folds * per_fold

    def dataset_means(self) -> Corpus:
        """The same samples, each labelled with the mean accuracy of its dataset's samples of
        its kind (and task). A sample's own CV is a noisy estimate (about 1.5-2 points on 500
        rows) of what every bootstrap sample of the dataset estimates; noisy copies are averaged
        apart from the clean ones, since their noise changes the truth, and each derived task
        apart from the others. Fit times stay per sample."""
        task = self.index["task"].fillna("") if "task" in self.index else ""
        keys = (
            self.index["dataset"].astype(str) + "\0" + self.index["kind"].astype(str) + "\0" + task
        ).to_numpy()
        means = pd.DataFrame(self.accuracy).groupby(keys).transform("mean").to_numpy(np.float64)
        curves = self.curves
        if curves is not None:
            flat = (
                pd.DataFrame(self.flat_curves())
                .groupby(keys)
                .transform("mean")
                .to_numpy(np.float64)
            )
            curves = flat.reshape(curves.shape)
        scores = self.scores
        if scores is not None:
            flat = (
                pd.DataFrame(scores.reshape(len(scores), -1))
                .groupby(keys)
                .transform("mean")
                .to_numpy(np.float64)
            )
            scores = flat.reshape(scores.shape)
        return replace(self, accuracy=means, curves=curves, scores=scores)


def concat(a: Corpus, b: Corpus | None) -> Corpus:
    """The samples of ``a`` then those of ``b`` (same classifiers); curves that one side lacks
    are missing (NaN) there."""
    if b is None or not len(b.index):
        return a
    curves = None
    if a.curves is not None or b.curves is not None:
        shape = (len(a.tuned or b.tuned), len(a.grid or b.grid))
        parts = [
            c.curves if c.curves is not None else np.full((len(c.index), *shape), np.nan)
            for c in (a, b)
        ]
        curves = np.concatenate(parts)
    metrics = a.metrics or b.metrics
    scores = None
    if metrics:
        scores = np.concatenate([c.metric_scores(metrics) for c in (a, b)])
    return Corpus(
        pd.concat([a.index, b.index], ignore_index=True),
        np.vstack([a.accuracy, b.accuracy]),
        np.vstack([a.fit_time, b.fit_time]),
        a.classifiers,
        None
        if a.predict_time is None or b.predict_time is None
        else np.vstack([a.predict_time, b.predict_time]),
        curves,
        a.tuned or b.tuned,
        a.grid or b.grid,
        scores,
        list(metrics),
    )


def load_corpus(
    layout: Layout,
    classifiers: list[str],
    include_augmented: bool = True,
    regularisation: RegularisationParams | None = None,
) -> Corpus:
    """Original samples (and augmented ones) with their labels, in a fixed order; with
    ``regularisation`` on, their C-grid labels as ``curves`` (NaN where a sample has none:
    augmented samples, or a workspace labelled before the grid existed)."""
    entries = read_json(layout.samples / "index.json")
    tables = [pd.read_parquet(layout.labels / "labels.parquet")]
    aug_index = layout.augmented / "index.json"
    if include_augmented and aug_index.exists():
        entries += read_json(aug_index)
        tables.append(pd.read_parquet(layout.augmented / "labels.parquet"))
    index = pd.DataFrame(entries).sort_values("sample_id").reset_index(drop=True)
    labels = pd.concat(tables, ignore_index=True)
    acc = labels.pivot_table(
        index="sample_id", columns="classifier", values="accuracy", dropna=False
    )
    time = labels.pivot_table(
        index="sample_id", columns="classifier", values="fit_time", dropna=False
    )
    acc = acc.reindex(index=index["sample_id"], columns=classifiers)
    time = time.reindex(index=index["sample_id"], columns=classifiers)
    predict = None
    if "predict_time" in labels:
        predict = labels.pivot_table(
            index="sample_id", columns="classifier", values="predict_time", dropna=False
        )
        predict = predict.reindex(index=index["sample_id"], columns=classifiers).to_numpy(
            np.float64
        )
    metrics = [m for m in METRICS[1:] if m in labels]
    scores = None
    if metrics:
        scores = np.stack(
            [
                labels.pivot_table(index="sample_id", columns="classifier", values=m, dropna=False)
                .reindex(index=index["sample_id"], columns=classifiers)
                .to_numpy(np.float64)
                for m in metrics
            ],
            axis=1,
        )
    corpus = Corpus(
        index,
        acc.to_numpy(np.float64),
        time.to_numpy(np.float64),
        list(classifiers),
        predict,
        scores=scores,
        metrics=metrics,
    )
    if regularisation is not None and regularisation.active():
        corpus = with_curves(corpus, layout, regularisation.active(), list(regularisation.grid))
    return corpus


def load_measurements(
    layout: Layout, classifiers: list[str], folds: int | None = None
) -> pd.DataFrame:
    """The measurement subsamples' labels (``data/labels/measurements.parquet``), one row per
    dataset, tier and classifier: ``dataset``, ``tier`` (``m100``: the subsample's size),
    ``classifier``, ``accuracy``, ``seconds`` (the whole CV: fit and predict, every fold),
    ``fit_time`` (mean fold fit). Empty for a workspace labelled before measurements existed.
    ``folds``: the measurement CV's folds (default: each label's completed folds)."""
    columns = ["dataset", "tier", "classifier", "accuracy", "seconds", "fit_time"]
    if not layout.measurements.is_file():
        return pd.DataFrame(columns=columns)
    labels = pd.read_parquet(layout.measurements)
    labels = labels[labels["classifier"].isin(classifiers)]
    n = labels["n_folds"].astype(np.float64) if folds is None else float(folds)
    per_fold = labels["fit_time"].astype(np.float64) + labels["predict_time"].astype(
        np.float64
    ).fillna(0.0)
    return pd.DataFrame(
        {
            "dataset": labels["dataset"].astype(str),
            "tier": labels["sample_id"].astype(str).str.rsplit("__", n=1).str[-1],
            "classifier": labels["classifier"],
            "accuracy": labels["accuracy"].astype(np.float64),
            "seconds": per_fold * n,
            "fit_time": labels["fit_time"].astype(np.float64),
        }
    ).reset_index(drop=True)


def with_curves(corpus: Corpus, layout: Layout, tuned: list[str], grid: list[float]) -> Corpus:
    """``corpus`` with the C-grid labels of its samples (``data/labels/regularisation.parquet``,
    written by the label stage; NaN for any sample, classifier or C it lacks)."""
    curves = np.full((len(corpus.index), len(tuned), len(grid)), np.nan)
    path = layout.curves
    if path.exists():
        table = pd.read_parquet(path)
        rows = pd.Index(corpus.index["sample_id"]).get_indexer(table["sample_id"])
        cols = pd.Index(tuned).get_indexer(table["classifier"])
        points = _grid_positions(grid, table["C"].to_numpy(np.float64))
        ok = (rows >= 0) & (cols >= 0) & (points >= 0)
        curves[rows[ok], cols[ok], points[ok]] = table["accuracy"].to_numpy(np.float64)[ok]
    return replace(corpus, curves=curves, tuned=list(tuned), grid=list(grid))


def _grid_positions(grid: list[float], values: np.ndarray) -> np.ndarray:
    """Position of each C in ``grid`` (-1: not on it); relative tolerance 1e-9."""
    g = np.asarray(grid, dtype=np.float64)
    if not len(g):
        return np.full(len(values), -1)
    close = np.isclose(values[:, None], g[None, :], rtol=1e-9, atol=0.0)
    return np.where(close.any(axis=1), close.argmax(axis=1), -1)


def test_datasets(corpus: Corpus, params: Params) -> set[str]:
    """Datasets held out for evaluation: whole families of the original (non-augmented) data."""
    split = params.split
    original = corpus.index[corpus.index["kind"] == "bootstrap"]
    eligible = None
    if split.test_sources:
        eligible = set(original.loc[original["source"].isin(split.test_sources), "dataset"])
    return grouped_test_split(
        original["dataset"], split.test_fraction, params.seed, split.families, eligible
    )


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
