"""Augment flow: make noisy and synthetic samples, then label them with the label engine."""

from __future__ import annotations

from prefect import flow, task

from beyonder.config import Layout, load_params
from beyonder.flows.label import compute_labels
from beyonder.flows.runtime import TRANSIENT_RETRIES
from beyonder.schema import PORTFOLIO
from beyonder.stages.augment import (
    derived_tasks,
    noisy_copies,
    synthetic_extra,
    write_augment_index,
)
from beyonder.stages.clean import cleaning_config
from beyonder.stages.label import (
    LabelCache,
    assemble_labels,
    cv_settings,
    pending_jobs,
    sample_index,
    write_labels,
)


@task(name="make-augmented-samples", **TRANSIENT_RETRIES)
def make_samples(params: dict, root: str) -> list[dict]:
    layout = Layout(root)
    (layout.augmented / "samples").mkdir(parents=True, exist_ok=True)
    seed = int(params.get("seed", 0))
    cfg = params.get("augment") or {}
    samples = sample_index(layout)
    entries = noisy_copies(samples, layout, cfg.get("noise") or {}, seed)
    entries += derived_tasks(samples, layout, cfg.get("derived") or {}, seed)
    entries += synthetic_extra(
        layout, cfg.get("synthetic") or {}, params.get("sample") or {}, cleaning_config(params), seed
    )
    write_augment_index(entries, layout)
    return entries


@flow(name="augment")
def augment_flow(params_path: str = "params.yaml", root: str = ".") -> dict:
    params = load_params(params_path)
    layout = Layout(root)
    entries = make_samples(params, root)
    label_cfg = params.get("label") or {}
    classifiers = list(label_cfg.get("classifiers") or PORTFOLIO)
    cv = cv_settings(label_cfg, int(params.get("seed", 0)))
    cache = LabelCache(layout.label_cache)
    lost = compute_labels(pending_jobs(entries, classifiers, cv, cache), cv, cache, root, params.get("compute") or {})
    table = assemble_labels(entries, classifiers, cv, cache, reasons=lost)
    summary = write_labels(table, layout.augmented / "labels.parquet")
    return {"samples": len(entries), **summary}
