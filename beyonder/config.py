"""Reading ``params.yaml`` and the fixed layout of stage outputs under ``data/``."""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

import yaml


class ParamsError(ValueError):
    """params.yaml is missing or malformed."""


def load_params(path: str | Path = "params.yaml") -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"{path}: no such params file (run from the repository root)")
    try:
        params = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(params, dict):
        raise ParamsError(f"{path}: expected a mapping at the top level")
    return params


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
        self.labels = self.data / "labels"
        self.label_cache = self.data / "cache" / "labels"
        self.augmented = self.data / "augmented"
        self.model = self.data / "model"
        # in git, not under data/: `dvc metrics diff` and `dvc plots diff` compare commits
        self.evaluation = self.root / "evaluation"
        self.metrics = self.root / "metrics"

    def dataset_file(self, folder: Path, name: str) -> Path:
        """``folder/name.parquet``, refusing any name that would leave ``folder``."""
        path = (folder / f"{name}.parquet").resolve()
        if path.parent != folder.resolve():
            raise ValueError(f"dataset name {name!r} escapes {folder}")
        return path
