"""Build the corpus bundled with the repository: one compressed Parquet file per dataset.

``python -m beyonder.sources.bundle SOURCE_FOLDER OUT_FOLDER [--manifest M] [--override N=COL]``
reads every file of ``SOURCE_FOLDER`` with the local source (so the ARFF quirks, the
``% CLASSINDEX`` rule and per-dataset target overrides are decided once, here, by the same
code the pipeline uses), and writes ``OUT_FOLDER/<name>.parquet`` with the target as the last
column, named ``class``, plus ``OUT_FOLDER/manifest.json`` (name, rows, features, classes,
original file and target, family when the source's manifest gives one). Column types are
kept: a nominal attribute stays text even when its levels look like numbers, which a CSV
round trip would lose.

Reading the bundle back is the plain local source on Parquet files (``ingest.local``), so a
fresh clone has real data without the network and without a bespoke reader.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from beyonder.datasets import LoadFailure, RawDataset
from beyonder.sources.local import load_local
from beyonder.storage import write_json, write_parquet

TARGET_COLUMN = "class"
"""The target's name in every bundled file: the local source's default ``ingest.local.target``."""


def bundled_frame(dataset: RawDataset) -> pd.DataFrame:
    """The dataset's frame with its target last, renamed ``class``.

    A feature that is itself called ``class`` (the target being another column) would be
    ambiguous after the rename, so it becomes ``class_feature``.
    """
    frame = dataset.frame
    features = frame.drop(columns=[dataset.target])
    if TARGET_COLUMN in features.columns:
        features = features.rename(columns={TARGET_COLUMN: f"{TARGET_COLUMN}_feature"})
    out = features.copy()
    out[TARGET_COLUMN] = frame[dataset.target].to_numpy()
    return out.reset_index(drop=True)


def build_bundle(
    source: Path,
    out: Path,
    families: dict[str, str] | None = None,
    overrides: dict[str, str] | None = None,
) -> tuple[list[dict], list[dict]]:
    """Write the bundle of ``source`` into ``out``; returns (manifest entries, failures)."""
    out.mkdir(parents=True, exist_ok=True)
    entries, failures = [], []
    for item in load_local(source, TARGET_COLUMN, overrides or {}):
        if isinstance(item, LoadFailure):
            failures.append(vars(item))
            continue
        frame = bundled_frame(item)
        path = out / f"{item.name}.parquet"
        write_parquet(frame, path, compression="zstd")
        entry = {
            "name": item.name,
            "file": path.name,
            "rows": int(frame.shape[0]),
            "features": int(frame.shape[1] - 1),
            "classes": int(frame[TARGET_COLUMN].nunique(dropna=True)),
            "source_file": Path(item.origin).name,
            "source_target": str(item.target),
        }
        if families and item.name in families:
            entry["family"] = families[item.name]
        entries.append(entry)
    write_json(entries, out / "manifest.json")
    return entries, failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m beyonder.sources.bundle", description=__doc__)
    parser.add_argument("source", type=Path, help="folder of CSV/ARFF/Parquet files")
    parser.add_argument("out", type=Path, help="folder to write the bundle into")
    parser.add_argument("--manifest", type=Path, help="source manifest.json with a family per name")
    parser.add_argument(
        "--override", action="append", default=[], metavar="NAME=COLUMN",
        help="target column of one dataset (e.g. flags=religion)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    families = {}
    if args.manifest:
        families = {e["name"]: e["family"] for e in json.loads(args.manifest.read_text())}
    overrides = dict(o.split("=", 1) for o in args.override)
    entries, failures = build_bundle(args.source, args.out, families, overrides)
    for failure in failures:
        print(f"{failure['origin']}: {failure['reason']}", file=sys.stderr)
    print(f"{args.out}: {len(entries)} datasets written, {len(failures)} failed")
    return 0 if entries else 1


if __name__ == "__main__":
    sys.exit(main())
