"""Datasets from OpenML, by id or by benchmark suite, cached on disk.

Why we do not call ``OpenMLDataset.get_data()``: in openml 0.15 it caches the parsed data as a
pickle (``cache_format="pickle"``; even ``"feather"`` writes a pickled attribute file) and
unpickles it on the next run. A cache folder is shared state (DVC remotes, CI caches), and
unpickling it can execute code. We therefore let ``openml.datasets.get_dataset`` download the
raw files only, and read them ourselves: the Parquet file with pyarrow, or the ARFF file with
our own parser. Columns OpenML marks as row id or "ignore" are dropped, as ``get_data`` does.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import openml
import pandas as pd

from beyonder.data.datasets import LoadFailure, RawDataset, safe_name
from beyonder.errors import one_line
from beyonder.data.sources._arff import parse_arff
from beyonder.data.sources._common import (
    SourceError,
    decode_text,
    describe_error,
    resolve_column,
    tidy_frame,
)
from beyonder.data.sources.local import read_parquet_file
from beyonder.params import OpenMLSource

SOURCE = "openml"


def configure_openml(cache_dir: str | Path) -> None:
    """Point openml's cache at ``cache_dir`` and fail fast (one try) when offline."""
    Path(cache_dir).mkdir(parents=True, exist_ok=True)
    openml.config.set_root_cache_directory(str(Path(cache_dir).resolve()))
    openml.config.connection_n_retries = 1


def load_openml(
    dataset_ids: list[int] | None = None,
    suite: str | int | None = None,
    cache_dir: str | Path = OpenMLSource.cache_dir,
    max_rows: int | None = None,
) -> Iterator[RawDataset | LoadFailure]:
    """Yield the given OpenML datasets, then those of ``suite`` (ids deduplicated, in order).

    Each dataset is named ``openml.<id>.<name>``; its target is OpenML's default target
    attribute. Datasets with more than ``max_rows`` rows are subsampled to ``max_rows`` rows
    (uniformly, seeded by the dataset id, original row order kept). Every failure - network,
    server, missing target, unreadable file - is a ``LoadFailure`` naming the id.
    """
    if max_rows is not None and max_rows < 1:
        raise ValueError(f"max_rows must be positive, got {max_rows}")
    configure_openml(cache_dir)
    ids: list[int] = []
    for raw in dataset_ids or []:
        try:
            ids.append(int(raw))
        except (TypeError, ValueError):
            yield LoadFailure(
                name=safe_name(f"openml.{raw}"),
                source=SOURCE,
                origin=f"openml dataset {raw!r}",
                reason=f"not a dataset id: {one_line(repr(raw), 60)}",
            )
    if suite is not None:
        try:
            ids.extend(int(i) for i in (openml.study.get_suite(suite).data or []))
        except Exception as exc:  # network errors included
            yield LoadFailure(
                name=safe_name(f"openml.suite.{suite}"),
                source=SOURCE,
                origin=f"openml suite {suite}",
                reason=f"cannot fetch suite {suite!r}: {describe_error(exc)}",
            )
    for dataset_id in dict.fromkeys(ids):
        yield _load_one(dataset_id, max_rows)


def _load_one(dataset_id: int, max_rows: int | None) -> RawDataset | LoadFailure:
    name = safe_name(f"openml.{dataset_id}")
    origin = f"openml dataset {dataset_id}"
    try:
        dataset = openml.datasets.get_dataset(
            dataset_id,
            download_data=True,
            download_qualities=False,
            download_features_meta_data=False,
        )
        name = safe_name(f"openml.{dataset_id}.{getattr(dataset, 'name', '') or 'unnamed'}")
        frame, data_path = _read_data(dataset)
        frame = _drop_special(frame, dataset)
        target = _default_target(dataset, frame)
        if len(frame) == 0:
            raise SourceError("no data rows")
        meta: dict[str, Any] = {
            "format": "openml",
            "openml_id": dataset_id,
            "openml_name": str(getattr(dataset, "name", "")),
            "version": getattr(dataset, "version", None),
            "path": str(data_path),
        }
        if max_rows is not None and len(frame) > max_rows:
            rng = np.random.default_rng(dataset_id)
            keep = np.sort(rng.choice(len(frame), size=max_rows, replace=False))
            meta.update(rows_total=len(frame), subsampled_to=max_rows)
            frame = frame.iloc[keep].reset_index(drop=True)
    except Exception as exc:  # one dataset (or the network) failing must not stop the others
        return LoadFailure(
            name=name,
            source=SOURCE,
            origin=origin,
            reason=f"openml id {dataset_id}: {describe_error(exc)}",
        )
    return RawDataset(
        name=name, source=SOURCE, frame=frame, target=target, origin=origin, meta=meta
    )


def _read_data(dataset: Any) -> tuple[pd.DataFrame, Path]:
    """Read the downloaded Parquet (preferred) or ARFF file without any pickle."""
    parquet = getattr(dataset, "parquet_file", None)
    if parquet and Path(parquet).is_file():
        return read_parquet_file(parquet), Path(parquet)
    data_file = getattr(dataset, "data_file", None)
    if data_file and Path(data_file).is_file():
        text, _ = decode_text(Path(data_file).read_bytes())
        return tidy_frame(parse_arff(text).frame), Path(data_file)
    raise SourceError("no data file was downloaded (neither Parquet nor ARFF)")


def _names(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(v) for v in value]


def _drop_special(frame: pd.DataFrame, dataset: Any) -> pd.DataFrame:
    """Drop the row-id and 'ignore' attributes OpenML declares (they are not features)."""
    target = set(_names(getattr(dataset, "default_target_attribute", None)))
    drop = [
        c
        for c in _names(getattr(dataset, "row_id_attribute", None))
        + _names(getattr(dataset, "ignore_attribute", None))
        if c in frame.columns and c not in target
    ]
    return frame.drop(columns=drop) if drop else frame


def _default_target(dataset: Any, frame: pd.DataFrame) -> str:
    targets = _names(getattr(dataset, "default_target_attribute", None))
    if not targets:
        raise SourceError("no default target attribute")
    if len(targets) > 1:
        raise SourceError(f"several default targets ({', '.join(targets[:4])}); need one")
    return resolve_column(frame, targets[0])
