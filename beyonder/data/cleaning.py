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
from dataclasses import dataclass
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

    Raises ``CleaningError`` (one-line message) when the dataset cannot be used: no target,
    fewer than two classes with at least ``n_folds`` rows, fewer than ``min_rows`` rows, or no
    feature left.
    """
    config = config or CleaningConfig()
    if not isinstance(frame, pd.DataFrame):
        raise CleaningError(f"expected a pandas DataFrame, got {type(frame).__name__}")
    target_positions = [i for i, c in enumerate(frame.columns) if c == TARGET]
    if not target_positions:
        raise CleaningError(f"no target column '{TARGET}'")
    if len(target_positions) > 1:
        raise CleaningError(f"{len(target_positions)} columns are named '{TARGET}'")

    rows_in = len(frame)
    target_codes, classes, target_report = _clean_target(
        frame.iloc[:, target_positions[0]], config.n_folds
    )
    keep_rows = np.flatnonzero(target_codes >= 0)
    rows_out = len(keep_rows)
    if rows_out < config.min_rows:
        raise CleaningError(
            f"only {rows_out} rows left after cleaning the target (need at least {config.min_rows})"
        )

    feature_positions = [i for i in range(frame.shape[1]) if i != target_positions[0]]
    original = [frame.columns[i] for i in feature_positions]
    names = unique_names(original, taken=RESERVED)
    renamed = [[str(o), n] for o, n in zip(original, names, strict=True) if str(o) != n]
    # Take rows only when some were dropped: on a wide frame the take is a full copy.
    sub = (
        frame.iloc[:, feature_positions]
        if rows_out == rows_in
        else frame.iloc[keep_rows, feature_positions]
    )
    sub.columns = range(len(names))  # positional labels: robust to duplicate/odd names

    dtypes = list(sub.dtypes)
    kinds = [_column_kind(dtype) for dtype in dtypes]
    dropped: dict[str, str] = {}
    capped: dict[str, int] = {}
    coerced: dict[str, int] = {}
    out: dict[int, pd.Series | np.ndarray] = {}
    missing_share: dict[int, float] = {}
    infinities = 0

    # Numeric-like columns: float values per column, then checked in 2-D blocks.
    numeric_values: dict[int, _Numeric] = {}
    text_levels: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    native_numeric = [j for j, k in enumerate(kinds) if k == "numeric"]
    for j, kind in enumerate(kinds):
        if kind == "unsupported":
            dropped[names[j]] = "unsupported_dtype"
        elif kind == "datetime":
            col = sub[j]
            if pd.api.types.is_timedelta64_dtype(col.dtype):
                seconds = col.dt.total_seconds()
            else:
                seconds = (col - pd.Timestamp(0, tz=getattr(col.dt, "tz", None))).dt.total_seconds()
            numeric_values[j] = _Numeric(seconds.to_numpy(np.float64, na_value=np.nan), False)
        elif kind in ("text", "category", "bool"):
            row_codes, levels = _labels_by_code(*_factorize(sub[j]))
            if kind == "text":
                parsed = _parse_text_numeric(row_codes, levels)
                if parsed is not None:
                    values, n_bad, whole = parsed
                    numeric_values[j] = _Numeric(values, whole)
                    if n_bad:
                        coerced[names[j]] = n_bad
                    continue
            text_levels[j] = (row_codes, levels)

    # Native numeric columns in blocks (one 2-D conversion per block, not per column).
    for start in range(0, len(native_numeric), _CHUNK_COLUMNS):
        cols = native_numeric[start : start + _CHUNK_COLUMNS]
        block = np.asfortranarray(sub[cols].to_numpy(dtype=np.float64, na_value=np.nan, copy=True))
        non_float = np.array([pd.api.types.is_integer_dtype(dtypes[j]) for j in cols], dtype=bool)
        infinities += _apply_numeric(
            block, non_float, cols, names, rows_in, config, dropped, out, missing_share
        )
    other_numeric = sorted(numeric_values)
    for start in range(0, len(other_numeric), _CHUNK_COLUMNS):
        cols = other_numeric[start : start + _CHUNK_COLUMNS]
        non_float = np.array([numeric_values[j].non_float for j in cols], dtype=bool)
        block = np.empty((rows_out, len(cols)), dtype=np.float64, order="F")
        for k, j in enumerate(cols):
            block[:, k] = numeric_values.pop(j).values
        infinities += _apply_numeric(
            block, non_float, cols, names, rows_in, config, dropped, out, missing_share
        )
    numeric_idx = set(out)

    # Categorical columns.
    for j, (row_codes, levels) in text_levels.items():
        name = names[j]
        n_missing = int((row_codes < 0).sum())
        share = n_missing / rows_out
        n_levels = len(levels)  # every level occurs: codes were built on the kept rows
        if n_missing == rows_out:
            dropped[name] = "all_missing"
        elif share > config.max_missing_share:
            dropped[name] = "mostly_missing"
        elif n_levels <= 1:
            dropped[name] = "constant"
        elif (
            kinds[j] != "bool" and n_levels / (rows_out - n_missing) >= config.id_like_unique_share
        ):
            dropped[name] = "id_like"
        else:
            if n_levels > config.max_categories:
                row_codes, levels = _cap_levels(row_codes, levels, config.max_categories)
                capped[name] = n_levels
            out[j] = _str_column(row_codes, levels)
            missing_share[j] = share
    categorical_idx = set(out) - numeric_idx

    # max_features: drop the most-missing first (ties: the later column goes first).
    kept = sorted(out)
    if config.max_features is not None and len(kept) > config.max_features:
        ranked = sorted(kept, key=lambda j: (missing_share[j], j))
        for j in ranked[config.max_features :]:
            dropped[names[j]] = "max_features"
            del out[j]
        kept = sorted(out)

    if not kept:
        reasons: dict[str, int] = {}
        for reason in dropped.values():
            reasons[reason] = reasons.get(reason, 0) + 1
        detail = ", ".join(f"{n} {r}" for r, n in sorted(reasons.items())) or "none given"
        raise CleaningError(f"no feature columns left after cleaning (dropped: {detail})")

    columns: dict[str, Any] = {names[j]: out[j] for j in kept}  # str Series or float arrays
    columns[TARGET] = _str_column(target_codes[keep_rows], classes)
    cleaned = pd.DataFrame(columns)

    class_counts = np.bincount(target_codes[keep_rows], minlength=len(classes))
    report = {
        "rows_in": rows_in,
        "rows_out": rows_out,
        "columns_in": len(names),
        "columns_out": len(kept),
        **target_report,
        "n_classes": len(classes),
        "class_counts": {
            str(c): int(n) for c, n in sorted(zip(classes, class_counts, strict=True))
        },
        "dropped_columns": {n: dropped[n] for n in names if n in dropped},
        "capped_categoricals": capped,
        "coerced_to_numeric": coerced,
        "infinities_replaced": int(infinities),
        "renamed_columns": renamed,
        "numeric_columns": [names[j] for j in kept if j in numeric_idx],
        "categorical_columns": [names[j] for j in kept if j in categorical_idx],
    }
    return cleaned, report


def _apply_numeric(
    block: np.ndarray,
    non_float: np.ndarray,
    cols: list[int],
    names: list[str],
    rows_in: int,
    config: CleaningConfig,
    dropped: dict[str, str],
    out: dict[int, Any],
    missing_share: dict[int, float],
) -> int:
    """Check one numeric block, record drops and kept columns; return the number of ``inf`` seen."""
    stats = _numeric_stats(block, non_float, rows_in, config.id_like_unique_share)
    for k, j in enumerate(cols):
        share = float(stats["missing_share"][k])
        name = names[j]
        if share >= 1.0:
            dropped[name] = "all_missing"
        elif share > config.max_missing_share:
            dropped[name] = "mostly_missing"
        elif stats["constant"][k]:
            dropped[name] = "constant"
        elif stats["id_like"][k]:
            dropped[name] = "id_like"
        else:
            out[j] = block[:, k]  # a contiguous view (F-order block); copied once at assembly
            missing_share[j] = share
    return int(stats["n_inf"].sum())
