"""Turn a raw dataset into a frame every classifier of the portfolio can be cross-validated on.

Every dataset goes through the same deterministic rules, so that a label (CV accuracies) and the
meta-model's input describe the same table, and so that hostile sources (IDs, junk columns,
``inf``, numbers stored as text, classes too small for stratified CV) cannot break later stages.

Output contract: feature columns in their original order, then ``schema.TARGET`` last; numeric
features are ``float64`` with ``NaN`` for missing (never ``inf``); categorical features and the
target use pandas' ``str`` dtype with ``NaN`` for missing, so the frame round-trips through
Parquet unchanged. The index is a fresh ``RangeIndex``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from beyonder.params import CleaningConfig
from beyonder.schema import RESERVED, TARGET, unique_names

OTHER = "__other__"
"""Level that collects the rare levels of a capped high-cardinality categorical."""

MISSING_TOKENS = frozenset(
    {
        "",
        "?",
        "nan",
        "NaN",
        "NAN",
        "None",
        "null",
        "Null",
        "NULL",
        "NA",
        "N/A",
        "n/a",
    }
)
"""Strings (after stripping whitespace) read as missing, in the target and in text features.

UCI/ARFF exports use ``?``; CSV exports use the others. Without this a ``?`` would become a
class of its own or a categorical level that means "unknown". ``None`` is Python's text for a
missing object; the word ``none`` is not missing: it is a level of real data (no airbag, no
telephone, the class "no liver injury"), and reading it as missing drops whole classes.
"""

_CHUNK_COLUMNS = 256  # numeric columns handled per 2-D block: bounds memory on wide frames


class CleaningError(ValueError):
    """The dataset cannot be used; the message is one line that says why."""


# --------------------------------------------------------------------------- value normalising


def _label(value: Any) -> str | None:
    """One raw value as a label string, or ``None`` for missing.

    Integral numbers lose their ``.0`` (``1`` and ``1.0`` are both ``"1"``) so a target read as
    float in one source and as int in another gives the same classes.
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, bytes | bytearray):
        value = bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, str):
        text = value.strip()
        return None if text in MISSING_TOKENS else text
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        number = float(value)
        if not math.isfinite(number):
            return None
        if number.is_integer():
            return str(int(number))
        return repr(number)
    text = str(value).strip()
    return None if text in MISSING_TOKENS else text


def _factorize(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Codes (``-1`` = missing) and the unique raw values, robust to unhashable cells."""
    try:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
    except TypeError:  # lists/dicts in an object column: compare them by their text
        as_text = values.map(lambda v: None if _is_missing_scalar(v) else str(v))
        codes, uniques = pd.factorize(as_text, use_na_sentinel=True)
    return np.asarray(codes, dtype=np.int64), np.asarray(uniques, dtype=object)


def _is_missing_scalar(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _labels_by_code(codes: np.ndarray, uniques: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Normalise each unique raw value once, then re-code rows by the normalised label.

    Returns ``(row_codes, levels)``: ``levels`` are distinct label strings, ``row_codes`` index
    them with ``-1`` for missing. Working on uniques keeps the Python work per level, not per cell.
    """
    labels = [_label(v) for v in uniques]
    level_index: dict[str, int] = {}
    remap = np.empty(len(labels) + 1, dtype=np.int64)
    for i, lab in enumerate(labels):
        if lab is None:
            remap[i] = -1
        else:
            remap[i] = level_index.setdefault(lab, len(level_index))
    remap[-1] = -1  # code -1 (missing) maps to itself via the last slot
    levels = np.array(list(level_index), dtype=object)
    return remap[codes], levels


def _str_column(row_codes: np.ndarray, levels: np.ndarray) -> pd.Series:
    """Build a ``str`` column (``NaN`` for missing) from codes into ``levels``.

    Arrow takes the rows from the levels in C: three times faster than building the column
    from a NumPy array of Python strings, which matters for large tables at recommend time."""
    codes = pa.array(row_codes, type=pa.int64(), mask=row_codes < 0)
    column = pa.array(levels.tolist(), type=pa.large_string()).take(codes)
    return pd.Series(pd.array(column, dtype="str"))


# --------------------------------------------------------------------------- target


def _clean_target(raw: pd.Series, n_folds: int) -> tuple[np.ndarray, np.ndarray, dict]:
    """Label codes for every input row (``-1`` = row dropped), the kept levels, and a report."""
    row_codes, levels = _labels_by_code(*_factorize(raw))
    n_rows = len(row_codes)
    missing = row_codes < 0
    n_missing = int(missing.sum())
    if n_rows == 0:
        raise CleaningError("dataset has no rows")
    if n_missing == n_rows:
        raise CleaningError(f"target '{TARGET}' is missing in all {n_rows} rows")

    counts = np.bincount(row_codes[~missing], minlength=len(levels))
    rare = counts < n_folds
    dropped_classes = {str(levels[i]): int(counts[i]) for i in np.flatnonzero(rare)}
    n_kept_classes = int((~rare).sum())
    if n_kept_classes == 0:
        raise CleaningError(
            f"no class has at least {n_folds} rows ({len(levels)} classes, largest has "
            f"{int(counts.max())} rows)"
        )
    if n_kept_classes == 1:
        reason = (
            f"only one class left after dropping classes with fewer than {n_folds} rows"
            if dropped_classes
            else "target has only one class"
        )
        raise CleaningError(reason)

    # Renumber the kept classes; dropped classes become -1 like missing labels.
    remap = np.full(len(levels) + 1, -1, dtype=np.int64)
    kept = np.flatnonzero(~rare)
    remap[kept] = np.arange(len(kept))
    row_codes = remap[row_codes]
    report = {
        "dropped_missing_target": n_missing,
        "dropped_classes": dict(sorted(dropped_classes.items())),
        "dropped_rare_class_rows": int(counts[rare].sum()),
    }
    return row_codes, levels[kept], report


# --------------------------------------------------------------------------- features


def _column_kind(dtype: Any) -> str:
    """``numeric``, ``datetime``, ``bool``, ``category``, ``text`` (object/str) or ``unsupported``."""
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    if pd.api.types.is_complex_dtype(dtype):
        return "unsupported"
    if pd.api.types.is_numeric_dtype(dtype):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        return "datetime"
    if pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype):
        return "text"
    return "unsupported"


