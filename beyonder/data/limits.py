"""What cleaning caps, said when it happens.

Cleaning keeps at most ``clean.max_features`` feature columns (the most-missing go first) and
at most ``clean.max_categories`` levels per categorical column (the rarest merged into one
``__other__`` level). Both are recorded in the cleaning report, but a user whose table was cut
should be told there and then: ``cap_messages`` says each cap that applied in one line, and
``warn_caps`` raises them as ``CapWarning`` (the clean stage logs them, ``beyonder recommend``
prints them on stderr, Python shows them as warnings). The README's Limits section lists
every size the product reads or refuses.
"""

from __future__ import annotations

import warnings
from typing import Any

from beyonder.params import CleaningConfig


class CapWarning(UserWarning):
    """A table was larger than a configured cap and part of it was left out or merged."""


def cap_messages(report: dict[str, Any], config: CleaningConfig) -> list[str]:
    """One line per cap that applied to a cleaned table, from ``clean_dataset``'s report."""
    messages = []
    over = [name for name, reason in report.get("dropped_columns", {}).items() if reason == "max_features"]
    if over:
        usable = report.get("columns_out", 0) + len(over)
        messages.append(
            f"{usable} usable feature columns, more than clean.max_features ({config.max_features}): "
            f"the {len(over)} with the most missing cells were left out (e.g. {over[0]!r})"
        )
    capped = report.get("capped_categoricals") or {}
    if capped:
        name, levels = max(capped.items(), key=lambda item: item[1])
        messages.append(
            f"{len(capped)} categorical column(s) with more than clean.max_categories "
            f"({config.max_categories}) levels: the rarest levels were merged into one "
            f"(e.g. {name!r}, {levels} levels)"
        )
    return messages


def warn_caps(report: dict[str, Any], config: CleaningConfig, stacklevel: int = 3) -> list[str]:
    """``cap_messages`` raised as ``CapWarning``s; returns them."""
    messages = cap_messages(report, config)
    for message in messages:
        warnings.warn(message, CapWarning, stacklevel=stacklevel)
    return messages
