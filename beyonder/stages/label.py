"""Label: the CV scores (accuracy and the other metrics) of every portfolio classifier on
every sample.

Labels are content-addressed: each (sample content, classifier configuration, CV settings,
seed) has a key, and its result lives in ``data/cache/labels/<key>.json``, written
atomically the moment it is computed. So a rerun computes only what is missing (a new dataset,
a new classifier), an interrupted run resumes where it stopped, and the labels table is
assembled from the cache, identical however the work was split or ordered.

The ``regularisation`` section adds the C-grid labels (``svm_rbf@C=0.01``...) to the same
jobs: same samples, folds, budgets and cache, written apart to ``regularisation.parquet``.
The C = 1 point is the portfolio label itself (one cache key), and a new grid point is just
new names: only its labels are computed.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from beyonder.config import Layout
from beyonder.labels.labelling import CVSettings, label_key, label_sample
from beyonder.labels.metrics import METRICS
from beyonder.labels.portfolio import at_C, split_name
from beyonder.params import LabelParams, Params, RegularisationParams
from beyonder.storage import read_json, write_json, write_parquet

LABEL_COLUMNS = [
    "sample_id",
    "dataset",
    "kind",
    "classifier",
    *(column for metric in METRICS for column in (metric, f"{metric}_std")),
    "fit_time",
    "predict_time",
    "n_folds",
    "error",
    "metric_errors",
]
"""The labels table: one row per sample x classifier; each metric's mean and spread over the
folds (``accuracy`` first), fit and predict seconds, and why a label or metric is missing."""


def cv_settings(label: LabelParams, seed: int) -> CVSettings:
    """The CV a label is computed with (part of its cache key, so the timeout is always a
    float: 60 and 60.0 are one setting); a ``fit_timeout`` of 0 is none."""
    timeout = float(label.fit_timeout) if label.fit_timeout else None
    return CVSettings(n_folds=int(label.n_folds), seed=int(seed), fit_timeout=timeout)


def measure_settings(params: Params) -> CVSettings:
    """The CV of a measurement subsample: the label section's, with ``measure.folds`` folds."""
    return replace(cv_settings(params.label, params.seed), n_folds=int(params.measure.folds))


class LabelCache:
    """One small JSON file per label, keyed by content; safe for concurrent writers.

    ``shipped``: labels that came with the project (``ship_labels`` wrote them from a cache
    like this one, under the same keys), read when the cache lacks a key. A key covers the
    sample's content, the classifier, the CV settings, the metrics and the library version,
    so a shipped label is used exactly when it would be computed again identically; anything
    changed is computed afresh, and only that."""

    def __init__(self, root: str | Path, shipped: str | Path | None = None):
        self.root = Path(root)
        self.shipped = Path(shipped) if shipped else None
        self._shipped: dict[str, str] | None = None

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict | None:
        """The cached record, or None when it is missing or unusable (truncated, not UTF-8,
        not a label record): such a label is recomputed and its file replaced."""
        try:
            text: bytes | str | None = self.path(key).read_bytes()
        except OSError:
            text = self._shipped_text(key)
        return _record(text)

    def _shipped_text(self, key: str) -> str | None:
        if self.shipped is None:
            return None
        if self._shipped is None:
            self._shipped = read_shipped(self.shipped)
        return self._shipped.get(key)

    def put(self, key: str, record: dict) -> None:
        write_json(record, self.path(key))


def _record(text: bytes | str | None) -> dict | None:
    if text is None:
        return None
    try:
        record = json.loads(text)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        return None
    return record if isinstance(record, dict) and "classifier" in record else None


SHIPPED_COLUMNS = ["key", "record"]


def read_shipped(path: Path) -> dict[str, str]:
    """``{key: record JSON}`` of a shipped labels file; a missing file is no labels."""
    if not path.is_file():
        return {}
    table = pd.read_parquet(path, columns=SHIPPED_COLUMNS)
    return dict(zip(table["key"], table["record"], strict=True))


