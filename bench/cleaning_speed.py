"""Cleaning speed on the two shapes that once made it slow: a wide frame (1,000 rows x 2,000
numeric columns, an ID-like integer column, a few rows without a target) and a
50,000-level categorical (100,000 rows, each level twice, beside an all-distinct ID column).

``tests/test_cleaning.py`` checks what cleaning does to the same frames; how long it takes
depends on the machine and its load, so it is measured here, not asserted there.

    python bench/cleaning_speed.py              # median of 5 runs per frame, JSON on stdout
    python bench/cleaning_speed.py --repeats 1
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from beyonder.data.cleaning import clean_dataset  # noqa: E402
from beyonder.params import CleaningConfig  # noqa: E402
from beyonder.schema import TARGET  # noqa: E402


def wide_frame(n: int = 1000, k: int = 2000) -> pd.DataFrame:
    """``n`` rows x ``k`` normal columns, an ID-like ``ints`` column (the distinct-count path),
    a 4-level ``cat``, 3 classes, the first 5 rows without a target (the row-take path)."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(n, k)), columns=[f"f{i}" for i in range(k)])
    frame["ints"] = rng.integers(0, 10**9, n)
    frame["cat"] = np.array(["u", "v", "w", "z"] * (n // 4), dtype=object)
    frame[TARGET] = rng.integers(0, 3, n)
    frame.loc[:4, TARGET] = np.nan
    return frame


def many_levels_frame(n: int = 100_000, levels: int = 50_000) -> pd.DataFrame:
    """A categorical ``c`` with ``levels`` levels, each ``n / levels`` times (capped, not an
    ID), an all-distinct ``u`` (an ID), a numeric ``x`` and 2 classes."""
    rng = np.random.default_rng(0)
    values = np.array([f"v{i:05d}" for i in rng.permutation(n) % levels], dtype=object)
    unique = np.array([f"u{i}" for i in range(n)], dtype=object)
    return pd.DataFrame(
        {"c": values, "u": unique, "x": rng.normal(size=n), TARGET: rng.integers(0, 2, n)}
    )


FRAMES = {
    "wide_1000x2000": (wide_frame, CleaningConfig(max_features=None)),
    "categorical_50000_levels": (many_levels_frame, CleaningConfig()),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    results = {}
    for name, (build, config) in FRAMES.items():
        frame = build()
        seconds = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            clean_dataset(frame, config)
            seconds.append(time.perf_counter() - start)
        results[name] = {
            "median_seconds": round(statistics.median(seconds), 3),
            "runs": len(seconds),
        }
    results["load_average_1min"] = round(os.getloadavg()[0], 2)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