@dataclass
class _Numeric:
    values: np.ndarray  # float64, NaN for missing, no inf
    non_float: bool  # integer dtype, or text that parsed to whole numbers: eligible for ID rule


def _numeric_stats(
    block: np.ndarray, non_float: np.ndarray, rows_in: int, id_share: float
) -> dict[str, np.ndarray]:
    """Per-column missing share, constant flag and ID flag of a 2-D float block (in place: inf->NaN)."""
    n, k = block.shape
    inf = np.isinf(block)
    n_inf = inf.sum(axis=0)
    if n_inf.any():
        block[inf] = np.nan
    n_missing = np.isnan(block).sum(axis=0)
    n_present = n - n_missing
    if n == 0:
        lo = hi = np.full(k, np.nan)
    else:
        lo = np.fmin.reduce(block, axis=0)  # fmin/fmax skip NaN without copying the block
        hi = np.fmax.reduce(block, axis=0)
    constant = ~(hi > lo)  # also True for all-missing columns (NaN comparisons are False)

    id_like = np.zeros(k, dtype=bool)
    if n >= 2:
        # An index column: whole numbers, none missing, strictly increasing, within [0, rows_in]
        # (rows dropped upstream may leave holes in a 0..n-1 / 1..n counter). Cheap filters
        # on the ends first so the full diff only runs on real candidates.
        first, last = block[0], block[-1]
        cand = np.flatnonzero(
            (n_missing == 0) & (first >= 0) & (last <= rows_in) & (block[1] > first)
            & (first == np.floor(first))
        )  # fmt: skip
        if cand.size:
            sub = block[:, cand]
            whole = (sub == np.floor(sub)).all(axis=0)
            increasing = (np.diff(sub, axis=0) > 0).all(axis=0)
            id_like[cand] = whole & increasing
        # Nearly all distinct values in an integer column: a key, not a measurement. Whole
        # numbers can only be that distinct if their range is wide enough: skip the sort if not.
        wide = (hi - lo + 1) >= id_share * n_present
        cand = np.flatnonzero(non_float & ~id_like & (n_present > 0) & ~constant & wide)
        if cand.size:
            ordered = np.sort(block[:, cand], axis=0)  # NaN sort last
            changes = (np.diff(ordered, axis=0) != 0) & ~np.isnan(ordered[1:])
            distinct = changes.sum(axis=0) + 1
            id_like[cand] = distinct / n_present[cand] >= id_share
    return {
        "n_inf": n_inf,
        "missing_share": n_missing / n if n else np.ones(k),
        "constant": constant,
        "id_like": id_like,
    }


