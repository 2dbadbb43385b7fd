"""The champion rule (``beyonder.evaluation.champion.decide``) on hand-made evaluate reports, and the
paired comparison with the SBS in the headline metrics (``dvc metrics show``)."""

from __future__ import annotations

import numpy as np
import pytest

from beyonder.evaluation.champion import decide, reliably_worse_than_sbs
from beyonder.evaluation.metrics import evaluate_methods


def _method(mean_regret: float, vs_sbs: tuple[float, float], spearman: float = 0.5) -> dict:
    return {"mean_regret": mean_regret, "spearman": spearman, "regret_vs_sbs_ci": list(vs_sbs)}


def _report(**methods: dict) -> dict:
    return {"n_datasets": 12, "methods": {"sbs": _method(3.0, (0.0, 0.0)), **methods}}


def test_no_champion_promotes() -> None:
    decision = decide(_report(beyonder=_method(2.5, (-1.0, 0.2))), no_champion="no champion yet")
    assert decision.promote is True
    assert "no champion yet" in decision.reason


def test_a_model_that_beats_the_champion_is_promoted() -> None:
    report = _report(beyonder=_method(1.5, (-2.5, -0.5)), champion=_method(2.0, (-2.0, 0.1)))
    decision = decide(report)
    assert decision.promote is True
    assert (
        "1.50" in decision.reason
        and "2.00" in decision.reason
        and "12 test datasets" in decision.reason
    )


def test_a_model_that_loses_to_the_champion_stays_challenger() -> None:
    report = _report(beyonder=_method(2.5, (-1.0, 0.2)), champion=_method(2.0, (-2.0, 0.1)))
    decision = decide(report)
    assert decision.promote is False
    assert "above the champion" in decision.reason


@pytest.mark.parametrize("champion", [None, _method(9.0, (4.0, 8.0))])
def test_reliably_worse_than_the_sbs_stays_challenger(champion: dict | None) -> None:
    """Even with no champion, or a champion worse still: the SBS would do better."""
    methods = {"beyonder": _method(4.0, (0.3, 1.8))}
    if champion is not None:
        methods["champion"] = champion
    decision = decide(_report(**methods))
    assert decision.promote is False
    assert "reliably worse than the SBS" in decision.reason


def test_equal_regret_goes_to_the_higher_spearman_and_a_full_tie_keeps_the_champion() -> None:
    champion = _method(2.0, (-1.0, 0.5), spearman=0.4)
    assert decide(
        _report(beyonder=_method(2.0, (-1.0, 0.5), spearman=0.6), champion=champion)
    ).promote
    assert not decide(
        _report(beyonder=_method(2.0, (-1.0, 0.5), spearman=0.3), champion=champion)
    ).promote
    assert not decide(
        _report(beyonder=_method(2.0, (-1.0, 0.5), spearman=0.4), champion=champion)
    ).promote


def test_an_unknown_interval_is_not_evidence_of_being_worse() -> None:
    assert not reliably_worse_than_sbs({"regret_vs_sbs_ci": [float("nan"), float("nan")]})
    assert not reliably_worse_than_sbs({})
    assert not reliably_worse_than_sbs({"regret_vs_sbs_ci": [0.0, 2.0]})  # touches zero
    assert reliably_worse_than_sbs({"regret_vs_sbs_ci": [0.01, 2.0]})


def test_decide_on_a_real_report() -> None:
    """``evaluate_methods``'s own keys drive the rule: a model that always picks the worst
    classifier is reliably worse than the SBS, one that predicts the truth is not."""
    rng = np.random.default_rng(0)
    true = rng.uniform(0.5, 0.9, size=(20, 4))
    true[:, 0] += 0.02  # column 0 is the SBS on average but not everywhere
    report = evaluate_methods(true, {"beyonder": -true, "champion": true}, 0, n_boot=200)
    assert not decide(report).promote
    report = evaluate_methods(true, {"beyonder": true, "champion": -true}, 0, n_boot=200)
    assert decide(report).promote


def test_headline_has_the_paired_difference_with_the_sbs() -> None:
    from beyonder.evaluation.metrics import headline

    rng = np.random.default_rng(1)
    true = rng.uniform(0.5, 0.9, size=(15, 3))
    report = evaluate_methods(
        true, {"beyonder": true + rng.normal(0, 0.05, true.shape)}, 0, n_boot=200
    )
    report["missing_labels"] = 0
    metrics = headline(report)
    for method in ("beyonder", "sbs", "oracle"):
        full = report["methods"][method]
        row = metrics[method]
        assert row["regret_minus_sbs"] == pytest.approx(
            full["mean_regret"] - full["sbs_mean_regret"], abs=1e-4
        )
        assert row["regret_minus_sbs_low"] == pytest.approx(full["regret_vs_sbs_ci"][0], abs=1e-4)
        assert row["regret_minus_sbs_high"] == pytest.approx(full["regret_vs_sbs_ci"][1], abs=1e-4)
        assert row["regret_minus_sbs_low"] <= row["regret_minus_sbs"] + 1e-3
        assert row["regret_minus_sbs"] <= row["regret_minus_sbs_high"] + 1e-3
    assert metrics["sbs"]["regret_minus_sbs"] == 0
    assert metrics["oracle"]["regret_minus_sbs_high"] <= 0  # the oracle never trails the SBS
