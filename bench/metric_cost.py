"""What scoring several metrics adds to labelling: accuracy alone against every metric, side by side.

    .venv/bin/python bench/metric_cost.py                          # 16 datasets of the bundled corpus
    .venv/bin/python bench/metric_cost.py --datasets 4 --json bench/metric_cost/result.json

A label is one classifier's ``label.n_folds``-fold CV on one bootstrap sample. Scoring
accuracy needs the predicted classes only; balanced accuracy and macro-F1 reuse them, while
ROC AUC and log loss need each fold's class scores (``predict_proba`` or
``decision_function``) on the same fitted model. This benchmark labels the same samples both
ways with ``beyonder.labels.labelling.label_sample`` (``metrics=("accuracy",)`` and the full
``METRICS``), on the whole portfolio of ``params.yaml``, alternating which way goes first per
sample, and sums the CPU seconds of this process (``time.process_time``; labelling is
single-threaded) so a busy machine does not bias the ratio.

Datasets: every ``--step``-th file of the bundled folders (``corpus/uci`` and ``corpus/extra``
by default) in name order, cleaned as the clean stage does, with at least 100 rows; one
sample of ``sample.rows`` rows each (``--samples`` more with a larger number).

Results go to ``bench/RESULTS.md`` (between ``<!-- metric_cost -->`` and
``<!-- /metric_cost -->``, replaced on every run) and, with ``--json PATH``, to JSON.
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_section import write_section  # noqa: E402  (a sibling bench module)

REPO = Path(__file__).resolve().parents[1]
MARK = "metric_cost"
MIN_ROWS = 100


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--folders",
        type=Path,
        nargs="+",
        default=[REPO / "corpus" / "uci", REPO / "corpus" / "extra"],
    )
    p.add_argument("--datasets", type=int, default=16, help="datasets (default 16)")
    p.add_argument(
        "--step", type=int, default=7, help="take every step-th file of the folders (default 7)"
    )
    p.add_argument(
        "--samples", type=int, default=1, help="bootstrap samples per dataset (default 1)"
    )
    p.add_argument("--params", type=Path, default=REPO / "params.yaml")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--results", type=Path, default=REPO / "bench" / "RESULTS.md")
    return p.parse_args(argv)


def pick_samples(args: argparse.Namespace, params) -> list[tuple[str, object, dict]]:
    """(sample id, sample, dataset facts) for the slice, drawn as the sample stage draws them."""
    from beyonder.data.cleaning import CleaningError, clean_dataset
    from beyonder.data.datasets import LoadFailure
    from beyonder.data.sampling import bootstrap_samples
    from beyonder.data.sources.local import SUFFIXES, load_file
    from beyonder.schema import TARGET
    from beyonder.stages.ingest import storable

    files = sorted(
        (p for folder in args.folders for p in folder.iterdir() if p.suffix.lower() in SUFFIXES),
        key=lambda p: p.name,
    )
    chosen = []
    for path in files[:: args.step]:
        if len({c[2]["dataset"] for c in chosen}) == args.datasets:
            break
        raw = load_file(path, target=params.ingest.local.target)
        if isinstance(raw, LoadFailure):
            continue
        try:
            frame, _ = clean_dataset(storable(raw), params.clean)
        except CleaningError:
            continue
        if len(frame) < MIN_ROWS:
            continue
        facts = {
            "dataset": raw.name,
            "rows": len(frame),
            "features": frame.shape[1] - 1,
            "classes": int(frame[TARGET].nunique()),
        }
        for sample_id, sample in bootstrap_samples(
            frame, raw.name, rows=params.sample.rows, per_dataset=args.samples, seed=params.seed
        ):
            chosen.append((sample_id, sample, facts))
    return chosen


def cpu_seconds(fn) -> tuple[float, object]:
    start = time.process_time()
    out = fn()
    return time.process_time() - start, out


def run(args: argparse.Namespace) -> dict:
    from beyonder.labels.labelling import label_sample
    from beyonder.labels.metrics import METRICS
    from beyonder.params import load_params
    from beyonder.stages.label import cv_settings

    params = load_params(args.params)
    cv = cv_settings(params.label, params.seed)
    classifiers = list(params.label.classifiers)
    ways = {"accuracy": ("accuracy",), "all": tuple(METRICS)}
    rows = []
    for i, (sample_id, sample, facts) in enumerate(pick_samples(args, params)):
        order = list(ways) if i % 2 == 0 else list(ways)[::-1]
        seconds, accuracy = {}, {}
        for way in order:
            seconds[way], records = cpu_seconds(
                lambda w=way, s=sample: label_sample(s, classifiers, cv, ways[w])
            )
            accuracy[way] = [r["accuracy"] for r in records]  # the portfolio's order both ways
        same = np.array_equal(accuracy["accuracy"], accuracy["all"], equal_nan=True)
        rows.append(
            {
                "sample": sample_id,
                **facts,
                **{f"cpu_{w}": s for w, s in seconds.items()},
                "same_accuracy": same,
            }
        )
        print(
            f"{sample_id:40s} accuracy {seconds['accuracy']:7.2f}s  all {seconds['all']:7.2f}s",
            file=sys.stderr,
        )
    total = {w: sum(r[f"cpu_{w}"] for r in rows) for w in ways}
    per_sample = sorted(r["cpu_all"] / r["cpu_accuracy"] for r in rows if r["cpu_accuracy"] > 0)
    return {
        "command": "python bench/metric_cost.py " + shlex.join(sys.argv[1:]),
        "machine": f"{platform.machine()}, Python {platform.python_version()}",
        "metrics": list(METRICS),
        "classifiers": classifiers,
        "n_folds": cv.n_folds,
        "rows_per_sample": params.sample.rows,
        "samples": rows,
        "cpu_seconds": total,
        "growth": total["all"] / total["accuracy"] - 1.0,
        "median_sample_growth": per_sample[len(per_sample) // 2] - 1.0
        if per_sample
        else float("nan"),
        "max_sample_growth": per_sample[-1] - 1.0 if per_sample else float("nan"),
        "accuracy_unchanged": all(r["same_accuracy"] for r in rows),
    }


def markdown(result: dict) -> str:
    lines = [
        f"`{result['command']}` ({result['machine']}): {len(result['samples'])} samples of "
        f"{result['rows_per_sample']} rows, {len(result['classifiers'])} classifiers, {result['n_folds']}-fold CV, "
        "CPU seconds of the labelling process, both ways on the same samples.",
        "",
        "| labels carry | CPU seconds | growth |",
        "| --- | --- | --- |",
        f"| accuracy only | {result['cpu_seconds']['accuracy']:.1f} | |",
        f"| {', '.join(result['metrics'])} | {result['cpu_seconds']['all']:.1f} | {100 * result['growth']:+.1f}% |",
        "",
        f"Per sample: median growth {100 * result['median_sample_growth']:+.1f}%, largest "
        f"{100 * result['max_sample_growth']:+.1f}%. Accuracy identical both ways: "
        f"{'yes' if result['accuracy_unchanged'] else 'NO'}.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result = run(args)
    block = markdown(result)
    print(block)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    write_section(
        args.results, MARK, block, "## Labelling cost of the metrics (`bench/metric_cost.py`)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
