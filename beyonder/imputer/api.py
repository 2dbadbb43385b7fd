"""Filling missing cells with the trained imputer: ``beyonder.impute(df)``, the scikit-learn
transformer ``BeyonderImputer`` and the file side of ``beyonder impute PATH`` (reading, the
checks that make bad input one clear line, writing the same format atomically).

The core (network, views, training) is ``beyonder/imputer/imputation.py``. The model is the registered
``models:/beyonder-imputer@champion`` (``tracking.IMPUTER_NAME``), a model folder written by
the ``imputer`` stage (``data/imputer``), or a ``CellImputer`` already loaded.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from beyonder.errors import require_extra
from beyonder.imputer.imputation import MIN_OBSERVED, CellImputer, Table, table_from_frame

DEFAULT_MODEL = "models:/beyonder-imputer@champion"
ARTIFACT = "imputer"
"""The artifact folder of the logged MLflow model that holds ``imputer.keras``."""


class ImputeError(ValueError):
    """Input the imputer cannot fill; the message is one line naming the file or column."""


_CACHE: dict[str, CellImputer] = {}


def load_imputer(
    model: str | Path | CellImputer = DEFAULT_MODEL, root: str | Path = "."
) -> CellImputer:
    """A ``CellImputer`` from a folder, or a ``models:/`` URI resolved in the registry
    (``mlflow.db`` in ``root`` or ``$MLFLOW_TRACKING_URI``); loaded once per process."""
    if isinstance(model, CellImputer):
        return model
    require_extra("the imputer (its network runs in Keras)", ("tensorflow", "keras"))
    key = str(model)
    if key in _CACHE:
        return _CACHE[key]
    folder = Path(key)
    if not folder.is_dir():
        from beyonder.registry import registered_artifact
        from beyonder.tracking import tracking_uri

        found = (
            registered_artifact(key, tracking_uri(root), ARTIFACT)
            if key.startswith("models:/")
            else None
        )
        if found is None:
            raise ImputeError(
                f"model {key}: not found (train one with `beyonder imputer` or `dvc repro imputer`, "
                "or pass --model data/imputer)"
            )
        folder = found
    _CACHE[key] = CellImputer.load(folder)
    return _CACHE[key]


def check_table(frame: pd.DataFrame, what: str = "table") -> None:
    """One clear line for a table that cannot be imputed: fewer than two rows, or a column with
    fewer than ``MIN_OBSERVED`` values (nothing to learn its values from)."""
    if frame.shape[1] == 0:
        raise ImputeError(f"{what}: no feature columns")
    if len(frame) < 2:
        raise ImputeError(
            f"{what}: {len(frame)} row(s); imputing needs at least 2 rows to learn from"
        )
    counts = frame.notna().sum()
    empty = [str(c) for c in counts.index[counts < MIN_OBSERVED]]
    if empty:
        raise ImputeError(
            f"{what}: column {empty[0]!r} has fewer than {MIN_OBSERVED} values"
            + (f" (and {len(empty) - 1} more)" if len(empty) > 1 else "")
            + "; nothing to fill it from (drop it first)"
        )


def fill(frame: pd.DataFrame, imputer: CellImputer, seed: int | None = None,
         context: pd.DataFrame | None = None) -> pd.DataFrame:  # fmt: skip
    """``frame`` with its missing cells filled; every other cell unchanged (same values, same
    column order; a numeric column with missing cells keeps a float dtype, a categorical one
    its levels). ``context``: rows with the same columns every view may also read."""
    if not frame.isna().to_numpy().any():
        return frame.copy()
    table = table_from_frame(frame)
    ctx = table_from_frame(context[frame.columns]) if context is not None else None
    values, codes = imputer.predict(table, seed=seed, context=ctx)
    out = frame.copy()
    for j, column in enumerate(frame.columns):
        need = table.missing[:, j]
        if not need.any():
            continue
        series = out[column]
        if table.categorical[j]:
            filled = pd.Series(
                table_levels(table, ctx, j)[codes[need, j]], index=series.index[need]
            )
            out[column] = series.astype(object).where(~need, filled.reindex(series.index))
            if isinstance(
                frame[column].dtype, pd.CategoricalDtype | pd.StringDtype
            ) or pd.api.types.is_bool_dtype(frame[column].dtype):
                try:
                    out[column] = out[column].astype(frame[column].dtype)
                except (TypeError, ValueError):
                    pass
        else:
            column_values = series.to_numpy(dtype=np.float64, na_value=np.nan).copy()
            column_values[need] = values[need, j]
            out[column] = column_values
    return out


def table_levels(table: Table, context: Table | None, j: int) -> np.ndarray:
    """Level values of column ``j`` as ``CellImputer.predict`` numbers them (own levels first,
    then levels only the context has; see ``imputation.stack_tables``)."""
    own = list(table.levels[j])
    if context is not None:
        known = set(own)
        own += [v for v in context.levels[j] if v not in known]
    return np.asarray(own, dtype=object)


def impute(
    data: pd.DataFrame | str | Path,
    target: str | None = None,
    use_target: bool = False,
    model: str | Path | CellImputer = DEFAULT_MODEL,
    seed: int | None = None,
    name: str | None = None,
) -> pd.DataFrame:
    """Fill the missing cells of a table (a DataFrame or a CSV/ARFF/Parquet path).

    ``target``: the class column; it is never read to fill the features, and its own missing
    cells stay missing, unless ``use_target`` (then it is one more column). Returns a new
    DataFrame; ``.attrs["filled"]`` counts the filled cells. Raises ``ImputeError`` (one
    line, starting with ``name``, the path, or "table").
    """
    if isinstance(data, pd.DataFrame):
        frame = data
    else:
        frame, found = read_table(data, target)
        target = target or found
    what = name or ("table" if isinstance(data, pd.DataFrame) else str(data))
    if target is not None and target not in frame.columns:
        raise ImputeError(f"{what}: no target column {target!r}")
    features = frame if (target is None or use_target) else frame.drop(columns=[target])
    if not features.isna().to_numpy().any():
        out = frame.copy()
        out.attrs["filled"] = 0
        return out
    check_table(features, what)
    filled = fill(features, load_imputer(model), seed=seed)
    out = frame.copy()
    for column in features.columns:
        out[column] = filled[column]
    out.attrs["filled"] = int(features.isna().to_numpy().sum())
    return out


class BeyonderImputer(TransformerMixin, BaseEstimator):
    """scikit-learn transformer: ``fit`` keeps (up to ``context_rows`` random rows of) the
    training table as context, ``transform`` fills a table's missing cells reading its own rows
    and that context. DataFrame in, DataFrame out (same columns); a NumPy array in, a float
    array out (every column numeric). ``context_rows`` None: the model's own
    (``impute.context_rows``, the rows every chunk of a larger table sees).

    ``model``: a ``models:/`` URI, a model folder or a ``CellImputer``. The network is
    pre-trained on many tables: ``fit`` trains nothing, which is the point (a new table gets the
    prior of the whole corpus at once).
    """

    def __init__(self, model: Any = DEFAULT_MODEL, context_rows: int | None = None, seed: int = 0):
        self.model = model
        self.context_rows = context_rows
        self.seed = seed

    def fit(self, X: Any, y: Any = None) -> BeyonderImputer:
        frame = self._frame(X)
        check_table(frame, "X")
        self.imputer_ = load_imputer(self.model)
        rng = np.random.default_rng(self.seed)
        rows = self.imputer_.config.context_rows if self.context_rows is None else self.context_rows
        keep = rng.choice(len(frame), min(len(frame), rows), replace=False)
        self.context_ = frame.iloc[np.sort(keep)].reset_index(drop=True)
        self.feature_names_in_ = np.asarray([str(c) for c in frame.columns], dtype=object)
        self.n_features_in_ = frame.shape[1]
        return self

    def transform(self, X: Any) -> Any:
        if not hasattr(self, "imputer_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("BeyonderImputer is not fitted: call fit() first")
        frame = self._frame(X)
        if frame.shape[1] != self.n_features_in_:
            raise ImputeError(
                f"X has {frame.shape[1]} columns; the imputer was fitted on {self.n_features_in_}"
            )
        frame.columns = self.context_.columns
        filled = fill(
            frame.reset_index(drop=True), self.imputer_, seed=self.seed, context=self.context_
        )
        if isinstance(X, pd.DataFrame):
            filled.index, filled.columns = X.index, X.columns
            return filled
        return filled.to_numpy(dtype=np.float64)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return self.feature_names_in_.copy()

    @staticmethod
    def _frame(X: Any) -> pd.DataFrame:
        if isinstance(X, pd.DataFrame):
            return X.copy()
        array = np.asarray(X, dtype=np.float64)
        if array.ndim != 2:
            raise ImputeError(f"X must be 2-dimensional, got shape {array.shape}")
        return pd.DataFrame(array, columns=[f"x{i}" for i in range(array.shape[1])])


# ---------------------------------------------------------------------------------------------
# files


FORMATS = {".csv": "csv", ".arff": "arff", ".parquet": "parquet", ".pq": "parquet"}


def read_table(path: str | Path, target: str | None = None) -> tuple[pd.DataFrame, str | None]:
    """A CSV, ARFF or Parquet file read by the local source's readers; the target column is
    ``target`` if given, else the ARFF class attribute, else ``class`` if the file has one,
    else None (every column is a feature)."""
    from beyonder.data.datasets import LoadFailure
    from beyonder.data.sources.local import load_file

    path = Path(path)
    if not path.exists():
        raise ImputeError(f"{path}: no such file")
    if path.is_dir():
        raise ImputeError(f"{path}: is a folder, not a CSV, ARFF or Parquet file")
    if path.suffix.lower() not in FORMATS:
        raise ImputeError(
            f"{path}: not a CSV, ARFF or Parquet file (suffix {path.suffix or 'none'!r})"
        )
    loaded = load_file(path, target=target or "class", override=target)
    if (
        isinstance(loaded, LoadFailure)
        and target is None
        and loaded.reason.startswith("no target column")
    ):
        # no class column: read it again with its first column as a placeholder target
        first = _first_column(path)
        loaded = load_file(path, target=first, override=first) if first is not None else loaded
        if not isinstance(loaded, LoadFailure):
            return loaded.frame, None
    if isinstance(loaded, LoadFailure):
        raise ImputeError(f"{path}: {loaded.reason}")
    return loaded.frame, loaded.target


def _first_column(path: Path) -> str | None:
    from beyonder.data.sources.local import read_parquet_file, sniff_delimiter

    try:
        if FORMATS[path.suffix.lower()] == "parquet":
            return str(read_parquet_file(path).columns[0])
        text = path.read_text(errors="replace")[:65536]
        header = pd.read_csv(
            io.StringIO(text), sep=sniff_delimiter(text), nrows=0, skipinitialspace=True
        )
        return str(header.columns[0]).strip() if len(header.columns) else None
    except Exception:  # the reader's own message is the one to show
        return None


def write_table(frame: pd.DataFrame, path: str | Path, fmt: str, relation: str = "imputed") -> None:
    """Write ``frame`` as ``fmt`` (csv, arff, parquet), whole or not at all."""
    from beyonder.storage import write_parquet, write_text

    path = Path(path)
    if fmt == "parquet":
        write_parquet(frame, path)
    elif fmt == "csv":
        write_text(frame.to_csv(index=False, na_rep="?"), path)
    else:
        write_text(arff_text(frame, relation), path)


def arff_text(frame: pd.DataFrame, relation: str) -> str:
    """An ARFF file of ``frame``: numeric columns NUMERIC, the others nominal (missing: ?)."""
    import arff

    attributes, data = [], []
    columns = []
    for column in frame.columns:
        series = frame[column]
        if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(
            series.dtype
        ):
            attributes.append((str(column), "NUMERIC"))
            columns.append([None if pd.isna(v) else float(v) for v in series])
        else:
            values = [None if pd.isna(v) else str(v) for v in series]
            levels = sorted({v for v in values if v is not None})
            attributes.append((str(column), levels or ["?"]))
            columns.append(values)
    data = [list(row) for row in zip(*columns, strict=True)] if columns else []
    return arff.dumps({"relation": relation, "attributes": attributes, "data": data})


def default_output(path: Path) -> Path:
    """``table.csv`` -> ``table.imputed.csv`` (same folder, same format)."""
    return path.with_name(f"{path.stem}.imputed{path.suffix}")