def _parse_text_numeric(
    row_codes: np.ndarray, levels: np.ndarray, threshold: float = 0.95
) -> tuple[np.ndarray, int, bool] | None:
    """Parse a text column as numbers if at least ``threshold`` of its present cells parse.

    Returns ``(values, n_unparseable, whole_numbers)`` or ``None`` if it stays categorical.
    Parsing works on the distinct levels, so the cost is per level, not per cell.
    """
    present = row_codes >= 0
    n_present = int(present.sum())
    if n_present == 0 or len(levels) == 0:
        return None
    parsed = pd.to_numeric(pd.Series(levels, dtype=object), errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan
    )
    ok_level = ~np.isnan(parsed)
    if not ok_level.any():
        return None
    counts = np.bincount(row_codes[present], minlength=len(levels))
    n_ok = int(counts[ok_level].sum())
    if n_ok / n_present < threshold:
        return None
    table = np.append(parsed, np.nan)
    values = table[row_codes]
    finite = parsed[ok_level & np.isfinite(parsed)]
    whole = bool(finite.size) and bool((finite == np.floor(finite)).all())
    return values, n_present - n_ok, whole


def _cap_levels(
    row_codes: np.ndarray, levels: np.ndarray, max_categories: int
) -> tuple[np.ndarray, np.ndarray]:
    """Keep the ``max_categories - 1`` most frequent levels (ties: smaller label first), rest -> other."""
    present = row_codes >= 0
    counts = np.bincount(row_codes[present], minlength=len(levels))
    order = np.lexsort((levels.astype(str), -counts))  # count desc, then label asc
    keep = order[: max(max_categories - 1, 0)]
    new_levels = np.append(levels[keep], OTHER).astype(object)
    remap = np.full(len(levels) + 1, len(keep), dtype=np.int64)  # default: __other__
    remap[keep] = np.arange(len(keep))
    remap[-1] = -1
    return remap[row_codes], new_levels


# --------------------------------------------------------------------------- main entry point


def clean_dataset(
    frame: pd.DataFrame, config: CleaningConfig | None = None
) -> tuple[pd.DataFrame, dict]:
    """Apply the cleaning rules; return the cleaned frame and a JSON-serialisable report.

    The steps, each one part of the report: the target (rows without one or in a rare class
    dropped), the feature names (renamed when duplicate or reserved), the columns read as
    numbers or levels (text that parses as numbers coerced), the numeric and the categorical
    columns checked (missing, constant, ID-like, infinities, capped levels), ``max_features``,
    and the frame assembled.

    Raises ``CleaningError`` (one-line message) when the dataset cannot be used: no target,
    fewer than two classes with at least ``n_folds`` rows, fewer than ``min_rows`` rows, or no
    feature left.
    """
    config = config or CleaningConfig()
    target_position = _target_position(frame)
    target = _target_step(frame.iloc[:, target_position], config)
    work = _feature_step(frame, target_position, target)
    numeric, text = _read_columns(work)
    _numeric_step(work, numeric, config)
    _categorical_step(work, text, config)
    _max_features_step(work, config)
    return _assemble(work, target)


@dataclass
class _Target:
    """The target step: row codes over the input rows (``-1``: row dropped), kept classes."""

    codes: np.ndarray
    classes: np.ndarray
    keep_rows: np.ndarray
    report: dict[str, Any]


@dataclass
class _Work:
    """The feature columns as the steps see them (by position ``j``) and what they decided."""

    sub: pd.DataFrame  # the kept rows of the feature columns, labelled 0..p-1
    names: list[str]
    renamed: list[list[str]]
    rows_in: int
    dropped: dict[str, str] = field(default_factory=dict)  # name -> reason
    capped: dict[str, int] = field(default_factory=dict)  # name -> levels before capping
    coerced: dict[str, int] = field(default_factory=dict)  # name -> cells that did not parse
    out: dict[int, Any] = field(default_factory=dict)  # kept columns: str Series or float arrays
    missing_share: dict[int, float] = field(default_factory=dict)
    numeric: set[int] = field(default_factory=set)  # kept numeric columns
    infinities: int = 0

    @property
    def rows_out(self) -> int:
        return len(self.sub)


def _target_position(frame: pd.DataFrame) -> int:
    """The one target column's position."""
    if not isinstance(frame, pd.DataFrame):
        raise CleaningError(f"expected a pandas DataFrame, got {type(frame).__name__}")
    positions = [i for i, c in enumerate(frame.columns) if c == TARGET]
    if not positions:
        raise CleaningError(f"no target column '{TARGET}'")
    if len(positions) > 1:
        raise CleaningError(f"{len(positions)} columns are named '{TARGET}'")
    return positions[0]


