"""Beyonder: predict how well each classifier of a portfolio scores on a dataset.

``beyonder.recommend(df, target="class")`` ranks the portfolio for a table with the registered
champion model (see ``beyonder/serving/recommend.py``); it is imported on first use, so
``import beyonder`` stays light (no TensorFlow, no MLflow). ``beyonder.impute(df)`` and
``beyonder.BeyonderImputer`` fill missing cells with the trained imputer (``beyonder/imputer/api.py``).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = ("recommend", "impute", "BeyonderImputer")


def __getattr__(name: str) -> Any:
    if name in ("impute", "BeyonderImputer"):  # beyonder/imputer/api.py (TensorFlow on first fill)
        return getattr(importlib.import_module("beyonder.imputer.api"), name)
    if name in _LAZY:
        # the module is callable: beyonder.recommend(df, target=...) calls recommend.recommend
        return importlib.import_module("beyonder.serving.recommend")
    raise AttributeError(f"module 'beyonder' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
