"""Who serves: the rule that makes a newly trained model ``champion`` or leaves it ``challenger``.

It reads only the evaluate report (``beyonder.evaluation.metrics.evaluate_methods``), so the rule is
tested without Prefect or MLflow, and the flow that applies it only sets the alias it returns.

The rule, in words:

* A model that is *reliably worse than the SBS* (its paired bootstrap interval of regret minus
  the SBS's regret, ``regret_vs_sbs_ci``, lies wholly above zero) never serves: always picking
  the training datasets' single best classifier would do better, whatever the old champion did.
* With no champion to compare with (none yet, one that cannot predict on this evaluation, or
  the new model *is* the champion version), the new model serves.
* Otherwise it serves only if its mean regret on the same test datasets is lower than the
  champion's; on equal regret the higher Spearman wins; a full tie keeps the champion (a swap
  must buy something).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Decision:
    """The outcome: ``promote`` (the new model becomes champion) and why, in one line."""

    promote: bool
    reason: str


def _number(value: Any) -> float:
    """A metric as a float; ``None`` and ``NaN`` read as ``NaN`` (they compare as unknown)."""
    return float("nan") if value is None else float(value)


def reliably_worse_than_sbs(metrics: dict) -> bool:
    """Whether the paired interval of (regret - SBS regret) lies wholly above zero.

    An unknown interval (no bootstrap, no labelled dataset) is not evidence of being worse.
    """
    low = _number((metrics.get("regret_vs_sbs_ci") or [None, None])[0])
    return not math.isnan(low) and low > 0


def _beats(new: dict, old: dict) -> tuple[bool, str]:
    """Lower mean regret wins; on equal regret, higher Spearman; a full tie keeps the old."""
    new_regret, old_regret = _number(new.get("mean_regret")), _number(old.get("mean_regret"))
    if new_regret != old_regret and not (math.isnan(new_regret) and math.isnan(old_regret)):
        if math.isnan(old_regret):
            return True, "champion's mean regret is unknown"
        if math.isnan(new_regret):
            return False, "new model's mean regret is unknown"
        relation = "below" if new_regret < old_regret else "above"
        return new_regret < old_regret, (
            f"mean regret {new_regret:.2f} points {relation} the champion's {old_regret:.2f}"
        )
    new_rho = _number(new.get("spearman"))
    old_rho = _number(old.get("spearman"))
    new_rho = -math.inf if math.isnan(new_rho) else new_rho
    old_rho = -math.inf if math.isnan(old_rho) else old_rho
    return new_rho > old_rho, (
        f"mean regret equal to the champion's ({new_regret:.2f}); "
        f"Spearman {new_rho:.3f} vs {old_rho:.3f}"
    )


def decide(
    report: dict,
    new: str = "beyonder",
    champion: str = "champion",
    no_champion: str = "no champion to compare with",
) -> Decision:
    """Promote ``report["methods"][new]`` or keep it challenger (see the module's rule).

    ``champion`` names the old champion's entry in ``report["methods"]``; when it is absent the
    caller says why in ``no_champion`` (e.g. "champion version 3 cannot predict"), which goes
    into the reason. ``sbs`` must be in the report (``evaluate_methods`` always adds it).
    """
    methods = report["methods"]
    metrics = methods[new]
    if reliably_worse_than_sbs(metrics):
        low, high = metrics["regret_vs_sbs_ci"]
        return Decision(
            False,
            f"reliably worse than the SBS: regret minus SBS regret in [{low:.2f}, {high:.2f}] points",
        )
    if champion not in methods:
        return Decision(True, f"{no_champion}; not reliably worse than the SBS")
    wins, why = _beats(metrics, methods[champion])
    n = report.get("n_datasets")
    on = f" on the same {n} test datasets" if n is not None else ""
    return Decision(wins, f"{why}{on}; not reliably worse than the SBS")


def decide_metrics(
    report: dict, metrics: list[str], no_champion: str = "no champion to compare with"
) -> Decision:
    """``decide`` on each of ``metrics`` (``evaluate.metrics``): accuracy on ``report`` itself,
    any other metric on the headline group's report of that metric (``report["groups"]``).
    The new model is promoted only if every metric promotes it; a metric it cannot be judged
    on (no labels of it) is said so and not held against it."""
    groups = report.get("groups") or {}
    headline = groups.get(report.get("headline_group")) or next(iter(groups.values()), {})
    verdicts = []
    for metric in metrics:
        part = report if metric == "accuracy" else headline.get(metric)
        if part is None or "beyonder" not in part.get("methods", {}):
            verdicts.append(
                (metric, Decision(True, "not judged: no labels or no predictions of it"))
            )
            continue
        verdicts.append((metric, decide(part, no_champion=no_champion)))
    promote = all(d.promote for _, d in verdicts)
    return Decision(promote, "; ".join(f"{m}: {d.reason}" for m, d in verdicts))


def decide_imputer(
    new: dict, champion: dict | None, no_champion: str = "no champion to compare with"
) -> Decision:
    """The imputer's rule, on its validation scores (``stages.imputer.validation_scores``: the
    same tables and hidden cells for every imputer scored).

    * An imputer that does not beat mean imputation (``simple_nrmse``; on tables without
      numeric cells, most-frequent accuracy ``simple_accuracy``) never serves: a user would do
      better with ``SimpleImputer``.
    * With no champion to compare with (``champion`` None: none yet, or one that cannot be
      scored; ``no_champion`` says which), the new imputer serves.
    * Otherwise it serves only if its NRMSE is lower than the champion's on the same tables
      (accuracy higher, without numeric cells); a tie keeps the champion.
    """
    key, better = ("nrmse", min) if new.get("beyonder_nrmse") is not None else ("accuracy", max)
    mine = _number(new.get(f"beyonder_{key}"))
    simple = _number(new.get(f"simple_{key}"))
    if math.isnan(mine) or (not math.isnan(simple) and better(mine, simple) == simple):
        return Decision(False, f"{key} {mine:.4f} does not beat mean imputation's {simple:.4f}")
    beats_simple = f"{key} {mine:.4f} beats mean imputation's {simple:.4f}"
    if champion is None:
        return Decision(True, f"{no_champion}; {beats_simple}")
    theirs = _number(champion.get(f"beyonder_{key}"))
    wins = math.isnan(theirs) or (mine != theirs and better(mine, theirs) == mine)
    relation = "better than" if wins else "not better than"
    return Decision(
        wins,
        f"{key} {mine:.4f} {relation} the champion's {theirs:.4f} on the same tables; {beats_simple}",
    )
