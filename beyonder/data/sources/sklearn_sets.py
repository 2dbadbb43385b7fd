"""scikit-learn's bundled classification datasets: offline, always available, good for smoke runs."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
from sklearn import datasets as skd

from beyonder.data.datasets import LoadFailure, RawDataset, safe_name
from beyonder.data.sources._common import as_str_column, describe_error, tidy_frame

SOURCE = "sklearn"
TARGET = "target"
LOADERS: dict[str, Callable] = {
    "iris": skd.load_iris,
    "wine": skd.load_wine,
    "breast_cancer": skd.load_breast_cancer,
    "digits": skd.load_digits,
}
"""The classification sets that ship inside scikit-learn (no download needed)."""


def load_sklearn(names: list[str] | None = None) -> Iterator[RawDataset | LoadFailure]:
    """Yield scikit-learn's bundled sets (all of ``LOADERS`` by default) as ``sklearn.<name>``.

    The target column ``target`` holds class names (``setosa``, ``malignant``...) rather than
    codes, so labels read the same as in other sources.
    """
    for key in names if names is not None else list(LOADERS):
        name = safe_name(f"sklearn.{key}")
        loader = LOADERS.get(key)
        if loader is None:
            yield LoadFailure(
                name=name,
                source=SOURCE,
                origin=f"sklearn.datasets.load_{key}",
                reason=f"unknown scikit-learn dataset {key!r} (known: {', '.join(LOADERS)})",
            )
            continue
        origin = f"sklearn.datasets.{loader.__name__}"
        try:
            bunch = loader(as_frame=True)
            frame = bunch.data.copy()
            codes = np.asarray(bunch.target)
            labels = np.asarray(bunch.target_names, dtype=object)[codes]
            frame[TARGET] = as_str_column(labels).to_numpy()
            frame = tidy_frame(frame)
        except Exception as exc:  # a broken install must not stop the other sets
            yield LoadFailure(name=name, source=SOURCE, origin=origin, reason=describe_error(exc))
            continue
        yield RawDataset(
            name=name,
            source=SOURCE,
            frame=frame,
            target=TARGET,
            origin=origin,
            meta={
                "format": "sklearn",
                "loader": loader.__name__,
                "classes": len(bunch.target_names),
            },
        )
