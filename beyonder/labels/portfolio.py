"""The classifier portfolio: one self-contained sklearn Pipeline per name.

Each pipeline owns its preprocessing (imputation, scaling, encoding), so a classifier can be
fitted on any cleaned sample (float64 numeric columns + string categorical columns with NaN)
and cross-validated without leaking statistics of the test fold into the fit.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    ExtraTreesClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier

from beyonder import schema

MISSING_LEVEL = "__missing__"
"""Level that replaces a missing categorical cell before one-hot encoding."""

ONEHOT_MAX_CATEGORIES = 20
"""At most this many one-hot columns per categorical feature (rarer levels are pooled), so
a high-cardinality column cannot blow up the width of the design matrix."""

ONEHOT_MIN_FREQUENCY = 2
"""Levels seen fewer times than this in the training fold are pooled as 'infrequent'."""

ORDINAL_MAX_CATEGORIES = 64
"""Cardinality bound for hist_gb's native categorical handling (must stay <= its max_bins)."""


def _estimator(name: str, seed: int) -> BaseEstimator:
    factories: dict[str, Callable[[], BaseEstimator]] = {
        "logreg": lambda: LogisticRegression(max_iter=1000, random_state=seed),
        "gaussian_nb": lambda: GaussianNB(),
        "knn": lambda: KNeighborsClassifier(n_neighbors=5, n_jobs=1),
        "decision_tree": lambda: DecisionTreeClassifier(random_state=seed),
        "random_forest": lambda: RandomForestClassifier(
            n_estimators=100, n_jobs=1, random_state=seed
        ),
        "extra_trees": lambda: ExtraTreesClassifier(n_estimators=100, n_jobs=1, random_state=seed),
        "hist_gb": lambda: HistGradientBoostingClassifier(max_iter=100, random_state=seed),
        "svm_linear": lambda: SVC(kernel="linear", C=1.0, random_state=seed),
        "svm_rbf": lambda: SVC(kernel="rbf", C=1.0, gamma="scale", random_state=seed),
        "svm_poly": lambda: SVC(kernel="poly", degree=3, C=1.0, gamma="scale", random_state=seed),
    }
    return factories[name]()


_SCALED = frozenset({"logreg", "gaussian_nb", "knn", "svm_linear", "svm_rbf", "svm_poly"})
"""Models whose numeric inputs are standardised (distance/margin/variance based)."""

PORTFOLIO_NAMES: tuple[str, ...] = tuple(schema.PORTFOLIO)
"""Names that build_classifier accepts, in the portfolio's canonical order."""


def _check_name(name: str) -> None:
    if name not in PORTFOLIO_NAMES:
        raise ValueError(f"unknown classifier {name!r}; valid names: {', '.join(PORTFOLIO_NAMES)}")


TUNABLE: tuple[str, ...] = ("logreg", "svm_linear", "svm_rbf", "svm_poly")
"""Portfolio members with a regularisation strength ``C`` (their estimator's ``C``) that the
``regularisation`` labels can vary."""

_AT_C = "@C="


def at_C(name: str, C: float) -> str:
    """The name of portfolio member ``name`` refitted with ``C`` (e.g. ``svm_rbf@C=0.01``): a
    classifier that ``build_classifier``, ``classifier_config`` and the label engine accept like
    any other, so the C-grid labels use the portfolio's cache, folds and budgets unchanged."""
    _check_name(name)
    if name not in TUNABLE:
        raise ValueError(f"classifier {name!r} has no C to vary; tunable: {', '.join(TUNABLE)}")
    if not (isinstance(C, int | float) and math.isfinite(C) and C > 0):
        raise ValueError(f"C must be a positive finite number, got {C!r}")
    return f"{name}{_AT_C}{float(C):.12g}"


def split_name(name: str) -> tuple[str, float | None]:
    """``(portfolio member, C)`` of a name from ``at_C``; ``(name, None)`` for a plain name.
    C is read back from the name itself, so the name alone determines the classifier."""
    if _AT_C not in name:
        return name, None
    base, _, text = name.partition(_AT_C)
    try:
        C = float(text)
    except ValueError:
        raise ValueError(f"unknown classifier {name!r}: C {text!r} is not a number") from None
    at_C(base, C)  # the same checks as when the name was made
    return base, C


