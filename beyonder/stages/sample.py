"""Sample: bootstrap samples of every cleaned dataset, one Parquet each, plus ``index.json``."""

from __future__ import annotations

import pandas as pd

from beyonder.config import Layout
from beyonder.params import SampleParams
from beyonder.sampling import bootstrap_samples
from beyonder.storage import frame_hash, read_json, write_json, write_parquet


def sample_one(report: dict, layout: Layout, settings: SampleParams, seed: int) -> list[dict]:
    """Write the samples of one dataset; too few rows -> no samples (and a reason)."""
    name = report["name"]
    frame = pd.read_parquet(layout.dataset_file(layout.clean, name))
    if len(frame) < settings.min_rows:
        return [{"dataset": name, "skipped": f"{len(frame)} rows < min_rows {settings.min_rows}"}]
    entries = []
    for sample_id, sample in bootstrap_samples(
        frame, name, rows=settings.rows, per_dataset=settings.per_dataset, replace=settings.replace, seed=seed
    ):
        path = layout.dataset_file(layout.samples, sample_id)
        write_parquet(sample, path)
        entries.append(
            {
                "sample_id": sample_id,
                "dataset": name,
                "source": report.get("source", ""),
                "kind": "bootstrap",
                "rows": len(sample),
                "hash": frame_hash(sample),
                "file": str(path.relative_to(layout.root.resolve())),
            }
        )
    return entries


def write_sample_index(entries: list[dict], layout: Layout) -> None:
    samples = sorted((e for e in entries if "sample_id" in e), key=lambda e: e["sample_id"])
    keep = {f"{e['sample_id']}.parquet" for e in samples}
    for path in layout.samples.glob("*.parquet"):
        if path.name not in keep:
            path.unlink()
    write_json(samples, layout.samples / "index.json")
    write_json([e for e in entries if "skipped" in e], layout.samples / "skipped.json")


def clean_reports(layout: Layout) -> list[dict]:
    return read_json(layout.clean / "reports.json")
