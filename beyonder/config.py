"""The fixed layout of stage outputs under ``data/``, and stable seeds (``params.yaml`` is read
by ``beyonder/params.py``)."""

from __future__ import annotations

import zlib
from pathlib import Path


def stable_seed(*parts: object) -> list[int]:
    """A seed sequence from a base seed and names: stable across runs and Python versions.

    Keyed by names (not positions) so adding a dataset never changes another's randomness.
    """
    return [p if isinstance(p, int) else zlib.crc32(str(p).encode()) for p in parts]


class Layout:
    """Where each stage reads and writes, relative to the repository root."""

    def __init__(self, root: str | Path = "."):
        self.root = Path(root)
        self.data = self.root / "data"
        self.raw = self.data / "raw"
        self.clean = self.data / "clean"
        self.samples = self.data / "samples"
        self.measure_index = self.samples / "measure.json"  # measurement subsamples (sample stage)
        self.labels = self.data / "labels"
        self.measurements = self.labels / "measurements.parquet"  # their labels (label stage)
        self.curves = self.labels / "regularisation.parquet"  # the C-grid labels (label stage)
        self.label_cache = self.data / "cache" / "labels"
        self.augmented = self.data / "augmented"
        self.model = self.data / "model"
        self.refit = self.data / "refit"  # the judged configuration refit on every family
        # in git, not under data/: `dvc metrics diff` and `dvc plots diff` compare commits
        self.evaluation = self.root / "evaluation"
        self.metrics = self.root / "metrics"

    def dataset_file(self, folder: Path, name: str) -> Path:
        """``folder/name.parquet``, refusing any name that would leave ``folder``."""
        path = (folder / f"{name}.parquet").resolve()
        if path.parent != folder.resolve():
            raise ValueError(f"dataset name {name!r} escapes {folder}")
        return path
