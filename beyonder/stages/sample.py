"""Sample: bootstrap samples of every cleaned dataset, one Parquet each, plus ``index.json``."""

from __future__ import annotations

import pandas as pd

from beyonder.config import Layout
from beyonder.data.sampling import bootstrap_samples, measurement_samples
from beyonder.params import MeasureParams, SampleParams
from beyonder.storage import frame_hash, read_json, write_json, write_parquet


def sample_one(
    report: dict,
    layout: Layout,
    settings: SampleParams,
    seed: int,
    measure: MeasureParams | None = None,
) -> list[dict]:
    """Write the samples of one dataset (bootstrap samples, and one measurement subsample per
    ``measure.rows`` size, ``kind: measure``); too few rows -> no samples (and a reason)."""
    name = report["name"]
    frame = pd.read_parquet(layout.dataset_file(layout.clean, name))
    if len(frame) < settings.min_rows:
        return [{"dataset": name, "skipped": f"{len(frame)} rows < min_rows {settings.min_rows}"}]
    drawn = bootstrap_samples(
        frame,
        name,
        rows=settings.rows,
        per_dataset=settings.per_dataset,
        replace=settings.replace,
        seed=seed,
    )
    entries = [
        _write(sample_id, sample, "bootstrap", name, report, layout) for sample_id, sample in drawn
    ]
    for sample_id, sample in measurement_samples(
        frame, name, list(measure.rows) if measure else [], seed
    ):
        entries.append(_write(sample_id, sample, "measure", name, report, layout))
    return entries


def _write(
    sample_id: str, sample: pd.DataFrame, kind: str, dataset: str, report: dict, layout: Layout
) -> dict:
    path = layout.dataset_file(layout.samples, sample_id)
    write_parquet(sample, path)
    return {
        "sample_id": sample_id,
        "dataset": dataset,
        "source": report.get("source", ""),
        "kind": kind,
        "rows": len(sample),
        "hash": frame_hash(sample),
        "file": str(path.relative_to(layout.root.resolve())),
    }


def write_sample_index(entries: list[dict], layout: Layout) -> None:
    """``index.json`` (the bootstrap samples, what the selector is trained and judged on),
    ``measure.json`` (the measurement subsamples) and ``skipped.json``; files of samples no
    longer drawn are removed."""
    samples = sorted((e for e in entries if "sample_id" in e), key=lambda e: e["sample_id"])
    keep = {f"{e['sample_id']}.parquet" for e in samples}
    for path in layout.samples.glob("*.parquet"):
        if path.name not in keep:
            path.unlink()
    write_json([e for e in samples if e["kind"] != "measure"], layout.samples / "index.json")
    write_json([e for e in samples if e["kind"] == "measure"], layout.measure_index)
    write_json([e for e in entries if "skipped" in e], layout.samples / "skipped.json")


def clean_reports(layout: Layout) -> list[dict]:
    return read_json(layout.clean / "reports.json")
