"""Train/test splits by dataset family: samples of one dataset (or of near-duplicate datasets)
never sit on both sides."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np

from beyonder.config import stable_seed
from beyonder.params import DEFAULT_FAMILIES


def family_of(dataset: str, patterns: Sequence[str] = DEFAULT_FAMILIES) -> str:
    """The family a dataset belongs to: the first pattern it matches, else its own name.

    The source prefix (``local.``, ``openml.<id>.``) is ignored for matching.
    """
    bare = re.sub(r"^(local|sklearn|openml\.\d+)\.", "", dataset)
    for pattern in patterns:
        if re.search(pattern, bare):
            return f"family:{pattern}"
    return bare


def grouped_test_split(
    datasets: Iterable[str],
    test_fraction: float,
    seed: int,
    families: Sequence[str] = DEFAULT_FAMILIES,
    eligible: set[str] | None = None,
) -> set[str]:
    """The datasets held out for testing: whole families, about ``test_fraction`` of them.

    Only ``eligible`` datasets (default: all) can be held out; the choice of each family
    depends only on its name and the seed, so adding datasets never reshuffles the others.
    """
    names = sorted(set(datasets))
    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(family_of(name, families), []).append(name)
    draws = {
        family: np.random.default_rng(stable_seed(seed, family)).random()
        for family, members in groups.items()
        if eligible is None or all(m in eligible for m in members)
    }
    chosen = {family for family, draw in draws.items() if draw < test_fraction}
    if not chosen and draws and test_fraction > 0 and len(groups) > 1:
        chosen = {min(draws, key=draws.get)}  # small corpora: hold out at least one family
    if chosen and len(chosen) == len(groups):  # ... and keep at least one for training
        chosen.discard(max(chosen, key=draws.get))
    return {m for family in chosen for m in groups[family]}


def grouped_folds(
    datasets: Iterable[str], n_folds: int, seed: int, families: Sequence[str] = DEFAULT_FAMILIES
) -> list[set[str]]:
    """Datasets split into ``n_folds`` test folds, whole families at a time, balanced in size."""
    names = sorted(set(datasets))
    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(family_of(name, families), []).append(name)
    order = list(groups)
    rng = np.random.default_rng(stable_seed(seed, "folds"))
    rng.shuffle(order)
    order.sort(key=lambda g: -len(groups[g]))  # stable: big families first, random among equals
    folds: list[set[str]] = [set() for _ in range(n_folds)]
    for family in order:
        smallest = min(range(n_folds), key=lambda i: len(folds[i]))
        folds[smallest].update(groups[family])
    return folds
