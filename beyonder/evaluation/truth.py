"""The truth a selector is judged against, the groups it is judged in, and the noise ceiling.

* **Truth.** A dataset's label for a classifier is the mean over its replicates (bootstrap
  samples of the table, each with its own CV split), not one noisy CV: one 5-fold CV of 500
  rows has a standard error of 1.5-2 points, and an oracle over single noisy runs is
  optimistically biased.
* **Groups.** Natural classification tasks are the headline; binarised regression tables and
  synthetic tasks are reported beside them, never mixed in (``evaluate.groups`` maps the
  corpus folders and sources to groups; the first group is the headline).
* **Noise ceiling.** Brute force is the user's own cross-validation of the portfolio on one
  replicate, priced on the others: what running CV on the table achieves, and what no
  selector that reads one sample can be expected to beat by much.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from beyonder.evaluation.metrics import choose, regret, spearman_rows
from beyonder.labels.metrics import unavailable
from beyonder.schema import TARGET
from beyonder.selector.corpus import Corpus

OTHER_GROUP = "other"
"""The group of a dataset whose corpus folder or source no ``evaluate.groups`` entry names."""


def dataset_groups(
    origins: Mapping[str, str], groups: Mapping[str, Sequence[str]]
) -> dict[str, str]:
    """Dataset -> group, from each dataset's origin (its corpus folder, e.g. ``uci``, or its
    source, e.g. ``sklearn``: ``workspaces.corpus_groups``) and the ``evaluate.groups``
    mapping of group names to origins."""
    by_origin = {origin: group for group, members in groups.items() for origin in members}
    return {dataset: by_origin.get(origin, OTHER_GROUP) for dataset, origin in origins.items()}


def minority_share(frame: pd.DataFrame, target: str) -> float:
    """The share of the rarest class: below ``evaluate.imbalance`` a task counts as imbalanced."""
    counts = frame[target].value_counts()
    return float(counts.min() / counts.sum()) if len(counts) else float("nan")


def brute_force(
    datasets: np.ndarray, values: np.ndarray, sbs_index: Mapping[str, int] | None = None
) -> dict[str, Any]:
    """The noise ceiling: per dataset, pick the classifier by one replicate's CV (each replicate
    in turn) and price the pick with the mean labels of the *other* replicates, so pick and
    truth share no CV noise; ``sbs_index`` (per dataset) is priced on the same truths.

    ``datasets``: the dataset of each row of ``values`` (replicates x classifiers, one metric,
    NaN missing). Datasets with fewer than two labelled replicates, or without an SBS entry
    when ``sbs_index`` is given, are skipped. Returns mean
    regret (points), the SBS's on the same truths, gap closed, Spearman of one replicate's
    ranking against the others', and ``per_dataset`` regrets for paired comparisons."""
    per_dataset: dict[str, float] = {}
    sbs_regret, ranks = [], []
    with warnings.catch_warnings():  # a classifier labelled in no other replicate
        warnings.simplefilter("ignore", RuntimeWarning)
        for dataset, rows in sorted(
            pd.Series(np.arange(len(datasets))).groupby(np.asarray(datasets)).indices.items()
        ):
            labels = values[rows]
            labels = labels[~np.all(np.isnan(labels), axis=1)]
            if len(labels) < 2 or (sbs_index is not None and dataset not in sbs_index):
                continue
            truth = np.array(
                [np.nanmean(np.delete(labels, i, axis=0), axis=0) for i in range(len(labels))]
            )
            per_dataset[str(dataset)] = float(np.nanmean(regret(truth, choose(labels))))
            if sbs_index is not None:
                sbs_regret.append(
                    float(np.nanmean(regret(truth, np.full(len(truth), sbs_index[dataset]))))
                )
            ranks.append(float(np.nanmean(spearman_rows(truth, labels))))
    mean = float(np.mean(list(per_dataset.values()))) if per_dataset else float("nan")
    sbs_mean = float(np.mean(sbs_regret)) if sbs_regret else float("nan")
    return {
        "n_datasets": len(per_dataset),
        "mean_regret": mean,
        "sbs_mean_regret": sbs_mean,
        "gap_closed": (sbs_mean - mean) / sbs_mean if sbs_mean > 1e-12 else float("nan"),
        "spearman": float(np.nanmean(ranks)) if ranks else float("nan"),
        "per_dataset": per_dataset,
    }


def metric_predictions(
    outputs: dict[str, np.ndarray], metrics: list[str], classifiers: list[str]
) -> dict[str, np.ndarray]:
    """A model's predictions of its other metrics, per metric (samples x classifiers), with
    the combinations that cannot exist (log loss without probabilities) missing."""
    if "scores" not in outputs:
        return {}
    return {
        metric: without_unavailable(outputs["scores"][:, i], metric, classifiers)
        for i, metric in enumerate(metrics)
    }


def without_unavailable(values: np.ndarray, metric: str, classifiers: list[str]) -> np.ndarray:
    """A copy of ``values`` (samples x classifiers, predictions of ``metric``) with the
    classifiers that cannot have that metric (log loss without probabilities) missing, so that
    no method picks a classifier the metric does not exist for."""
    values = np.array(values, dtype=float, copy=True)
    for j, classifier in enumerate(classifiers):
        if unavailable(metric, classifier):
            values[:, j] = np.nan
    return values


def minority_shares(corpus: Corpus, root: str | Path) -> dict[str, float]:
    """Each dataset's rarest-class share, read off its first sample (samples are stratified)."""
    first = corpus.index.drop_duplicates("dataset")
    return {
        d: minority_share(pd.read_parquet(Path(root) / f, columns=[TARGET]), TARGET)
        for d, f in zip(first["dataset"], first["file"], strict=True)
    }