def ship_labels(keys: list[str], cache: LabelCache, out: Path) -> dict:
    """Write the records of ``keys`` (a run's labels, from ``cache``) as a shipped labels file:
    one row per key, the record as the cache holds it (JSON), sorted by key so that the same
    labels give the same file."""
    unique = sorted(set(keys))
    rows = []
    for key in unique:
        record = cache.get(key)
        if record is not None:
            rows.append({"key": key, "record": json.dumps(record, sort_keys=True, allow_nan=True)})
    write_parquet(pd.DataFrame(rows, columns=SHIPPED_COLUMNS), out, compression="zstd")
    return {"labels": len(rows), "missing": len(unique) - len(rows), "file": str(out)}


def run_label_keys(params: Params, layout: Layout) -> list[str]:
    """Every label key a finished run reads: its samples' portfolio (and C-grid) labels, its
    augmented samples' and its measurement subsamples'."""
    cv, names = cv_settings(params.label, params.seed), list(params.label.classifiers)
    labelled = sample_label_names(params)
    keys = [label_key(s["hash"], c, cv) for s in sample_index(layout) for c in labelled]
    augmented = layout.augmented / "index.json"
    if augmented.is_file():
        keys += [label_key(s["hash"], c, cv) for s in read_json(augmented) for c in names]
    measure = measure_settings(params)
    keys += [label_key(s["hash"], c, measure) for s in measure_index(layout) for c in names]
    return keys


def label_cache(params: Params, root: str | Path) -> LabelCache:
    """The run's label cache (``data/cache/labels``) over the shipped labels of ``label.shipped``."""
    shipped = params.label.shipped
    return LabelCache(Layout(root).label_cache, Path(root) / shipped if shipped else None)


@dataclass
class Job:
    """One sample and the classifiers still to label on it."""

    sample_id: str
    file: str
    hash: str
    classifiers: list[str]

    @property
    def fits(self) -> int:
        return len(self.classifiers)


def pending_jobs(
    samples: list[dict], classifiers: list[str], cv: CVSettings, cache: LabelCache
) -> list[Job]:
    """The (sample, missing classifiers) pairs whose labels are not in the cache yet. Names
    that are one label (``svm_rbf`` and ``svm_rbf@C=1``: one cache key) are fitted once."""
    jobs = []
    for s in samples:
        missing, seen = [], set()
        for c in classifiers:
            key = label_key(s["hash"], c, cv)
            if key not in seen and cache.get(key) is None:
                missing.append(c)
            seen.add(key)
        if missing:
            jobs.append(Job(s["sample_id"], s["file"], s["hash"], missing))
    return jobs


def run_job(job: Job, cv: CVSettings, cache: LabelCache, root: str | Path = ".") -> int:
    """Label one sample on its missing classifiers, caching each result. Returns fits done."""
    sample = pd.read_parquet(Path(root) / job.file)
    for record in label_sample(sample, job.classifiers, cv):
        cache.put(label_key(job.hash, record["classifier"], cv), record)
    return job.fits


def batch_jobs(jobs: list[Job], target_fits: int) -> list[list[Job]]:
    """Group jobs into batches of about ``target_fits`` classifier labels each.

    A batch is one Prefect task: big enough that task overhead stays small, small enough to
    balance across workers and to lose little if a worker dies.
    """
    batches: list[list[Job]] = []
    current: list[Job] = []
    size = 0
    for job in jobs:
        current.append(job)
        size += job.fits
        if size >= target_fits:
            batches.append(current)
            current, size = [], 0
    if current:
        batches.append(current)
    return batches


def assemble_labels(
    samples: list[dict],
    classifiers: list[str],
    cv: CVSettings,
    cache: LabelCache,
    reasons: dict[str, str] | None = None,
) -> pd.DataFrame:
    """The labels table (long format, one row per sample x classifier) from the cache.

    A label that is still missing from the cache is recorded with NaN accuracy and the error
    ``reasons[key]`` (why it could not be computed, e.g. its worker died), else "not labelled".
    """
    reasons = reasons or {}
    rows = []
    for s in sorted(samples, key=lambda s: s["sample_id"]):
        for c in classifiers:
            key = label_key(s["hash"], c, cv)
            record = cache.get(key)
            if record is None:
                error = reasons.get(key, "not labelled")
                record = {"classifier": c, "accuracy": math.nan, "error": error}
            rows.append(
                {
                    "sample_id": s["sample_id"],
                    "dataset": s["dataset"],
                    "kind": s.get("kind", "bootstrap"),
                    "classifier": c,
                    **{m: _float(record.get(m)) for m in SCORE_COLUMNS},
                    "fit_time": _float(record.get("fit_time")),
                    "predict_time": _float(record.get("predict_time")),
                    "n_folds": int(record.get("n_folds") or 0),
                    "error": record.get("error"),
                    "metric_errors": _errors_text(record.get("metric_errors")),
                }
            )
    return pd.DataFrame(rows, columns=LABEL_COLUMNS)


