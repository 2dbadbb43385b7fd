"""Names shared by every stage: reserved columns and the default portfolio."""

from __future__ import annotations

from collections.abc import Iterable

TARGET = "__target__"
"""Column that holds the class label (as strings) from ingest onwards."""

ROW_ID = "__row_id__"
"""Column that holds the source row id of each bootstrap row (sample stage onwards)."""

RESERVED = (TARGET, ROW_ID)


def unique_names(names: Iterable[object], taken: Iterable[object] = ()) -> list[str]:
    """Column names as unique strings (Parquet needs them), none of them in ``taken``: a
    repeated or taken name gets ``.1``, ``.2``... (pandas' style). The one rule for every
    reader, the ingest stage and the cleaning that ``recommend`` shares."""
    result: list[str] = []
    seen: set[str] = {str(t) for t in taken}
    for raw in names:
        base = str(raw).strip()
        name, k = base, 0
        while name in seen:
            k += 1
            name = f"{base}.{k}"
        seen.add(name)
        result.append(name)
    return result


PORTFOLIO = (
    "logreg",
    "gaussian_nb",
    "knn",
    "decision_tree",
    "random_forest",
    "extra_trees",
    "hist_gb",
    "svm_linear",
    "svm_rbf",
    "svm_poly",
)
"""Default classifier portfolio, in the order used by outputs and the model's head."""

SVM_KERNELS = ("svm_linear", "svm_rbf", "svm_poly")
