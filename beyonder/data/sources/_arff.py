"""ARFF parsing on top of ``liac-arff``, tolerant of the Weka-era quirks of real files.

``liac-arff`` rejects several things Weka writes or accepts: range specs (``integer [1,10]``),
``date`` attributes, tab-separated declarations, unquoted relation names with odd characters,
duplicate attribute names. We therefore parse the header ourselves and hand ``liac-arff`` a
normalised header (placeholder names ``a0, a1, ...``; ``NUMERIC``/``STRING``/nominal types) plus
the untouched data lines. Errors are mapped back to the line numbers of the original file.

Plain data sections (no quotes/braces/backslashes: most UCI files, and the big ones) are read
by pandas' C parser instead, several times faster, with the same checks; anything it is unsure
about is handed to ``liac-arff``, so values and error messages are liac-arff's.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

import arff
import numpy as np
import pandas as pd

from beyonder.errors import error_line, one_line
from beyonder.schema import unique_names
from beyonder.data.sources._common import SourceError, as_str_column

_CLASSINDEX = re.compile(r"^%\s*CLASSINDEX\s*:\s*(\S+)", re.IGNORECASE)
_NUMERIC = re.compile(r"^(numeric|real|integer)\b", re.IGNORECASE)
_UNQUOTED_NAME = re.compile(r"^([^\s{]+)\s*(.*)$")
_NON_TRIVIAL = re.compile(r"['\"{}\\]")
_NOMINAL_MISSING = ("?",)
"""Nominal/string values read as missing even when quoted: ``anneal`` writes ``'?'``."""


@dataclass
class ArffTable:
    """A parsed ARFF file: the frame (original attribute names, deduplicated) and header facts."""

    frame: pd.DataFrame
    relation: str
    kinds: dict[str, str]
    classindex: str | None = None
    notes: dict = field(default_factory=dict)


def _split_name(rest: str, lineno: int) -> tuple[str, str]:
    """Split ``<name> <type>`` where the name may be quoted (with backslash escapes)."""
    if rest[:1] in ("'", '"'):
        quote = rest[0]
        i, chars = 1, []
        while i < len(rest):
            ch = rest[i]
            if ch == "\\" and i + 1 < len(rest):
                chars.append(rest[i + 1])
                i += 2
                continue
            if ch == quote:
                return "".join(chars), rest[i + 1 :].strip()
            chars.append(ch)
            i += 1
        raise SourceError(f"malformed ARFF: line {lineno}: unterminated quoted attribute name")
    match = _UNQUOTED_NAME.match(rest)
    if not match:
        raise SourceError(f"malformed ARFF: line {lineno}: attribute without a name")
    return match.group(1), match.group(2).strip()


def _normalise_type(name: str, type_: str, lineno: int) -> tuple[str, str]:
    """(type for liac-arff, kind) for one declared attribute type."""
    lowered = type_.lower()
    if type_.startswith("{"):
        if not type_.rstrip().endswith("}"):
            raise SourceError(
                f"malformed ARFF: line {lineno}: unterminated nominal list for {name!r}"
            )
        return type_, "nominal"
    if _NUMERIC.match(type_):
        return "NUMERIC", "numeric"  # drops Weka range specs such as ``integer [1,10]``
    if lowered == "string":
        return "STRING", "string"
    if lowered.startswith("date"):
        return "STRING", "date"  # kept as text: the date format is not needed for ML
    if lowered.startswith("relational"):
        raise SourceError(
            f"unsupported ARFF: line {lineno}: relational attribute {name!r} (multi-instance)"
        )
    if not type_:
        raise SourceError(f"malformed ARFF: line {lineno}: attribute {name!r} has no type")
    raise SourceError(
        f"malformed ARFF: line {lineno}: unknown type {one_line(type_, 40)!r} for {name!r}"
    )


def _liac_detail(exc: Exception, raw_line: str) -> str:
    """A short description of a liac-arff data error, without liac's own line number."""
    if isinstance(exc, arff.BadDataFormat):
        return f"wrong number of values in row {one_line(raw_line, 80)!r}"
    if isinstance(exc, arff.BadNominalValue):
        found = re.search(r"Data value (.*) not found", getattr(exc, "message", "") or "")
        value = found.group(1) if found else "?"
        return f"value {one_line(value, 40)!r} is not declared by its nominal attribute"
    if isinstance(exc, arff.BadNumericalValue):
        return f"invalid numeric value in row {one_line(raw_line, 80)!r}"
    if isinstance(exc, arff.BadNominalFormatting | arff.BadStringValue):
        return f"badly quoted value in row {one_line(raw_line, 80)!r}"
    if isinstance(exc, arff.BadLayout):
        message = (getattr(exc, "message", "") or "").replace(arff.BadLayout.message, "")
        return f"cannot parse row ({one_line(message.replace('%%', '%'), 80) or 'layout'})"
    if isinstance(exc, arff.BadAttributeType):
        return "bad nominal declaration"
    return error_line(exc, 100)


