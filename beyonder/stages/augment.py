"""Augment: new labelled samples that the sample stage does not make.

- noise: copies of a share of the bootstrap samples with numeric jitter, categorical flips
  and label noise (labelled afresh: noise changes accuracies); they keep their source
  dataset's name, so they fall on the same side of every train/test split;
- synthetic: bootstrap samples of extra generated datasets (their own datasets);
- derived: new tasks made from the real samples (``beyonder/data/derived.py``: feature subsets,
  irrelevant features, merged classes, few rows, label noise), one task applied alike to all
  samples of a dataset, labelled afresh; each task is its own ``task`` in the index.

Transforms that provably keep the labels (row and column order, class ids, positive affine
rescaling) are not stored: the encoding is invariant to them or training draws them per epoch.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from beyonder.config import Layout, stable_seed
from beyonder.data.cleaning import CleaningConfig, CleaningError, clean_dataset
from beyonder.data.derived import choose_transforms, derive_task
from beyonder.data.noise import inject_noise
from beyonder.data.sampling import bootstrap_samples
from beyonder.data.sources.synthetic import SyntheticSpec, load_synthetic
from beyonder.params import AugmentSynthetic, DerivedParams, NoiseParams, Params, SampleParams
from beyonder.schema import TARGET
from beyonder.stages.label import sample_index
from beyonder.storage import frame_hash, write_json, write_parquet


def _entry(
    sample_id: str, dataset: str, source: str, kind: str, sample: pd.DataFrame, layout: Layout
) -> dict:
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


def augmented_samples(params: Params, layout: Layout) -> list[dict]:
    """Every augmented sample (noisy copies, derived tasks, extra synthetic datasets), written
    with their index; labelling them is the label engine's work."""
    (layout.augmented / "samples").mkdir(parents=True, exist_ok=True)
    samples, settings = sample_index(layout), params.augment
    entries = noisy_copies(samples, layout, settings.noise, params.seed)
    entries += derived_tasks(samples, layout, settings.derived, params.seed)
    entries += synthetic_extra(layout, settings.synthetic, params.sample, params.clean, params.seed)
    write_augment_index(entries, layout)
    return entries


def noisy_copies(samples: list[dict], layout: Layout, noise: NoiseParams, seed: int) -> list[dict]:
    """Noisy copies of about ``share`` of the samples (chosen per sample from the seed)."""
    entries = []
    for s in samples:
        rng = np.random.default_rng(stable_seed(seed, "noise", s["sample_id"]))
        if rng.random() >= noise.share:
            continue
        sample = pd.read_parquet(layout.root / s["file"])
        noisy = inject_noise(
            sample,
            rng,
            numeric_jitter=noise.numeric_jitter,
            categorical_flip=noise.categorical_flip,
            label_noise=noise.label_noise,
        )
        if noisy[TARGET].nunique() < 2:
            continue
        entries.append(
            _entry(f"{s['sample_id']}__noise", s["dataset"], s["source"], "noise", noisy, layout)
        )
    return entries


def derived_tasks(
    samples: list[dict], layout: Layout, derived: DerivedParams, seed: int
) -> list[dict]:
    """``per_dataset`` derived tasks per real dataset, each applied to all its samples."""
    n_tasks = derived.per_dataset
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
            entry = _entry(
                f"{s['sample_id']}__derived{t}",
                s["dataset"],
                s["source"],
                "derived",
                derived,
                layout,
            )
            entries.append(
                {**entry, "task": f"{s['dataset']}__derived{t}", "transforms": transforms}
            )
    return entries


def synthetic_extra(
    layout: Layout,
    synthetic: AugmentSynthetic,
    sampling: SampleParams,
    cleaning: CleaningConfig,
    seed: int,
) -> list[dict]:
    """``synthetic.per_dataset`` bootstrap samples (drawn as ``sampling`` says) of each of
    ``synthetic.n_datasets`` extra synthetic datasets."""
    if synthetic.n_datasets <= 0:
        return []
    spec = SyntheticSpec.from_ranges(synthetic.spec)
    entries = []
    for raw in load_synthetic(
        synthetic.n_datasets, stable_seed(seed, "augment")[1], spec, prefix="augment"
    ):
        try:
            cleaned, _ = clean_dataset(raw.frame.rename(columns={raw.target: TARGET}), cleaning)
        except CleaningError:
            continue
        for sample_id, sample in bootstrap_samples(
            cleaned,
            raw.name,
            rows=sampling.rows,
            per_dataset=synthetic.per_dataset,
            replace=sampling.replace,
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
