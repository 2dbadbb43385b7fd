"""Helpers shared by the sources: one-line failure reasons, text decoding, column tidying."""

from __future__ import annotations

import codecs
from collections.abc import Iterable

import numpy as np
import pandas as pd

from beyonder.errors import error_line, one_line
from beyonder.schema import unique_names


class SourceError(ValueError):
    """A file or record cannot be read; the message is the one-line ``LoadFailure.reason``."""


def describe_error(exc: BaseException) -> str:
    """The reason for an unexpected exception: its type plus its message, on one line."""
    return one_line(exc) if isinstance(exc, SourceError) else error_line(exc)


def decode_text(data: bytes) -> tuple[str, dict]:
    """Decode a text file's bytes; returns the text and notes for ``meta`` (empty when UTF-8).

    UTF-8 (with or without BOM) and BOM-marked UTF-16 are decoded as such. Other bytes are
    decoded as cp1252 (or latin-1 where cp1252 has holes), because old UCI/Excel exports are
    usually Western-European 8-bit text; the fallback is recorded in the notes so that it can
    be audited. Binary data (NUL bytes) and empty files raise ``SourceError``.
    """
    if not data:
        raise SourceError("empty file")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), {"encoding": "utf-16"}
        except UnicodeDecodeError as exc:
            raise SourceError(f"not UTF-16 despite its BOM: byte {exc.start}") from None
    try:
        text = data.decode("utf-8-sig")
        notes: dict = {}
    except UnicodeDecodeError as exc:
        nul = data.find(b"\x00")
        if nul >= 0:
            raise SourceError(f"not UTF-8 text: binary data (NUL byte at offset {nul})") from None
        bad = f"not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        try:
            text, encoding = data.decode("cp1252"), "cp1252"
        except UnicodeDecodeError:
            text, encoding = data.decode("latin-1"), "latin-1"
        notes = {"encoding": encoding, "note": f"{bad}; decoded as {encoding}"}
    if "\x00" in text:
        raise SourceError(f"not a text file: NUL character at offset {text.index(chr(0))}")
    if not text.strip():
        raise SourceError("empty file (only whitespace)")
    return text, notes


def tidy_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """String, unique column names; a fresh ``RangeIndex``; categoricals as ``str`` columns.

    Categorical dtypes are turned into plain string columns because the levels a source
    declares (and their order) mean nothing downstream and break Parquet round trips.
    """
    frame = frame.copy()
    if isinstance(frame.columns, pd.MultiIndex):
        frame.columns = [".".join(str(p) for p in parts) for parts in frame.columns]
    frame.columns = unique_names(frame.columns)
    for column in frame.columns:
        series = frame[column]
        if isinstance(series.dtype, pd.CategoricalDtype):
            frame[column] = as_str_column(series.astype(object).to_numpy())
    return frame.reset_index(drop=True)


def as_str_column(values: Iterable[object], missing: Iterable[str] = ()) -> pd.Series:
    """A ``str``-dtype column with ``NaN`` for missing, plus the given tokens read as missing."""
    array = values if isinstance(values, np.ndarray) else np.asarray(list(values), dtype=object)
    series = pd.Series(array, dtype=object)
    missing_mask = series.isna()
    tokens = list(missing)
    if tokens:
        missing_mask |= series.isin(tokens)
    return series.where(~missing_mask, np.nan).astype("str")


def resolve_column(frame: pd.DataFrame, wanted: str, what: str = "target column") -> str:
    """The column named ``wanted``; else a unique case/whitespace-insensitive match; else fail.

    The failure lists a few columns so a user can spot a typo or a wrong delimiter.
    """
    columns = [str(c) for c in frame.columns]
    if wanted in columns:
        return wanted
    folded = [c for c in columns if c.strip().casefold() == wanted.strip().casefold()]
    if len(folded) == 1:
        return folded[0]
    shown = ", ".join(columns[:8]) + (f", ... ({len(columns)} columns)" if len(columns) > 8 else "")
    raise SourceError(f"no {what} {wanted!r} (columns: {shown})")
