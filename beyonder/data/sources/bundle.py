"""Build the corpus bundled with the repository: one compressed Parquet file per dataset.

``python -m beyonder.data.sources.bundle SOURCE_FOLDER OUT_FOLDER [--manifest M] [--override N=COL]
[--only-synthetic | --exclude-synthetic]`` reads every file of ``SOURCE_FOLDER`` with the local
source (so the ARFF quirks, the ``% CLASSINDEX`` rule, gzip-compressed CSV and per-dataset
target overrides are decided once, here, by the same code the pipeline uses), and writes
``OUT_FOLDER/<name>.parquet`` with the target as the last column, named ``class``, plus
``OUT_FOLDER/manifest.json`` (name, rows, features, classes, original file and target, and
what the source's manifest says of the dataset: family, synthetic, source, licence, notes).

Column types are kept: a nominal attribute stays text even when its levels look like numbers,
which a CSV round trip would lose. For CSV sources, whose types are lost already, the source
manifest says which columns are nominal (``categorical``, and ``categorical_integer_coded``
for collections that store categories as integer codes); those become text here too. The
target is always text: it is a label, whatever the file's type guess made of it.

A source manifest that marks datasets ``synthetic`` lets one source folder be split into two
bundles (``--exclude-synthetic``, ``--only-synthetic``), so that generated tasks sit in a
folder of their own and reports can keep them apart.

Reading the bundle back is the plain local source on Parquet files (``ingest.local``), so a
fresh clone has real data without the network and without a bespoke reader.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from beyonder.data.datasets import LoadFailure, RawDataset
from beyonder.data.sources._common import as_str_column
from beyonder.data.sources.local import load_local
from beyonder.storage import write_json, write_parquet

TARGET_COLUMN = "class"
"""The target's name in every bundled file: the local source's default ``ingest.local.target``."""

CARRIED = (
    "family",
    "synthetic",
    "source_repo",
    "source_path",
    "licence",
    "notes",
    "target_original",
    "categorical_integer_coded",
)
"""Fields of a source manifest entry copied into the bundled entry: where the data come from,
under which terms, and what the collection did to them, stay next to the file."""

NOMINAL_FIELDS = ("categorical", "categorical_integer_coded")
"""Fields of a source manifest entry that list nominal columns (written as text)."""


def as_text(series: pd.Series) -> pd.Series:
    """A column as text (``str`` dtype, ``NaN`` for missing), numbers without a spurious ``.0``.

    Integer codes read back as floats (a column with a missing cell) must give the same level
    as the integers: ``1.0`` becomes ``"1"``. Text columns are returned unchanged.
    """
    if isinstance(series.dtype, pd.StringDtype):
        return series
    return as_str_column(np.array([_text(v) for v in series], dtype=object))


def _text(value: object) -> str | None:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        number = float(value)
        if math.isnan(number):
            return None
        return str(int(number)) if number.is_integer() else repr(number)
    return str(value)


def bundled_frame(dataset: RawDataset, nominal: Iterable[str] = ()) -> pd.DataFrame:
    """The dataset's frame with its target last, as text, renamed ``class``.

    ``nominal`` columns are written as text (see ``as_text``); one the frame does not have is
    an error, since the source manifest then describes another file. A feature that is itself
    called ``class`` (the target being another column) would be ambiguous after the rename, so
    it becomes ``class_feature``.
    """
    frame = dataset.frame
    features = frame.drop(columns=[dataset.target])
    nominal = [str(c) for c in nominal if str(c) != str(dataset.target)]
    absent = [c for c in nominal if c not in features.columns]
    if absent:
        raise ValueError(f"nominal column(s) not in the file: {', '.join(absent[:5])}")
    out = features.copy()
    for column in dict.fromkeys(nominal):
        out[column] = as_text(out[column])
    if TARGET_COLUMN in out.columns:
        out = out.rename(columns={TARGET_COLUMN: f"{TARGET_COLUMN}_feature"})
    out[TARGET_COLUMN] = as_text(frame[dataset.target].reset_index(drop=True)).to_numpy()
    return out.reset_index(drop=True)


def nominal_columns(info: dict | None) -> list[str]:
    """The columns a source manifest entry calls nominal."""
    if not info:
        return []
    return [str(c) for field in NOMINAL_FIELDS for c in info.get(field) or []]


def read_manifest(path: str | Path) -> list[dict]:
    """A source manifest: a JSON list of entries with at least a ``name`` (or a ``file``)."""
    entries = json.loads(Path(path).read_text())
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ValueError(f"{path}: a manifest is a JSON list of objects")
    return entries


class ManifestIndex:
    """Finds a dataset's source manifest entry: by its file name when the manifest gives
    ``file`` (names there may differ from the file stems), else by the dataset's name."""

    def __init__(self, entries: Iterable[dict]) -> None:
        self.by_file: dict[str, dict] = {}
        self.by_name: dict[str, dict] = {}
        for entry in entries:
            if entry.get("file"):
                self.by_file[str(entry["file"])] = entry
            elif entry.get("name"):
                self.by_name[str(entry["name"])] = entry

    def find(self, name: str, origin: str) -> dict | None:
        return self.by_file.get(Path(origin).name) or self.by_name.get(name)


