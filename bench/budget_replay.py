"""The regret-against-CPU curve of a ``beyonder evaluate --corpus`` report, computed again
from what the report kept (``decisions.replay``) and the workspace's labels, without
training: each fold's measurement combiner is refitted and every policy replayed
(``beyonder.evaluation.budget.replay``). So a change to the combiner or to the budget's
allocation is measured in seconds on the same predictions, folds and truth.

    python bench/budget_replay.py bench/crossval/uci_budget.json --workspace data/corpora/uci
    python bench/budget_replay.py REPORT.json --workspace WS --json replayed.json   # then crossval_table --curve

Prints the curve as ``bench/crossval_table.py --curve`` does.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))


def main(argv: list[str] | None = None) -> int:
    from crossval_table import curve_tables

    from beyonder.config import Layout
    from beyonder.evaluation.budget import replay
    from beyonder.evaluation.truth import dataset_groups
    from beyonder.evaluation.workspaces import corpus_groups
    from beyonder.params import load_params
    from beyonder.selector.combiner import params_tiers
    from beyonder.selector.corpus import load_corpus, load_measurements

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "report", type=Path, help="a beyonder evaluate --corpus --json report with decisions.replay"
    )
    parser.add_argument(
        "--workspace", type=Path, required=True, help="its labelled workspace (data/corpora/NAME)"
    )
    parser.add_argument(
        "--params", type=Path, help="params for tiers and budgets (default: the workspace's)"
    )
    parser.add_argument("--json", type=Path, help="write the report with the replayed curve here")
    args = parser.parse_args(argv)
    report = json.loads(args.report.read_text())
    data = (report.get("decisions") or {}).get("replay")
    if not data:
        parser.error(
            f"{args.report} has no decisions.replay (written before it existed, or without a combiner)"
        )
    params = load_params(args.params or args.workspace / "params.yaml")
    layout = Layout(args.workspace)
    classifiers = report.get("classifiers") or list(params.label.classifiers)
    corpus = load_corpus(layout, classifiers, include_augmented=False)
    tiers = params_tiers(params)
    groups = dataset_groups(
        corpus_groups(layout), params.evaluate.groups
    )  # natural, binarized, ...
    curve = replay(
        data, corpus, load_measurements(layout, classifiers), tiers, groups,
        shares=tuple(params.evaluate.budget_shares), n_boot=params.evaluate.n_boot, seed=params.seed,
    )  # fmt: skip
    out = {**report, "decisions": {**report["decisions"], "budget_curve": curve}}
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    print(curve_tables(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
