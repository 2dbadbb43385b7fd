"""The raw dataset record that every source yields, and safe dataset names."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pandas as pd

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(name: str) -> str:
    """A dataset name that can be used as a file name under ``data/`` and never escapes it.

    Path separators, ``..`` and other odd characters become ``_``; the result is never empty
    and never starts with a dot.
    """
    cleaned = _UNSAFE.sub("_", str(name)).replace("..", "_").strip("._-")
    return cleaned[:120] or "dataset"


@dataclass
class RawDataset:
    """One dataset as read from a source: features plus the target column ``target``."""

    name: str
    source: str
    frame: pd.DataFrame
    target: str
    origin: str = ""
    meta: dict = field(default_factory=dict)


@dataclass
class LoadFailure:
    """A dataset a source could not read, with the reason, so the others go on."""

    name: str
    source: str
    origin: str
    reason: str
