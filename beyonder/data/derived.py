"""New classification tasks derived from real tables, labelled afresh.

Meta-learning lives on the number of distinct tasks, and real tables are few. A derived task
changes what decides the classifier ranking, not just the size of the table:

- ``subset``: only some of the features (40-80%), so the signal left may be weaker or sparser;
- ``irrelevant``: extra pure-noise numeric features (0.5-2x the feature count), which hurt
  distance- and margin-based classifiers far more than trees;
- ``merge``: a multi-class target whose classes are merged into two groups, which changes the
  class geometry (a group may be multimodal);
- ``few_rows``: only 15-40% of the source rows, the small-data regime where simple models win;
- ``label_noise``: 10-25% of the source rows get another class, which hurts low-bias models.

Each task applies two of them, chosen from the seed and the dataset name. The same task is
applied to every bootstrap sample of a dataset (draws are keyed by source row id, ``ROW_ID``,
and by class name, never by position; each per-row draw comes first from its own generator, so
it does not depend on how many rows a sample spans), so a task's samples share one truth and
can be averaged like the bootstrap samples of a real dataset. Derived samples keep their source dataset's name,
so they fall on the same side of every split.
"""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd

from beyonder.schema import ROW_ID, TARGET

TRANSFORMS = ("subset", "irrelevant", "merge", "few_rows", "label_noise")


def task_rng(seed: int, dataset: str, task: int, part: str) -> np.random.Generator:
    """A generator for one part of one task, the same for every sample of the dataset."""
    key = zlib.crc32(f"{dataset}\0{task}\0{part}".encode())
    return np.random.default_rng([seed, key])


def choose_transforms(sample: pd.DataFrame, seed: int, dataset: str, task: int) -> list[str]:
    """Two transforms for this task; ``merge`` only where there are three classes or more."""
    usable = [t for t in TRANSFORMS if t != "merge" or sample[TARGET].nunique() >= 3]
    rng = task_rng(seed, dataset, task, "choose")
    return sorted(rng.choice(usable, size=2, replace=False).tolist())


def _per_row(values: np.ndarray, row_ids: np.ndarray) -> np.ndarray:
    """``values`` indexed by source row id (so copies of one source row agree)."""
    return values[row_ids % len(values)]


def derive_task(
    sample: pd.DataFrame, seed: int, dataset: str, task: int, transforms: list[str]
) -> pd.DataFrame:
    """The sample under ``transforms``; the input is not modified. Raises ``ValueError`` when
    the result is not a usable task (fewer than two classes, no feature left)."""
    out = sample.copy()
    features = [c for c in out.columns if c not in (TARGET, ROW_ID)]
    row_ids = out[ROW_ID].to_numpy(np.int64) if ROW_ID in out.columns else np.arange(len(out))
    span = int(row_ids.max()) + 1 if len(row_ids) else 1
    if "few_rows" in transforms:
        share = task_rng(seed, dataset, task, "rows_share").uniform(0.15, 0.40)
        keep = task_rng(seed, dataset, task, "rows").random(span) < share
        out = out[_per_row(keep, row_ids)].reset_index(drop=True)
        row_ids = out[ROW_ID].to_numpy(np.int64) if ROW_ID in out.columns else np.arange(len(out))
    if "subset" in transforms and len(features) > 1:
        rng = task_rng(seed, dataset, task, "subset")
        n_keep = max(1, round(len(features) * rng.uniform(0.4, 0.8)))
        dropped = sorted(set(features) - set(rng.choice(sorted(features), size=n_keep, replace=False)))
        out = out.drop(columns=dropped)
        features = [c for c in features if c not in dropped]
    if "irrelevant" in transforms:
        rng = task_rng(seed, dataset, task, "irrelevant")
        n_new = max(1, round(len(features) * rng.uniform(0.5, 2.0)))
        noise = rng.standard_normal((span, n_new))
        for j in range(n_new):
            name = f"irrelevant_{j}"
            while name in out.columns:
                name += "_"
            out.insert(len(features) + j, name, _per_row(noise[:, j], row_ids))
    if "merge" in transforms:
        classes = sorted(out[TARGET].dropna().astype(str).unique())
        if len(classes) >= 3:
            group = {c: task_rng(seed, dataset, task, f"merge:{c}").random() < 0.5 for c in classes}
            if len(set(group.values())) < 2:  # all in one group: move the largest class out
                largest = out[TARGET].astype(str).value_counts().idxmax()
                group[largest] = not group[largest]
            merged = out[TARGET].astype(str).map(lambda c: "group_a" if group[c] else "group_b")
            out[TARGET] = merged.astype(sample[TARGET].dtype)
    if "label_noise" in transforms:
        share = task_rng(seed, dataset, task, "noise_share").uniform(0.10, 0.25)
        flip = task_rng(seed, dataset, task, "noise_rows").random(span) < share
        offset = task_rng(seed, dataset, task, "noise_offset").integers(1, 1 << 30, size=span)
        levels = sorted(out[TARGET].dropna().astype(str).unique())
        if len(levels) >= 2:
            codes = np.array([levels.index(str(v)) for v in out[TARGET]])
            moved = (codes + _per_row(offset, row_ids) % (len(levels) - 1) + 1) % len(levels)
            new = np.where(_per_row(flip, row_ids), moved, codes)
            out[TARGET] = pd.Series(np.asarray(levels, dtype=object)[new]).astype(sample[TARGET].dtype)
    if out[TARGET].nunique(dropna=True) < 2:
        raise ValueError("fewer than two classes left")
    if not any(c not in (TARGET, ROW_ID) for c in out.columns):
        raise ValueError("no feature left")
    return out
