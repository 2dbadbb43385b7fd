"""Classic meta-learners to beat: pymfe meta-features + a RandomForest regressor per
classifier, k nearest datasets in meta-feature space (auto-sklearn 1.0 style), and a ridge
regression on Beyonder's own dataset-level features (its linear part alone)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestRegressor
from sklearn.impute import SimpleImputer
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import StandardScaler

from beyonder.selector.encoding import split_sample

MFE_GROUPS = ("general", "statistical", "info-theory")
MFE_SUMMARY = ("mean", "sd")


def meta_features(sample: pd.DataFrame, seed: int = 0) -> dict[str, float]:
    """pymfe meta-features of one sample (categoricals as ordinal codes, NaN imputed)."""
    from pymfe.mfe import MFE

    features, y = split_sample(sample)
    columns = []
    cat_cols = []
    for i, name in enumerate(features.columns):
        values = features[name]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            x = values.to_numpy(np.float64)
            x = np.where(np.isfinite(x), x, np.nanmedian(x) if np.isfinite(x).any() else 0.0)
        else:
            x = pd.factorize(values.astype("string"), use_na_sentinel=False)[0].astype(np.float64)
            cat_cols.append(i)
        columns.append(x)
    X = np.column_stack(columns) if columns else np.zeros((len(y), 1))
    mfe = MFE(groups=list(MFE_GROUPS), summary=list(MFE_SUMMARY), random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mfe.fit(
            X, y, cat_cols=cat_cols, transform_num=False, transform_cat=None, suppress_warnings=True
        )
        names, values = mfe.extract(suppress_warnings=True)
    return {n: _finite(v) for n, v in zip(names, values, strict=True)}


def _finite(value) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return float("nan")
    return value if np.isfinite(value) else float("nan")


def meta_matrix(
    rows: list[dict[str, float]], columns: list[str] | None = None
) -> tuple[np.ndarray, list[str]]:
    """Stack meta-feature dicts into a matrix over a fixed, sorted column set."""
    columns = columns or sorted({k for r in rows for k in r})
    return np.array([[r.get(c, np.nan) for c in columns] for r in rows], dtype=np.float64), columns


def _fill_targets(y: np.ndarray) -> np.ndarray:
    """Missing labels -> that classifier's mean (regressors need complete targets)."""
    means = np.nan_to_num(np.nanmean(np.where(np.isnan(y), np.nan, y), axis=0), nan=0.5)
    return np.where(np.isnan(y), means, y)


class MetaFeatureForest:
    """One RandomForest regressor per classifier, on pymfe meta-features."""

    def __init__(self, n_estimators: int = 200, seed: int = 0):
        self.n_estimators = n_estimators
        self.seed = seed

    def fit(self, X: np.ndarray, y: np.ndarray) -> MetaFeatureForest:
        self.imputer_ = SimpleImputer(strategy="median", keep_empty_features=True).fit(X)
        Xi = self.imputer_.transform(X)
        y = _fill_targets(y)
        self.models_ = [
            RandomForestRegressor(self.n_estimators, random_state=self.seed, n_jobs=1).fit(
                Xi, y[:, j]
            )
            for j in range(y.shape[1])
        ]
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        Xi = self.imputer_.transform(X)
        return np.column_stack([m.predict(Xi) for m in self.models_])


class NearestDatasets:
    """Average accuracy vector of the k training datasets nearest in meta-feature space."""

    def __init__(self, k: int = 5):
        self.k = k

    def fit(self, X: np.ndarray, y: np.ndarray, groups: np.ndarray) -> NearestDatasets:
        """``groups`` names each row's dataset: rows are averaged per dataset first."""
        frame = pd.DataFrame(X).groupby(groups).mean()
        targets = pd.DataFrame(y).groupby(groups).mean()
        self.imputer_ = SimpleImputer(strategy="median", keep_empty_features=True).fit(
            frame.to_numpy()
        )
        self.scaler_ = StandardScaler().fit(self.imputer_.transform(frame.to_numpy()))
        self.points_ = self.scaler_.transform(self.imputer_.transform(frame.to_numpy()))
        self.targets_ = targets.reindex(frame.index).to_numpy()
        k = min(self.k, len(frame))
        self.nn_ = NearestNeighbors(n_neighbors=k).fit(self.points_)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        points = self.scaler_.transform(self.imputer_.transform(X))
        _, idx = self.nn_.kneighbors(points)
        return np.stack([np.nanmean(self.targets_[i], axis=0) for i in idx])


PRIOR_RIDGE = 10.0
"""Ridge penalty on standardised dataset-level features (Beyonder's prior and ``LandmarkRidge``)."""


def logit(accuracy: np.ndarray) -> np.ndarray:
    """Log-odds of accuracies clipped to [0.02, 0.98] (NaN stays NaN): a linear model in this
    space cannot predict past 100%, and near-perfect datasets do not dominate it."""
    clipped = np.clip(np.asarray(accuracy, dtype=np.float64), 0.02, 0.98)
    return np.log(clipped / (1 - clipped))


def ridge(x: np.ndarray, y: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Kernel and bias of ``y ~ x`` per column of ``y`` (NaN = no label: that row is left out
    of that column), penalised by ``alpha`` on standardised ``x``; both in ``x``'s own units.
    A column without labels gets a zero kernel and bias."""
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0  # a constant feature: left at zero by the penalty
    z = (x - x.mean(axis=0)) / scale
    kernel, bias = np.zeros((x.shape[1], y.shape[1])), np.zeros(y.shape[1])
    for j in range(y.shape[1]):
        rows = ~np.isnan(y[:, j])
        if not rows.any():
            continue
        zj, yj = z[rows], y[rows, j]
        z_mean, y_mean = zj.mean(axis=0), yj.mean()
        centred = zj - z_mean
        w = np.linalg.solve(
            centred.T @ centred + alpha * np.eye(x.shape[1]), centred.T @ (yj - y_mean)
        )
        kernel[:, j] = w / scale
        bias[j] = y_mean - z_mean @ w - (x.mean(axis=0) / scale) @ w
    return kernel, bias


class LandmarkRidge:
    """Accuracy per classifier from a ridge regression of its log-odds on the dataset-level
    features (landmarkers, size, class balance): where a fresh Beyonder starts, as a selector."""

    def __init__(self, alpha: float = PRIOR_RIDGE):
        self.alpha = alpha

    def fit(self, X: np.ndarray, accuracy: np.ndarray) -> LandmarkRidge:
        self.kernel_, self.bias_ = ridge(
            np.asarray(X, dtype=np.float64), logit(accuracy), self.alpha
        )
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return 1 / (1 + np.exp(-(np.asarray(X, dtype=np.float64) @ self.kernel_ + self.bias_)))
