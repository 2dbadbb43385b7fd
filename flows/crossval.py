"""Cross-validated evaluation over whole corpora (``beyonder evaluate --corpus DIR``).

A corpus folder goes through the same ingest/clean/sample/label/augment flows as the
pipeline, in its own workspace under ``data/corpora/<name>`` (labels cached there, so a
rerun labels nothing); then every method is trained and tested on grouped folds.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import mlflow
import yaml
from prefect import flow, get_run_logger, task

from beyonder import tracking
from beyonder.baselines import meta_features
from beyonder.config import Layout, load_params
from beyonder.corpus import encode_corpus, load_corpus
from beyonder.crossval import METHODS, Workspace, cross_validate, pretrain, summary, train_test
from beyonder.datasets import safe_name
from beyonder.decisions import DEFAULT_BUDGETS
from beyonder.schema import PORTFOLIO
from beyonder.splits import DEFAULT_FAMILIES, grouped_folds
from beyonder.stages.train import model_config
from beyonder.storage import write_json
from flows.augment import augment_flow
from flows.clean import clean_flow
from flows.ingest import ingest_flow
from flows.label import label_flow
from flows.runtime import TRANSIENT_RETRIES
from flows.sample import sample_flow


def corpus_workspace(
    corpus: str | Path | list[str], params: dict, base: str | Path = "data/corpora"
) -> Path:
    """Workspace folder and params for one corpus (one folder, or several read together):
    only those local folders are ingested, with ``evaluate.corpus_samples`` bootstrap samples
    per dataset when set (more samples, less noisy test-side truth, without slowing the main
    pipeline's ``sample.per_dataset``)."""
    folders = [Path(c).resolve() for c in _folders(corpus)]
    root = Path(base) / safe_name("-".join(f.name for f in folders))
    root.mkdir(parents=True, exist_ok=True)
    derived = copy.deepcopy(params)
    samples = (params.get("evaluate") or {}).get("corpus_samples")
    if samples:
        derived["sample"] = {**(params.get("sample") or {}), "per_dataset": int(samples)}
    local = dict((params.get("ingest") or {}).get("local") or {})
    local.update(enabled=True, folders=[str(f) for f in folders])
    derived["ingest"] = {"local": local}
    (root / "params.yaml").write_text(yaml.safe_dump(derived, sort_keys=False))
    return root


def _folders(corpus: str | Path | list[str]) -> list[str | Path]:
    return list(corpus) if isinstance(corpus, list | tuple) else [corpus]


def is_prepared(path: str | Path | list[str]) -> bool:
    """A folder that already holds a labelled pipeline workspace (e.g. this repository after
    ``dvc repro``): its samples and labels are used as they are."""
    if len(_folders(path)) != 1:
        return False
    path = Path(_folders(path)[0])
    return (path / "data" / "samples" / "index.json").exists() and (path / "data" / "labels" / "labels.parquet").exists()


def workspace_root(corpus: str | Path | list[str], params: dict) -> Path:
    """The workspace of a corpus: a prepared one as is, else folders of files prepared now."""
    if is_prepared(corpus):
        return Path(_folders(corpus)[0])
    root = corpus_workspace(corpus, params)
    prepare(root)
    return root


def prepare(root: Path) -> None:
    params_path = str(root / "params.yaml")
    for stage_flow in (ingest_flow, clean_flow, sample_flow, label_flow, augment_flow):
        stage_flow(params_path=params_path, root=str(root))


@task(name="meta-features", **TRANSIENT_RETRIES)
def meta_task(files: list[str], hashes: list[str], root: str, seed: int) -> list[dict]:
    """pymfe meta-features per sample, cached by content hash under the workspace."""
    out = []
    for file, digest in zip(files, hashes, strict=True):
        path = Path(root) / "data" / "cache" / "meta" / f"{digest}.json"
        if path.exists():
            out.append(json.loads(path.read_text()))
            continue
        import pandas as pd

        values = meta_features(pd.read_parquet(Path(root) / file), seed)
        write_json(values, path)
        out.append(values)
    return out


def corpus_groups(layout: Layout) -> dict[str, str]:
    """Dataset -> its corpus, from the ingest manifest: the folder a local file was read from
    (``corpus/uci/iris.parquet`` -> ``uci``), else the source (``sklearn``, ``openml``...)."""
    path = layout.raw / "manifest.json"
    if not path.exists():
        return {}
    return {
        e["name"]: Path(e["origin"]).parent.name if e["source"] == "local" else e["source"]
        for e in json.loads(path.read_text())
    }


def load_workspace(
    root: Path, classifiers: list[str], seed: int, families: tuple[str, ...] = DEFAULT_FAMILIES
) -> Workspace:
    layout = Layout(root)
    everything = load_corpus(layout, classifiers, include_augmented=True)
    is_original = (everything.index["kind"] == "bootstrap").to_numpy()
    original, augmented = everything.subset(is_original), everything.subset(~is_original)
    encoded = dict(zip(everything.index["sample_id"], encode_corpus(everything, layout), strict=True))
    meta = dict(
        zip(
            original.index["sample_id"],
            meta_task(list(original.index["file"]), list(original.index["hash"]), str(root), seed),
            strict=True,
        )
    )
    return Workspace(original, augmented, encoded, meta, families, corpus_groups(layout))


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
    variants: dict[str, dict] | None = None,
) -> dict:
    logger = get_run_logger()
    params = load_params(params_path)
    seed = int(params.get("seed", 0))
    classifiers = list((params.get("label") or {}).get("classifiers") or PORTFOLIO)
    config = model_config(params, classifiers)
    cfg = params.get("evaluate") or {}
    scoring = {
        "tie_tolerance": float(cfg.get("tie_tolerance", 0.005)),
        "n_boot": int(cfg.get("n_boot", 1000)),
        "seed": seed,
    }
    budgets = tuple(float(b) for b in cfg.get("time_budgets") or DEFAULT_BUDGETS)
    families = tuple((params.get("split") or {}).get("families") or DEFAULT_FAMILIES)

    def workspace(folder: str | list[str]) -> Workspace:
        return load_workspace(workspace_root(folder, params), classifiers, seed, families)

    start = None
    if pretrain_corpus and "beyonder" in methods:
        start = pretrain(workspace(pretrain_corpus), config, log=logger.info)
    if corpus:
        ws = workspace(corpus)
        fold_sets = grouped_folds(sorted(set(ws.original.index["dataset"])), folds, seed, families)
        report = cross_validate(
            ws, fold_sets, config, methods, log=logger.info, start=start, seeds=seeds,
            variants=variants, budgets=budgets, **scoring
        )
        setting = {"corpus": " ".join(str(c) for c in _folders(corpus)), "folds": folds, "seeds": seeds}
    else:
        train_ws, test_ws = workspace(train_corpus), workspace(test_corpus)
        report = train_test(
            train_ws, test_ws, config, methods, log=logger.info, start=start, seeds=seeds,
            variants=variants, **scoring
        )
        setting = {"train_corpus": str(train_corpus), "test_corpus": str(test_corpus), "seeds": seeds}
    if pretrain_corpus:
        setting["pretrain_corpus"] = str(pretrain_corpus)
    if variants:
        setting["variants"] = json.dumps(variants, sort_keys=True)
    result = {**setting, **summary(report)}
    if json_path:
        write_json(result, Path(json_path))
    tracking.configure(".")
    with mlflow.start_run(run_name="crossval"):
        mlflow.log_params({k: v for k, v in setting.items()})
        for method, metrics in result["methods"].items():
            mlflow.log_metrics({f"{method}_{k}": v for k, v in metrics.items() if isinstance(v, float)})
        reference = {k: v for k, v in result["cv_one_sample"].items() if isinstance(v, float)}
        mlflow.log_metrics({f"cv_one_sample_{k}": v for k, v in reference.items()})
        mlflow.log_dict(result, "crossval.json")
    for method, metrics in result["methods"].items():
        logger.info("%-10s %s", method, {k: metrics[k] for k in ("mean_regret", "gap_closed", "spearman")})
    logger.info("brute-force reference (CV of one sample, priced on the others): %s", result["cv_one_sample"])
    return result
