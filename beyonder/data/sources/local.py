"""Datasets from a local folder of CSV, ARFF and Parquet files.

Every file becomes one ``RawDataset`` or one ``LoadFailure``: a bad file never stops the rest.

Decisions worth knowing:
- Text that is not UTF-8 is decoded as cp1252/latin-1 (old UCI and Excel exports are 8-bit
  Western-European text) and ``meta["encoding"]``/``meta["note"]`` say so; binary data (NUL
  bytes) is a ``LoadFailure``.
- CSV: the delimiter (``,``, ``;``, tab, ``|``) is sniffed from the head of the file; empty
  strings, ``?`` and pandas' usual NA tokens are missing. With ``;``/tab/``|`` delimiters, text
  columns that are all decimal-comma numbers (``1,5``) are read as numbers.
- ARFF: ``?`` (quoted or not) is missing; see ``beyonder.data.sources._arff`` for the Weka quirks.
- Parquet is read with pyarrow (no pickle anywhere); categoricals become ``str`` columns.
- CSV and ARFF files may be gzip-compressed (``name.csv.gz``, ``name.arff.gz``): the name is
  the file's without both suffixes, and a damaged archive is a ``LoadFailure``.
- Two files that give the same dataset name (``iris.csv`` and ``iris.arff``): the first in
  name order wins, the second is a ``LoadFailure`` (outputs are keyed by name).
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import zlib
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from beyonder.data.datasets import LoadFailure, RawDataset, safe_name
from beyonder.data.sources._arff import parse_arff
from beyonder.data.sources._common import (
    SourceError,
    decode_text,
    describe_error,
    resolve_column,
    tidy_frame,
)
from beyonder.errors import one_line
from beyonder.params import LocalSource
from beyonder.schema import unique_names

SOURCE = "local"
SUFFIXES = {".csv": "csv", ".arff": "arff", ".parquet": "parquet"}
GZIP_FORMATS = {"csv", "arff"}
"""Formats read from gzip-compressed files too (``.csv.gz``): text compresses well, and the
collections these files come from ship them so. Parquet compresses itself."""
DELIMITERS = ",;\t|"
_SNIFF_BYTES = 64 * 1024
_DECIMAL_COMMA = re.compile(r"^\s*[-+]?\d+(,\d+)?\s*$")
_ARFF_CLASSINDEX = {"first": 0, "second": 1, "last": -1, "no": -1}


def file_format(path: str | Path) -> tuple[str | None, str, bool]:
    """``(format, stem, gzipped)`` of a file name: ``iris.csv.gz`` is ``("csv", "iris", True)``.

    The format is ``None`` for a file the local source does not read (``notes.txt``,
    ``x.parquet.gz``); suffixes are compared case-insensitively.
    """
    name = Path(path).name
    gzipped = name.lower().endswith(".gz")
    base = Path(name[:-3] if gzipped else name)
    fmt = SUFFIXES.get(base.suffix.lower())
    if gzipped and fmt not in GZIP_FORMATS:
        fmt = None
    return fmt, base.stem, gzipped


def load_local(
    folder: str | Path,
    target: str = LocalSource.target,
    overrides: dict[str, str] | None = None,
) -> Iterator[RawDataset | LoadFailure]:
    """Yield every CSV, ARFF and Parquet file of ``folder`` (sorted, flat; CSV and ARFF also
    gzip-compressed, ``*.csv.gz``).

    The target is ``overrides[name]`` when given (``name`` is the file stem without its format
    and ``.gz`` suffixes, before or after ``safe_name``); else for ARFF the attribute named by a ``% CLASSINDEX:`` comment
    (``first``/``second``/``last``; ``no`` means last), else the last ARFF attribute; for CSV and
    Parquet the column ``target``. A folder that does not exist is a configuration error and
    raises ``FileNotFoundError`` instead of yielding failures.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"dataset folder not found: {folder}")
    overrides = dict(overrides or {})
    paths = sorted(
        (
            p
            for p in folder.iterdir()
            if file_format(p)[0] is not None and not p.name.startswith(".") and p.is_file()
        ),
        key=lambda p: p.name,
    )
    used: dict[str, str] = {}
    for path in paths:
        stem = file_format(path)[1]
        name = safe_name(stem)
        if name in used:
            yield LoadFailure(
                name=name,
                source=SOURCE,
                origin=str(path),
                reason=f"duplicate dataset name {name!r} (already used by {used[name]})",
            )
            continue
        used[name] = path.name
        wanted = overrides.get(name, overrides.get(stem))
        yield load_file(path, target=target, override=wanted, name=name)


