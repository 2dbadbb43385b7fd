"""Ingest: every enabled source -> one Parquet per dataset (target renamed to ``TARGET``)
plus ``manifest.json`` (what was read) and ``failures.json`` (what could not be, and why)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from beyonder.config import Layout
from beyonder.data.datasets import LoadFailure, RawDataset, safe_name
from beyonder.errors import error_line
from beyonder.params import IngestParams
from beyonder.schema import RESERVED, TARGET, unique_names
from beyonder.storage import frame_hash, write_json, write_parquet

SOURCES = ("sklearn", "synthetic", "local", "openml")


def source_loader(source: str, settings: Any, seed: int) -> Callable[[], Iterator]:
    """A zero-argument callable that yields the source's ``RawDataset | LoadFailure``;
    ``settings`` is the source's section of ``ingest`` (``beyonder.params``)."""
    if source == "sklearn":
        from beyonder.data.sources.sklearn_sets import load_sklearn

        return lambda: load_sklearn(settings.names)
    if source == "synthetic":
        from beyonder.data.sources.synthetic import SyntheticSpec, load_synthetic

        spec = SyntheticSpec.from_ranges(settings.spec)
        return lambda: load_synthetic(settings.n_datasets, seed, spec)
    if source == "local":
        from beyonder.data.sources.local import load_local

        def local() -> Iterator:
            for folder in settings.folders:
                if not Path(folder).is_dir():
                    yield LoadFailure(safe_name(folder), "local", str(folder), "no such folder")
                    continue
                yield from load_local(folder, settings.target, settings.overrides)

        return local
    if source == "openml":
        from beyonder.data.sources.openml_source import load_openml

        return lambda: load_openml(
            dataset_ids=settings.dataset_ids or None,
            suite=settings.suite,
            cache_dir=settings.cache_dir,
            max_rows=settings.max_rows,
        )
    raise ValueError(f"unknown source {source!r} (known: {', '.join(SOURCES)})")


def enabled_sources(ingest: IngestParams) -> list[str]:
    return [s for s in SOURCES if getattr(ingest, s).enabled]


def storable(dataset: RawDataset) -> pd.DataFrame:
    """The frame as stored: string column names, unique, target last as ``TARGET``.

    Object columns holding mixed types become strings, since Parquet needs one type a column.
    """
    frame = dataset.frame
    if dataset.target not in frame.columns:
        raise ValueError(f"no target column {dataset.target!r}")
    target = frame[dataset.target]
    if isinstance(target, pd.DataFrame):
        raise ValueError(f"target column {dataset.target!r} appears more than once")
    features = frame.drop(columns=[dataset.target])
    features = features.set_axis(unique_names(features.columns, taken=RESERVED), axis=1)
    for column in features.columns:
        if features[column].dtype == object:
            features[column] = features[column].map(_as_text)
    out = features.copy()
    out[TARGET] = target.map(_as_text).astype("object").to_numpy()
    return out.reset_index(drop=True)


def _as_text(value: object) -> object:
    """A cell of an object column as text, missing kept; lists, dicts and arrays (nested
    Parquet/JSON values) are written as their text, since ``pd.isna`` of them is not a bool."""
    try:
        missing = bool(pd.isna(value))
    except (TypeError, ValueError):
        missing = False
    return value if missing else str(value)


def store_dataset(dataset: RawDataset, layout: Layout) -> dict[str, Any]:
    """Write one dataset; return its manifest entry."""
    frame = storable(dataset)
    if frame.empty or frame.shape[1] < 2:
        raise ValueError(f"no usable rows or columns (shape {frame.shape[0]} x {frame.shape[1]})")
    path = layout.dataset_file(layout.raw, dataset.name)
    write_parquet(frame, path)
    return {
        "name": dataset.name,
        "source": dataset.source,
        "origin": dataset.origin,
        "target": str(dataset.target),
        "rows": int(frame.shape[0]),
        "features": int(frame.shape[1] - 1),
        "classes": int(frame[TARGET].nunique(dropna=True)),
        "hash": frame_hash(frame),
        "file": path.name,
    }


def ingest_source(
    source: str,
    settings: Any,
    seed: int,
    layout: Layout,
    taken: Iterable[str] = (),
) -> tuple[list[dict], list[dict]]:
    """Read every dataset of one source; a bad dataset becomes a failure and the rest go on.

    ``taken``: names stored by earlier sources. A dataset whose (safe) name is taken, or was
    stored earlier by this source, is a failure and is *not* written: writing it would replace
    the earlier dataset's file while the manifest still describes the earlier one.
    """
    entries, failures = [], []
    used = set(taken)
    try:
        items = list(source_loader(source, settings, seed)())
    except Exception as exc:  # the source as a whole failed (e.g. no network for OpenML)
        return [], [{"name": source, "source": source, "origin": "", "reason": error_line(exc)}]
    for item in items:
        if isinstance(item, LoadFailure):
            failures.append(vars(item))
            continue
        origin = str(getattr(item, "origin", ""))
        try:
            if not isinstance(item, RawDataset):
                raise TypeError(f"source yielded a {type(item).__name__}, not a dataset")
            item.name = safe_name(item.name)
            if item.name in used:
                reason = f"duplicate dataset name {item.name!r} (an earlier dataset has it)"
                failures.append(
                    {"name": item.name, "source": source, "origin": origin, "reason": reason}
                )
                continue
            entries.append(store_dataset(item, layout))
            used.add(item.name)
        except Exception as exc:
            name = safe_name(getattr(item, "name", "") or "dataset")
            failures.append(
                {"name": name, "source": source, "origin": origin, "reason": error_line(exc)}
            )
    return entries, failures


def write_manifest(entries: list[dict], failures: list[dict], layout: Layout) -> None:
    """Drop duplicate names (first wins), remove stale Parquet files, write the manifest."""
    unique, seen = [], set()
    for entry in entries:
        if entry["name"] in seen:
            failures.append(
                {**entry, "reason": "duplicate dataset name (an earlier source has it)"}
            )
            continue
        seen.add(entry["name"])
        unique.append(entry)
    keep = {e["file"] for e in unique}
    for path in layout.raw.glob("*.parquet"):
        if path.name not in keep:
            path.unlink()
    write_json(sorted(unique, key=lambda e: e["name"]), layout.raw / "manifest.json")
    write_json(sorted(failures, key=lambda e: e["name"]), layout.raw / "failures.json")
