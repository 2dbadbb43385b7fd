"""Label flow: the missing labels, in batches, on a Dask cluster (local or remote)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pandas as pd
from distributed import KilledWorker
from prefect import flow, get_run_logger, task
from prefect.futures import as_completed
from tqdm import tqdm

from beyonder.config import Layout
from beyonder.errors import error_line
from beyonder.labels.labelling import CVSettings, label_key
from beyonder.params import ComputeParams, Params, load_params
from beyonder.stages.label import (
    Job,
    LabelCache,
    assemble_labels,
    batch_jobs,
    cv_settings,
    grid_names,
    label_cache,
    measure_index,
    measure_settings,
    pending_jobs,
    run_job,
    sample_index,
    sample_label_names,
    write_label_tables,
    write_labels,
)
from beyonder.storage import remove_orphan_temporaries
from flows.runtime import TRANSIENT_RETRIES, dask_runner


@task(name="label-batch", **TRANSIENT_RETRIES)
def label_batch(jobs: list[Job], cv: CVSettings, cache_root: str, root: str) -> int:
    """Label a batch of samples; every label is cached as soon as it is computed, so a retry
    (e.g. after a lost worker) redoes only what was not finished."""
    cache = LabelCache(cache_root)
    done = 0
    for job in jobs:
        missing = [c for c in job.classifiers if cache.get(label_key(job.hash, c, cv)) is None]
        if missing:
            run_job(Job(job.sample_id, job.file, job.hash, missing), cv, cache, root)
        done += job.fits
    return done


class DriverOnly:
    """What the flow that submits tasks needs and its tasks never do; it pickles empty.

    Prefect sends the running flow, closure included, with every task it submits to Dask (the
    serialised flow-run context), and the flows are pickled by value. A closure holding the
    label cache (with the shipped labels' whole table) or every batch made each
    submission carry them: labelling 843 batches was killed for memory at 18 GB while
    submitting. With the cache out of its closure and the batches behind this holder, the flow
    pickles to kilobytes, whatever the run's size."""

    def __init__(self, value: Any = None) -> None:
        self.value = value

    def __reduce__(self) -> tuple:
        return (type(self), ())


def compute_labels(
    jobs: list[Job], cv: CVSettings, cache: LabelCache, root: str, compute: ComputeParams
) -> dict[str, str]:
    """Run the jobs as batched Prefect tasks on Dask, with a progress bar of fits.

    Returns ``{label key: reason}`` for the labels of batches that did not finish: their
    workers kept dying (e.g. killed over their memory limit: Dask gives up with
    ``KilledWorker``), or the batch raised an error that transient-fault retries did not cure.
    Those labels are not cached, so a rerun (say with more memory) tries them again.
    """
    logger = get_run_logger()
    if not jobs:
        logger.info("all labels cached: nothing to compute")
        return {}
    batches = batch_jobs(jobs, compute.batch_fits)
    total = sum(j.fits for j in jobs)
    logger.info("%d labels to compute in %d batches", total, len(batches))

    # absolute paths: workers of an existing cluster may run in another directory
    cache_root, root = str(cache.root.resolve()), str(Path(root).resolve())
    pending = DriverOnly(batches)
    failed: list[tuple[list[Job], str]] = []  # empty while the batches are submitted

    @flow(name="label-batches", task_runner=dask_runner(compute))
    def run_batches() -> None:
        futures = [label_batch.submit(b, cv, cache_root, root) for b in pending.value]
        batch_of = {f.task_run_id: b for f, b in zip(futures, pending.value, strict=True)}
        with tqdm(total=total, unit="fit", file=sys.stderr, desc="labelling") as bar:
            for future in as_completed(futures):
                try:
                    bar.update(future.result())
                except Exception as exc:  # noqa: BLE001 - one bad batch never stops the others
                    # workers that kept dying (KilledWorker), or an error that retries did not
                    # cure (e.g. an unreadable sample file): record the reason, go on
                    batch, reason = batch_of[future.task_run_id], _batch_failure(exc)
                    failed.append((batch, reason))
                    logger.warning(
                        "a batch of %d labels failed: %s", sum(j.fits for j in batch), reason
                    )

    try:
        run_batches()
    finally:
        # a worker killed mid-write (kill -9, or SIGTERM to the whole process group, which
        # kills Dask workers at once) leaves its write's temporary file; so may an earlier run
        remove_orphan_temporaries(cache.root)
    lost = {
        key: reason
        for batch, reason in failed
        for job in batch
        for c in job.classifiers
        if cache.get(key := label_key(job.hash, c, cv)) is None
    }
    if lost:
        logger.warning("%d labels not computed (see the labels' error column)", len(lost))
    return lost


def _batch_failure(exc: BaseException) -> str:
    """One line for the labels of a batch that did not finish. Workers that kept dying: Dask's
    first sentence ("Attempted to run task ... on 4 different workers, but all those workers
    died while running it"); any other error: its message."""
    if isinstance(exc, KilledWorker):
        return f"worker died: {error_line(exc).split('. ')[0]}"
    return f"batch failed: {error_line(exc)}"


def label_entries(
    entries: list[dict],
    params: Params,
    root: str,
    names: list[str] | None = None,
    cv: CVSettings | None = None,
) -> pd.DataFrame:
    """The labels of these samples (the label or augment index): cached ones read, missing
    ones computed on Dask; labels that could not be computed carry their reason. ``names``:
    what to label (default: the portfolio; the label stage adds the C grid); ``cv``: how
    (default: the label section's CV)."""
    classifiers = params.label.classifiers if names is None else names
    cv = cv or cv_settings(params.label, params.seed)
    cache = label_cache(params, root)
    lost = compute_labels(
        pending_jobs(entries, classifiers, cv, cache), cv, cache, root, params.compute
    )
    return assemble_labels(entries, classifiers, cv, cache, reasons=lost)


@flow(name="label")
def label_flow(params_path: str = "params.yaml", root: str = ".") -> dict:
    """The portfolio labels (``labels.parquet``), with ``regularisation`` on the C-grid labels
    of the same samples (``regularisation.parquet``), computed in one pass; then the
    measurement subsamples' labels (``measurements.parquet``: the portfolio's CV with
    ``measure.folds`` folds)."""
    layout = Layout(root)
    params = load_params(params_path)
    portfolio, grid = list(params.label.classifiers), grid_names(params.regularisation)
    table = label_entries(sample_index(layout), params, root, sample_label_names(params))
    summary = write_label_tables(table, portfolio, grid, layout)
    measure = label_entries(
        measure_index(layout), params, root, portfolio, measure_settings(params)
    )
    summary["measurements"] = write_labels(measure, layout.measurements)
    return summary