def parse_arff(text: str, fast: bool = True) -> ArffTable:
    """Parse ARFF text into a frame: nominal/string/date -> ``str`` columns, numeric -> float.

    With ``fast``, data sections without quotes, braces or spaces are read by pandas' C parser
    and checked against the declared types; anything unusual (and every error) goes through
    ``liac-arff``, which stays the reference for both values and error messages.

    Raises ``SourceError`` with a one-line reason such as
    ``truncated ARFF: line 123: wrong number of values in row '5.1,3.5'``.
    """
    lines = text.splitlines()
    relation = ""
    classindex: str | None = None
    names: list[str] = []
    kinds: list[str] = []
    header: list[str] = []
    attribute_lines: list[int] = []
    relation_line = 1
    data_start: int | None = None
    for i, raw in enumerate(lines):
        line = raw.strip()
        lineno = i + 1
        if not line:
            continue
        if line.startswith("%"):
            match = _CLASSINDEX.match(line)
            if match and classindex is None:
                classindex = match.group(1).lower()
            continue
        keyword = line.split(None, 1)[0].upper()
        rest = line[len(keyword) :].strip()
        if keyword == "@RELATION":
            relation = rest.strip("'\"")
            relation_line = lineno
        elif keyword == "@ATTRIBUTE":
            if not rest:
                raise SourceError(f"malformed ARFF: line {lineno}: empty @attribute")
            name, type_ = _split_name(rest, lineno)
            liac_type, kind = _normalise_type(name, type_, lineno)
            header.append(f"@ATTRIBUTE a{len(names)} {liac_type}")
            attribute_lines.append(lineno)
            names.append(name)
            kinds.append(kind)
        elif keyword == "@DATA":
            data_start = i + 1
            break
        elif keyword == "@END":
            raise SourceError(f"unsupported ARFF: line {lineno}: relational attribute (@end)")
        else:
            raise SourceError(
                f"not an ARFF header: line {lineno}: unexpected {one_line(line, 60)!r}"
            )
    if not names:
        if data_start is None and relation == "":
            raise SourceError("not an ARFF file: no @relation/@attribute/@data header")
        raise SourceError("malformed ARFF: no @attribute declarations")
    if data_start is None:
        raise SourceError(
            f"truncated ARFF: no @data section after {len(names)} attributes "
            f"(file ends at line {len(lines)})"
        )

    fed = ["@RELATION r", *header, "@DATA"]
    fed_to_original = [relation_line, *attribute_lines, data_start]
    columns = unique_names(names)
    try:
        declared = arff.ArffDecoder().decode(fed, return_type=arff.DENSE)["attributes"]
    except Exception as exc:  # a nominal list liac-arff cannot parse
        fed_line = getattr(exc, "line", 0)
        original = fed_to_original[min(max(fed_line, 1), len(fed)) - 1]
        raise SourceError(f"malformed ARFF: line {original}: {_liac_detail(exc, '')}") from None
    frame = None
    if fast:
        frame = _fast_frame(lines[data_start:], columns, declared)
    if frame is None:
        frame = _liac_frame(text, lines, fed, data_start, columns, kinds)
    notes: dict = {}
    if columns != [n.strip() for n in names]:
        notes["renamed_duplicates"] = True
    return ArffTable(
        frame=frame,
        relation=relation,
        kinds=dict(zip(columns, kinds, strict=True)),
        classindex=classindex,
        notes=notes,
    )


