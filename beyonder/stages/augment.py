"""Augment: new labelled samples that the sample stage does not make.

- noise: copies of a share of the bootstrap samples with numeric jitter, categorical flips
  and label noise (labelled afresh: noise changes accuracies); they keep their source
  dataset's name, so they fall on the same side of every train/test split;
- synthetic: bootstrap samples of extra generated datasets (their own datasets);
- derived: new tasks made from the real samples (``beyonder/derived.py``: feature subsets,
  irrelevant features, merged classes, few rows, label noise), one task applied alike to all
  samples of a dataset, labelled afresh; each task is its own ``task`` in the index.

Transforms that provably keep the labels (row and column order, class ids, positive affine
rescaling) are not stored: the encoding is invariant to them or training draws them per epoch.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from beyonder.cleaning import CleaningConfig, CleaningError, clean_dataset
from beyonder.config import Layout, stable_seed
from beyonder.derived import choose_transforms, derive_task
from beyonder.noise import inject_noise
from beyonder.sampling import bootstrap_samples
from beyonder.schema import TARGET
from beyonder.sources.synthetic import SyntheticSpec, load_synthetic
from beyonder.storage import frame_hash, write_json, write_parquet


def _entry(sample_id: str, dataset: str, source: str, kind: str, sample: pd.DataFrame, layout: Layout) -> dict:
    path = layout.dataset_file(layout.augmented / "samples", sample_id)
    write_parquet(sample, path)
    return {
        "sample_id": sample_id,
        "dataset": dataset,
        "source": source,
        "kind": kind,
        "rows": len(sample),
        "hash": frame_hash(sample),
        "file": str(path.relative_to(layout.root.resolve())),
    }


def noisy_copies(samples: list[dict], layout: Layout, cfg: dict[str, Any], seed: int) -> list[dict]:
    """Noisy copies of about ``share`` of the samples (chosen per sample from the seed)."""
    share = float(cfg.get("share", 0.0))
    entries = []
    for s in samples:
        rng = np.random.default_rng(stable_seed(seed, "noise", s["sample_id"]))
        if rng.random() >= share:
            continue
        sample = pd.read_parquet(layout.root / s["file"])
        noisy = inject_noise(
            sample,
            rng,
            numeric_jitter=float(cfg.get("numeric_jitter", 0.1)),
            categorical_flip=float(cfg.get("categorical_flip", 0.05)),
            label_noise=float(cfg.get("label_noise", 0.05)),
        )
        if noisy[TARGET].nunique() < 2:
            continue
        entries.append(_entry(f"{s['sample_id']}__noise", s["dataset"], s["source"], "noise", noisy, layout))
    return entries


def derived_tasks(samples: list[dict], layout: Layout, cfg: dict[str, Any], seed: int) -> list[dict]:
    """``per_dataset`` derived tasks per real dataset, each applied to all its samples."""
    n_tasks = int(cfg.get("per_dataset", 0))
    entries: list[dict] = []
    if n_tasks <= 0:
        return entries
    for s in samples:
        sample = pd.read_parquet(layout.root / s["file"])
        for t in range(n_tasks):
            transforms = choose_transforms(sample, seed, s["dataset"], t)
            try:
                derived = derive_task(sample, seed, s["dataset"], t, transforms)
            except ValueError:  # e.g. one class left: no task
                continue
            entry = _entry(f"{s['sample_id']}__derived{t}", s["dataset"], s["source"], "derived", derived, layout)
            entries.append({**entry, "task": f"{s['dataset']}__derived{t}", "transforms": transforms})
    return entries


def synthetic_extra(
    layout: Layout, cfg: dict[str, Any], sample_cfg: dict[str, Any], cleaning: CleaningConfig, seed: int
) -> list[dict]:
    """Bootstrap samples of ``n_datasets`` extra synthetic datasets."""
    n = int(cfg.get("n_datasets", 0))
    if n <= 0:
        return []
    spec = SyntheticSpec(**{k: tuple(v) for k, v in (cfg.get("spec") or {}).items()})
    entries = []
    for raw in load_synthetic(n, stable_seed(seed, "augment")[1], spec, prefix="augment"):
        try:
            cleaned, _ = clean_dataset(raw.frame.rename(columns={raw.target: TARGET}), cleaning)
        except CleaningError:
            continue
        for sample_id, sample in bootstrap_samples(
            cleaned,
            raw.name,
            rows=int(sample_cfg.get("rows", 500)),
            per_dataset=int(cfg.get("per_dataset", sample_cfg.get("per_dataset", 3))),
            replace=bool(sample_cfg.get("replace", True)),
            seed=seed,
        ):
            entries.append(_entry(sample_id, raw.name, "augment", "synthetic", sample, layout))
    return entries


def write_augment_index(entries: list[dict], layout: Layout) -> None:
    keep = {f"{e['sample_id']}.parquet" for e in entries}
    for path in (layout.augmented / "samples").glob("*.parquet"):
        if path.name not in keep:
            path.unlink()
    write_json(sorted(entries, key=lambda e: e["sample_id"]), layout.augmented / "index.json")
