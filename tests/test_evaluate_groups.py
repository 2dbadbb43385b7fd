"""The evaluate stage's judgement: the headline group (natural tasks) alone at the top, every
group and metric beside it with the noise ceiling, imbalanced tasks apart, and a champion rule
that judges each metric of ``evaluate.metrics``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from beyonder.evaluation.champion import decide_metrics
from beyonder.evaluation.truth import brute_force, dataset_groups, minority_share
from beyonder.params import parse_params
from beyonder.selector.corpus import Corpus
from beyonder.selector.corpus import test_datasets as held_out_datasets
from beyonder.stages.evaluate import evaluate, groups_headline

CLASSIFIERS = ["knn", "logreg", "svm_rbf"]


def _corpus(n_datasets: int = 16, replicates: int = 4, seed: int = 0) -> Corpus:
    rng = np.random.default_rng(seed)
    rows = n_datasets * replicates
    index = pd.DataFrame(
        {
            "sample_id": [f"s{i}" for i in range(rows)],
            "dataset": [f"d{i // replicates:02d}" for i in range(rows)],
            "kind": "bootstrap",
        }
    )
    base = rng.uniform(0.5, 0.9, size=(n_datasets, len(CLASSIFIERS))).repeat(replicates, axis=0)
    accuracy = np.clip(base + rng.normal(0, 0.06, size=base.shape), 0, 1)
    balanced = np.clip(accuracy - rng.uniform(0, 0.2, size=base.shape), 0, 1)
    log_loss = -rng.uniform(0.1, 1.0, size=base.shape)
    log_loss[:, 2] = np.nan  # the SVM has no probabilities
    scores = np.stack([balanced, log_loss], axis=1)
    return Corpus(
        index,
        accuracy,
        np.full_like(accuracy, 0.01),
        CLASSIFIERS,
        scores=scores,
        metrics=["balanced_accuracy", "neg_log_loss"],
    )


def test_groups_metrics_imbalanced_tasks_and_the_noise_ceiling() -> None:
    corpus = _corpus()
    params = parse_params({"split": {"test_fraction": 0.5, "families": []}})
    test = sorted(held_out_datasets(corpus, params))
    is_test = corpus.index["dataset"].isin(test).to_numpy()
    groups = {d: "natural" if int(d[1:]) % 2 else "binarized" for d in corpus.index["dataset"]}
    held = corpus.subset(is_test)
    oracle = {"beyonder": held.accuracy}
    scores = {
        "beyonder": {
            "balanced_accuracy": held.metric("balanced_accuracy"),
            "neg_log_loss": held.metric("neg_log_loss"),
        }
    }
    minority = dict.fromkeys(test, 0.5) | {test[0]: 0.1, test[1]: 0.1}
    report, table = evaluate(corpus, oracle, params, groups, scores, minority)
    natural = sorted(d for d in test if groups[d] == "natural")
    assert (
        report["headline_group"] == "natural" and report["test_datasets"] == natural
    )  # the headline alone
    assert set(table["dataset"]) == set(natural)
    assert report["methods"]["beyonder"]["mean_regret"] == pytest.approx(0.0, abs=1e-9)
    assert 0 < report["brute_force"]["mean_regret"] and report["brute_force"]["n_datasets"] == len(
        natural
    )
    assert list(report["groups"]) == ["natural", "binarized"]
    for group in report["groups"].values():
        assert set(group) == {"accuracy", "balanced_accuracy", "neg_log_loss"}
        assert group["balanced_accuracy"]["methods"]["beyonder"]["mean_regret"] == pytest.approx(
            0.0, abs=1e-9
        )
        assert group["neg_log_loss"]["sbs_classifier"] != "svm_rbf"  # no log loss: never the SBS
    imbalanced = [g for g in report["groups"].values() if "imbalanced" in g["accuracy"]]
    assert sum(g["accuracy"]["imbalanced"]["n_datasets"] for g in imbalanced) == 2
    summary = groups_headline(report["groups"])
    assert summary["natural_balanced_accuracy"]["beyonder_regret"] == 0.0
    assert {"brute_force_regret", "sbs_regret", "beyonder_minus_sbs_low"} <= set(
        summary["binarized_accuracy"]
    )


def test_brute_force_prices_one_replicate_on_the_others() -> None:
    datasets = np.array(["a"] * 3 + ["b"] * 2 + ["c"])
    values = np.array([[0.9, 0.5], [0.4, 0.8], [0.9, 0.5], [0.7, 0.6], [0.7, 0.6], [0.1, 0.9]])
    result = brute_force(datasets, values, {"a": 0, "b": 1, "c": 0})
    # a: pick 0 (price on [0.4,0.8]+[0.9,0.5] mean = [0.65,0.65]: 0), pick 1 (truth [0.9,0.5]: 40), pick 0 (0)
    assert result["per_dataset"]["a"] == pytest.approx(40 / 3) and result["per_dataset"]["b"] == 0.0
    assert (
        "c" not in result["per_dataset"] and result["n_datasets"] == 2
    )  # one replicate: no ceiling


def test_groups_come_from_the_corpus_folder_or_source() -> None:
    groups = dataset_groups(
        {"iris": "uci", "x": "extra_synthetic", "y": "somewhere"},
        {"natural": ["uci"], "synthetic": ["extra_synthetic"]},
    )
    assert groups == {"iris": "natural", "x": "synthetic", "y": "other"}
    assert minority_share(pd.DataFrame({"t": ["a"] * 9 + ["b"]}), "t") == pytest.approx(0.1)


def test_the_champion_rule_judges_every_metric_of_the_set() -> None:
    def part(new: float, sbs: float, ci: tuple[float, float]) -> dict:
        return {"n_datasets": 10, "methods": {
            "beyonder": {"mean_regret": new, "sbs_mean_regret": sbs, "regret_vs_sbs_ci": list(ci)},
            "sbs": {"mean_regret": sbs}}}  # fmt: skip

    good, bad = part(1.0, 2.0, (-1.5, -0.5)), part(3.0, 2.0, (0.5, 1.5))
    report = {
        **good,
        "headline_group": "natural",
        "groups": {"natural": {"balanced_accuracy": bad}},
    }
    assert decide_metrics(report, ["accuracy"]).promote
    verdict = decide_metrics(report, ["accuracy", "balanced_accuracy"])
    assert (
        not verdict.promote and "balanced_accuracy: reliably worse than the SBS" in verdict.reason
    )
    assert decide_metrics(report, ["accuracy", "f1_macro"]).promote  # not judged: no labels of it


def test_the_refit_trains_for_the_epochs_validation_chose() -> None:
    from beyonder.stages.refit import chosen_epochs

    assert chosen_epochs({"epochs": 20, "best_epoch": 12}) == 12
    assert chosen_epochs({"epochs": 7}) == 7  # no validation: every epoch trained


def test_crossval_scores_every_metric_per_group_and_the_imbalanced_pick() -> None:
    """``crossval.metric_reports``: the pooled folds' predictions per metric, per report group,
    with brute force; on the imbalanced natural tasks, the pick by predicted balanced accuracy
    against the pick by predicted accuracy, both priced in balanced accuracy."""
    from beyonder.evaluation.crossval import RunSettings, Workspace, metric_reports
    from beyonder.selector.corpus import per_dataset_mean

    corpus = _corpus(n_datasets=12)
    datasets = sorted(set(corpus.index["dataset"]))
    ws = Workspace(
        corpus,
        None,
        {},
        {},
        groups={d: "uci" if i % 3 else "statlib_binarized" for i, d in enumerate(datasets)},
        minority={d: 0.1 if i < 6 else 0.5 for i, d in enumerate(datasets)},
    )
    sbs = pd.DataFrame([[0.9, 0.8, 0.7]] * len(datasets), index=datasets, columns=CLASSIFIERS)
    truth = {
        m: per_dataset_mean(corpus, corpus.metric(m)) for m in ("accuracy", "balanced_accuracy")
    }
    scored = {
        "accuracy": ({"beyonder": truth["accuracy"]}, sbs),
        "balanced_accuracy": ({"beyonder": truth["balanced_accuracy"]}, sbs),
    }
    report = metric_reports(ws, scored, RunSettings(methods=("beyonder",), n_boot=50))
    assert list(report) == ["natural", "binarized", "imbalanced_pick"]
    natural = report["natural"]["balanced_accuracy"]
    assert natural["methods"]["beyonder"]["mean_regret"] == pytest.approx(0.0, abs=1e-9)
    assert (
        natural["n_datasets"] == 8
        and "imbalanced" in natural
        and natural["brute_force"]["n_datasets"] == 8
    )
    pick = report["imbalanced_pick"]["methods"]
    assert pick["beyonder"]["mean_regret"] <= pick["beyonder_by_accuracy"]["mean_regret"]
    assert "beyonder_by_accuracy" in pick["beyonder"]["regret_vs_ci"]


def test_the_refit_protocol_is_a_variant_setting() -> None:
    from beyonder.evaluation.variants import Variant

    variant = Variant.parse("refit", ["refit=true"])
    assert variant.refit is True and variant.settings() == {"refit": True}