# keep_empty_features: a column that is all-missing in a training fold becomes a constant
# instead of being dropped with a warning, so the design matrix keeps the same width.
def _onehot_preprocessor(
    name: str, numeric: list[str], categorical: list[str]
) -> ColumnTransformer:
    num_steps: list[tuple[str, Any]] = [
        ("impute", SimpleImputer(strategy="median", keep_empty_features=True))
    ]
    if name in _SCALED:
        num_steps.append(("scale", StandardScaler()))
    cat_steps: list[tuple[str, Any]] = [
        (
            "impute",
            SimpleImputer(strategy="constant", fill_value=MISSING_LEVEL, keep_empty_features=True),
        ),
        (
            "onehot",
            OneHotEncoder(
                handle_unknown="ignore",
                sparse_output=False,
                min_frequency=ONEHOT_MIN_FREQUENCY,
                max_categories=ONEHOT_MAX_CATEGORIES,
            ),
        ),
    ]
    transformers: list[tuple[str, Any, list[str]]] = []
    if numeric:
        transformers.append(("num", Pipeline(num_steps), list(numeric)))
    if categorical:
        transformers.append(("cat", Pipeline(cat_steps), list(categorical)))
    return ColumnTransformer(transformers, remainder="drop", sparse_threshold=0.0)


class EmptyColumnFiller(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Fill numeric columns that were all-NaN at fit time with 0, leave other NaNs alone.

    HistGradientBoosting handles NaN natively, but scikit-learn 1.9 crashes in its binning
    ("window shape cannot be larger than input array shape") on a column with no observed
    value, which a small training fold can produce.
    """

    def fit(self, X: Any, y: Any = None) -> EmptyColumnFiller:
        values = np.asarray(X, dtype=np.float64)
        self.empty_ = np.isnan(values).all(axis=0)
        self.n_features_in_ = values.shape[1]
        return self

    def transform(self, X: Any) -> np.ndarray:
        values = np.array(X, dtype=np.float64, copy=True)
        values[:, self.empty_] = 0.0
        return values


def _hist_gb(seed: int, numeric: list[str], categorical: list[str]) -> Pipeline:
    # Native handling: NaN stays NaN for numeric columns; categorical levels become ordinal
    # codes (missing and unseen levels -> -1, which HistGradientBoosting treats as missing).
    transformers: list[tuple[str, Any, list[str]]] = []
    if categorical:
        encoder = OrdinalEncoder(
            handle_unknown="use_encoded_value",
            unknown_value=-1,
            encoded_missing_value=-1,
            max_categories=ORDINAL_MAX_CATEGORIES,
        )
        transformers.append(("cat", encoder, list(categorical)))
    if numeric:
        transformers.append(("num", EmptyColumnFiller(), list(numeric)))
    pre = ColumnTransformer(transformers, remainder="drop", sparse_threshold=0.0)
    model = _estimator("hist_gb", seed)
    # The categorical block comes first in the ColumnTransformer output.
    model.set_params(categorical_features=list(range(len(categorical))) or None)
    return Pipeline([("preprocess", pre), ("model", model)])


def build_classifier(name: str, seed: int, numeric: list[str], categorical: list[str]) -> Pipeline:
    """A fresh, unfitted, seeded, single-threaded pipeline for portfolio member ``name``.

    ``numeric`` and ``categorical`` name the feature columns of the frames it will see; every
    other column (e.g. the target or row id) is dropped by the preprocessing.
    """
    name, C = split_name(name)
    _check_name(name)
    if name == "hist_gb":
        return _hist_gb(seed, numeric, categorical)
    pre = _onehot_preprocessor(name, numeric, categorical)
    pipe = Pipeline([("preprocess", pre), ("model", _estimator(name, seed))])
    if C is not None:
        pipe.set_params(model__C=C)
    return pipe


def _jsonable(value: Any) -> Any:
    """A stable JSON form of one get_params value (estimators by class name, tuples as lists)."""
    if isinstance(value, BaseEstimator):
        return type(value).__module__ + "." + type(value).__qualname__
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else repr(value)
    if isinstance(value, type):
        return value.__module__ + "." + value.__qualname__
    text = repr(value)
    if " at 0x" in text:  # an object whose repr has a memory address: not stable
        return type(value).__module__ + "." + type(value).__qualname__
    return text


def classifier_config(name: str) -> dict[str, Any]:
    """Stable, JSON-serialisable description of a portfolio member's full hyper-parameters.

    Derived from ``get_params(deep=True)`` of a reference pipeline (seed 0, one numeric and one
    categorical column), so any change to the estimator or its preprocessing changes it; it is
    meant to key a label cache. It is built with seed 0: the CV seed is keyed separately.
    A name from ``at_C`` is described as its portfolio member with that ``C``, so
    ``svm_rbf@C=1`` (the library default) is ``svm_rbf`` and shares its cached labels.
    """
    base, _ = split_name(name)
    _check_name(base)
    pipe = build_classifier(name, seed=0, numeric=["num"], categorical=["cat"])
    params = {key: _jsonable(value) for key, value in sorted(pipe.get_params(deep=True).items())}
    config = {"name": base, "params": params}
    json.dumps(config, sort_keys=True, allow_nan=False)  # fail loudly if not serialisable
    return config
