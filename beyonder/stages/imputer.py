"""Imputer stage: params -> the imputer's config, the corpus's tables split by family, and the
held-out scores that ``dvc metrics show`` prints (``metrics/imputer.json``).

The imputer trains on the bundled corpus's files directly (``ingest.local.folders``), not on
``data/clean``: cleaning drops the columns with many missing cells and caps rare levels, and an
imputer must see tables as users have them. The split is the pipeline's own
(``imputation.split_names``): the test families that ``evaluate`` holds out are never trained
on, the validation families stop training early and give the stage's metrics.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from beyonder.config import stable_seed
from beyonder.evaluation.champion import Decision, decide_imputer
from beyonder.imputer.imputation import (
    CellImputer,
    ImputerConfig,
    Table,
    corpus_files,
    load_features,
    split_names,
    training_table,
)
from beyonder.imputer.scores import hide, scores, scoring_tables, sklearn_fill
from beyonder.params import Params


def imputer_config(params: Params) -> ImputerConfig:
    """``ImputerConfig`` from the ``impute`` section and the top-level ``seed``."""
    return ImputerConfig(**params.impute.imputer(), seed=params.seed)


def corpus_split(params: Params) -> tuple[dict, list[str], list[str], list[str]]:
    """The corpus files (``impute.folders``, else ``ingest.local.folders``) and their (train,
    validation, test) dataset names."""
    folders = params.impute.folders or params.ingest.local.folders
    files = corpus_files(folders or [])
    if not files:
        raise ValueError(
            f"params.yaml: the imputer's folders {folders} hold no CSV, ARFF or Parquet file to train on"
        )
    train, val, test = split_names(sorted(files), params)
    return files, train, val, test


def load_tables(files: dict, names: list[str], config: ImputerConfig, target: str) -> list[Table]:
    """Training tables of ``names`` (the target dropped, see ``imputation.training_table``)."""
    tables = []
    for name in names:
        table = training_table(
            load_features(files[name], target),
            config.max_table_rows,
            stable_seed(config.seed, name),
        )
        if table is not None:
            tables.append(table)
    return tables


def validation_scores(
    imputer: CellImputer, files: dict, names: list[str], params: Params
) -> dict[str, Any]:
    """Mean NRMSE (numeric cells) and accuracy (categorical cells) of the imputer, mean
    imputation and KNN on validation tables with ``score_pattern`` cells hidden."""
    from beyonder.imputer.api import fill

    section, seed = params.impute, params.seed
    pattern = section.score_pattern
    tables = scoring_tables(
        files, names, section.score_tables, section.score_rows, seed, params.ingest.local.target
    )
    results: dict[str, list[dict]] = {"beyonder": [], "simple": [], "knn": []}
    for name, X, _ in tables:
        masked, hidden = hide(X, pattern, stable_seed(seed, name, pattern))
        results["beyonder"].append(scores(X, fill(masked, imputer, seed=seed), hidden))
        for method in ("simple", "knn"):
            results[method].append(scores(X, sklearn_fill(masked, method, seed), hidden))
    metrics: dict[str, Any] = {"score_tables": len(tables), "score_pattern": pattern}
    for method, rows in results.items():
        for key in ("nrmse", "accuracy"):
            values = [r[key] for r in rows if r[key] is not None]
            metrics[f"{method}_{key}"] = round(float(np.mean(values)), 4) if values else None
    return metrics


def register_imputer(
    model_uri: str,
    metrics: dict[str, Any],
    files: dict,
    val_names: list[str],
    params: Params,
    root: str = ".",
) -> tuple[Any, Decision]:
    """Register the new imputer and give it the alias ``champion.decide_imputer`` chooses:
    ``champion`` if it beats mean imputation and the current champion, scored on the same
    validation tables and hidden cells, else ``challenger``. A champion that cannot be loaded or
    scored (a missing artifact, another layout) does not block: the reason says so."""
    from beyonder import tracking
    from beyonder.errors import error_line
    from beyonder.imputer.api import load_imputer

    champion = tracking.champion_version(tracking.IMPUTER_NAME)
    scored, why = None, "no champion yet"
    if champion is not None:
        try:
            old = load_imputer(f"models:/{tracking.IMPUTER_NAME}/{champion.version}", root)
            scored = validation_scores(old, files, val_names, params)
        except Exception as exc:  # noqa: BLE001 - any failure of the old model means no comparison
            why = f"champion version {champion.version} cannot be scored ({error_line(exc)})"
    decision = decide_imputer(metrics, scored, why)
    version = tracking.register(model_uri, tracking.IMPUTER_NAME)
    alias = tracking.CHAMPION if decision.promote else tracking.CHALLENGER
    tracking.set_alias(version, alias, tracking.IMPUTER_NAME)
    return version, decision
