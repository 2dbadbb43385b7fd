"""Augment flow: make noisy and synthetic samples, then label them with the label engine."""

from __future__ import annotations

from prefect import flow, task

from beyonder.config import Layout
from beyonder.params import Params, load_params
from beyonder.stages.augment import augmented_samples
from beyonder.stages.label import write_labels
from flows.label import label_entries
from flows.runtime import TRANSIENT_RETRIES


@task(name="make-augmented-samples", **TRANSIENT_RETRIES)
def make_samples(params: Params, root: str) -> list[dict]:
    return augmented_samples(params, Layout(root))


@flow(name="augment")
def augment_flow(params_path: str = "params.yaml", root: str = ".") -> dict:
    params = load_params(params_path)
    entries = make_samples(params, root)
    summary = write_labels(
        label_entries(entries, params, root), Layout(root).augmented / "labels.parquet"
    )
    return {"samples": len(entries), **summary}