def load_file(
    path: str | Path,
    target: str = LocalSource.target,
    override: str | None = None,
    name: str | None = None,
) -> RawDataset | LoadFailure:
    """Read one file; any problem becomes a ``LoadFailure`` with a one-line reason."""
    path = Path(path)
    fmt, stem, gzipped = file_format(path)
    name = safe_name(name or stem)
    try:
        if fmt is None:
            suffix = "".join(path.suffixes[-2:]) if gzipped else path.suffix
            raise SourceError(f"unsupported file type {suffix!r}")
        if fmt == "arff":
            frame, target_name, meta = _read_arff(path, override, gzipped)
        elif fmt == "csv":
            frame, target_name, meta = _read_csv(path, override or target, gzipped)
        else:
            frame, target_name, meta = _read_parquet(path, override or target)
        if len(frame) == 0:
            raise SourceError("no data rows" + (" (header only)" if fmt != "parquet" else ""))
    except Exception as exc:  # one bad file must never stop the others
        return LoadFailure(name=name, source=SOURCE, origin=str(path), reason=describe_error(exc))
    return RawDataset(
        name=name,
        source=SOURCE,
        frame=frame,
        target=target_name,
        origin=str(path),
        meta={
            "format": fmt,
            "path": str(path),
            **({"compression": "gzip"} if gzipped else {}),
            **meta,
        },
    )