def _target_step(raw: pd.Series, config: CleaningConfig) -> _Target:
    """Report: ``dropped_missing_target``, ``dropped_classes``, ``dropped_rare_class_rows``;
    refuses a dataset with fewer than ``min_rows`` rows left."""
    codes, classes, report = _clean_target(raw, config.n_folds)
    keep_rows = np.flatnonzero(codes >= 0)
    if len(keep_rows) < config.min_rows:
        raise CleaningError(
            f"only {len(keep_rows)} rows left after cleaning the target (need at least {config.min_rows})"
        )
    return _Target(codes, classes, keep_rows, report)


def _feature_step(frame: pd.DataFrame, target_position: int, target: _Target) -> _Work:
    """Report: ``renamed_columns`` (duplicate, odd or reserved names made unique)."""
    feature_positions = [i for i in range(frame.shape[1]) if i != target_position]
    original = [frame.columns[i] for i in feature_positions]
    names = unique_names(original, taken=RESERVED)
    renamed = [[str(o), n] for o, n in zip(original, names, strict=True) if str(o) != n]
    # Take rows only when some were dropped: on a wide frame the take is a full copy.
    sub = (
        frame.iloc[:, feature_positions]
        if len(target.keep_rows) == len(frame)
        else frame.iloc[target.keep_rows, feature_positions]
    )
    sub.columns = range(len(names))  # positional labels: robust to duplicate/odd names
    return _Work(sub, names, renamed, len(frame))


def _read_columns(work: _Work) -> tuple[dict[int, _Numeric], dict[int, tuple[np.ndarray, np.ndarray]]]:
    """Each column as numbers (native, datetime, or text that parses) or as levels.

    Report: ``coerced_to_numeric`` (text cells that did not parse), unsupported dtypes dropped.
    Native numeric columns are left to ``_numeric_step`` (converted there in 2-D blocks)."""
    numeric: dict[int, _Numeric] = {}
    text: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for j, dtype in enumerate(work.sub.dtypes):
        kind = _column_kind(dtype)
        if kind == "unsupported":
            work.dropped[work.names[j]] = "unsupported_dtype"
        elif kind == "datetime":
            col = work.sub[j]
            if pd.api.types.is_timedelta64_dtype(col.dtype):
                seconds = col.dt.total_seconds()
            else:
                seconds = (col - pd.Timestamp(0, tz=getattr(col.dt, "tz", None))).dt.total_seconds()
            numeric[j] = _Numeric(seconds.to_numpy(np.float64, na_value=np.nan), False)
        elif kind in ("text", "category", "bool"):
            row_codes, levels = _labels_by_code(*_factorize(work.sub[j]))
            if kind == "text":
                parsed = _parse_text_numeric(row_codes, levels)
                if parsed is not None:
                    values, n_bad, whole = parsed
                    numeric[j] = _Numeric(values, whole)
                    if n_bad:
                        work.coerced[work.names[j]] = n_bad
                    continue
            text[j] = (row_codes, levels)
    return numeric, text


def _numeric_step(work: _Work, numeric: dict[int, _Numeric], config: CleaningConfig) -> None:
    """Report: ``infinities_replaced``; numeric columns dropped as all or mostly missing,
    constant or ID-like. Native numeric columns first, one 2-D conversion per block of
    columns (not per column), then the ones read from other dtypes."""
    dtypes = list(work.sub.dtypes)
    native = [j for j, dtype in enumerate(dtypes) if _column_kind(dtype) == "numeric"]
    for start in range(0, len(native), _CHUNK_COLUMNS):
        cols = native[start : start + _CHUNK_COLUMNS]
        block = np.asfortranarray(work.sub[cols].to_numpy(dtype=np.float64, na_value=np.nan, copy=True))
        non_float = np.array([pd.api.types.is_integer_dtype(dtypes[j]) for j in cols], dtype=bool)
        _apply_numeric(block, non_float, cols, work, config)
    other = sorted(numeric)
    for start in range(0, len(other), _CHUNK_COLUMNS):
        cols = other[start : start + _CHUNK_COLUMNS]
        non_float = np.array([numeric[j].non_float for j in cols], dtype=bool)
        block = np.empty((work.rows_out, len(cols)), dtype=np.float64, order="F")
        for k, j in enumerate(cols):
            block[:, k] = numeric.pop(j).values
        _apply_numeric(block, non_float, cols, work, config)
    work.numeric = set(work.out)


