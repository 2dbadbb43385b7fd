"""Sample flow: bootstrap samples of every cleaned dataset."""

from __future__ import annotations

from prefect import flow, get_run_logger, task

from beyonder.config import Layout
from beyonder.params import MeasureParams, SampleParams, load_params
from beyonder.stages.sample import clean_reports, sample_one, write_sample_index
from flows.runtime import TRANSIENT_RETRIES


@task(name="sample-dataset", **TRANSIENT_RETRIES)
def sample_task(
    report: dict, root: str, settings: SampleParams, seed: int, measure: MeasureParams
) -> list[dict]:
    return sample_one(report, Layout(root), settings, seed, measure)


@flow(name="sample")
def sample_flow(params_path: str = "params.yaml", root: str = ".") -> dict:
    logger = get_run_logger()
    params = load_params(params_path)
    layout = Layout(root)
    entries = []
    for report in clean_reports(layout):
        entries += sample_task(report, root, params.sample, params.seed, params.measure)
    for e in entries:
        if "skipped" in e:
            logger.warning("no samples of %s: %s", e["dataset"], e["skipped"])
    write_sample_index(entries, layout)
    return {
        "samples": sum(e.get("kind") == "bootstrap" for e in entries),
        "measurement_samples": sum(e.get("kind") == "measure" for e in entries),
    }
