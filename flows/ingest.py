"""Ingest flow: one task per enabled source; refused datasets are logged one line each and
recorded in ``data/raw/failures.json`` (also logged to MLflow)."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task

from beyonder.config import Layout
from beyonder.params import load_params
from beyonder.stages.ingest import enabled_sources, ingest_source, write_manifest
from beyonder.stages.quarantine import log_stage_report, problem_line
from flows.runtime import TRANSIENT_RETRIES


@task(name="ingest-source", **TRANSIENT_RETRIES)
def ingest_source_task(
    source: str, settings: Any, seed: int, root: str, taken: list[str]
) -> tuple[list[dict], list[dict]]:
    return ingest_source(source, settings, seed, Layout(root), taken)


@flow(name="ingest")
def ingest_flow(params_path: str = "params.yaml", root: str = ".") -> dict:
    logger = get_run_logger()
    params = load_params(params_path)
    layout = Layout(root)
    layout.raw.mkdir(parents=True, exist_ok=True)
    entries, failures = [], []
    for source in enabled_sources(params.ingest):
        taken = sorted(
            e["name"] for e in entries
        )  # an earlier source's dataset is never overwritten
        got, failed = ingest_source_task(
            source, getattr(params.ingest, source), params.seed, root, taken
        )
        logger.info("%s: %d datasets, %d failures", source, len(got), len(failed))
        entries += got
        failures += failed
    for failure in failures:
        logger.warning("skipped %s", problem_line(failure))
    write_manifest(entries, failures, layout)
    logged = log_stage_report(
        "ingest",
        root,
        [layout.raw / "failures.json", layout.raw / "manifest.json"],
        {"datasets": len(entries), "failures": len(failures)},
    )
    if "error" in logged:
        logger.warning("ingest report not logged to MLflow: %s", logged["error"])
    return {"datasets": len(entries), "failures": len(failures)}
