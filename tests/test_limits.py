"""Size caps are said when they apply: columns over ``clean.max_features`` and levels over
``clean.max_categories`` give one line each, in the clean stage's report (logged by its flow),
as a ``CapWarning`` from ``recommend`` and on ``beyonder recommend``'s stderr."""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from helpers import tiny_recommender

from beyonder.config import Layout
from beyonder.data.cleaning import CleaningConfig, clean_dataset
from beyonder.data.limits import CapWarning, cap_messages
from beyonder.schema import TARGET
from beyonder.stages.clean import clean_one


def wide(n_rows: int = 120, n_features: int = 8, n_levels: int = 30, seed: int = 0) -> pd.DataFrame:
    """Numeric features ``f0..`` (``f<k>`` with ``k`` missing cells in every 10) and a
    categorical ``city`` of ``n_levels`` levels; a two-class ``class``."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({f"f{k}": rng.normal(size=n_rows) for k in range(n_features)})
    for k in range(n_features):
        frame.loc[frame.index % 10 < k, f"f{k}"] = np.nan
    frame["city"] = [f"c{i % n_levels}" for i in range(n_rows)]
    frame["class"] = np.where(frame["f0"] > 0, "a", "b")
    return frame


def test_no_cap_no_message() -> None:
    _, report = clean_dataset(wide(n_features=3, n_levels=4).rename(columns={"class": TARGET}))
    assert cap_messages(report, CleaningConfig()) == []


def test_columns_over_max_features_and_levels_over_max_categories_are_said() -> None:
    config = replace(CleaningConfig(), max_features=4, max_categories=10)
    cleaned, report = clean_dataset(wide().rename(columns={"class": TARGET}), config)
    assert cleaned.shape[1] == 4 + 1
    messages = cap_messages(report, config)
    assert len(messages) == 2
    assert "9 usable feature columns" in messages[0] and "max_features (4)" in messages[0]
    assert (
        "the 5 with the most missing cells were left out" in messages[0] and "'f3'" in messages[0]
    )
    assert "max_categories (10)" in messages[1] and "'city', 30 levels" in messages[1]


def test_the_clean_stage_records_the_caps(tmp_path) -> None:
    layout = Layout(tmp_path)
    layout.raw.mkdir(parents=True)
    wide().rename(columns={"class": TARGET}).to_parquet(layout.dataset_file(layout.raw, "wide"))
    config = replace(CleaningConfig(), max_features=4, max_categories=10)
    record = clean_one({"name": "wide", "source": "local"}, layout, config)
    assert record["status"] == "ok" and len(record["caps"]) == 2
    assert clean_one({"name": "wide", "source": "local"}, layout, CleaningConfig())["caps"] == []


@pytest.fixture(scope="module")
def capped_model(tmp_path_factory):
    """A tiny model folder whose cleaning keeps at most 4 features and 10 levels."""
    recommender = tiny_recommender()
    recommender.cleaning = replace(CleaningConfig(), max_features=4, max_categories=10)
    return recommender.save(tmp_path_factory.mktemp("capped") / "model")


def test_recommend_warns_when_a_cap_applies(capped_model) -> None:
    from beyonder.serving.recommend import recommend

    with pytest.warns(CapWarning, match="max_features") as caught:
        ranking = recommend(wide(), target="class", model=capped_model)
    assert len(ranking) > 0 and sum(w.category is CapWarning for w in caught) == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error", CapWarning)
        recommend(
            wide(n_features=3, n_levels=4), target="class", model=capped_model
        )  # no cap: no warning


def test_cli_prints_each_cap_on_stderr(capped_model, tmp_path, capsys) -> None:
    from beyonder.cli import main

    path = tmp_path / "wide.csv"
    wide().to_csv(path, index=False)
    assert main(["recommend", str(path), "--model", str(capped_model), "--json"]) == 0
    out, err = capsys.readouterr()
    assert out.lstrip().startswith("{")  # the JSON answer is untouched
    lines = err.strip().splitlines()
    assert len(lines) == 2 and all(
        line.startswith(f"beyonder recommend: warning: {path}: ") for line in lines
    )
