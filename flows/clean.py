"""Clean flow: one task per dataset; quarantined datasets are logged one line each, recorded
in ``data/clean/quarantine.json`` (also logged to MLflow), and the rest go on; a size cap
that applied to a dataset (``clean.max_features``, ``clean.max_categories``) is logged as a
warning, one line each."""

from __future__ import annotations

from prefect import flow, get_run_logger, task

from beyonder.config import Layout
from beyonder.data.cleaning import CleaningConfig
from beyonder.params import load_params
from beyonder.stages.clean import clean_one, raw_manifest, write_clean_index
from beyonder.stages.quarantine import log_stage_report, problem_line
from flows.runtime import TRANSIENT_RETRIES


@task(name="clean-dataset", **TRANSIENT_RETRIES)
def clean_task(entry: dict, root: str, config: CleaningConfig) -> dict:
    return clean_one(entry, Layout(root), config)


@flow(name="clean")
def clean_flow(params_path: str = "params.yaml", root: str = ".") -> dict:
    logger = get_run_logger()
    params = load_params(params_path)
    layout = Layout(root)
    config = params.clean
    results = [clean_task(entry, root, config) for entry in raw_manifest(layout)]
    for r in results:
        if r["status"] != "ok":
            logger.warning("quarantined %s", problem_line(r))
        for message in r.get("caps", []):
            logger.warning("capped %s: %s", r["name"], message)
    write_clean_index(results, layout)
    ok = sum(r["status"] == "ok" for r in results)
    logged = log_stage_report(
        "clean",
        root,
        [layout.clean / "quarantine.json", layout.clean / "reports.json"],
        {"cleaned": ok, "quarantined": len(results) - ok},
    )
    if "error" in logged:
        logger.warning("clean report not logged to MLflow: %s", logged["error"])
    return {"cleaned": ok, "quarantined": len(results) - ok}
