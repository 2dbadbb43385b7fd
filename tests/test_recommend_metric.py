"""``recommend --metric NAME``: rank by the predicted value of another metric, in the
library, the CLI and the served model; bad names and impossible metrics are one-line reasons."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import table, tiny_recommender

from beyonder.serving.recommend import RecommendError

PORTFOLIO = ["logreg", "decision_tree", "knn", "svm_rbf"]


@pytest.fixture(scope="module")
def recommender():
    return tiny_recommender(PORTFOLIO)


def test_ranking_by_balanced_accuracy_follows_its_prediction(recommender) -> None:
    ranked = recommender.predict(table(), "class", metric="balanced_accuracy")
    values = ranked["predicted_balanced_accuracy"].to_numpy()
    assert (np.diff(values) <= 0).all() and ranked.attrs["metric"] == "balanced_accuracy"
    assert list(ranked["rank"]) == [1, 2, 3, 4] and set(ranked["classifier"]) == set(PORTFOLIO)
    assert "predicted_accuracy" in ranked  # accuracy stays in the answer


def test_a_metric_a_classifier_cannot_have_ranks_it_last_with_the_reason(recommender) -> None:
    ranked = recommender.predict(table(), "class", metric="neg_log_loss")
    last = ranked.iloc[-1]
    assert last["classifier"] == "svm_rbf" and np.isnan(last["predicted_neg_log_loss"])
    assert last["metric_note"] == "no probabilities (margins only)"
    assert (ranked["predicted_neg_log_loss"].iloc[:-1] < 0).all()


def test_unknown_metric_is_one_line_naming_the_known_ones(recommender) -> None:
    with pytest.raises(
        RecommendError, match=r"unknown metric 'auc'; known: accuracy, balanced_accuracy, f1_macro"
    ):
        recommender.predict(table(), "class", metric="auc")


def test_a_model_without_a_metric_head_says_which_it_predicts(recommender) -> None:
    from dataclasses import replace

    old = tiny_recommender(PORTFOLIO)
    old.estimator.config = replace(old.estimator.config, metrics=["f1_macro"])
    with pytest.raises(
        RecommendError,
        match="this model predicts no roc_auc_ovr \\(it predicts: accuracy, f1_macro\\)",
    ):
        old.predict(table(), "class", metric="roc_auc_ovr")


def test_the_command_ranks_by_the_metric_and_says_so(recommender, tmp_path, capsys) -> None:
    from beyonder.cli import main

    folder = recommender.save(tmp_path / "model")
    path = tmp_path / "t.csv"
    table().to_csv(path, index=False)
    assert (
        main(["recommend", str(path), "--model", str(folder), "--metric", "f1_macro", "--json"])
        == 0
    )
    payload = json.loads(capsys.readouterr().out)
    ranking = payload["ranking"]
    assert payload["metric"] == "f1_macro"
    assert [r["rank"] for r in ranking] == [1, 2, 3, 4]
    assert all("predicted_f1_macro" in r for r in ranking)
    assert main(["recommend", str(path), "--model", str(folder), "--metric", "f1_macro"]) == 0
    assert "ranked by predicted f1_macro" in capsys.readouterr().out
    assert main(["recommend", str(path), "--model", str(folder), "--metric", "nope"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown metric 'nope'" in err[0]
