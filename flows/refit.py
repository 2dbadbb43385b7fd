"""Refit flow: the configuration evaluate promoted, fitted again on every family and
registered as the champion (``beyonder.stages.refit`` does the work)."""

from __future__ import annotations

from prefect import flow, get_run_logger

from beyonder.config import Layout
from beyonder.params import load_params
from beyonder.stages.refit import DECISION_FILE, refit_and_register, refit_corpus, write_refit
from beyonder.storage import read_json
from flows.train import encode_task


@flow(name="refit")
def refit_flow(params_path: str = "params.yaml", root: str = ".") -> dict:
    logger = get_run_logger()
    params = load_params(params_path)
    layout = Layout(root)
    decision = read_json(layout.evaluation / DECISION_FILE)
    if not params.refit.enabled:
        return write_refit(
            {"refit": False, "reason": "refit.enabled is false: the judged model is the champion"},
            layout,
        )
    if not decision["promote"]:
        reason = f"not refit: evaluate kept version {decision['version']} challenger ({decision['reason']})"
        logger.info(reason)
        return write_refit({"refit": False, "reason": reason}, layout)
    corpus = refit_corpus(params, layout)
    logger.info(
        "refitting on %d samples of %d datasets",
        len(corpus.index),
        corpus.index["dataset"].nunique(),
    )
    return write_refit(
        refit_and_register(params, layout, corpus, encode_task(corpus, root), log=logger.info),
        layout,
    )
