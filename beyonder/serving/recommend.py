"""Recommend classifiers for a new table: clean it exactly as training did, draw the same
kind of bootstrap samples, and average the model's predictions over them.

From Python, the module itself is callable (``beyonder.recommend(df, target="class")`` is
``beyonder.serving.recommend.recommend``); ``Recommender`` is the model with its pipeline settings.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import types
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from threadpoolctl import ThreadpoolController

from beyonder import tracking
from beyonder.data.cleaning import CleaningConfig, clean_dataset
from beyonder.data.limits import warn_caps
from beyonder.data.sampling import bootstrap_samples
from beyonder.data.sources._common import SourceError, resolve_column
from beyonder.errors import error_line, first_line, require_extra
from beyonder.evaluation import decisions, regularisation
from beyonder.labels.metrics import DEFAULT_METRIC, MetricError, check_metric, unavailable
from beyonder.params import LabelParams, MeasureParams, SampleParams
from beyonder.registry import pyfunc_artifact, registered_artifact
from beyonder.schema import RESERVED, SVM_KERNELS, TARGET
from beyonder.selector.combiner import FULL, MeasurementCombiner
from beyonder.selector.encoding import EncodedSample, encode_sample

if TYPE_CHECKING:  # importing the estimator imports TensorFlow: only to train or fine-tune
    from beyonder.selector.inference import BeyonderPredictor

PIPELINE_FILE = "pipeline.json"
MODEL_ARTIFACT = "beyonder"
"""The artifact of the logged MLflow model that holds the saved ``Recommender``."""
DEFAULT_MODEL = "models:/beyonder@champion"
DEFAULT_TARGET = "class"
OUTPUT_COLUMNS = [
    "rank",
    "classifier",
    "predicted_accuracy",
    "spread",
    "accuracy_low",
    "accuracy_high",
    "predicted_fit_time",
    "predicted_table_fit_time",
]
"""Columns of every answer; ``time_budget`` adds ``left_out``, ``verify`` adds
``measured_accuracy``, ``measured_std`` and ``measured_cv_seconds``, ``budget`` (and
``verify`` with a calibrated model) adds ``ESTIMATE_COLUMNS`` too; a model with
regularisation heads adds ``REGULARISATION_COLUMNS``."""
ESTIMATE_COLUMNS = [
    "estimated_accuracy",
    "estimated_low",
    "estimated_high",
    "measured_accuracy",
    "measured_std",
    "measured_tier",
    "measured_cv_seconds",
]
"""The prediction combined with the measurements (``selector.combiner``) and its 80%
interval; the measurement itself (the largest tier's when there are several), its tier
(``"200 rows, 3-fold CV"``, empty when not measured) and the CPU seconds it took."""
REGULARISATION_COLUMNS = ["suggested_C", "accuracy_at_suggested_C", "accuracy_at_default_C"]
"""For each tuned classifier (NaN for the others): the C with the highest predicted accuracy
on the model's grid, the predicted accuracy there and at the library default C = 1."""


class RecommendError(ValueError):
    """The table cannot be used; the message is one line for the user."""


class Recommender:
    """A fitted Beyonder plus the cleaning and sampling settings it was trained with.

    ``estimator`` is a Keras ``Beyonder`` after training, a ``NumpyBeyonder`` after ``load``
    (no TensorFlow: see ``beyonder/selector/network.py``); both predict the same numbers."""

    def __init__(
        self,
        estimator: BeyonderPredictor,
        cleaning: CleaningConfig | None = None,
        sample_rows: int = SampleParams.rows,
        replace: bool = SampleParams.replace,
        subsamples: int = SampleParams.subsamples,
        seed: int = 0,
        n_folds: int = LabelParams.n_folds,
        fit_timeout: float | None = None,
        interval_scale: float | None = None,
        interval_coverage: float = decisions.DEFAULT_COVERAGE,
        combiner: MeasurementCombiner | None = None,
        measure_rows: Sequence[int] | None = None,
        measure_folds: int = MeasureParams.folds,
    ):
        self.estimator = estimator
        self.cleaning = cleaning or CleaningConfig()
        self.sample_rows = sample_rows
        self.replace = replace
        self.subsamples = subsamples
        self.seed = seed
        self.n_folds = n_folds  # the label stage's CV, for --verify
        self.fit_timeout = fit_timeout
        # calibrated on the training's validation datasets (decisions.calibrate_scale); None:
        # a model saved before calibration existed, whose intervals are unknown
        self.interval_scale = interval_scale
        self.interval_coverage = interval_coverage
        # calibrated at training (selector.combiner): how much a prediction and a measurement
        # of each tier are worth, and what a measurement costs; None: no --budget
        portfolio = set(estimator.config.classifiers) if hasattr(estimator, "config") else None
        if (
            combiner is not None
            and portfolio is not None
            and set(combiner.classifiers) != portfolio
        ):
            combiner = None  # calibrated for another portfolio (e.g. before fine-tuning changed it)
        self.combiner = combiner
        self.measure_rows = [
            int(r) for r in (MeasureParams().rows if measure_rows is None else measure_rows)
        ]
        self.measure_folds = int(measure_folds)

    def settings(self) -> dict[str, Any]:
        return {
            "cleaning": asdict(self.cleaning),
            "sample_rows": self.sample_rows,
            "replace": self.replace,
            "subsamples": self.subsamples,
            "seed": self.seed,
            "n_folds": self.n_folds,
            "fit_timeout": self.fit_timeout,
            "interval_scale": self.interval_scale,
            "interval_coverage": self.interval_coverage,
            "measure_rows": self.measure_rows,
            "measure_folds": self.measure_folds,
            "combiner": None if self.combiner is None else self.combiner.to_dict(),
        }

    def save(self, directory: str | Path) -> Path:
        directory = self.estimator.save(directory)
        (directory / PIPELINE_FILE).write_text(json.dumps(self.settings(), indent=2) + "\n")
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> Recommender:
        """Read a saved recommender for prediction: its NumPy export when the folder has one
        (every model saved since it exists), else the Keras model (imports TensorFlow)."""
        from beyonder.selector.inference import NumpyBeyonder, has_numpy_export

        directory = Path(directory)
        settings = json.loads((directory / PIPELINE_FILE).read_text())
        if has_numpy_export(directory):
            estimator = NumpyBeyonder.load(directory)
        else:  # saved before the NumPy export existed
            require_extra(
                f"{directory} (a Keras model without network.npz)", ("tensorflow", "keras")
            )
            from beyonder.selector.estimator import Beyonder

            estimator = Beyonder.load(directory)
        return cls(
            estimator,
            CleaningConfig(**settings["cleaning"]),
            settings["sample_rows"],
            settings["replace"],
            settings["subsamples"],
            settings["seed"],
            n_folds=settings.get("n_folds", LabelParams.n_folds),
            fit_timeout=settings.get("fit_timeout"),
            interval_scale=settings.get("interval_scale"),
            interval_coverage=settings.get("interval_coverage", decisions.DEFAULT_COVERAGE),
            combiner=MeasurementCombiner.from_dict(settings["combiner"])
            if settings.get("combiner")
            else None,
            measure_rows=settings.get("measure_rows"),
            measure_folds=settings.get("measure_folds", MeasureParams.folds),
        )

    def samples(
        self, frame: pd.DataFrame, target: str, name: str = "input", n: int | None = None
    ) -> list[pd.DataFrame]:
        """Cleaned bootstrap samples of ``frame``, drawn as the sample stage draws them.

        With ``replace`` (the pipeline's default) the model was trained on bootstrap samples
        of ``min(sample_rows, rows)`` rows, so a table of any size is read as ``subsamples``
        such samples (test-time ensembling); without it, a table that fits in one sample is
        read once, whole. ``name`` keys the randomness (as dataset names do in the sample
        stage); ``n`` overrides the number of samples.
        """
        return self._draw(self.clean(frame, target), name, n)

    def clean(self, frame: pd.DataFrame, target: str) -> pd.DataFrame:
        """``frame`` cleaned as the training data was, its target column renamed ``TARGET``."""
        if not isinstance(frame, pd.DataFrame):
            raise RecommendError(f"expected a pandas DataFrame, got {type(frame).__name__}")
        try:
            column = resolve_column(frame, str(target))
        except SourceError as exc:
            raise RecommendError(str(exc)) from None
        position = [str(c) for c in frame.columns].index(column)
        data = frame.copy(deep=False)
        # a feature named like a reserved column is renamed, as the ingest stage does
        data.columns = [
            TARGET if i == position else f"{c}_" if str(c) in RESERVED else c
            for i, c in enumerate(frame.columns)
        ]
        try:
            cleaned, report = clean_dataset(data, self.cleaning)
        except ValueError as exc:
            raise RecommendError(str(exc).replace(f"'{TARGET}'", repr(column))) from None
        warn_caps(report, self.cleaning)  # columns or levels over the caps: a CapWarning each
        return cleaned

    def _draw(self, cleaned: pd.DataFrame, name: str, n: int | None) -> list[pd.DataFrame]:
        if n is None:
            n = 1 if len(cleaned) <= self.sample_rows and not self.replace else self.subsamples
        drawn = bootstrap_samples(cleaned, name, self.sample_rows, n, self.replace, self.seed)
        return [s for _, s in drawn]

    def encode(self, samples: list[pd.DataFrame]) -> list[EncodedSample]:
        """Encode cleaned samples for the network.

        NumPy's BLAS runs single-threaded here: its matrices are small, and its idle threads
        would otherwise spin for milliseconds after each call, taking the cores that
        TensorFlow needs next (on 2 cores that made the network 50% slower)."""
        with _blas_controller().limit(limits=1, user_api="blas"):
            return [encode_sample(s) for s in samples]

    def predict(
        self,
        frame: pd.DataFrame,
        target: str,
        time_budget: float | None = None,
        verify: int = 0,
        dask_address: str | None = None,
        budget: float | None = None,
        metric: str = DEFAULT_METRIC,
    ) -> pd.DataFrame:
        """Ranked table: classifier, predicted accuracy, spread, its calibrated interval
        (``accuracy_low``/``_high``, NaN for an uncalibrated model), predicted fit time per
        CV fold on a sample and for one fit on the whole table (s).

        ``time_budget`` (seconds): only the classifiers predicted to fit on the whole table
        within it are ranked; the others follow with ``rank`` 0 and the reason in
        ``left_out``. ``verify`` K: the top K ranked are cross-validated on one sample of the
        table (``decisions.verify_top``, on Dask at ``dask_address`` or
        ``$BEYONDER_DASK_ADDRESS`` when set); with a calibrated model (``combiner``) and the
        accuracy metric every classifier is then ranked by its prediction combined with the
        measurements (``ESTIMATE_COLUMNS``), else the K come first, by the measured ``metric``.
        ``budget`` (CPU seconds on top of the prediction): measurements chosen one at a time by
        expected gain per predicted second (``evaluation.budget``) until the budget is spent,
        then every classifier ranked by its combined estimate; ``attrs["measurements"]`` says
        what was measured, at which tier, with what result and cost (a failed measurement: its
        reason). ``metric`` (``labels.metrics.METRICS``): rank by the model's prediction of that
        metric instead (column ``predicted_<metric>``; a classifier that cannot have it, e.g. log
        loss without probabilities, ranks last with the reason in ``metric_note``); the
        measurement combiner is calibrated on accuracy, so ``budget`` takes the accuracy metric
        only. Raises ``RecommendError`` for bad input."""
        n_classifiers = len(self.estimator.config.classifiers)
        try:
            budget_s = decisions.check_budget(time_budget)
            k = decisions.check_verify(verify, n_classifiers)
            cpu_budget = _check_cpu_budget(budget)
            metric = self.check_metric(metric)
        except ValueError as exc:  # decisions.DecisionError, MetricError, a bad budget
            raise RecommendError(str(exc)) from None
        if cpu_budget is not None and k:
            raise RecommendError(
                "give a budget or verify K, not both (verify K is the budget's simple form)"
            )
        if cpu_budget is not None and self.combiner is None:
            raise RecommendError(
                "this model has no measurement calibration (saved before budgets existed): "
                "retrain it, or use verify K"
            )
        if cpu_budget is not None and metric != DEFAULT_METRIC:
            raise RecommendError(
                f"a budget combines measured accuracy with the predicted one, so it ranks by accuracy, "
                f"not {metric} (verify K measures the top picks' {metric})"
            )
        cleaned = self.clean(frame, target)
        samples = self._draw(cleaned, "input", None)
        encoded = self.encode(samples)
        out = self.estimator.predict(encoded)
        accuracy = out["accuracy"]  # samples x classifiers
        classifiers = self.estimator.config.classifiers
        spread = np.sqrt(accuracy.var(axis=0) + (out["accuracy_spread"] ** 2).mean(axis=0))
        predicted = accuracy.mean(axis=0)
        scale = np.nan if self.interval_scale is None else float(self.interval_scale)
        low, high = decisions.intervals(predicted, spread, scale)
        rows = len(samples[0]) if samples else self.sample_rows
        table_rows = len(cleaned)
        fold_time = out["fit_time"].mean(axis=0)
        config = self.estimator.config
        suggestions = []
        if "curve" in out:  # the regularisation heads: C per tuned classifier
            default = [
                predicted[classifiers.index(c)] if c in classifiers else np.nan
                for c in config.tuned
            ]
            suggestions = regularisation.suggest(
                out["curve"].mean(axis=0), config.tuned, config.grid, np.array(default)
            )
        table = pd.DataFrame(
            {
                "classifier": classifiers,
                "predicted_accuracy": predicted,
                "spread": spread,
                "accuracy_low": low,
                "accuracy_high": high,
                "predicted_fit_time": fold_time,
                "predicted_table_fit_time": decisions.table_fit_time(
                    fold_time, classifiers, table_rows, rows, self.n_folds
                ),
            }
        )
        if suggestions:
            by_name = {s["classifier"]: s for s in suggestions}
            for column, key in zip(
                REGULARISATION_COLUMNS,
                ("suggested_C", "predicted_accuracy", "predicted_accuracy_default"),
                strict=True,
            ):
                table[column] = [
                    _nan(by_name[c][key]) if c in by_name else np.nan for c in classifiers
                ]
        order = "predicted_accuracy"
        if metric != DEFAULT_METRIC:
            order = f"predicted_{metric}"
            values = out["scores"][:, config.metrics.index(metric)].mean(axis=0)
            notes = [unavailable(metric, c) or "" for c in classifiers]
            table[order] = [np.nan if note else v for v, note in zip(values, notes, strict=True)]
            table["metric_note"] = notes
        table = table.sort_values(order, ascending=False, kind="stable", na_position="last")
        table.insert(0, "rank", np.arange(1, len(table) + 1))
        table = table.reset_index(drop=True)
        left_out: list[dict[str, Any]] = []
        dropped = table.iloc[:0]
        whole = table
        if budget_s is not None:
            table, dropped, left_out = decisions.apply_budget(table, budget_s)
        close = decisions.too_close_to_call(table)
        spending: dict[str, Any] = {}
        if cpu_budget is not None:
            table, spending = self._spend(table, whole, cleaned, samples[0], cpu_budget)
        elif k and self.combiner is not None and metric == DEFAULT_METRIC:
            table, spending = self._verify_combined(
                table, whole, samples[0], min(k, len(table)), dask_address
            )
        elif k:
            table = self._verify(table, samples[0], min(k, len(table)), dask_address, metric)
        if budget_s is not None:
            table["left_out"] = ""
            dropped = dropped.assign(rank=0, left_out=[r["reason"] for r in left_out])
            table = pd.concat([table, dropped], ignore_index=True) if len(dropped) else table
        table.attrs.update(
            {
                "subsamples": len(encoded),
                "time_budget": budget_s,
                "left_out": left_out,
                "too_close_to_call": close,
                "interval_coverage": self.interval_coverage if np.isfinite(scale) else None,
                "verified": int(k),
                "table_rows": table_rows,
                "sample_rows": rows,
                "regularisation": suggestions,
                "budget": cpu_budget,
                "metric": metric,
                **spending,
            }
        )
        return table

    def check_metric(self, metric: str) -> str:
        """``metric`` if this model can rank by it: accuracy, or a metric it has a head for."""
        check_metric(metric)
        known = [DEFAULT_METRIC, *self.estimator.config.metrics]
        if metric not in known:
            raise MetricError(f"this model predicts no {metric} (it predicts: {', '.join(known)})")
        return metric

    def _verify(
        self,
        table: pd.DataFrame,
        sample: pd.DataFrame,
        k: int,
        address: str | None,
        metric: str = DEFAULT_METRIC,
    ) -> pd.DataFrame:
        """The top ``k`` rows cross-validated on ``sample``, first and ranked by the measured
        ``metric`` (a failed CV sorts last among them), then the others by prediction."""
        from beyonder.labels.labelling import cv_seconds  # the CV's labelling, loaded when used

        top = table["classifier"].iloc[:k].tolist()
        records = {
            r["classifier"]: r
            for r in decisions.verify_top(
                sample,
                top,
                self.n_folds,
                self.seed,
                self.fit_timeout,
                decisions.dask_address(address),
            )
        }
        table = table.copy()
        table["measured_accuracy"] = [
            records[c]["accuracy"] if c in records else np.nan for c in table["classifier"]
        ]
        table["measured_std"] = [
            records[c]["accuracy_std"] if c in records else np.nan for c in table["classifier"]
        ]
        table["measured_cv_seconds"] = [
            cv_seconds(records[c]) if c in records else np.nan for c in table["classifier"]
        ]
        by = ["measured_accuracy", "predicted_accuracy"]
        if metric != DEFAULT_METRIC:
            table[f"measured_{metric}"] = [
                _nan(records[c].get(metric)) if c in records else np.nan
                for c in table["classifier"]
            ]
            by = [f"measured_{metric}", f"predicted_{metric}"]
        verified = table.iloc[:k].sort_values(
            by, ascending=False, kind="stable", na_position="last"
        )
        table = pd.concat([verified, table.iloc[k:]], ignore_index=True)
        table["rank"] = np.arange(1, len(table) + 1)
        return table

    def _vector(self, whole: pd.DataFrame, column: str) -> np.ndarray:
        """A column of the full ranked table in the combiner's classifier order."""
        return (
            whole.set_index("classifier")[column]
            .reindex(self.combiner.classifiers)
            .to_numpy(np.float64)
        )

    def _spend(
        self,
        table: pd.DataFrame,
        whole: pd.DataFrame,
        cleaned: pd.DataFrame,
        sample: pd.DataFrame,
        budget: float,
    ) -> tuple[pd.DataFrame, dict[str, Any]]:
        """Measure, one at a time, what the budget buys best (``budget.next_measurement``),
        then rank every classifier by its prediction combined with the measurements."""
        from beyonder.data.sampling import measurement_samples
        from beyonder.evaluation.budget import Measurement, check_against_brute_force, spend_budget
        from beyonder.labels.labelling import CVSettings, label_sample

        comb = self.combiner
        C = len(comb.classifiers)
        predicted = self._vector(whole, "predicted_accuracy")
        costs = comb.predicted_costs(self._vector(whole, "predicted_fit_time"))
        brute_force = float(np.nansum(costs[[t.name for t in comb.tiers].index(FULL)]))
        try:
            check_against_brute_force(budget, brute_force, C, self.sample_rows)
        except ValueError as exc:
            raise RecommendError(str(exc)) from None
        ranked = set(table["classifier"])
        usable = [
            t.name == FULL or t.rows < len(cleaned) for t in comb.tiers
        ]  # as the sample stage draws them
        allowed = (
            np.array(usable)[:, None] & np.array([c in ranked for c in comb.classifiers])[None, :]
        )
        subsamples: dict[str, pd.DataFrame] = {}
        taken: list[Measurement] = []

        def measure(slot: int, gain: float) -> tuple[float, float]:
            tier, name = comb.tiers[slot // C], comb.classifiers[slot % C]
            if tier.name == FULL:
                data = sample
            else:
                if tier.name not in subsamples:
                    subsamples[tier.name] = measurement_samples(
                        cleaned, "input", [tier.rows], self.seed
                    )[0][1]
                data = subsamples[tier.name]
            cv = CVSettings(n_folds=tier.folds, seed=self.seed, fit_timeout=self.fit_timeout)
            record = label_sample(data, [name], cv)[0]
            seconds = _cv_seconds(record)
            item = Measurement(name, tier.name, len(data), tier.folds, float(costs.ravel()[slot]), gain,
                               cv_seconds=seconds)  # fmt: skip
            _read_measurement(item, record)
            taken.append(item)
            return item.accuracy, seconds

        spending = spend_budget(comb, predicted, costs, allowed, budget, measure)
        out = self._combined(table, predicted, spending.observed, taken)
        return out, {"budget_spent": spending.spent, "budget_stopped": spending.stopped,
                     "brute_force_seconds": brute_force,
                     "measurements": [m.as_dict() for m in taken]}  # fmt: skip

    def _verify_combined(
        self,
        table: pd.DataFrame,
        whole: pd.DataFrame,
        sample: pd.DataFrame,
        k: int,
        address: str | None,
    ) -> tuple[pd.DataFrame, dict[str, Any]]:
        """``verify`` K with a calibrated model: the top K measured on the full sample, then
        every classifier ranked by its prediction combined with the measurements."""
        from beyonder.evaluation.budget import Measurement

        comb = self.combiner
        full = comb.tier(FULL)
        top = table["classifier"].iloc[:k].tolist()
        records = decisions.verify_top(
            sample, top, self.n_folds, self.seed, self.fit_timeout, decisions.dask_address(address)
        )
        predicted = self._vector(whole, "predicted_accuracy")
        costs = comb.predicted_costs(self._vector(whole, "predicted_fit_time"))
        observed: dict[int, float] = {}
        taken = []
        for record in records:
            slot = comb.slot(FULL, record["classifier"])
            item = Measurement(record["classifier"], FULL, len(sample), full.folds, float(costs.ravel()[slot]),
                               float("nan"), cv_seconds=_cv_seconds(record))  # fmt: skip
            _read_measurement(item, record)
            if item.error is None:
                observed[slot] = item.accuracy
            taken.append(item)
        spent = float(sum(m.cv_seconds for m in taken))
        out = self._combined(table, predicted, observed, taken)
        return out, {"budget_spent": spent, "measurements": [m.as_dict() for m in taken]}

    def _combined(
        self, table: pd.DataFrame, predicted: np.ndarray, observed: dict[int, float], taken: list
    ) -> pd.DataFrame:
        """``table`` with ``ESTIMATE_COLUMNS``, ranked by the combined estimate."""
        from beyonder.evaluation.budget import estimates

        comb = self.combiner
        est = estimates(comb, predicted, observed)
        position = {c: i for i, c in enumerate(comb.classifiers)}
        table = table.copy()
        rows = [position[c] for c in table["classifier"]]
        for column in ("estimated_accuracy", "estimated_low", "estimated_high"):
            table[column] = est[column][rows]
        order = {t.name: i for i, t in enumerate(comb.tiers)}
        latest: dict[str, Any] = {}
        for m in taken:  # the largest tier's measurement speaks for a classifier
            if m.error is None and (
                m.classifier not in latest or order[m.tier] >= order[latest[m.classifier].tier]
            ):
                latest[m.classifier] = m
        seconds = (
            pd.Series([m.cv_seconds for m in taken], dtype=np.float64)
            .groupby([m.classifier for m in taken])
            .sum()
        )
        table["measured_accuracy"] = [
            latest[c].accuracy if c in latest else np.nan for c in table["classifier"]
        ]
        table["measured_std"] = [
            latest[c].std if c in latest else np.nan for c in table["classifier"]
        ]
        table["measured_tier"] = [
            comb.tier(latest[c].tier).label if c in latest else "" for c in table["classifier"]
        ]
        table["measured_cv_seconds"] = [float(seconds.get(c, np.nan)) for c in table["classifier"]]
        table = table.sort_values(
            ["estimated_accuracy", "predicted_accuracy"], ascending=False, kind="stable"
        )
        table = table.reset_index(drop=True)
        table["rank"] = np.arange(1, len(table) + 1)
        return table

    def embed(self, frame: pd.DataFrame, target: str) -> np.ndarray:
        """The dataset embedding (learned meta-features) of a table: the mean over the same
        cleaned bootstrap samples and views that ``predict`` reads; shape ``(3 * dim,)``."""
        return self.estimator.embed(self.encode(self.samples(frame, target))).mean(axis=0)


def _check_cpu_budget(budget: Any) -> float | None:
    """``budget`` checked without importing the budget module when there is none."""
    if budget is None:
        return None
    from beyonder.evaluation.budget import check_budget_value

    return check_budget_value(budget)


def _cv_seconds(record: dict[str, Any]) -> float:
    """CPU seconds of one label's whole CV: fit and predict, every completed fold."""
    per_fold = np.nan_to_num(float(record.get("fit_time") or 0.0)) + np.nan_to_num(
        float(record.get("predict_time") or 0.0)
    )
    return float(per_fold * int(record.get("n_folds") or 0))


@functools.cache
def _blas_controller() -> ThreadpoolController:
    """One scan of the loaded thread pools (a scan per call would cost about 3 ms)."""
    return ThreadpoolController()


def best_svm_kernel(table: pd.DataFrame) -> str | None:
    """The SVM kernel with the highest predicted accuracy in a ranked table."""
    svms = table[table["classifier"].isin(SVM_KERNELS)]
    return None if svms.empty else str(svms.iloc[0]["classifier"])


# --------------------------------------------------------------------------- loading


_LOADED: dict[str, Recommender] = {}


def tracking_uri(root: str | Path = ".") -> str:
    """``$MLFLOW_TRACKING_URI``, else the pipeline's registry ``mlflow.db`` in ``root``.

    Refuses (``RecommendError``) when neither exists, rather than letting MLflow create an
    empty registry and then report that the model is missing.
    """
    db = Path(root).resolve() / tracking.DATABASE
    if "MLFLOW_TRACKING_URI" not in os.environ and not db.is_file():
        raise RecommendError(
            f"no model registry: {db} does not exist and MLFLOW_TRACKING_URI is not set "
            "(run `dvc repro` first, set MLFLOW_TRACKING_URI, or pass --model)"
        )
    return tracking.tracking_uri(root)


def load_recommender(
    model: str | Path | Recommender = DEFAULT_MODEL, cache: bool = True
) -> Recommender:
    """A ``Recommender`` from an MLflow model URI (``models:/beyonder@champion``,
    ``runs:/<id>/model``...), a logged MLflow model folder, or a folder written by
    ``Recommender.save`` (``data/model/beyonder``).

    Loaded models are kept per URI for the life of the process (``cache=False`` reloads; an
    alias moved meanwhile is seen only after a reload).
    """
    if isinstance(model, Recommender):
        return model
    path = Path(str(model))
    # the same URI names another model under another registry
    where = tracking.tracking_uri()
    key = f"{path.resolve()}" if path.exists() else f"{model}|{where}"
    if cache and key in _LOADED:
        return _LOADED[key]
    if (path / PIPELINE_FILE).is_file():
        loaded = Recommender.load(path)
    elif (path / "MLmodel").is_file():
        loaded = _from_artifact(pyfunc_artifact(path, MODEL_ARTIFACT)) or _from_pyfunc(str(path))
    elif ":/" not in str(model):
        raise RecommendError(f"no model at {model}: neither a model URI nor a model folder")
    else:
        registry = None
        if str(model).startswith(("models:/", "runs:/")):
            tracking_location = tracking_uri()  # refuses when there is no registry at all
            registry = os.environ.get("MLFLOW_REGISTRY_URI") or tracking_location
        # a SQLite registry with local artifacts is read without importing MLflow (about a
        # second); anything else, and every error message, comes from MLflow itself
        found = registered_artifact(str(model), registry, MODEL_ARTIFACT) if registry else None
        loaded = _from_artifact(found)
        if loaded is None:
            require_extra(f"loading {model} (not a local SQLite registry)", ("mlflow",))
            import mlflow

            if registry:
                mlflow.set_tracking_uri(tracking_location)
                mlflow.set_registry_uri(registry)
            loaded = _from_pyfunc(str(model))
    if cache:
        _LOADED[key] = loaded
    return loaded


def clear_cache() -> None:
    """Forget the models ``load_recommender`` keeps (e.g. after moving an alias)."""
    _LOADED.clear()


def _from_artifact(folder: Path | None) -> Recommender | None:
    """The recommender saved in a logged model's artifact folder, if it is one."""
    return (
        Recommender.load(folder)
        if folder is not None and (folder / PIPELINE_FILE).is_file()
        else None
    )


def _from_pyfunc(uri: str) -> Recommender:
    require_extra(f"loading {uri} through MLflow", ("mlflow",))
    import mlflow

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    try:
        pyfunc = mlflow.pyfunc.load_model(uri)
    except mlflow.exceptions.MlflowException as exc:
        raise RecommendError(
            f"cannot load model {uri}: {first_line(exc.message) or error_line(exc)}"
        ) from None
    except OSError as exc:
        raise RecommendError(f"cannot load model {uri}: {exc}") from None
    recommender = getattr(pyfunc.unwrap_python_model(), "recommender", None)
    if not isinstance(recommender, Recommender):
        raise RecommendError(f"{uri} is not a Beyonder model")
    return recommender


def read_table(path: str | Path, target: str | None = None) -> tuple[pd.DataFrame, str]:
    """A CSV, ARFF or Parquet file read as the pipeline's local source reads it; returns the
    frame and its target column (``target``; for ARFF without ``target``: the ``% CLASSINDEX``
    attribute, else the last one; for CSV/Parquet without it: ``class``)."""
    from beyonder.data.datasets import LoadFailure
    from beyonder.data.sources.local import load_file

    path = Path(path)
    if not path.exists():
        raise RecommendError(f"{path}: no such file")
    if path.is_dir():
        raise RecommendError(f"{path}: is a folder, not a CSV, ARFF or Parquet file")
    loaded = load_file(path, target=target or DEFAULT_TARGET, override=target)
    if isinstance(loaded, LoadFailure):
        raise RecommendError(f"{path}: {loaded.reason}")
    return loaded.frame, loaded.target


def recommend(
    data: pd.DataFrame | str | Path,
    target: str | None = None,
    model: str | Path | Recommender = DEFAULT_MODEL,
    time_budget: float | None = None,
    verify: int = 0,
    dask_address: str | None = None,
    budget: float | None = None,
    metric: str = DEFAULT_METRIC,
) -> pd.DataFrame:
    """Rank the model's classifier portfolio for a table (a DataFrame or a CSV/ARFF/Parquet
    path) whose class column is ``target`` (default ``class``; an ARFF file's own class
    attribute when reading ARFF without ``target``).

    Returns one row per classifier, best first: ``rank``, ``classifier``,
    ``predicted_accuracy``, ``spread`` (over the bootstrap subsamples and views),
    ``accuracy_low``/``accuracy_high`` (the interval calibrated to hold the true accuracy
    ``attrs["interval_coverage"]`` of the time on held-out datasets; NaN for a model saved
    without calibration), ``predicted_fit_time`` (seconds per CV fold fit on a
    ``sample_rows``-row sample) and ``predicted_table_fit_time`` (one fit on the whole
    cleaned table). ``time_budget`` (seconds on the whole table) ranks only the classifiers
    predicted to fit in it; the others follow with rank 0 and a ``left_out`` reason.
    ``verify`` K cross-validates the top K on one sample of the table (label stage protocol;
    Dask at ``dask_address`` or ``$BEYONDER_DASK_ADDRESS``) and ranks them by the measured
    accuracy (``measured_accuracy``, ``measured_std``, ``measured_cv_seconds``), then the
    rest by prediction (a calibrated model ranks all by the combined estimate instead).
    ``budget`` (CPU seconds on top of the prediction) measures what it buys best, one
    measurement at a time, and ranks every classifier by its prediction combined with the
    measurements (``estimated_accuracy``, ``estimated_low``/``_high``, ``measured_*``);
    ``attrs["measurements"]`` lists them (tier, result, CPU seconds, error), with
    ``budget_spent``, ``budget_stopped`` (why it stopped: ``budget.STOPS``) and
    ``brute_force_seconds`` (the predicted price of cross-validating
    every classifier on the full sample: the largest budget allowed). ``metric`` ranks by the
    model's prediction of another metric (``predicted_<metric>``, ``metric_note``; accuracy
    only with ``budget``). ``.attrs`` also holds
    ``best_svm_kernel``, ``target``, ``rows``,
    ``subsamples`` (bootstrap samples averaged), ``model``, ``too_close_to_call`` (the
    classifiers whose interval reaches the top one's), ``left_out``, ``verified`` and
    ``regularisation``: for a model with regularisation heads, per tuned classifier the
    suggested C, the predicted accuracy there and at the default C = 1, and the predicted
    curve over the grid (``regularisation.suggest``); the table then has the columns
    ``suggested_C``, ``accuracy_at_suggested_C`` and ``accuracy_at_default_C`` (NaN for
    classifiers whose C is not predicted).
    Raises ``RecommendError`` (one-line message) for unusable input.
    """
    if isinstance(data, pd.DataFrame):
        frame, column = data, target or DEFAULT_TARGET
    else:
        frame, column = read_table(data, target)
    recommender = load_recommender(model)
    table = recommender.predict(
        frame,
        column,
        time_budget=time_budget,
        verify=verify,
        dask_address=dask_address,
        budget=budget,
        metric=metric,
    )
    table.attrs.update(
        {
            "best_svm_kernel": best_svm_kernel(table),
            "target": column,
            "rows": len(frame),
            "model": model if isinstance(model, str | Path) else "<Recommender>",
        }
    )
    return table


def as_json(table: pd.DataFrame) -> dict[str, Any]:
    """The JSON form of ``recommend``'s result (what ``beyonder recommend --json`` prints)."""
    return {
        "target": table.attrs.get("target"),
        "rows": table.attrs.get("rows"),
        "subsamples": table.attrs.get("subsamples"),
        "model": str(table.attrs.get("model")),
        "best_svm_kernel": table.attrs.get("best_svm_kernel"),
        "interval_coverage": table.attrs.get("interval_coverage"),
        "too_close_to_call": table.attrs.get("too_close_to_call", []),
        "time_budget": table.attrs.get("time_budget"),
        "left_out": table.attrs.get("left_out", []),
        "verified": table.attrs.get("verified", 0),
        "budget": table.attrs.get("budget"),
        "budget_spent": table.attrs.get("budget_spent"),
        "budget_stopped": table.attrs.get("budget_stopped"),
        "brute_force_seconds": table.attrs.get("brute_force_seconds"),
        "measurements": table.attrs.get("measurements", []),
        "metric": table.attrs.get("metric", DEFAULT_METRIC),
        "regularisation": [
            {
                k: {c: _json_value(a) for c, a in v.items()}
                if isinstance(v, dict)
                else _json_value(v)
                for k, v in s.items()
            }
            for s in table.attrs.get("regularisation", [])
        ],
        "ranking": [
            {k: _json_value(v) for k, v in r.items() if k not in ("left_out", "metric_note") or v}
            for r in table.to_dict("records")
        ],
    }


def _nan(value: Any) -> float:
    return np.nan if value is None else float(value)


def _json_value(value: Any) -> Any:
    """NumPy scalars as Python ones, NaN as null (JSON has no NaN)."""
    if isinstance(value, np.integer | int) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, np.floating | float):
        return None if np.isnan(value) else float(value)
    return value


class _CallableModule(types.ModuleType):
    """``beyonder.serving.recommend`` is this module; calling it calls ``recommend``."""

    def __call__(self, *args: Any, **kwargs: Any) -> pd.DataFrame:
        return recommend(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule


def _read_measurement(item: Any, record: dict[str, Any]) -> None:
    """Fill a measurement from its label record: the accuracy and its fold spread, or why
    there is none (``item.error``)."""
    if record.get("error") or not np.isfinite(record.get("accuracy", np.nan)):
        item.error = record.get("error") or "no accuracy"
    else:
        item.accuracy, item.std = (
            float(record["accuracy"]),
            float(record.get("accuracy_std", np.nan)),
        )
