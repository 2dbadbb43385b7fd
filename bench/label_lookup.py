"""What the label stage spends before and after labelling: finding the pending labels and
assembling the table, on a labelled workspace, with the classifier descriptions of the label
keys built once per process (as the stage does) and built afresh for every key (as it did),
side by side in one run.

    .venv/bin/python bench/label_lookup.py                 # the workspace of this repository
    .venv/bin/python bench/label_lookup.py --root ../regws --json /tmp/lookup.json

On a workspace where ``dvc repro`` has run, every label is in the cache or in the shipped
labels, so both passes read every label and compute none: this is the time ``beyonder
label`` spends on a rerun with nothing to compute, and before its first batch otherwise.
Names: the params file's portfolio plus, when ``regularisation`` is on, its C grid (the
label stage's own list). Nothing is written.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import beyonder.labels.labelling as labelling
from beyonder.config import Layout
from beyonder.labels.portfolio import classifier_config
from beyonder.params import load_params
from beyonder.stages.label import (
    assemble_labels,
    cv_settings,
    label_cache,
    pending_jobs,
    sample_index,
    sample_label_names,
)


def timed_passes(root: Path, names: list[str], fresh_configs: bool) -> dict:
    """Wall and CPU seconds of ``pending_jobs`` and ``assemble_labels`` over the workspace's
    sample index; ``fresh_configs`` builds each key's classifier description anew."""
    params = load_params(root / "params.yaml")
    entries = sample_index(Layout(root))
    cv = cv_settings(params.label, params.seed)
    cache = label_cache(params, root)
    cached = labelling._classifier_config
    if fresh_configs:
        labelling._classifier_config = classifier_config
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        pending = pending_jobs(entries, names, cv, cache)
        mid = time.perf_counter()
        table = assemble_labels(entries, names, cv, cache)
        end = time.perf_counter()
    finally:
        labelling._classifier_config = cached
    return {
        "samples": len(entries),
        "names": len(names),
        "labels": len(table),
        "pending_jobs": len(pending),
        "pending_s": round(mid - wall, 2),
        "assemble_s": round(end - mid, 2),
        "cpu_s": round(time.process_time() - cpu, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path("."), help="a labelled workspace")
    parser.add_argument("--json", type=Path, help="write the results here too")
    args = parser.parse_args()
    names = sample_label_names(load_params(args.root / "params.yaml"))
    results = {
        "descriptions built once": timed_passes(args.root, names, fresh_configs=False),
        "descriptions built per key": timed_passes(args.root, names, fresh_configs=True),
    }
    for mode, result in results.items():
        print(f"{mode}: {json.dumps(result)}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
