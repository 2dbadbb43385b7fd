"""Ingest flow: one task per enabled source."""

from __future__ import annotations

from prefect import flow, get_run_logger, task

from beyonder.config import Layout, load_params
from beyonder.stages.ingest import enabled_sources, ingest_source, write_manifest


@task(name="ingest-source")
def ingest_source_task(source: str, cfg: dict, seed: int, root: str) -> tuple[list[dict], list[dict]]:
    return ingest_source(source, cfg, seed, Layout(root))


@flow(name="ingest")
def ingest_flow(params_path: str = "params.yaml", root: str = ".") -> dict:
    logger = get_run_logger()
    params = load_params(params_path)
    layout = Layout(root)
    layout.raw.mkdir(parents=True, exist_ok=True)
    entries, failures = [], []
    for source in enabled_sources(params):
        got, failed = ingest_source_task(source, params["ingest"][source], int(params.get("seed", 0)), root)
        logger.info("%s: %d datasets, %d failures", source, len(got), len(failed))
        entries += got
        failures += failed
    for failure in failures:
        logger.warning("skipped %s (%s): %s", failure["name"], failure.get("origin", ""), failure["reason"])
    write_manifest(entries, failures, layout)
    return {"datasets": len(entries), "failures": len(failures)}