def _categorical_step(work: _Work, text: dict[int, tuple[np.ndarray, np.ndarray]], config: CleaningConfig) -> None:
    """Report: ``capped_categoricals`` (levels beyond ``max_categories`` -> ``OTHER``);
    categorical columns dropped as all or mostly missing, constant or ID-like."""
    rows_out = work.rows_out
    for j, (row_codes, levels) in text.items():
        name = work.names[j]
        n_missing = int((row_codes < 0).sum())
        share = n_missing / rows_out
        n_levels = len(levels)  # every level occurs: codes were built on the kept rows
        is_bool = _column_kind(work.sub.dtypes.iloc[j]) == "bool"
        if n_missing == rows_out:
            work.dropped[name] = "all_missing"
        elif share > config.max_missing_share:
            work.dropped[name] = "mostly_missing"
        elif n_levels <= 1:
            work.dropped[name] = "constant"
        elif not is_bool and n_levels / (rows_out - n_missing) >= config.id_like_unique_share:
            work.dropped[name] = "id_like"
        else:
            if n_levels > config.max_categories:
                row_codes, levels = _cap_levels(row_codes, levels, config.max_categories)
                work.capped[name] = n_levels
            work.out[j] = _str_column(row_codes, levels)
            work.missing_share[j] = share


def _max_features_step(work: _Work, config: CleaningConfig) -> None:
    """Beyond ``max_features`` kept columns, drop the most-missing first (ties: the later
    column goes first); refuses a dataset with no feature left."""
    kept = sorted(work.out)
    if config.max_features is not None and len(kept) > config.max_features:
        ranked = sorted(kept, key=lambda j: (work.missing_share[j], j))
        for j in ranked[config.max_features :]:
            work.dropped[work.names[j]] = "max_features"
            del work.out[j]
    if not work.out:
        reasons: dict[str, int] = {}
        for reason in work.dropped.values():
            reasons[reason] = reasons.get(reason, 0) + 1
        detail = ", ".join(f"{n} {r}" for r, n in sorted(reasons.items())) or "none given"
        raise CleaningError(f"no feature columns left after cleaning (dropped: {detail})")


def _assemble(work: _Work, target: _Target) -> tuple[pd.DataFrame, dict]:
    """The cleaned frame (kept features in their order, the target last) and the report."""
    names, kept = work.names, sorted(work.out)
    columns: dict[str, Any] = {names[j]: work.out[j] for j in kept}  # str Series or float arrays
    target_codes = target.codes[target.keep_rows]
    columns[TARGET] = _str_column(target_codes, target.classes)
    cleaned = pd.DataFrame(columns)
    class_counts = np.bincount(target_codes, minlength=len(target.classes))
    report = {
        "rows_in": work.rows_in,
        "rows_out": work.rows_out,
        "columns_in": len(names),
        "columns_out": len(kept),
        **target.report,
        "n_classes": len(target.classes),
        "class_counts": {str(c): int(n) for c, n in sorted(zip(target.classes, class_counts, strict=True))},
        "dropped_columns": {n: work.dropped[n] for n in names if n in work.dropped},
        "capped_categoricals": work.capped,
        "coerced_to_numeric": work.coerced,
        "infinities_replaced": int(work.infinities),
        "renamed_columns": work.renamed,
        "numeric_columns": [names[j] for j in kept if j in work.numeric],
        "categorical_columns": [names[j] for j in kept if j not in work.numeric],
    }
    return cleaned, report


def _apply_numeric(
    block: np.ndarray, non_float: np.ndarray, cols: list[int], work: _Work, config: CleaningConfig
) -> None:
    """Check one numeric block: record drops, kept columns and the ``inf`` seen."""
    stats = _numeric_stats(block, non_float, work.rows_in, config.id_like_unique_share)
    for k, j in enumerate(cols):
        share = float(stats["missing_share"][k])
        name = work.names[j]
        if share >= 1.0:
            work.dropped[name] = "all_missing"
        elif share > config.max_missing_share:
            work.dropped[name] = "mostly_missing"
        elif stats["constant"][k]:
            work.dropped[name] = "constant"
        elif stats["id_like"][k]:
            work.dropped[name] = "id_like"
        else:
            work.out[j] = block[:, k]  # a contiguous view (F-order block); copied once at assembly
            work.missing_share[j] = share
    work.infinities += int(stats["n_inf"].sum())
