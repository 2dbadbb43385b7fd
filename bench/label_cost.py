"""What labelling the bundled corpus from scratch costs, read from the shipped labels themselves.

    .venv/bin/python bench/label_cost.py [--labels corpus/labels.parquet] [--workers 2]
        [--calibrate DIR] [--json bench/label_cost/result.json]

Every label records the mean fit and predict seconds of its CV folds and the number of folds,
so a shipped labels file (``label.shipped``, keyed like the label cache) says how many seconds
of classifier fitting a fresh clone without it must spend: the sum over labels of
``(fit_time + predict_time) * n_folds``. Divided by the label stage's workers it is a lower
bound on the stage's wall time from scratch (it leaves out the per-label overhead of the
engine and the metric scoring), on a machine as fast and as busy as the ones that made the
labels. ``--calibrate DIR`` reads a label cache (``LabelCache``) this machine filled (say the workdir of a
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

from beyonder.labels.labelling import cv_seconds  # noqa: E402
from beyonder.stages.label import LabelCache, read_shipped  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
MARK = "label_cost"


def label_seconds(path: Path) -> pd.DataFrame:
    """One row per shipped label: key, classifier, folds, CV seconds."""
    records = {key: json.loads(text) for key, text in read_shipped(path).items()}
    return pd.DataFrame(
        {
            "key": list(records),
            "classifier": [r["classifier"] for r in records.values()],
            "n_folds": [int(r.get("n_folds") or 0) for r in records.values()],
            "cv_seconds": [cv_seconds(r) for r in records.values()],
        }
    )


def speed_ratio(table: pd.DataFrame, cache: Path) -> dict:
    """Seconds here over shipped seconds, summed over the labels the label cache ``cache``
    holds of the shipped file's."""
    here_cache = LabelCache(cache)
    here = there = 0.0
    shared = 0
    for key, shipped_seconds in zip(table["key"], table["cv_seconds"], strict=True):
        record = here_cache.get(key)
        if record is not None:
            here += cv_seconds(record)
            there += shipped_seconds
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
    total, workers, calibration = result["cv_seconds"], result["workers"], result["calibration"]
    command = f"python bench/label_cost.py --labels {labels_path} --workers {workers}"
    if calibration is not None:
        command += f" --calibrate {calibration['cache']}"
    lines = [
        f"`{command}`: {result['labels']:,} shipped labels record **{total:,.0f} s** of "
        "classifier fitting and prediction (their folds' mean seconds times their folds): on "
        f"{workers} workers, **{result['least_wall_seconds'] / 60:,.0f} min** of labelling from "
        "scratch at the speed they were recorded at, before any engine overhead.",
    ]
    if calibration is not None:
        lines += [
            "",
            f"Timed again here: the {calibration['shared_labels']:,} labels of the calibration "
            f"cache took {calibration['seconds_here']:,.0f} s against {calibration['seconds_shipped']:,.0f} s "
            f"in the shipped records ({calibration['ratio']:.2f}x). At that speed labelling from "
            f"scratch needs at least **{result['calibrated_wall_seconds'] / 60:,.0f} min** on "
            f"{workers} workers.",
        ]
    lines += ["", "| classifier | CV seconds | share |", "|---|---|---|"]
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
