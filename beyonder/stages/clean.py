"""Clean: each raw dataset -> a cleaned Parquet plus a report (with ``caps``: what a size cap
left out, which the flow logs as warnings); a dataset that cannot be cleaned is quarantined
with its reason and the others go on."""

from __future__ import annotations

import pandas as pd

from beyonder.config import Layout
from beyonder.data.cleaning import CleaningConfig, CleaningError, clean_dataset
from beyonder.data.limits import cap_messages
from beyonder.data.sources._common import describe_error
from beyonder.errors import one_line
from beyonder.schema import TARGET
from beyonder.storage import read_json, write_json, write_parquet


def clean_one(entry: dict, layout: Layout, config: CleaningConfig) -> dict:
    """Clean one dataset; returns ``{"name", "status": "ok"|"quarantined", ...}``.

    A quarantined dataset's record names its source and file (``origin``) and gives the
    reason on one line, with the dataset's own target column name rather than ``TARGET``.
    """
    name = entry["name"]
    try:
        frame = pd.read_parquet(layout.dataset_file(layout.raw, name))
        cleaned, report = clean_dataset(frame, config)
    except Exception as exc:  # unusable data, an unreadable file or a bug: never stop the others
        reason = str(exc) if isinstance(exc, CleaningError) else describe_error(exc)
        target = entry.get("target")
        if target:
            reason = reason.replace(f"'{TARGET}'", repr(str(target)))
        return {
            "name": name,
            "status": "quarantined",
            "source": entry.get("source", ""),
            "origin": entry.get("origin", ""),
            "reason": one_line(reason),
        }
    write_parquet(cleaned, layout.dataset_file(layout.clean, name))
    # the caps that applied (columns over max_features, levels over max_categories), one line each
    return {
        "name": name,
        "status": "ok",
        "source": entry["source"],
        **report,
        "caps": cap_messages(report, config),
    }


def write_clean_index(results: list[dict], layout: Layout) -> None:
    """``reports.json`` (one per cleaned dataset) and ``quarantine.json``; stale files go."""
    ok = sorted((r for r in results if r["status"] == "ok"), key=lambda r: r["name"])
    quarantined = sorted((r for r in results if r["status"] != "ok"), key=lambda r: r["name"])
    keep = {f"{r['name']}.parquet" for r in ok}
    for path in layout.clean.glob("*.parquet"):
        if path.name not in keep:
            path.unlink()
    write_json(ok, layout.clean / "reports.json")
    write_json(quarantined, layout.clean / "quarantine.json")


def raw_manifest(layout: Layout) -> list[dict]:
    return read_json(layout.raw / "manifest.json")