def _read_bytes(path: Path, gzipped: bool = False) -> bytes:
    """The file's bytes, decompressed when ``gzipped``; a damaged archive is a ``SourceError``."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SourceError(f"cannot read file: {one_line(exc.strerror or exc)}") from None
    if not gzipped:
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError
        raise SourceError(f"not a readable gzip file: {one_line(exc, 200)}") from None


def _read_arff(
    path: Path, override: str | None, gzipped: bool = False
) -> tuple[pd.DataFrame, str, dict]:
    text, notes = decode_text(_read_bytes(path, gzipped))
    table = parse_arff(text)
    frame = table.frame
    meta: dict = {**notes, **table.notes, "relation": table.relation}
    if override:
        target = resolve_column(frame, override)
        meta["target_rule"] = "override"
    elif table.classindex is not None and table.classindex in _ARFF_CLASSINDEX:
        position = _ARFF_CLASSINDEX[table.classindex]
        if position >= len(frame.columns):
            raise SourceError(
                f"CLASSINDEX: {table.classindex} but only {len(frame.columns)} attribute(s)"
            )
        target = str(frame.columns[position])
        meta["target_rule"] = f"classindex:{table.classindex}"
    else:
        target = str(frame.columns[-1])
        meta["target_rule"] = "last attribute"
        if table.classindex is not None:
            meta["note_classindex"] = f"unrecognised CLASSINDEX {table.classindex!r}; used last"
    return frame, target, meta


def sniff_delimiter(head: str) -> str:
    """The CSV delimiter among ``, ; tab |``: csv.Sniffer, cross-checked on the header line.

    Sniffer fails on one-column files and can be fooled by decimal commas; the header line
    (first non-empty line) is the tie-breaker: the sniffed delimiter must occur in it.
    """
    lines = [line for line in head.splitlines() if line.strip()]
    header = lines[0] if lines else ""
    counts = {d: header.count(d) for d in DELIMITERS}
    try:
        sniffed = csv.Sniffer().sniff("\n".join(lines[:50]), delimiters=DELIMITERS).delimiter
    except csv.Error:
        sniffed = None
    if sniffed is not None and counts.get(sniffed, 0) > 0:
        return sniffed
    best = max(DELIMITERS, key=lambda d: (counts[d], d == ","))
    return best if counts[best] > 0 else ","


def _read_csv(path: Path, target: str, gzipped: bool = False) -> tuple[pd.DataFrame, str, dict]:
    text, notes = decode_text(_read_bytes(path, gzipped))
    head = text[:_SNIFF_BYTES]
    if len(text) > _SNIFF_BYTES and "\n" in head:
        head = head[: head.rindex("\n")]
    delimiter = sniff_delimiter(head)
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=delimiter,
            na_values=["?"],
            keep_default_na=True,
            skipinitialspace=True,
            low_memory=False,
        )
    except pd.errors.EmptyDataError:
        raise SourceError("empty file (no header)") from None
    except (pd.errors.ParserError, ValueError) as exc:
        raise SourceError(f"malformed CSV: {one_line(exc, 200)}") from None
    frame = tidy_frame(frame)
    meta: dict = {**notes, "delimiter": delimiter}
    if delimiter != ",":
        converted = _decimal_commas(frame)
        if converted:
            meta["decimal_comma_columns"] = converted
    column = resolve_column(frame, target)
    header = next(csv.reader(io.StringIO(text.lstrip("\r\n")), delimiter=delimiter), [])
    _unique_target(header, column)
    return frame, column, meta


def _unique_target(names: list[object], column: str) -> None:
    """Refuse a target column name that the file uses more than once: which one is the target
    is a guess, and the other (usually a copy) would leak the labels into the features."""
    count = sum(str(n).strip() == column for n in names)
    if count > 1:
        raise SourceError(f"target column {column!r} appears {count} times")


def _decimal_commas(frame: pd.DataFrame) -> list[str]:
    """Turn text columns that hold only decimal-comma numbers into floats (in place)."""
    converted = []
    for column in frame.columns:
        series = frame[column]
        if pd.api.types.is_numeric_dtype(series.dtype):
            continue
        values = series.dropna().astype(str)
        if values.empty or not values.str.contains(",", regex=False).any():
            continue
        if values.map(lambda v: bool(_DECIMAL_COMMA.match(v))).all():
            frame[column] = pd.to_numeric(
                series.astype(object).where(series.notna()).str.replace(",", ".", regex=False)
            ).astype(float)
            converted.append(str(column))
    return converted


def read_parquet_file(path: str | Path) -> pd.DataFrame:
    """Read a Parquet file with pyarrow (no pickle), tolerating duplicate column names.

    pandas' reader rejects duplicate names ("Multiple matches for FieldRef"); they are renamed
    ``x``, ``x.1``... on the Arrow table first (dropping pandas' metadata, which names them).
    pandas' metadata that pandas cannot apply (malformed, or written to trip the reader) is
    dropped too: the columns are then read as plain data.
    """
    path = Path(path)
    if path.stat().st_size == 0:
        raise SourceError("empty file")
    try:
        parquet = pq.ParquetFile(path)
        names = parquet.schema_arrow.names
        if len(set(names)) == len(names):
            try:
                frame = pd.read_parquet(path, engine="pyarrow")
            except Exception:  # e.g. broken pandas metadata; a broken file fails again below
                frame = parquet.read().replace_schema_metadata(None).to_pandas()
        else:
            table = parquet.read().rename_columns(unique_names(names))
            frame = table.replace_schema_metadata(None).to_pandas()
    except Exception as exc:  # pyarrow raises ArrowInvalid/OSError for truncated files
        raise SourceError(f"unreadable Parquet: {one_line(exc, 200)}") from None
    if any(level is not None for level in frame.index.names):
        frame = frame.reset_index()  # a named index is data (it may even be the target)
    return tidy_frame(frame)


def _read_parquet(path: Path, target: str) -> tuple[pd.DataFrame, str, dict]:
    frame = read_parquet_file(path)
    column = resolve_column(frame, target)
    _unique_target(pq.read_schema(path).names, column)
    return frame, column, {}
