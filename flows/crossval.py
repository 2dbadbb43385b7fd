"""Cross-validated evaluation over whole corpora (``beyonder evaluate --corpus DIR``).

A corpus folder goes through the same ingest/clean/sample/label/augment flows as the
pipeline, in its own workspace under ``data/corpora/<name>`` (labels cached there, so a
rerun labels nothing); then every method is trained and tested on grouped folds.
"""

from __future__ import annotations

import json
from pathlib import Path

from prefect import flow, get_run_logger, task

from beyonder import tracking
from beyonder.config import Layout
from beyonder.data.splits import DEFAULT_FAMILIES, grouped_folds
from beyonder.evaluation.budget import headline as budget_headline
from beyonder.evaluation.crossval import (
    METHODS,
    RunSettings,
    Workspace,
    cross_validate,
    pretrain,
    summary,
    train_test,
)
from beyonder.evaluation.truth import minority_shares
from beyonder.evaluation.variants import Variant
from beyonder.evaluation.workspaces import (
    Corpora,
    cached_meta_features,
    corpus_folders,
    corpus_groups,
    corpus_workspace,
    is_prepared,
)
from beyonder.params import Params, RegularisationParams, load_params
from beyonder.selector.combiner import params_tiers
from beyonder.selector.corpus import encode_corpus, load_corpus, load_measurements
from beyonder.stages.train import model_config
from beyonder.storage import write_json
from flows.augment import augment_flow
from flows.clean import clean_flow
from flows.ingest import ingest_flow
from flows.label import label_flow
from flows.runtime import TRANSIENT_RETRIES
from flows.sample import sample_flow


def workspace_root(corpus: Corpora, params: Params) -> Path:
    """The workspace of a corpus: a prepared one as is, else folders of files prepared now."""
    if is_prepared(corpus):
        return Path(corpus_folders(corpus)[0])
    root = corpus_workspace(corpus, params)
    prepare(root)
    return root


def prepare(root: Path) -> None:
    params_path = str(root / "params.yaml")
    for stage_flow in (ingest_flow, clean_flow, sample_flow, label_flow, augment_flow):
        stage_flow(params_path=params_path, root=str(root))


@task(name="meta-features", **TRANSIENT_RETRIES)
def meta_task(files: list[str], hashes: list[str], root: str, seed: int) -> list[dict]:
    return cached_meta_features(files, hashes, root, seed)


def load_workspace(
    root: Path,
    classifiers: list[str],
    seed: int,
    families: tuple[str, ...] = DEFAULT_FAMILIES,
    regularisation: RegularisationParams | None = None,
) -> Workspace:
    """A workspace's labelled samples, encodings and meta-features, and its measurement
    subsamples' labels; with ``regularisation`` on, its C-grid labels too (NaN where it has
    none)."""
    layout = Layout(root)
    everything = load_corpus(
        layout, classifiers, include_augmented=True, regularisation=regularisation
    )
    is_original = (everything.index["kind"] == "bootstrap").to_numpy()
    original, augmented = everything.subset(is_original), everything.subset(~is_original)
    encoded = dict(
        zip(everything.index["sample_id"], encode_corpus(everything, layout), strict=True)
    )
    meta = dict(
        zip(
            original.index["sample_id"],
            meta_task(list(original.index["file"]), list(original.index["hash"]), str(root), seed),
            strict=True,
        )
    )
    minority = minority_shares(original, root)
    return Workspace(
        original, augmented, encoded, meta, families, corpus_groups(layout), minority,
        measurements=load_measurements(layout, classifiers), root=Path(root),
    )  # fmt: skip


@flow(name="crossval")
def crossval_flow(
    corpus: str | list[str] | None = None,
    train_corpus: str | None = None,
    test_corpus: str | None = None,
    folds: int = 5,
    json_path: str | None = None,
    params_path: str = "params.yaml",
    methods: tuple[str, ...] = METHODS,
    pretrain_corpus: str | None = None,
    seeds: int = 1,
    variants: list[Variant] | None = None,
    overrides: tuple[str, ...] = (),
) -> dict:
    logger = get_run_logger()
    params = load_params(params_path, overrides)
    seed, classifiers, families = (
        params.seed,
        params.label.classifiers,
        tuple(params.split.families),
    )
    config = model_config(params)

    def workspace(folder: str | list[str]) -> Workspace:
        return load_workspace(
            workspace_root(folder, params), classifiers, seed, families, params.regularisation
        )

    start = None
    if pretrain_corpus and "beyonder" in methods:
        start = pretrain(workspace(pretrain_corpus), config, log=logger.info)
    settings = RunSettings(
        methods, **params.evaluate.scoring(seed), log=logger.info, start=start, seeds=seeds,
        variants=tuple(variants or ()), budgets=tuple(params.evaluate.time_budgets),
        report_groups=dict(params.evaluate.groups), imbalanced_below=params.evaluate.imbalance,
        tiers=params_tiers(params), curve_shares=tuple(params.evaluate.budget_shares),
    )  # fmt: skip
    if corpus:
        ws = workspace(corpus)
        fold_sets = grouped_folds(sorted(set(ws.original.index["dataset"])), folds, seed, families)
        report = cross_validate(ws, fold_sets, config, settings)
        setting = {
            "corpus": " ".join(str(c) for c in corpus_folders(corpus)),
            "folds": folds,
            "seeds": seeds,
        }
    else:
        train_ws, test_ws = workspace(train_corpus), workspace(test_corpus)
        report = train_test(train_ws, test_ws, config, settings)
        setting = {
            "train_corpus": str(train_corpus),
            "test_corpus": str(test_corpus),
            "seeds": seeds,
        }
    if pretrain_corpus:
        setting["pretrain_corpus"] = str(pretrain_corpus)
    if overrides:
        setting["overrides"] = " ".join(overrides)
    if variants:
        setting["variants"] = json.dumps({v.name: v.settings() for v in variants}, sort_keys=True)
    result = {**setting, **summary(report)}
    if json_path:
        write_json(result, Path(json_path))
    tracking.log_crossval(result, setting)
    for method, metrics in result["methods"].items():
        logger.info(
            "%-10s %s", method, {k: metrics[k] for k in ("mean_regret", "gap_closed", "spearman")}
        )
    logger.info(
        "brute-force reference (CV of one sample, priced on the others): %s",
        result["cv_one_sample"],
    )
    curve = result.get("decisions", {}).get("budget_curve")
    if curve:
        logger.info(
            "predict, then measure (regret against CPU seconds): %s", budget_headline(curve)
        )
    return result
