"""Check the whole-table fit time that ``beyonder recommend`` reports against real fits.

The model predicts the seconds of one CV fold fit on a 500-row sample (what the label stage
measures); ``beyonder.evaluation.decisions.table_fit_time`` scales that to one fit on the whole table by
``SCALING_EXPONENTS``. On a few of the corpus's largest cleaned tables this script measures
both ends with the label stage's own code: the fold fit time on a bootstrap sample
(``labelling.label_sample``, 5 folds) and one fit of the whole table (capped at
``--max-rows``), then reports per classifier:

- the exponent the two measurements imply, ``log(t_table / t_fold) / log(n_table / n_fold)``,
  median over the tables, next to the one in ``SCALING_EXPONENTS``;
- the error of the scaling alone (measured fold time scaled, against the measured table
  fit): median absolute log10 error, and the share within a factor 3;
- with ``--model``, the same for the model's own prediction (``predicted_table_fit_time``).

    python bench/fit_time_scaling.py --workspace . --model data/model/beyonder

Single-threaded fits, as labelling runs them; timings on a shared machine are noisy, so each
figure is a median over tables. About 3-5 CPU minutes with the defaults.
"""

from __future__ import annotations

import argparse
import json
import math
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from beyonder.data.sampling import bootstrap_samples
from beyonder.evaluation.decisions import SCALING_EXPONENTS, table_fit_time
from beyonder.labels.labelling import CVSettings, _prepare, label_sample
from beyonder.labels.portfolio import build_classifier
from beyonder.schema import PORTFOLIO, ROW_ID, TARGET

TABLES = ("nursery", "pendigits", "mushroom", "optdigits", "page.blocks", "ailerons")
"""The largest cleaned tables of the bundled corpus but letter (20,000 rows, 26 classes: its
kernel SVMs alone would take minutes)."""


def fit_seconds(frame: pd.DataFrame, classifier: str, seed: int) -> float:
    """Seconds of one single-threaded fit of ``classifier`` on all of ``frame``."""
    data = frame.copy()
    data[ROW_ID] = np.arange(len(data))
    x, y, _, numeric, categorical = _prepare(data)
    model = build_classifier(classifier, seed, numeric, categorical)
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        model.fit(x, y)
        return time.perf_counter() - start


def measure(
    workspace: Path,
    tables: list[str],
    max_rows: int,
    sample_rows: int,
    seed: int,
    model: Path | None,
) -> list[dict]:
    recommender = None
    if model is not None:
        from beyonder.serving.recommend import Recommender

        recommender = Recommender.load(model)
    rows = []
    for name in tables:
        frame = pd.read_parquet(workspace / "data" / "clean" / f"{name}.parquet")
        if len(frame) > max_rows:
            frame = frame.sample(max_rows, random_state=seed).reset_index(drop=True)
        ((_, sample),) = bootstrap_samples(frame, name, sample_rows, 1, True, seed)
        folds = {r["classifier"]: r for r in label_sample(sample, PORTFOLIO, CVSettings(5, seed))}
        predicted = None
        if recommender is not None:
            predicted = recommender.predict(frame, TARGET).set_index("classifier")[
                "predicted_fit_time"
            ]
        for classifier in PORTFOLIO:
            fold = folds[classifier]["fit_time"]
            whole = fit_seconds(frame, classifier, seed)
            fold_rows = min(sample_rows, len(frame)) * 4 / 5
            rows.append(
                {
                    "table": name,
                    "rows": len(frame),
                    "classifier": classifier,
                    "fold_seconds": fold,
                    "table_seconds": whole,
                    "implied_exponent": math.log(whole / fold) / math.log(len(frame) / fold_rows),
                    "sample_rows": sample_rows,
                    "model_fold_seconds": None
                    if predicted is None
                    else float(predicted[classifier]),
                }
            )
            print(
                f"{name:<12} {classifier:<14} fold {fold:8.4f} s  table {whole:8.3f} s", flush=True
            )
    return rows


def summary(rows: list[dict]) -> str:
    """The markdown table; whole-table times are scaled here, with the current exponents."""
    frame = pd.DataFrame(rows)

    def scaled(column: str) -> pd.Series:
        return pd.Series(
            [
                float(table_fit_time(np.array([r[column]]), [r["classifier"]], r["rows"], r.get("sample_rows", 500))[0])
                if r.get(column) is not None else np.nan
                for r in frame.to_dict("records")
            ]
        )  # fmt: skip

    frame["scaled"] = scaled("fold_seconds")
    frame["model"] = scaled("model_fold_seconds") if "model_fold_seconds" in frame else np.nan
    frame["scaled_error"] = np.abs(np.log10(frame["scaled"] / frame["table_seconds"]))
    has_model = frame["model"].notna().any()
    if has_model:
        frame["model_error"] = np.abs(
            np.log10(frame["model"].astype(float) / frame["table_seconds"])
        )
    header = ["classifier", "exponent used", "implied (median over tables)", "scaling alone: median |log10 error|",
              "within 3x"]  # fmt: skip
    if has_model:
        header += ["model's prediction: median |log10 error|", "within 3x"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    within = math.log10(3)
    for classifier, part in list(frame.groupby("classifier", sort=False)) + [("all", frame)]:
        used = "-" if classifier == "all" else f"{SCALING_EXPONENTS.get(classifier, 1.0):.2f}"
        cells = [classifier, used, f"{part['implied_exponent'].median():.2f}",
                 f"{part['scaled_error'].median():.2f}", f"{(part['scaled_error'] <= within).mean():.0%}"]  # fmt: skip
        if has_model:
            cells += [
                f"{part['model_error'].median():.2f}",
                f"{(part['model_error'] <= within).mean():.0%}",
            ]
        lines.append("| " + " | ".join(cells) + " |")
    tables = frame.groupby("table")["rows"].first()
    note = ", ".join(f"{t} ({r:,} rows)" for t, r in tables.items())
    return f"Tables: {note}.\n\n" + "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--workspace", type=Path, default=Path("."), help="a workspace after dvc repro (data/clean)"
    )
    parser.add_argument("--tables", default=",".join(TABLES), help="comma-separated cleaned tables")
    parser.add_argument(
        "--max-rows", type=int, default=12000, help="larger tables are subsampled to this"
    )
    parser.add_argument("--sample-rows", type=int, default=500, help="the pipeline's sample.rows")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--model",
        type=Path,
        help="a saved model folder (data/model/beyonder): check its predictions too",
    )
    parser.add_argument("--json", type=Path, help="write the measurements here")
    parser.add_argument(
        "--from-json",
        type=Path,
        help="summarise saved measurements (no fits) with the current exponents",
    )
    args = parser.parse_args(argv)
    if args.from_json:
        print(summary(json.loads(args.from_json.read_text())))
        return 0
    tables = [t for t in args.tables.split(",") if t]
    rows = measure(args.workspace, tables, args.max_rows, args.sample_rows, args.seed, args.model)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    print(summary(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
