"""Predict, then measure: the model's predicted accuracies combined with measurements of the
user's own table, each weighted by how much it is worth.

A Gaussian model of one table. For each classifier ``c`` let ``x_c`` be its true accuracy
minus the predicted one (the model's error), and let a measurement at tier ``t`` (the
portfolio's own cross-validation on a subsample of the table: ``Tier``) read
``y = true_c + bias[t, c] + noise[t, c]``. The model's errors are correlated across
classifiers (a table easier than the model thinks lifts them all), and so are the noises of
one subsample (its luck is shared by every classifier measured on it, and the learning curve
from a small subsample to the full sample is a property of the table). So::

    x ~ N(0, prediction_cov_)        noise ~ N(0, noise_cov_)

and the estimate after any set of measurements is the conditional mean of ``x`` given them: a
precision-weighted update generalised to correlated errors, in which a measured classifier's
estimate sits between its prediction and its measurement (nearer the one with the smaller
variance) and the unmeasured ones move with what the measured ones revealed.

Everything is estimated on training data, nothing is hand-set: the measurement biases and
noise (``bias_``, ``noise_cov_``) from the training datasets' labels (each measurement tier
against the mean of the dataset's replicate labels, corrected for that mean's own noise), the
prediction errors (``prediction_cov_``) from out-of-sample predictions (the model's
validation datasets, as for ``interval_scale``), and the price of a measurement
(``cost_ratio_``: its CV seconds per predicted fold-fit second) from the labels' timings. The
fitted combiner is saved with the model (``to_dict``/``from_dict``), so ``recommend --budget``
uses the calibration that ``evaluate`` measured.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from beyonder.params import LabelParams, Params

FULL = "full"
"""The expensive tier: a bootstrap sample of ``sample.rows`` rows with ``label.n_folds`` folds,
the protocol of the labels (and of brute force)."""
VARIANCE_FLOOR = 1e-6
"""Smallest variance kept (accuracy units: a standard deviation of 0.1 points), so that no
source is ever believed exactly."""
LABEL_COLUMNS = ("dataset", "tier", "replicate", "classifier", "accuracy", "seconds", "fit_time")
"""The long labels table ``fit`` reads (``calibration_labels`` builds it from a corpus)."""
PREDICTION_COLUMNS = ("dataset", "replicate", "classifier", "predicted")


@dataclass(frozen=True)
class Tier:
    """One kind of measurement: the portfolio's CV with ``folds`` folds on a stratified
    subsample of ``rows`` rows (``FULL``: a bootstrap sample of the model's ``sample_rows``)."""

    name: str
    rows: int
    folds: int

    @property
    def label(self) -> str:
        return f"{self.rows} rows, {self.folds}-fold CV"


def measurement_tier(rows: int, folds: int) -> Tier:
    return Tier(f"m{int(rows)}", int(rows), int(folds))


def tiers_for(
    measure_rows: Sequence[int], measure_folds: int, sample_rows: int, n_folds: int
) -> list[Tier]:
    """The tiers of the ``measure`` section (cheapest first), then the full sample."""
    return [measurement_tier(r, measure_folds) for r in sorted(measure_rows)] + [
        Tier(FULL, int(sample_rows), int(n_folds))
    ]


def params_tiers(params: Params | None = None) -> list[Tier]:
    """The tiers a params file sets (default: the shipped defaults): ``measure.rows`` with
    ``measure.folds`` folds, then the full sample (``sample.rows`` rows, ``label.n_folds``
    folds). The one place that reads measurement settings for the combiner."""
    params = params or Params()
    return tiers_for(
        params.measure.rows, params.measure.folds, params.sample.rows, params.label.n_folds
    )


class MeasurementCombiner:
    """Gaussian combination of predicted accuracies and measurements (module docstring).

    ``tiers``: the measurement tiers, ``classifiers``: the portfolio (column order of every
    array). ``fit(labels, predictions)`` learns ``bias_`` (tiers x classifiers: mean
    measurement minus truth), ``noise_cov_`` ((tiers x classifiers) squared: covariance of the
    measurement noise), ``prediction_cov_`` (classifiers squared: covariance of the model's
    out-of-sample errors) and ``cost_ratio_`` (tiers x classifiers: CV seconds of a
    measurement per second of one predicted fold fit on the full sample)."""

    def __init__(self, tiers: Sequence[Tier], classifiers: Sequence[str]):
        self.tiers = list(tiers)
        self.classifiers = list(classifiers)

    # ------------------------------------------------------------------ fitting

    def fit(self, labels: pd.DataFrame, predictions: pd.DataFrame) -> MeasurementCombiner:
        """``labels``: long table (``LABEL_COLUMNS``) of training datasets: their replicate
        labels (tier ``FULL``, one row per replicate and classifier) and their measurement
        subsamples' labels (other tiers); ``seconds``: the label's whole CV (fit and predict,
        every fold), ``fit_time``: its mean fold fit. ``predictions``: long table
        (``PREDICTION_COLUMNS``) of out-of-sample predictions of some of those datasets'
        replicates (datasets the model never trained on). Raises ``ValueError`` when there
        is too little to estimate from."""
        C, names = len(self.classifiers), [t.name for t in self.tiers]
        if FULL not in names:
            raise ValueError(f"the tiers must include {FULL!r}")
        labels = labels[labels["classifier"].isin(self.classifiers)]
        full = labels[labels["tier"] == FULL]
        reps = _replicates(full, self.classifiers)
        truth = {
            d: np.nanmean(a, axis=0) if np.isfinite(a).any() else np.full(C, np.nan)
            for d, a in reps.items()
        }
        inv_r = {d: 1.0 / np.maximum(np.isfinite(a).sum(axis=0), 1) for d, a in reps.items()}
        within = _pooled_within(list(reps.values()), C)
        if within is None:
            raise ValueError(
                "need datasets with at least two labelled replicates to estimate measurement noise"
            )
        datasets = sorted(reps)
        mean_inv = np.nanmean(np.array([inv_r[d] for d in datasets]), axis=0)
        truth_noise = within * np.sqrt(np.outer(mean_inv, mean_inv))

        # measurement tiers against the truth (the mean of the dataset's replicates)
        T = len(self.tiers)
        bias = np.zeros((T, C))
        blocks = np.full((T * C, T * C), np.nan)
        deviations = []
        for i, tier in enumerate(self.tiers):
            if tier.name == FULL:
                deviations.append(None)
                continue
            wide = _wide(labels[labels["tier"] == tier.name], "accuracy", self.classifiers).reindex(
                datasets
            )
            dev = wide.to_numpy() - np.array([truth[d] for d in datasets])
            has = np.isfinite(dev).sum(axis=0)
            bias[i] = np.where(np.isfinite(dev), dev, 0.0).sum(axis=0) / np.maximum(has, 1)
            deviations.append(dev - bias[i])
        for i, tier in enumerate(self.tiers):
            rows = slice(i * C, (i + 1) * C)
            if tier.name == FULL:
                blocks[rows, rows] = within
                continue
            for j, other in enumerate(self.tiers):
                if other.name == FULL:
                    continue
                cols = slice(j * C, (j + 1) * C)
                blocks[rows, cols] = _pairwise_cov(deviations[i], deviations[j]) - truth_noise
        for i, tier in enumerate(
            self.tiers
        ):  # the full tier's noise is its own sample's: none shared
            for j, other in enumerate(self.tiers):
                if (tier.name == FULL) != (other.name == FULL):
                    blocks[i * C : (i + 1) * C, j * C : (j + 1) * C] = 0.0
        self.noise_cov_ = _structured(blocks, T, C)
        self.bias_ = bias

        # the model's errors on datasets it never saw
        pred = predictions[predictions["classifier"].isin(self.classifiers)]
        errors, weights = [], []
        for (dataset, _), group in pred.groupby(["dataset", "replicate"], sort=True):
            if dataset not in truth:
                continue
            p = (
                group.set_index("classifier")["predicted"]
                .reindex(self.classifiers)
                .to_numpy(np.float64)
            )
            errors.append(truth[dataset] - p)
            weights.append(dataset)
        n_sets = len(set(weights))
        if n_sets < 2:
            raise ValueError(
                f"need out-of-sample predictions of at least 2 labelled datasets to estimate the model's errors, got {n_sets}"
            )
        errors = np.array(errors)
        counts = pd.Series(weights).value_counts()
        w = np.array([1.0 / counts[d] for d in weights])  # each dataset counts once
        noise_of_truth = within * np.sqrt(
            np.outer(*(2 * [np.nanmean([inv_r[d] for d in set(weights)], axis=0)]))
        )
        self.prediction_cov_ = _prediction_cov(errors, w, noise_of_truth, n_sets)

        # the price of a measurement, per predicted fold-fit second of the full sample
        fold_fit = {
            d: np.nanmean(a, axis=0)
            for d, a in _replicates(full, self.classifiers, "fit_time").items()
        }
        ratio = np.full((T, C), np.nan)
        for i, tier in enumerate(self.tiers):
            part = labels[labels["tier"] == tier.name]
            seconds = _wide(
                part.groupby(["dataset", "classifier"], as_index=False)["seconds"].mean(),
                "seconds",
                self.classifiers,
            )
            seconds = seconds.reindex(datasets).to_numpy()
            base = np.array([fold_fit.get(d, np.full(C, np.nan)) for d in datasets])
            with np.errstate(divide="ignore", invalid="ignore"):
                r = seconds / base
            r[~np.isfinite(r) | (r <= 0)] = np.nan
            ratio[i] = np.nanmedian(r, axis=0) if np.isfinite(r).any() else np.nan
        fallback = np.array([float(t.folds) for t in self.tiers])[:, None]
        self.cost_ratio_ = np.where(np.isfinite(ratio), ratio, fallback)
        self.available_ = [
            bool(
                t.name == FULL
                or np.isfinite(labels.loc[labels["tier"] == t.name, "accuracy"]).any()
            )
            for t in self.tiers
        ]
        self.n_datasets_ = len(datasets)
        self.n_prediction_datasets_ = n_sets
        return self

    # ------------------------------------------------------------------ inference

    def slot(self, tier: str, classifier: str) -> int:
        """Position of a (tier, classifier) measurement in ``noise_cov_``'s order."""
        return [t.name for t in self.tiers].index(tier) * len(
            self.classifiers
        ) + self.classifiers.index(classifier)

    def tier(self, name: str) -> Tier:
        return next(t for t in self.tiers if t.name == name)

    def joint(self) -> np.ndarray:
        """Covariance of (errors x, every measurement slot's deviation from its prediction)."""
        cached = self.__dict__.get("_joint")
        if cached is not None:
            return cached
        C, T = len(self.classifiers), len(self.tiers)
        pick = np.tile(np.eye(C), (1, T))  # classifier of each slot
        e = self.prediction_cov_
        top = np.hstack([e, e @ pick])
        bottom = np.hstack([pick.T @ e, pick.T @ e @ pick + self.noise_cov_])
        self._joint = np.vstack([top, bottom])
        return self._joint

    def posterior(
        self, predicted: np.ndarray, observed: dict[int, float]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Estimated true accuracies and their covariance, given the predicted accuracies
        (classifier order) and ``observed``: measured accuracy per slot (``slot``)."""
        predicted = np.asarray(predicted, dtype=np.float64)
        state = _State(self, predicted, observed)
        return state.mean, state.cov

    def expected_gains(
        self,
        predicted: np.ndarray,
        observed: dict[int, float],
        candidates: Sequence[int | tuple[int, ...]],
    ) -> np.ndarray:
        """For each candidate (a slot, or a tuple of slots measured together): the expected
        rise of the best estimated accuracy if it were measured next, before knowing the
        result (the knowledge gradient of correlated normal beliefs, Frazier, Powell and
        Dayanik 2009). A single slot's is exact; a batch's is averaged over ``BATCH_DRAWS``
        fixed antithetic normal draws (deterministic, never negative). Batches matter because
        the model's errors are mostly a shift shared by every classifier: one measurement
        mostly reveals the shift, which changes no decision, while two compared on one
        subsample reveal which is better."""
        state = _State(self, np.asarray(predicted, dtype=np.float64), observed)
        return state.gains(list(candidates))

    def posterior_means(self, predicted: np.ndarray, observed: dict[int, float]) -> np.ndarray:
        return _State(self, np.asarray(predicted, dtype=np.float64), observed).mean

    def predicted_costs(self, fit_time: np.ndarray) -> np.ndarray:
        """Predicted CV seconds of each (tier, classifier) measurement, from the model's
        predicted fold fit time on the full sample (tiers x classifiers)."""
        return self.cost_ratio_ * np.asarray(fit_time, dtype=np.float64)[None, :]

    # ------------------------------------------------------------------ persistence

    def to_dict(self) -> dict[str, Any]:
        return {
            "tiers": [asdict(t) for t in self.tiers],
            "classifiers": self.classifiers,
            "bias": self.bias_.tolist(),
            "noise_cov": self.noise_cov_.tolist(),
            "prediction_cov": self.prediction_cov_.tolist(),
            "cost_ratio": self.cost_ratio_.tolist(),
            "available": self.available_,
            "n_datasets": self.n_datasets_,
            "n_prediction_datasets": self.n_prediction_datasets_,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MeasurementCombiner:
        out = cls([Tier(**t) for t in data["tiers"]], data["classifiers"])
        out.bias_ = np.array(data["bias"], dtype=np.float64)
        out.noise_cov_ = np.array(data["noise_cov"], dtype=np.float64)
        out.prediction_cov_ = np.array(data["prediction_cov"], dtype=np.float64)
        out.cost_ratio_ = np.array(data["cost_ratio"], dtype=np.float64)
        out.available_ = list(data.get("available", [True] * len(out.tiers)))
        out.n_datasets_ = int(data.get("n_datasets", 0))
        out.n_prediction_datasets_ = int(data.get("n_prediction_datasets", 0))
        return out


class _State:
    """The posterior of one table given some measurements, and what each next one is worth."""

    def __init__(
        self, combiner: MeasurementCombiner, predicted: np.ndarray, observed: dict[int, float]
    ):
        C = len(combiner.classifiers)
        self.C, self.predicted = C, predicted
        self.K = combiner.joint()
        self.offset = np.concatenate([np.zeros(C), combiner.bias_.ravel()])
        self.obs = sorted(observed)
        idx = [C + s for s in self.obs]
        self.idx = idx
        if idx:
            residual = (
                np.array([observed[s] for s in self.obs])
                - predicted[[s % C for s in self.obs]]
                - self.offset[idx]
            )
            K_oo = self.K[np.ix_(idx, idx)]
            self.solve = np.linalg.solve(K_oo, np.column_stack([residual, self.K[idx, :]]))
            alpha, self.proj = self.solve[:, 0], self.solve[:, 1:]  # K_oo^-1 r, K_oo^-1 K_o.
            self.shift = self.K[:C, idx] @ alpha
            self.cov_all = self.K - self.K[:, idx] @ self.proj
        else:
            self.shift = np.zeros(C)
            self.cov_all = self.K
        self.mean = predicted + self.shift
        self.cov = self.cov_all[:C, :C]

    def gains(self, candidates: list[int | tuple[int, ...]]) -> np.ndarray:
        C = self.C
        out = np.zeros(len(candidates))
        for n, candidate in enumerate(candidates):
            slots = candidate if isinstance(candidate, tuple) else (candidate,)
            idx = [C + s for s in slots]
            if len(idx) == 1:
                var = self.cov_all[idx[0], idx[0]]
                if var > 0:
                    out[n] = expected_max_gain(self.mean, self.cov_all[:C, idx[0]] / np.sqrt(var))
                continue
            # mean change = Cov(x, y) Var(y)^-1 (y - E y) = Cov(x, y) L^-T z, with L L^T = Var(y)
            var = self.cov_all[np.ix_(idx, idx)]
            try:
                chol = np.linalg.cholesky(var + VARIANCE_FLOOR * 1e-3 * np.eye(len(idx)))
            except np.linalg.LinAlgError:
                continue
            spread = np.linalg.solve(chol, self.cov_all[idx, :C]).T  # C x m
            draws = _batch_draws(len(idx))
            out[n] = max(
                0.0,
                float((self.mean[None, :] + draws @ spread.T).max(axis=1).mean() - self.mean.max()),
            )
        return out


BATCH_DRAWS = 256
"""Normal draws (half of them the negatives of the other half) that average a batch's gain."""


@functools.cache
def _batch_draws(m: int) -> np.ndarray:
    half = np.random.default_rng(20260).standard_normal((BATCH_DRAWS // 2, m))
    return np.vstack([half, -half])


def expected_max_gain(a: np.ndarray, b: np.ndarray) -> float:
    """``E[max_i (a_i + b_i Z)] - max_i a_i`` for a standard normal ``Z``, exactly: the upper
    envelope of the lines ``a_i + b_i z`` (sorted by slope, dominated ones dropped), integrated
    against the normal density. Plain floats: for ten lines NumPy's per-call overhead would
    dominate, and the budget's greedy search calls this for every candidate at every step."""
    lines = sorted(
        zip(
            np.asarray(b, dtype=np.float64).tolist(),
            np.asarray(a, dtype=np.float64).tolist(),
            strict=True,
        )
    )
    kept_a: list[float] = []
    kept_b: list[float] = []
    starts: list[float] = []  # where each kept line becomes the highest
    for bi, ai in lines:
        if kept_b and bi == kept_b[-1]:  # same slope, sorted by intercept: the later is higher
            kept_a.pop(), kept_b.pop(), starts.pop()
        z = -math.inf
        while kept_a:
            z = (kept_a[-1] - ai) / (bi - kept_b[-1])
            if z > starts[-1]:
                break
            kept_a.pop(), kept_b.pop(), starts.pop()
            z = -math.inf
        kept_a.append(ai), kept_b.append(bi), starts.append(z)
    ends = [*starts[1:], math.inf]
    total = 0.0
    for ai, bi, lo, hi in zip(kept_a, kept_b, starts, ends, strict=True):
        # E[(a + bZ) 1{lo < Z < hi}] = a (Phi(hi) - Phi(lo)) + b (phi(lo) - phi(hi))
        total += ai * (_cdf(hi) - _cdf(lo)) + bi * (_pdf(lo) - _pdf(hi))
    return max(0.0, total - max(x for _, x in lines))


_SQRT2 = math.sqrt(2.0)
_NORM = 1.0 / math.sqrt(2.0 * math.pi)


def _cdf(z: float) -> float:
    return 0.5 * math.erfc(-z / _SQRT2)


def _pdf(z: float) -> float:
    return 0.0 if math.isinf(z) else _NORM * math.exp(-0.5 * z * z)


# ---------------------------------------------------------------------- estimation helpers


def _wide(part: pd.DataFrame, value: str, classifiers: list[str]) -> pd.DataFrame:
    if part.empty:
        return pd.DataFrame(columns=classifiers, dtype=np.float64)
    table = part.pivot_table(
        index="dataset", columns="classifier", values=value, aggfunc="mean", dropna=False
    )
    return table.reindex(columns=classifiers).astype(np.float64)


def _replicates(
    full: pd.DataFrame, classifiers: list[str], value: str = "accuracy"
) -> dict[str, np.ndarray]:
    """Per dataset, its replicates x classifiers matrix of ``value``."""
    if full.empty:
        return {}
    table = full.pivot_table(
        index=["dataset", "replicate"],
        columns="classifier",
        values=value,
        aggfunc="mean",
        dropna=False,
    )
    table = table.reindex(columns=classifiers)
    values = table.to_numpy(np.float64)
    names = table.index.get_level_values(0).astype(str).to_numpy()
    return {
        str(d): values[rows]
        for d, rows in pd.Series(range(len(names))).groupby(names).indices.items()
    }


def _pooled_within(matrices: list[np.ndarray], C: int) -> np.ndarray | None:
    """The covariance of replicate labels around their dataset's mean, pooled over datasets
    (pairwise complete; each dataset contributes its replicates minus one degree of freedom)."""
    sums, dof = np.zeros((C, C)), np.zeros((C, C))
    for a in matrices:
        ok = np.isfinite(a)
        n = ok.sum(axis=0)
        if not (n >= 2).any():
            continue
        mean = np.where(ok, a, 0.0).sum(axis=0) / np.maximum(n, 1)
        dev = np.where(ok, a - mean, 0.0)
        both = ok.T.astype(float) @ ok.astype(float)
        sums += dev.T @ dev
        dof += np.maximum(both - 1, 0)
    if not (np.diag(dof) > 0).any():
        return None
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = np.where(dof > 0, sums / np.maximum(dof, 1), np.nan)
    return _fill_cov(cov)


def _pairwise_cov(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Covariance of centred deviations ``a`` and ``b`` (datasets x classifiers), pairwise
    complete: entry (i, j) over the datasets where both are known."""
    oa, ob = np.isfinite(a), np.isfinite(b)
    n = oa.T.astype(float) @ ob.astype(float)
    prod = np.where(oa, a, 0.0).T @ np.where(ob, b, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 1, prod / np.maximum(n - 1, 1), np.nan)


def _fill_cov(cov: np.ndarray) -> np.ndarray:
    """Missing entries of a covariance: variances by the mean variance, covariances by 0."""
    cov = np.array(cov, dtype=np.float64)
    d = np.diag(cov).copy()
    mean_var = np.nanmean(d) if np.isfinite(d).any() else VARIANCE_FLOOR
    d[~np.isfinite(d)] = mean_var
    cov[~np.isfinite(cov)] = 0.0
    np.fill_diagonal(cov, np.maximum(d, VARIANCE_FLOOR))
    return cov


def _structured(blocks: np.ndarray, T: int, C: int) -> np.ndarray:
    """A covariance of (tier, classifier) measurement noise with few free numbers: each
    slot's own variance as estimated, and per pair of tiers one correlation between different
    classifiers and one between the same classifier (the average of the estimated ones).
    Robust with tens of datasets, where a free (T C)^2 covariance would be noise; clipped to
    positive definite."""
    var = np.diag(blocks).copy()
    mean_var = np.nanmean(var) if np.isfinite(var).any() else VARIANCE_FLOOR
    var = np.where(np.isfinite(var) & (var > VARIANCE_FLOOR), var, max(mean_var, VARIANCE_FLOOR))
    sd = np.sqrt(var)
    corr = blocks / np.outer(sd, sd)
    out = np.zeros_like(blocks)
    same = np.eye(C, dtype=bool)
    for i in range(T):
        for j in range(T):
            block = corr[i * C : (i + 1) * C, j * C : (j + 1) * C]
            off = block[~same]
            rho_off = (
                float(np.clip(np.nanmean(off), -0.99, 0.99)) if np.isfinite(off).any() else 0.0
            )
            if i == j:
                rho_same = 1.0
            else:
                d = np.diag(block)
                rho_same = (
                    float(np.clip(np.nanmean(d), -0.99, 0.99)) if np.isfinite(d).any() else 0.0
                )
            out[i * C : (i + 1) * C, j * C : (j + 1) * C] = np.where(same, rho_same, rho_off)
    return _positive_definite(out * np.outer(sd, sd))


def _prediction_cov(
    errors: np.ndarray, weights: np.ndarray, truth_noise: np.ndarray, n_sets: int
) -> np.ndarray:
    """Covariance of the model's errors (rows: predicted samples, weighted so that each
    dataset counts once; around 0: the model is trained to be unbiased), less the noise of
    the truth they were measured against, in the same few-number form as ``_structured``:
    per-classifier variances pulled toward their mean by how much the data can tell them
    apart (empirical Bayes), and one correlation between classifiers."""
    ok = np.isfinite(errors)
    e = np.where(ok, errors, 0.0)
    w = weights[:, None] * ok
    norm = w.T @ ok.astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        raw = (e * w).T @ e / norm
    raw = raw - truth_noise
    var = np.diag(raw).copy()
    var = np.where(np.isfinite(var), var, np.nanmean(var))
    var = np.maximum(var, VARIANCE_FLOOR)
    # each variance estimate's own sampling variance, ~2 v^2 / (n - 1) for n datasets
    sampling = 2.0 * var.mean() ** 2 / max(n_sets - 1, 1)
    between = max(0.0, float(np.var(var)) - sampling)
    trust = between / (between + sampling) if between + sampling > 0 else 0.0
    var = trust * var + (1 - trust) * var.mean()
    sd = np.sqrt(var)
    corr = raw / np.outer(
        np.sqrt(np.maximum(np.diag(raw), VARIANCE_FLOOR)),
        np.sqrt(np.maximum(np.diag(raw), VARIANCE_FLOOR)),
    )
    off = corr[~np.eye(len(var), dtype=bool)]
    rho = float(np.clip(np.nanmean(off), -0.5, 0.99)) if np.isfinite(off).any() else 0.0
    out = np.where(np.eye(len(var), dtype=bool), 1.0, rho) * np.outer(sd, sd)
    return _positive_definite(out)


def _positive_definite(cov: np.ndarray) -> np.ndarray:
    cov = (cov + cov.T) / 2
    values, vectors = np.linalg.eigh(cov)
    values = np.maximum(values, VARIANCE_FLOOR)
    return (vectors * values) @ vectors.T


# ---------------------------------------------------------------------- calibration data


def calibration_labels(
    corpus: Any,
    measurements: pd.DataFrame | None,
    datasets: set[str] | None = None,
    n_folds: int = LabelParams.n_folds,
) -> pd.DataFrame:
    """The long labels table ``fit`` reads: the bootstrap replicates of ``corpus`` (a
    ``selector.corpus.Corpus``; tier ``FULL``, one row per sample and classifier, CV seconds
    from its fit and predict times) and the measurement labels (``load_measurements``), for
    ``datasets`` (default: all)."""
    index = corpus.index
    keep = (index["kind"] == "bootstrap").to_numpy().copy()
    if datasets is not None:
        keep &= index["dataset"].isin(datasets).to_numpy()
    seconds = corpus.cv_seconds(n_folds)
    rows = np.flatnonzero(keep)
    C = len(corpus.classifiers)
    frame = pd.DataFrame(
        {
            "dataset": np.repeat(index["dataset"].to_numpy()[rows], C),
            "tier": FULL,
            "replicate": np.repeat(index["sample_id"].to_numpy()[rows], C),
            "classifier": np.tile(corpus.classifiers, len(rows)),
            "accuracy": corpus.accuracy[rows].ravel(),
            "seconds": seconds[rows].ravel(),
            "fit_time": corpus.fit_time[rows].ravel(),
        }
    )
    parts = [frame]
    if measurements is not None and len(measurements):
        m = (
            measurements
            if datasets is None
            else measurements[measurements["dataset"].isin(datasets)]
        )
        parts.append(m.assign(replicate=m["dataset"] + "__" + m["tier"])[list(LABEL_COLUMNS)])
    return pd.concat(parts, ignore_index=True)


def calibration_predictions(
    index: pd.DataFrame, predicted: np.ndarray, classifiers: Sequence[str]
) -> pd.DataFrame:
    """The long predictions table ``fit`` reads, from a sample index (``dataset``,
    ``sample_id``) and its predicted accuracies (samples x classifiers)."""
    C = len(classifiers)
    return pd.DataFrame(
        {
            "dataset": np.repeat(index["dataset"].to_numpy(), C),
            "replicate": np.repeat(index["sample_id"].to_numpy(), C),
            "classifier": np.tile(list(classifiers), len(index)),
            "predicted": np.asarray(predicted, dtype=np.float64).ravel(),
        }
    )
