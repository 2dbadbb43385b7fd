"""Benchmark of ``beyonder impute`` against scikit-learn's imputers on held-out tables.

The tables are the bundled corpus's datasets that the pipeline holds out for testing (whole
families, ``split`` in ``params.yaml``, ``imputation.split_names``): neither the selector nor
the imputer was trained on them. Each table (at most ``--max-rows`` random rows, its target
set aside) gets cells hidden by a pattern:

- ``mcar10`` / ``mcar30``: each feature cell hidden with probability 0.1 / 0.3;
- ``mnar``: missing not at random, about 20% of the cells, all from one side of each column
  (numeric: above its median; categorical: its most frequent level), ``imputation.mnar_mask``;

every column keeps at least two observed cells. Each imputer fills them:

- ``beyonder``: the trained imputer (``--model``, default ``data/imputer``);
- ``simple``: ``SimpleImputer`` (mean; most frequent level for categorical columns);
- ``knn``: ``KNNImputer(n_neighbors=5)``; ``iterative``: ``IterativeImputer(max_iter=10)``
  (BayesianRidge), both on standardised numeric columns and one-hot categorical columns
  (a level is the argmax of its column's filled one-hot block).

Scores per table: NRMSE over hidden numeric cells (per column, RMSE divided by the column's
standard deviation in the complete table, averaged over columns), accuracy over hidden
categorical cells, seconds to fill the table; then the mean over tables. ``--downstream``
patterns also get the 3-fold stratified CV accuracy of the portfolio's ``hist_gb`` on each
imputed table (and on the complete table, ``complete``).

    python bench/impute.py --json bench/impute/report.json   # 4 CPU-minutes (15 min wall shared)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from beyonder.config import stable_seed  # noqa: E402
from beyonder.imputer.imputation import corpus_files, split_names, table_from_frame  # noqa: E402
from beyonder.imputer.scores import hide, scores, scoring_tables, sklearn_fill  # noqa: E402
from beyonder.params import Params, load_params  # noqa: E402

METHODS = ("beyonder", "simple", "knn", "iterative")


def held_out_tables(
    params: Params, max_tables: int, max_rows: int, seed: int
) -> list[tuple[str, pd.DataFrame, pd.Series]]:
    """(name, features, target) of the held-out tables (``imputer.scores.scoring_tables``)."""
    files = corpus_files(params.ingest.local.folders)
    _, _, test = split_names(list(files), params)
    return scoring_tables(files, test, max_tables, max_rows, seed, params.ingest.local.target)


def downstream(X: pd.DataFrame, y: pd.Series, seed: int) -> float | None:
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    from beyonder.labels.labelling import _as_strings
    from beyonder.labels.portfolio import build_classifier

    counts = y.value_counts()
    keep = y.isin(counts.index[counts >= 3]).to_numpy()
    X, y = X[keep].reset_index(drop=True), y[keep].reset_index(drop=True)
    if y.nunique() < 2:
        return None
    table = table_from_frame(X)
    numeric = [str(c) for c, cat in zip(X.columns, table.categorical, strict=True) if not cat]
    categorical = [str(c) for c, cat in zip(X.columns, table.categorical, strict=True) if cat]
    X = X.copy()
    X.columns = [str(c) for c in X.columns]
    for c in categorical:
        X[c] = _as_strings(X[c])  # as the labelling engine passes them (missing: NaN)
    for c in numeric:
        X[c] = pd.to_numeric(X[c]).astype(float)
    model = build_classifier("hist_gb", seed, numeric, categorical)
    folds = StratifiedKFold(3, shuffle=True, random_state=seed)
    # one OpenMP thread: hist_gb's threads spinning on 2 shared cores made each fit 10x slower
    with warnings.catch_warnings(), threadpool_limits(1):
        warnings.simplefilter("ignore")
        return float(np.mean(cross_val_score(model, X, y, cv=folds)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--model", default="data/imputer", help="imputer folder or models:/ URI")
    parser.add_argument("--max-tables", type=int, default=24)
    parser.add_argument("--max-rows", type=int, default=500)
    parser.add_argument("--patterns", default="mcar10,mcar30,mnar")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument(
        "--downstream", default="mcar30", help="patterns scored by hist_gb CV ('' for none)"
    )
    parser.add_argument("--json", dest="json_path", help="write the report here")
    args = parser.parse_args(argv)
    params = load_params(args.params)
    seed = params.seed
    tables = held_out_tables(params, args.max_tables, args.max_rows, seed)
    patterns = [p for p in args.patterns.split(",") if p]
    methods = [m for m in args.methods.split(",") if m]
    wanted_downstream = {p for p in args.downstream.split(",") if p}
    imputer = None
    if "beyonder" in methods:
        from beyonder.imputer.api import fill, load_imputer

        imputer = load_imputer(args.model)
    rows = []
    for name, X, y in tables:
        complete_cv = downstream(X, y, seed) if wanted_downstream & set(patterns) else None
        for pattern in patterns:
            masked, hidden = hide(X, pattern, stable_seed(seed, name, pattern))
            for method in methods:
                start = time.perf_counter()
                if method == "beyonder":
                    filled = fill(masked, imputer, seed=seed)
                else:
                    filled = sklearn_fill(masked, method, seed)
                seconds = time.perf_counter() - start
                row = {"table": name, "rows": len(X), "features": X.shape[1], "pattern": pattern,
                       "method": method, "seconds": seconds, **scores(X, filled, hidden)}  # fmt: skip
                if pattern in wanted_downstream:
                    row["hist_gb_cv"] = downstream(filled, y, seed)
                    row["hist_gb_cv_complete"] = complete_cv
                rows.append(row)
                print(json.dumps(row), file=sys.stderr, flush=True)
    frame = pd.DataFrame(rows)
    summary = summarise(frame)
    wins = head_to_head(frame)
    report = {
        "command": "python bench/impute.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "tables": [name for name, _, _ in tables],
        "n_tables": len(tables),
        "summary": summary,
        "head_to_head": wins,
        "rows": rows,
    }
    if args.json_path:
        from beyonder.storage import write_json

        write_json(report, Path(args.json_path))
    print(markdown(summary))
    print()
    for w in wins:
        print(
            f"- {w['pattern']}: Beyonder's NRMSE below {w['rival']}'s on {w['wins']} of {w['tables']} tables"
        )
    print(f"\n{len(tables)} held-out tables: {', '.join(name for name, _, _ in tables)}")
    return 0


def head_to_head(frame: pd.DataFrame) -> list[dict]:
    """Per pattern and rival: on how many tables Beyonder's NRMSE is the lower one."""
    out = []
    if "beyonder" not in set(frame["method"]):
        return out
    for pattern, group in frame.groupby("pattern", sort=False):
        table = group.pivot(index="table", columns="method", values="nrmse").dropna()
        for rival in (m for m in table.columns if m != "beyonder"):
            out.append({"pattern": pattern, "rival": rival, "wins": int((table["beyonder"] < table[rival]).sum()),
                        "tables": len(table)})  # fmt: skip
    return out


