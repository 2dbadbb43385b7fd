"""Every portfolio member fits a mixed frame with missing values; configs key a label cache."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

from beyonder import schema
from beyonder.labels.portfolio import PORTFOLIO_NAMES, build_classifier, classifier_config


def _mixed_frame(n: int = 40, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "x1": rng.normal(size=n),
            "x2": rng.normal(loc=100, scale=30, size=n),
            "c1": rng.choice(["a", "b", "c"], size=n).astype(object),
            "c2": rng.choice([f"level{i}" for i in range(30)], size=n).astype(object),
        }
    )
    frame.loc[[1, 5], "x1"] = np.nan
    frame.loc[[2, 7], "c1"] = np.nan
    y = np.where(frame["x2"].to_numpy() > 100, "yes", "no").astype(object)
    return frame, y


def test_names_match_schema() -> None:
    assert PORTFOLIO_NAMES == schema.PORTFOLIO


@pytest.mark.parametrize("name", PORTFOLIO_NAMES)
def test_every_classifier_fits_and_predicts(name: str) -> None:
    frame, y = _mixed_frame()
    model = build_classifier(name, seed=0, numeric=["x1", "x2"], categorical=["c1", "c2"])
    assert isinstance(model, Pipeline)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no imputer/encoder warnings on ordinary data
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        model.fit(frame, y)
    unseen = pd.DataFrame(
        {"x1": [np.nan, 0.0], "x2": [50.0, np.nan], "c1": ["zzz", np.nan], "c2": [np.nan, "new"]}
    )
    pred = model.predict(pd.concat([frame.head(5), unseen], ignore_index=True))
    assert set(pred) <= {"yes", "no"}
    assert len(pred) == 7


@pytest.mark.parametrize("name", ["hist_gb", "logreg", "random_forest"])
def test_all_missing_columns_in_a_fold(name: str) -> None:
    frame, y = _mixed_frame()
    frame["x1"] = np.nan
    frame["c1"] = np.nan
    model = build_classifier(name, seed=0, numeric=["x1", "x2"], categorical=["c1", "c2"])
    model.fit(frame, y)
    assert len(model.predict(frame)) == len(frame)


@pytest.mark.parametrize("name", ["hist_gb", "svm_rbf"])
@pytest.mark.parametrize(("numeric", "categorical"), [(["x1", "x2"], []), ([], ["c1", "c2"])])
def test_only_one_kind_of_feature(name: str, numeric: list[str], categorical: list[str]) -> None:
    """With one kind of feature only, the model learns from that kind (the target follows it)
    and ignores the columns it was not told about."""
    frame, _ = _mixed_frame(n=80)
    if numeric:
        y = np.where(frame["x2"].to_numpy() > 100, "yes", "no").astype(object)
    else:
        y = np.where(frame["c1"].eq("a").to_numpy(), "yes", "no").astype(object)
    model = build_classifier(name, seed=0, numeric=numeric, categorical=categorical)
    model.fit(frame, y)
    pred = model.predict(frame)
    assert (pred == y).mean() >= 0.85, f"{name} does not learn from {numeric or categorical}"
    other = frame.copy()  # the columns of the other kind, scrambled: nothing may change
    ignored = [c for c in frame.columns if c not in numeric + categorical]
    other[ignored] = frame[ignored].iloc[::-1].to_numpy()
    np.testing.assert_array_equal(model.predict(other), pred)


def test_onehot_width_is_bounded() -> None:
    frame, y = _mixed_frame(n=200)
    model = build_classifier("logreg", seed=0, numeric=[], categorical=["c2"])
    model.fit(frame, y)
    width = model.named_steps["preprocess"].transform(frame).shape[1]
    assert width <= 20


def test_seeded_models_are_reproducible() -> None:
    frame, y = _mixed_frame()
    preds = [
        build_classifier("extra_trees", 3, ["x1", "x2"], ["c1"]).fit(frame, y).predict_proba(frame)
        for _ in range(2)
    ]
    np.testing.assert_array_equal(preds[0], preds[1])


def test_unknown_name_lists_valid_names() -> None:
    with pytest.raises(ValueError, match="svm_rbf"):
        build_classifier("nope", 0, ["x"], [])
    with pytest.raises(ValueError, match="logreg"):
        classifier_config("nope")


def test_config_is_stable_json_and_distinct() -> None:
    configs = {name: classifier_config(name) for name in PORTFOLIO_NAMES}
    texts = {name: json.dumps(c, sort_keys=True, allow_nan=False) for name, c in configs.items()}
    assert len(set(texts.values())) == len(PORTFOLIO_NAMES)
    for name in PORTFOLIO_NAMES:
        assert json.dumps(classifier_config(name), sort_keys=True) == texts[name]
    assert configs["random_forest"]["params"]["model__n_estimators"] == 100


def test_config_changes_with_a_hyper_parameter(monkeypatch: pytest.MonkeyPatch) -> None:
    import beyonder.labels.portfolio as portfolio

    before = classifier_config("svm_poly")
    original = portfolio._estimator

    def patched(name: str, seed: int):
        est = original(name, seed)
        return est.set_params(degree=4) if name == "svm_poly" else est

    monkeypatch.setattr(portfolio, "_estimator", patched)
    after = classifier_config("svm_poly")
    assert after != before
    assert after["params"]["model__degree"] == 4

    monkeypatch.setattr(portfolio, "ONEHOT_MAX_CATEGORIES", 7)
    assert classifier_config("svm_poly") != after
