"""Train: labelled samples -> a fitted Beyonder, validated on whole held-out datasets.

The corpus, its splits and their rules live in ``beyonder/corpus.py``; this module turns the
``train`` section of ``params.yaml`` into the network's configuration.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from beyonder.inference import BeyonderConfig


def model_config(params: dict[str, Any], classifiers: list[str]) -> BeyonderConfig:
    """``BeyonderConfig`` from the ``train`` section (unknown keys are an error)."""
    cfg = dict(params.get("train") or {})
    known = {f.name for f in fields(BeyonderConfig)}
    unknown = set(cfg) - known
    if unknown:
        raise ValueError(f"params.yaml: unknown train keys {sorted(unknown)} (known: {sorted(known)})")
    cfg.setdefault("seed", int(params.get("seed", 0)))
    return BeyonderConfig(classifiers=list(classifiers), **cfg)