def summarise(frame: pd.DataFrame) -> list[dict]:
    out = []
    for (pattern, method), group in frame.groupby(["pattern", "method"], sort=False):
        entry = {
            "pattern": pattern,
            "method": method,
            "nrmse": _mean(group["nrmse"]),
            "nrmse_tables": int(group["nrmse"].notna().sum()),
            "accuracy": _mean(group["accuracy"]),
            "accuracy_tables": int(group["accuracy"].notna().sum()),
            "seconds": _mean(group["seconds"]),
        }
        if "hist_gb_cv" in group and group["hist_gb_cv"].notna().any():
            entry["hist_gb_cv"] = _mean(group["hist_gb_cv"])
            entry["hist_gb_cv_complete"] = _mean(group["hist_gb_cv_complete"])
        out.append(entry)
    return out


def _mean(values: pd.Series) -> float | None:
    values = pd.to_numeric(values, errors="coerce").dropna()
    return round(float(values.mean()), 4) if len(values) else None


def markdown(summary: list[dict]) -> str:
    lines = [
        "| pattern | imputer | NRMSE (numeric) | accuracy (categorical) | s / table | hist_gb CV acc. |",
        "|---|---|---|---|---|---|",
    ]
    for e in summary:
        cv = (
            f"{e['hist_gb_cv']:.4f} (complete {e['hist_gb_cv_complete']:.4f})"
            if e.get("hist_gb_cv") is not None
            else ""
        )
        nrmse = f"{e['nrmse']:.4f}" if e["nrmse"] is not None else ""
        acc = f"{e['accuracy']:.4f}" if e["accuracy"] is not None else ""
        lines.append(
            f"| {e['pattern']} | {e['method']} | {nrmse} | {acc} | {e['seconds']:.3f} | {cv} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
