"""Does the synthetic prior rank the portfolio like real tables do?

A synthetic corpus can only teach a selector what real tables need if its classifier rankings
look like theirs, so it is judged on labels before any pretraining:

- **winner distribution**: the share of datasets each classifier wins (ties split), and the
  total-variation distance between a group's distribution and the real corpus's (0: the same
  winners as often; 1: no winner in common);
- **rank agreement**: Spearman between a group's mean rank of each classifier and the real
  corpus's (1: the same order of the portfolio on average);
- **favourite's regret**: the mean regret, on the real datasets, of always using the group's
  own single best classifier (what a selector that learnt only the group's average would lose).

Rows: the real corpus, each of its folders (``uci``, ``statlib_binarized``), the synthetic
corpus and each of its generators (recovered by drawing each dataset's parameters again from
the seed its manifest records).

Usage (two labelled workspaces, e.g. a clone after ``dvc repro`` and one whose params enable
only ``ingest.synthetic``)::

    python bench/synthetic_prior.py --real REAL_WS --synthetic SYNTH_WS [--json OUT]
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import rankdata, spearmanr

from beyonder.config import Layout
from beyonder.data.sources.synthetic import SyntheticSpec, generate_dataset
from beyonder.evaluation.workspaces import corpus_groups
from beyonder.params import load_params
from beyonder.schema import PORTFOLIO
from beyonder.selector.corpus import load_corpus, per_dataset_mean

ORIGIN = re.compile(r"^synthetic:seed=(\d+):index=(\d+)$")


def dataset_accuracy(root: Path) -> pd.DataFrame:
    """Each dataset's mean CV accuracy per classifier over its original bootstrap samples."""
    corpus = load_corpus(Layout(root), list(PORTFOLIO), include_augmented=False)
    corpus = corpus.subset((corpus.index["kind"] == "bootstrap").to_numpy())
    return per_dataset_mean(corpus, corpus.accuracy)


def generators(root: Path) -> dict[str, str]:
    """Synthetic dataset -> the generator that drew it, from the seed in its manifest entry."""
    spec = SyntheticSpec.from_ranges(load_params(root / "params.yaml").ingest.synthetic.spec)
    out = {}
    for entry in json.loads((Layout(root).raw / "manifest.json").read_text()):
        match = ORIGIN.match(entry.get("origin", ""))
        if match:
            rng = np.random.default_rng([int(match[1]), int(match[2])])
            out[entry["name"]] = generate_dataset(rng, spec, entry["name"]).meta["generator"]
    return out


def winner_shares(acc: pd.DataFrame, tolerance: float = 0.005) -> np.ndarray:
    """Share of datasets each classifier wins; classifiers within ``tolerance`` of the best
    share the win."""
    values = acc.to_numpy(np.float64)
    best = np.nanmax(values, axis=1, keepdims=True)
    wins = np.nan_to_num(values >= best - tolerance).astype(np.float64)
    wins /= np.maximum(wins.sum(axis=1, keepdims=True), 1.0)
    return wins.mean(axis=0)


def mean_ranks(acc: pd.DataFrame) -> np.ndarray:
    """Mean rank of each classifier over datasets (1 = best); missing labels rank last."""
    values = np.nan_to_num(acc.to_numpy(np.float64), nan=-1.0)
    return np.mean([rankdata(-row) for row in values], axis=0)


def compare(group: pd.DataFrame, real: pd.DataFrame) -> dict:
    shares, real_shares = winner_shares(group), winner_shares(real)
    favourite = int(np.nanargmax(np.nanmean(group.to_numpy(np.float64), axis=0)))
    real_values = real.to_numpy(np.float64)
    regret = np.nanmax(real_values, axis=1) - real_values[:, favourite]
    return {
        "datasets": len(group),
        "winner_shares": {c: round(float(s), 3) for c, s in zip(real.columns, shares, strict=True)},
        "winner_tv_distance": round(float(0.5 * np.abs(shares - real_shares).sum()), 3),
        "mean_rank_spearman": round(
            float(spearmanr(mean_ranks(group), mean_ranks(real)).statistic), 3
        ),
        "favourite": str(real.columns[favourite]),
        "favourite_regret_on_real": round(float(100 * np.nanmean(regret)), 2),
    }


def report(real_root: Path, synthetic_root: Path) -> dict:
    real = dataset_accuracy(real_root)
    groups = corpus_groups(Layout(real_root))
    synthetic = dataset_accuracy(synthetic_root)
    made_by = generators(synthetic_root)
    rows = {"real": compare(real, real)}
    for name in sorted(set(groups.get(d, "") for d in real.index)):
        rows[f"real: {name}"] = compare(real[[groups.get(d, "") == name for d in real.index]], real)
    rows["synthetic"] = compare(synthetic, real)
    kinds = sorted(set(made_by.values()))
    for kind in kinds:
        members = synthetic[[made_by.get(d) == kind for d in synthetic.index]]
        if len(members):
            rows[f"synthetic: {kind}"] = compare(members, real)
    mix = closest_mix(synthetic, made_by, kinds, real)
    rows[f"synthetic: closest mix ({' + '.join(mix)})"] = compare(
        synthetic[[made_by.get(d) in mix for d in synthetic.index]], real
    )
    return {"classifiers": list(real.columns), "groups": rows, "closest_mix": list(mix)}


def closest_mix(
    synthetic: pd.DataFrame, made_by: dict[str, str], kinds: list[str], real: pd.DataFrame
) -> tuple:
    """The subset of generators whose pooled datasets' winners are closest to the real
    corpus's (total variation; ties to the larger subset): which generators to keep in a prior
    meant to look like real tables. Chosen on these labels, so its own distance is optimistic."""
    real_shares = winner_shares(real)
    best: tuple[float, int, tuple] = (np.inf, 0, ())
    for size in range(1, len(kinds) + 1):
        for mix in itertools.combinations(kinds, size):
            pooled = synthetic[[made_by.get(d) in mix for d in synthetic.index]]
            distance = 0.5 * float(np.abs(winner_shares(pooled) - real_shares).sum())
            best = min(best, (round(distance, 6), -size, mix))
    return best[2]


def markdown(result: dict) -> str:
    classifiers = result["classifiers"]
    head = ["group", "datasets", "TV distance of winners", "Spearman of mean ranks",
            "favourite", "favourite's regret on real", *classifiers]  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, row in result["groups"].items():
        shares = [f"{row['winner_shares'][c]:.2f}" for c in classifiers]
        lines.append(
            f"| {name} | {row['datasets']} | {row['winner_tv_distance']:.2f} | {row['mean_rank_spearman']:.2f} "
            f"| {row['favourite']} | {row['favourite_regret_on_real']:.2f} | "
            + " | ".join(shares)
            + " |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--real", required=True, type=Path, help="labelled workspace of real tables"
    )
    parser.add_argument(
        "--synthetic", required=True, type=Path, help="labelled workspace of synthetic tables"
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    result = report(args.real, args.synthetic)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(markdown(result))


if __name__ == "__main__":
    main()