def write_labels(table: pd.DataFrame, path: Path) -> dict:
    write_parquet(table, path)
    summary = {
        "samples": int(table["sample_id"].nunique()),
        "labels": int(len(table)),
        "missing_labels": int(table["accuracy"].isna().sum()),
        "errors": table.loc[table["error"].notna(), ["sample_id", "classifier", "error"]]
        .head(200)
        .to_dict("records"),
    }
    write_json(summary, path.with_suffix(".summary.json"))
    return summary


CURVE_COLUMNS = ["sample_id", "dataset", "kind", "classifier", "C", *LABEL_COLUMNS[4:]]
"""The regularisation labels (``data/labels/regularisation.parquet``): one row per sample x
classifier x C, the portfolio label's columns plus ``C``."""


def sample_label_names(params: Params) -> list[str]:
    """The names labelled on each sample: the portfolio, then the C grid when
    ``regularisation`` is on (a name given twice once)."""
    return list(dict.fromkeys([*params.label.classifiers, *grid_names(params.regularisation)]))


def grid_names(regularisation: RegularisationParams) -> list[str]:
    """The label names of the C grid (``svm_rbf@C=0.01``...; none when it is off), checked
    here so that a wrong classifier or C stops the stage before any labelling."""
    try:
        return [at_C(c, C) for c in regularisation.active() for C in regularisation.grid]
    except ValueError as exc:
        raise ValueError(f"params.yaml: regularisation: {exc}") from None


def curves_table(labels: pd.DataFrame) -> pd.DataFrame:
    """The C-grid rows of a labels table (names from ``at_C``), classifier and C apart."""
    parts = labels["classifier"].map(split_name)
    out = labels.assign(classifier=[p[0] for p in parts], C=[p[1] for p in parts])
    out = out[out["C"].notna()]
    return out[CURVE_COLUMNS].reset_index(drop=True)


def write_label_tables(
    table: pd.DataFrame, portfolio: list[str], grid: list[str], layout: Layout
) -> dict:
    """Split one labels table (portfolio and C-grid names) into ``labels.parquet`` and, when
    there is a grid, ``regularisation.parquet`` (its summary under ``regularisation``); with
    no grid, an earlier run's curves are removed, so none can be read stale."""
    summary = write_labels(
        table[table["classifier"].isin(portfolio)].reset_index(drop=True),
        layout.labels / "labels.parquet",
    )
    if grid:
        summary["regularisation"] = write_labels(
            curves_table(table[table["classifier"].isin(grid)]), layout.curves
        )
    else:
        for path in (layout.curves, layout.curves.with_suffix(".summary.json")):
            path.unlink(missing_ok=True)
    return summary


def sample_index(layout: Layout) -> list[dict]:
    return read_json(layout.samples / "index.json")


def measure_index(layout: Layout) -> list[dict]:
    """The measurement subsamples (none in a workspace sampled before they existed)."""
    return read_json(layout.measure_index) if layout.measure_index.is_file() else []


SCORE_COLUMNS = LABEL_COLUMNS[4 : 4 + 2 * len(METRICS)]


def _errors_text(errors: Any) -> str | None:
    """A label's metric errors as one line (``"neg_log_loss: no probabilities"``), or None."""
    if not errors:
        return None
    return "; ".join(f"{metric}: {reason}" for metric, reason in sorted(dict(errors).items()))


def _float(value: Any) -> float:
    try:
        return float(value) if value is not None else math.nan
    except (TypeError, ValueError):
        return math.nan
