"""The selection-quality table of ``bench/RESULTS.md`` from a ``beyonder evaluate --corpus`` JSON.

    python bench/crossval_table.py bench/crossval/bundled_5fold.json --against landmark_ridge
    python bench/crossval_table.py bench/crossval/bundled_5fold.json --group uci

One row per method, best mean regret first: mean regret [95% bootstrap CI], the paired interval
of its regret minus the SBS's and minus each ``--against`` method's (same resampled datasets),
datasets where its pick beats / trails the SBS's, median, gap closed, top-1, top-3, Spearman,
MAE; then the brute-force reference (``cv_one_sample``). ``--group`` reads one corpus's part
of the report (``by_group``).

Paired intervals come from the JSON's ``regret_vs_ci``; a JSON written before that key existed
gets them recomputed from its ``per_dataset`` picks with the library's own
``beyonder.evaluation.evaluate_methods`` (the same resamples: ``--n-boot`` and ``--seed`` as
the run's ``evaluate`` params).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from beyonder.evaluation import evaluate_methods
from beyonder.schema import PORTFOLIO


def recomputed_pairs(result: dict[str, Any], n_boot: int, seed: int) -> dict[str, dict]:
    """``regret_vs_ci`` per method from the per-dataset picks (one-hot predictions)."""
    classifiers = result.get("classifiers") or list(PORTFOLIO)
    rows = result["per_dataset"]
    true = np.array([[np.nan if v is None else v for v in row["true"]] for row in rows])
    methods = sorted({k[: -len("_choice")] for row in rows for k in row if k.endswith("_choice")})
    preds = {}
    for method in methods:
        pred = np.full(true.shape, np.nan)
        for i, row in enumerate(rows):
            if f"{method}_choice" in row:
                pred[i] = 0.0
                pred[i, classifiers.index(row[f"{method}_choice"])] = 1.0
        preds[method] = pred
    sbs = np.array([classifiers.index(row["sbs_choice"]) for row in rows])
    report = evaluate_methods(true, preds, sbs, n_boot=n_boot, seed=seed)
    return {name: m["regret_vs_ci"] for name, m in report["methods"].items()}


def _interval(ci: list | None) -> str:
    if not ci or any(v is None or (isinstance(v, float) and math.isnan(v)) for v in ci):
        return "-"
    lo, hi = ci
    mark = "**" if hi < 0 or lo > 0 else ""  # wholly on one side of zero: a reliable difference
    return f"{mark}[{lo:+.2f}, {hi:+.2f}]{mark}"


def _points(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def table(result: dict[str, Any], against: list[str], group: str | None, n_boot: int, seed: int) -> str:
    part = result["by_group"][group] if group else result
    methods = part["methods"]
    pairs = {name: m.get("regret_vs_ci") for name, m in methods.items()}
    if any(not p for p in pairs.values()) and not group:
        pairs = recomputed_pairs(result, n_boot, seed)
    header = ["method", "mean regret [95% CI]", "minus SBS [paired]"]
    header += [f"minus {a} [paired]" for a in against]
    header += ["better / worse than SBS", "median", "gap closed", "top-1", "top-3", "Spearman", "MAE"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    order = sorted(methods, key=lambda n: (methods[n].get("mean_regret") is None, methods[n].get("mean_regret")))
    for name in order:
        m = methods[name]
        ci = m.get("mean_regret_ci") or [None, None]
        cells = [
            name,
            f"{_points(m.get('mean_regret'))} [{_points(ci[0])}, {_points(ci[1])}]",
            "0" if name == "sbs" else _signed(
                m.get("mean_regret"), methods["sbs"].get("mean_regret"),
                m.get("regret_vs_sbs_ci") or (pairs.get(name) or {}).get("sbs"),
            ),  # fmt: skip
        ]
        for other in against:
            if other == name:
                cells.append("0")
            else:
                ci_other = (pairs.get(name) or {}).get(other)
                cells.append(_signed(m.get("mean_regret"), methods[other].get("mean_regret"), ci_other))
        better_worse = m.get("better_worse_than_sbs") or []
        cells.append(" / ".join(str(v) for v in better_worse) if better_worse and name != "sbs" else "-")
        cells.append(_points(m.get("median_regret")))
        gap = m.get("gap_closed")
        cells.append("-" if gap is None else f"{gap:.0%}")
        for key in ("top1", "top3", "spearman", "mae"):
            value = m.get(key)
            cells.append("-" if value is None else f"{value:.2f}" if key != "mae" else f"{value:.1f}")
        lines.append("| " + " | ".join(cells) + " |")
    ref = part.get("cv_one_sample") or {}
    if ref.get("mean_regret") is not None:
        lines.append(
            f"| brute force: 5-fold CV of one sample | {ref['mean_regret']:.2f} (SBS on the same "
            f"truths {ref['sbs_mean_regret']:.2f}, {int(ref['n_datasets'])} datasets) | | "
            + "| " * len(against)
            + f"- | - | {ref['gap_closed']:.0%} | - | - | {_number(ref.get('spearman'))} | - |"
        )
    return "\n".join(lines)


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _signed(value: float | None, other: float | None, ci: list | None) -> str:
    if value is None or other is None:
        return "-"
    return f"{value - other:+.2f} {_interval(ci)}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("json", type=Path, help="a beyonder evaluate --corpus --json report")
    parser.add_argument("--against", action="append", default=[], help="also pair every method with this one")
    parser.add_argument("--group", help="one corpus of the report (by_group), e.g. uci")
    parser.add_argument("--n-boot", type=int, default=1000, help="resamples (the run's evaluate.n_boot)")
    parser.add_argument("--seed", type=int, default=42, help="the run's seed")
    args = parser.parse_args(argv)
    result = json.loads(args.json.read_text())
    print(table(result, args.against, args.group, args.n_boot, args.seed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