def _liac_frame(
    text: str,
    lines: list[str],
    fed: list[str],
    data_start: int,
    columns: list[str],
    kinds: list[str],
) -> pd.DataFrame:
    """Decode the data lines with liac-arff; errors name the line of the original file."""
    decoder = arff.ArffDecoder()
    try:
        rows = decoder.decode(fed + lines[data_start:], return_type=arff.DENSE)["data"]
    except Exception as exc:  # liac raises ArffException, but also ValueError/IndexError
        fed_line = getattr(exc, "line", None)
        if not isinstance(fed_line, int) or fed_line < 0:
            fed_line = decoder._current_line
        original = data_start + (fed_line - len(fed))
        original = min(max(original, data_start + 1), len(lines))
        raw_line = lines[original - 1] if lines else ""
        truncated = original == len(lines) and not text.endswith(("\n", "\r"))
        prefix = "truncated ARFF" if truncated else "malformed ARFF"
        raise SourceError(f"{prefix}: line {original}: {_liac_detail(exc, raw_line)}") from None
    matrix = np.empty((len(rows), len(columns)), dtype=object)
    if rows:
        matrix[:] = rows
    data: dict[str, object] = {}
    for j, (column, kind) in enumerate(zip(columns, kinds, strict=True)):
        if kind == "numeric":
            data[column] = np.asarray(matrix[:, j], dtype=float)
        else:
            data[column] = as_str_column(matrix[:, j], missing=_NOMINAL_MISSING)
    return pd.DataFrame(data, columns=columns)


def _fast_frame(
    data_lines: list[str], columns: list[str], declared: list[tuple[str, object]]
) -> pd.DataFrame | None:
    """The data read by pandas' C parser, or ``None`` when liac-arff must decide.

    Only plain rows qualify (no quotes, braces or backslashes, no blanks inside a value: that
    is where liac-arff's tokeniser differs from CSV; blanks around values are dropped, as liac
    does); values are checked like liac-arff does: ``?``/empty are missing, numbers parse as
    Python floats, nominal values must be declared.
    """
    rows = [r for r in (line.strip() for line in data_lines) if r and not r.startswith("%")]
    if not rows:
        return None
    body = "\n".join(rows)
    if _NON_TRIVIAL.search(body):
        return None
    if not (pd.Series(rows).str.count(",") == len(columns) - 1).all():
        return None  # short or long rows (pandas would pad them): liac-arff reports them
    try:
        raw = pd.read_csv(
            io.StringIO(body),
            header=None,
            dtype=object,
            na_filter=False,
            engine="c",
            quoting=csv.QUOTE_NONE,
        )
    except Exception:  # ragged rows and the like: let liac-arff report them
        return None
    if raw.shape != (len(rows), len(columns)) or raw.isna().to_numpy().any():
        return None
    blanks = " " in body or "\t" in body
    data: dict[str, object] = {}
    for j, (column, (_, type_)) in enumerate(zip(columns, declared, strict=True)):
        series = raw.iloc[:, j]
        if blanks:
            series = series.str.strip()
            if series.str.contains(r"\s", regex=True).any():
                return None
        values = series.to_numpy(dtype=object)
        missing = (values == "?") | (values == "")
        if type_ == "NUMERIC":
            try:
                data[column] = np.where(missing, "nan", values).astype(np.float64)
            except ValueError:
                return None
            continue
        if isinstance(type_, list):
            known = pd.Series(values).isin(type_).to_numpy()
            if not (known | missing).all():
                return None
        values = np.where(missing, None, values)
        data[column] = as_str_column(values, missing=_NOMINAL_MISSING)
    return pd.DataFrame(data, columns=columns)
