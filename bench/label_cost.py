"""What labelling the bundled corpus from scratch costs, read from the shipped labels themselves.

    .venv/bin/python bench/label_cost.py [--labels corpus/labels.parquet] [--workers 2]
        [--calibrate DIR] [--json bench/label_cost/result.json]

Every label records the mean fit and predict seconds of its CV folds and the number of folds,
so a shipped labels file (``label.shipped``, keyed like the label cache) says how many seconds
of classifier fitting a fresh clone without it must spend: the sum over labels of
``(fit_time + predict_time) * n_folds``. Divided by the label stage's workers it is a lower
bound on the stage's wall time from scratch (it leaves out the per-label overhead of the
engine and the metric scoring), on a machine as fast and as busy as the ones that made the
labels. ``--calibrate DIR`` reads a label cache this machine filled (say the workdir of a
``python bench/fresh_clone.py --no-shipped-labels`` run, stopped when it has enough) and
scales the total by how long the labels both hold took here against their shipped seconds.

Results go to ``bench/RESULTS.md`` (between ``<!-- label_cost -->`` and ``<!-- /label_cost -->``,
replaced on every run) and, with ``--json PATH``, to JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_section import write_section  # noqa: E402  (a sibling bench module)

REPO = Path(__file__).resolve().parents[1]
MARK = "label_cost"


def cv_seconds(record: dict) -> float:
    """A label's fit and predict seconds over all its folds (records keep the folds' means)."""
    per_fold = float(record.get("fit_time") or 0.0) + float(record.get("predict_time") or 0.0)
    return per_fold * int(record.get("n_folds") or 0)


def label_seconds(path: Path) -> pd.DataFrame:
    """One row per shipped label: key, classifier, folds, CV seconds."""
    table = pd.read_parquet(path, columns=["key", "record"])
    records = [json.loads(r) for r in table["record"]]
    table = pd.DataFrame(
        {
            "key": table["key"].to_numpy(),
            "classifier": [r["classifier"] for r in records],
            "n_folds": [int(r.get("n_folds") or 0) for r in records],
            "fit": [float(r.get("fit_time") or 0.0) for r in records],
            "predict": [float(r.get("predict_time") or 0.0) for r in records],
        }
    )
    table["cv_seconds"] = [cv_seconds(r) for r in records]
    return table


def speed_ratio(table: pd.DataFrame, cache: Path) -> dict:
    """Seconds here over shipped seconds, summed over the labels ``cache`` (a label cache
    directory: ``<2 hex>/<key>.json``) shares with the shipped file."""
    shipped = dict(zip(table["key"], table["cv_seconds"], strict=True))
    here = there = 0.0
    shared = 0
    for path in cache.glob("*/*.json"):
        if path.stem in shipped:
            here += cv_seconds(json.loads(path.read_text()))
            there += shipped[path.stem]
            shared += 1
    if not shared or there <= 0:
        raise SystemExit(f"{cache}: no label shared with the shipped file")
    return {
        "cache": str(cache),
        "shared_labels": shared,
        "seconds_here": here,
        "seconds_shipped": there,
        "ratio": here / there,
    }


def summarise(table: pd.DataFrame, workers: int, calibration: dict | None = None) -> dict:
    by_classifier = table.groupby("classifier")["cv_seconds"].sum().sort_values(ascending=False)
    by_folds = table.groupby("n_folds")["cv_seconds"].agg(["count", "sum"])
    total = float(table["cv_seconds"].sum())
    return {
        "labels": len(table),
        "cv_seconds": total,
        "workers": workers,
        "least_wall_seconds": total / workers,
        "calibration": calibration,
        "calibrated_wall_seconds": None
        if calibration is None
        else total * calibration["ratio"] / workers,
        "by_classifier": {k: float(v) for k, v in by_classifier.items()},
        "by_folds": {
            str(k): {"labels": int(r["count"]), "cv_seconds": float(r["sum"])}
            for k, r in by_folds.iterrows()
        },
    }


def markdown(result: dict, labels_path: str) -> str:
    total = result["cv_seconds"]
    lines = [
        f"`python bench/label_cost.py --labels {labels_path} --workers {result['workers']}`: "
        f"{result['labels']:,} shipped labels record **{total:,.0f} s** of classifier fitting "
        f"and prediction (their folds' mean seconds times their folds): on {result['workers']} "
        f"workers, **{result['least_wall_seconds'] / 60:,.0f} min** of labelling from scratch at "
        "the speed they were recorded at, before any engine overhead.",
        "",
        "| classifier | CV seconds | share |",
        "|---|---|---|",
    ]
    calibration = result["calibration"]
    if calibration is not None:
        lines[0] = lines[0].replace(
            f"--workers {result['workers']}`",
            f"--workers {result['workers']} --calibrate {calibration['cache']}`",
        )
        lines[1:1] = [
            "",
            f"Timed again here: the {calibration['shared_labels']:,} labels of the calibration "
            f"cache took {calibration['seconds_here']:,.0f} s against {calibration['seconds_shipped']:,.0f} s "
            f"in the shipped records ({calibration['ratio']:.2f}x). At that speed labelling from "
            f"scratch needs at least **{result['calibrated_wall_seconds'] / 60:,.0f} min** on "
            f"{result['workers']} workers.",
        ]
    for name, seconds in result["by_classifier"].items():
        lines.append(f"| {name} | {seconds:,.0f} | {seconds / total:.0%} |")
    folds = ", ".join(
        f"{v['labels']:,} labels of {k}-fold CV: {v['cv_seconds']:,.0f} s"
        for k, v in result["by_folds"].items()
    )
    lines += ["", f"By folds: {folds}."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--labels", default="corpus/labels.parquet", help="a shipped labels file")
    parser.add_argument("--workers", type=int, default=2, help="the label stage's workers")
    parser.add_argument(
        "--calibrate",
        type=Path,
        help="a label cache filled on this machine, to rescale the seconds",
    )
    parser.add_argument("--json", type=Path, help="write the result here")
    args = parser.parse_args(argv)
    path = Path(args.labels)
    if not path.is_file():
        raise SystemExit(f"{path}: no such labels file")
    table = label_seconds(path)
    calibration = None if args.calibrate is None else speed_ratio(table, args.calibrate)
    result = summarise(table, args.workers, calibration)
    body = markdown(result, args.labels)
    print(body)
    write_section(REPO / "bench" / "RESULTS.md", MARK, body, "## Labelling from scratch")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