def build_bundle(
    source: Path,
    out: Path,
    manifest: Iterable[dict] | None = None,
    overrides: dict[str, str] | None = None,
    synthetic: bool | None = None,
) -> tuple[list[dict], list[dict]]:
    """Write the bundle of ``source`` into ``out``; returns (manifest entries, failures).

    ``manifest``: the source's manifest entries (family, nominal columns, provenance).
    ``synthetic``: ``True`` bundles only the entries marked synthetic, ``False`` only the
    others, ``None`` all; with a choice, a file the manifest does not list is a failure, as
    there is no telling which side it belongs to. Parquet files of ``out`` that this build did
    not write are removed, so the folder and its manifest describe the same datasets.
    """
    out.mkdir(parents=True, exist_ok=True)
    index = ManifestIndex(manifest or [])
    entries, failures, written = [], [], set()
    for item in load_local(source, TARGET_COLUMN, overrides or {}):
        info = index.find(item.name, item.origin)
        if synthetic is not None:
            if info is None:
                failures.append(
                    _failure(
                        item, "not in the source manifest: cannot tell whether it is synthetic"
                    )
                )
                continue
            if bool(info.get("synthetic", False)) != synthetic:
                continue
        if isinstance(item, LoadFailure):
            failures.append(vars(item))
            continue
        try:
            frame = bundled_frame(item, nominal_columns(info))
        except ValueError as exc:
            failures.append(_failure(item, str(exc)))
            continue
        path = out / f"{item.name}.parquet"
        write_parquet(frame, path, compression="zstd")
        written.add(path.name)
        entry = {
            "name": item.name,
            "file": path.name,
            "rows": int(frame.shape[0]),
            "features": int(frame.shape[1] - 1),
            "classes": int(frame[TARGET_COLUMN].nunique(dropna=True)),
            "source_file": Path(item.origin).name,
            "source_target": str(item.target),
        }
        entry.update({k: info[k] for k in CARRIED if info and info.get(k) is not None})
        entries.append(entry)
    for stale in out.glob("*.parquet"):
        if stale.name not in written:
            stale.unlink()
    write_json(entries, out / "manifest.json")
    return entries, failures


def _failure(item: RawDataset | LoadFailure, reason: str) -> dict:
    return {"name": item.name, "source": item.source, "origin": item.origin, "reason": reason}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m beyonder.data.sources.bundle",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "source", type=Path, help="folder of CSV/ARFF/Parquet files (CSV may be .csv.gz)"
    )
    parser.add_argument("out", type=Path, help="folder to write the bundle into")
    parser.add_argument(
        "--manifest", type=Path,
        help="source manifest.json: family, nominal columns, synthetic flag and provenance per dataset",
    )  # fmt: skip
    parser.add_argument(
        "--override", action="append", default=[], metavar="NAME=COLUMN",
        help="target column of one dataset (e.g. flags=religion)",
    )  # fmt: skip
    choice = parser.add_mutually_exclusive_group()
    choice.add_argument(
        "--only-synthetic", action="store_const", const=True, dest="synthetic",
        help="bundle only the datasets the manifest marks synthetic",
    )  # fmt: skip
    choice.add_argument(
        "--exclude-synthetic", action="store_const", const=False, dest="synthetic",
        help="bundle only the datasets the manifest does not mark synthetic",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.synthetic is not None and not args.manifest:
        parser.error("--only-synthetic/--exclude-synthetic need --manifest")
    manifest = read_manifest(args.manifest) if args.manifest else None
    overrides = dict(o.split("=", 1) for o in args.override)
    entries, failures = build_bundle(args.source, args.out, manifest, overrides, args.synthetic)
    for failure in failures:
        print(f"{failure['origin']}: {failure['reason']}", file=sys.stderr)
    print(f"{args.out}: {len(entries)} datasets written, {len(failures)} failed")
    return 0 if entries else 1


if __name__ == "__main__":
    sys.exit(main())
