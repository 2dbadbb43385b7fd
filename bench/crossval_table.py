"""The selection-quality table of ``bench/RESULTS.md`` from a ``beyonder evaluate --corpus`` JSON.

    python bench/crossval_table.py bench/crossval/bundled_5fold.json --against landmark_ridge
    python bench/crossval_table.py bench/crossval/bundled_5fold.json --group uci
    python bench/crossval_table.py bench/crossval/bundled_decisions.json --decisions
    python bench/crossval_table.py A.json B.json --against beyonder   # two runs as one table

One row per method, best mean regret first: mean regret [95% bootstrap CI], the paired interval
of its regret minus the SBS's and minus each ``--against`` method's (same resampled datasets),
datasets where its pick beats / trails the SBS's, median, gap closed, top-1, top-3, Spearman,
MAE; then the brute-force reference (``cv_one_sample``). ``--group`` reads one corpus's part
of the report (``by_group``).

Paired intervals come from the JSON's ``regret_vs_ci``; a JSON written before that key existed
gets them recomputed from its ``per_dataset`` picks with the library's own
``beyonder.evaluation.metrics.evaluate_methods`` (the same resamples: ``--n-boot`` and ``--seed`` as
the run's ``evaluate`` params).

Several JSONs of one workspace, folds and seed (the same datasets and truths, checked) make one
table: their methods side by side, paired intervals recomputed across them from the picks. A
method named in several runs appears once when its picks agree and otherwise again for each
later run, suffixed ``_run2``, ``_run3``...: a rerun of a method shows how far it reproduces.

``--decisions`` prints instead the tables of the report's ``decisions`` part: fit-time quality
against the baseline, regret under each time budget, interval coverage and the ``--verify K``
curve (overall and per corpus).

``--curve`` prints instead the regret-against-CPU curve of the report's ``decisions`` part
(``budget_curve``: predicting, measuring the top k on subsamples, ``recommend --budget`` at
several budgets, brute force), overall and per corpus, with the paired interval of each
mode's regret minus brute force's.

``--seed-mean LABEL=A-B,C-D`` (repeatable, with ``--workspace``) prints instead, per report
group of the workspace's ``evaluate.groups`` (dataset -> group from its ingest manifest), the
mean over seeds of paired differences: per dataset, the mean of regret(A) - regret(B) and
regret(C) - regret(D) (``beyonder_refit - beyonder`` for one seed, ``beyonder_refit_seed1 -
beyonder_seed1`` for the next); its mean over the group's datasets and 95% bootstrap interval
(the same datasets resampled for both seeds), and each seed's own mean beside it.

``--regularisation`` prints instead the tables of the report's ``regularisation`` part (a
workspace labelled with ``regularisation.enabled``): per tuned classifier, how well each
method's suggested C does against C = 1 and the SBS of C; pooled over the tuned classifiers;
and the combined answer (classifier + C) against the SBS classifier at its default. With
``--group natural`` (a report group: ``evaluate.groups``), the same picks scored on that
group's datasets only.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from beyonder.config import Layout
from beyonder.evaluation.budget import STOPS
from beyonder.evaluation.metrics import bootstrap_interval, evaluate_methods, regret
from beyonder.evaluation.truth import dataset_groups
from beyonder.evaluation.workspaces import corpus_groups
from beyonder.params import load_params
from beyonder.schema import PORTFOLIO


def picks_and_truth(result: dict[str, Any]) -> tuple[list[str], np.ndarray, list[str]]:
    """The report's classifiers, its truth matrix (datasets x classifiers) and the methods
    with per-dataset picks (``<method>_choice``)."""
    classifiers = result.get("classifiers") or list(PORTFOLIO)
    rows = result["per_dataset"]
    true = np.array([[np.nan if v is None else v for v in row["true"]] for row in rows])
    methods = sorted({k[: -len("_choice")] for row in rows for k in row if k.endswith("_choice")})
    return classifiers, true, methods


def recomputed_pairs(result: dict[str, Any], n_boot: int, seed: int) -> dict[str, dict]:
    """``regret_vs_ci`` per method from the per-dataset picks (one-hot predictions)."""
    classifiers, true, methods = picks_and_truth(result)
    rows = result["per_dataset"]
    preds = {}
    for method in methods:
        pred = np.full(true.shape, np.nan)
        for i, row in enumerate(rows):
            if f"{method}_choice" in row:
                pred[i] = 0.0
                pred[i, classifiers.index(row[f"{method}_choice"])] = 1.0
        preds[method] = pred
    sbs = np.array([classifiers.index(row["sbs_choice"]) for row in rows])
    report = evaluate_methods(true, preds, sbs, n_boot=n_boot, seed=seed)
    return {name: m["regret_vs_ci"] for name, m in report["methods"].items()}


def merged(results: list[dict[str, Any]], names: list[str]) -> dict[str, Any]:
    """One report from several runs on the same datasets and truths: the first run's report with
    the later runs' methods added (see the module docstring) and their per-dataset picks joined;
    ``regret_vs_ci`` is dropped so ``table`` recomputes every pair across the runs."""
    first = results[0]
    out = {
        **first,
        "methods": dict(first["methods"]),
        "per_dataset": [dict(r) for r in first["per_dataset"]],
    }
    out.pop("by_group", None)
    expected = [(r["dataset"], r["true"]) for r in first["per_dataset"]], first.get("classifiers")
    for k, (result, name) in enumerate(zip(results[1:], names[1:], strict=True), start=2):
        if (
            [(r["dataset"], r["true"]) for r in result["per_dataset"]],
            result.get("classifiers"),
        ) != expected:
            raise ValueError(
                f"{name}: not the datasets, classifiers and truths of {names[0]}: not pairable"
            )
        for method, metrics in result["methods"].items():
            picks = [r.get(f"{method}_choice") for r in result["per_dataset"]]
            target = method
            if method in out["methods"]:
                if picks == [r.get(f"{method}_choice") for r in out["per_dataset"]]:
                    continue
                target = f"{method}_run{k}"
            out["methods"][target] = metrics
            for row, pick in zip(out["per_dataset"], picks, strict=True):
                if pick is not None:
                    row[f"{target}_choice"] = pick
    out["methods"] = {
        name: {k: v for k, v in m.items() if k != "regret_vs_ci"}
        for name, m in out["methods"].items()
    }
    return out


def _interval(ci: list | None) -> str:
    if not ci or any(v is None or (isinstance(v, float) and math.isnan(v)) for v in ci):
        return "-"
    lo, hi = ci
    mark = "**" if hi < 0 or lo > 0 else ""  # wholly on one side of zero: a reliable difference
    return f"{mark}[{lo:+.2f}, {hi:+.2f}]{mark}"


def table(
    result: dict[str, Any], against: list[str], group: str | None, n_boot: int, seed: int
) -> str:
    part = result["by_group"][group] if group else result
    methods = part["methods"]
    pairs = {name: m.get("regret_vs_ci") for name, m in methods.items()}
    if any(not p for p in pairs.values()) and not group:
        pairs = recomputed_pairs(result, n_boot, seed)
    header = ["method", "mean regret [95% CI]", "minus SBS [paired]"]
    header += [f"minus {a} [paired]" for a in against]
    header += [
        "better / worse than SBS",
        "median",
        "gap closed",
        "top-1",
        "top-3",
        "Spearman",
        "MAE",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    order = sorted(
        methods,
        key=lambda n: (methods[n].get("mean_regret") is None, methods[n].get("mean_regret")),
    )
    for name in order:
        m = methods[name]
        ci = m.get("mean_regret_ci") or [None, None]
        cells = [
            name,
            f"{_num(m.get('mean_regret'))} [{_num(ci[0])}, {_num(ci[1])}]",
            "0"
            if name == "sbs"
            else _signed(
                m.get("mean_regret"),
                methods["sbs"].get("mean_regret"),
                m.get("regret_vs_sbs_ci") or (pairs.get(name) or {}).get("sbs"),
            ),  # fmt: skip
        ]
        for other in against:
            if other == name:
                cells.append("0")
            else:
                ci_other = (pairs.get(name) or {}).get(other)
                cells.append(
                    _signed(m.get("mean_regret"), methods[other].get("mean_regret"), ci_other)
                )
        better_worse = m.get("better_worse_than_sbs") or []
        cells.append(
            " / ".join(str(v) for v in better_worse) if better_worse and name != "sbs" else "-"
        )
        cells.append(_num(m.get("median_regret")))
        gap = m.get("gap_closed")
        cells.append("-" if gap is None else f"{gap:.0%}")
        for key in ("top1", "top3", "spearman", "mae"):
            value = m.get(key)
            cells.append(
                "-" if value is None else f"{value:.2f}" if key != "mae" else f"{value:.1f}"
            )
        lines.append("| " + " | ".join(cells) + " |")
    ref = part.get("cv_one_sample") or {}
    if ref.get("mean_regret") is not None:
        lines.append(
            f"| brute force: 5-fold CV of one sample | {ref['mean_regret']:.2f} (SBS on the same "
            f"truths {ref['sbs_mean_regret']:.2f}, {int(ref['n_datasets'])} datasets) | | "
            + "| " * len(against)
            + f"- | - | {ref['gap_closed']:.0%} | - | - | {_num(ref.get('spearman'))} | - |"
        )
    return "\n".join(lines)


def _signed(value: float | None, other: float | None, ci: list | None) -> str:
    return _signed_ci(None if value is None or other is None else value - other, ci)


def decision_tables(result: dict[str, Any]) -> str:
    """Markdown tables of ``result["decisions"]`` (``beyonder.evaluation.decisions.decision_report``)."""
    d = result["decisions"]
    out = [
        "Fit time (seconds per CV fold fit on a sample; per test dataset, the mean of its samples):",
        "",
    ]
    out += [
        "| predictor | Spearman with true times (mean over datasets) | MAE of log10 seconds | datasets |"
    ]
    out += ["|---|---|---|---|"]
    for name, q in d["fit_time"].items():
        out.append(
            f"| {name} | {_num(q['spearman'])} | {_num(q['mae_log10'])} | {q['n_datasets']} |"
        )
    out += ["", "Time budget (seconds per CV fold fit on a sample; regret against the best classifier that "
            "truly fits, in points; over: share of picks that truly did not fit):", ""]  # fmt: skip
    names = list(d["budget"][0]["methods"]) if d["budget"] else []
    header = ["budget", "datasets", "classifiers that fit"] + [f"{n} regret / over" for n in names]
    out += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in d["budget"]:
        cells = [f"{row['budget']:g} s", str(row["n_datasets"]), _pct(row["fit_share"])]
        cells += [
            f"{_num(m['mean_regret'])} / {_pct(m['over_budget'])}" for m in row["methods"].values()
        ]
        out.append("| " + " | ".join(cells) + " |")
    i = d["intervals"]
    out += ["", "Intervals (predicted accuracy -/+ scale x (spread + floor), scale calibrated on each fold's "
            "validation datasets):", ""]  # fmt: skip
    out += ["| nominal | coverage on held-out cells | mean width (points) | coverage of -/+ spread alone | "
            "mean scale | cells |", "|---|---|---|---|---|---|"]  # fmt: skip
    out.append(
        f"| {_pct(i['nominal'])} | {_pct(i['coverage'])} | {_num(i['mean_width'])} | "
        f"{_pct(i['raw_spread_coverage'])} | {_num(i.get('mean_scale'))} | {i['cells']} |"
    )
    curves = [("all datasets", d["verify"])] + sorted((d.get("verify_by_group") or {}).items())
    for title, part in curves:
        out += ["", f"Verify curve, {title} ({part['n_datasets']} datasets; SBS regret on the same truths "
                f"{_num(part['sbs_mean_regret'])}):", ""]  # fmt: skip
        out += ["| verify K | mean regret | gap closed | CPU s per table | share of the whole portfolio's cost | "
                "pick by mean of measured and predicted: regret | gap closed |", "|---|---|---|---|---|---|---|"]  # fmt: skip
        for p in part["curve"]:
            label = "all (brute force)" if p["label"] == "all" else p["label"]
            out.append(
                f"| {label} | {_num(p['mean_regret'])} | {_pct(p['gap_closed'])} | "
                f"{_num(p['cpu_seconds'])} | {_pct(p['cost_share'])} | "
                f"{_num(p.get('blend_mean_regret'))} | {_pct(p.get('blend_gap_closed'))} |"
            )
    return "\n".join(out)


def mode_label(mode: str) -> str:
    """A budget-curve mode in words."""

    def where(tier: str) -> str:
        return "the full sample" if tier == "full" else f"{tier[1:]} rows"

    if mode == "sbs":
        return "single best classifier (SBS)"
    if mode == "predicted":
        return "prediction only"
    if mode == "brute_force":
        return "**brute force**: CV of all on the user's replicate"
    if mode.startswith("budget"):
        return f"`--budget`: {float(mode[6:]):.0%} of brute force's predicted CPU"
    if mode.startswith("verify"):
        return f"`--verify {mode[6:]}` as before: the best measured of the top {mode[6:]} (full sample)"
    k, tier = mode.split("@")
    what = "all" if k == "all" else f"top {k[3:]}"
    return f"{what} measured on {where(tier)}, combined with the prediction"


def curve_tables(result: dict[str, Any]) -> str:
    """Markdown tables of ``result["decisions"]["budget_curve"]`` (``beyonder.evaluation.budget``)."""
    curve = result["decisions"]["budget_curve"]
    parts = [("all datasets", curve)] + sorted((curve.get("by_group") or {}).items())
    out: list[str] = []
    for title, part in parts:
        if not part.get("modes"):
            continue
        out += [f"Regret against CPU, {title} ({part['n_datasets']} datasets; truth: the mean of the other "
                f"replicates; brute force {_num(part['brute_force_mean_regret'])} points for "
                f"{_num(part['brute_force_cpu_seconds'])} CPU s per table, SBS {_num(part['sbs_mean_regret'])}):", ""]  # fmt: skip
        out += ["| mode | mean regret | gap closed | CPU s per table | share of brute force's CPU | "
                "minus brute force [paired 95%] | better / worse than brute force |", "|---|---|---|---|---|---|---|"]  # fmt: skip
        for m in part["modes"]:
            ci = m["regret_vs_brute_force_ci"]
            diff = (
                f"{m['regret_vs_brute_force']:+.2f} {_interval(ci)}"
                if m["mode"] != "brute_force"
                else "0"
            )
            better, worse = m["better_worse_than_brute_force"]
            out.append(
                f"| {mode_label(m['mode'])} | {_num(m['mean_regret'])} | {_pct(m['gap_closed'])} | "
                f"{m['cpu_seconds']:.3f} | {_pct(m['cpu_share'])} | {diff} | {better} / {worse} |"
            )
        out.append("")
        out += endings_table(part.get("budget_endings") or {})
    return "\n".join(out)


STOP_HEADINGS = {  # short column headings for budget.STOPS
    "nothing_worth_it": "nothing affordable worth it",
    "budget_spent": "nothing left fits",
    "all_measured": "all measured",
}


def endings_table(endings: dict[str, Any]) -> list[str]:
    """How each ``--budget`` mode of a replay ended (``budget.budget_endings``): per reason the
    share of replays, their share of brute force's CPU, and what they spent of it."""
    if not endings.get("modes"):
        return []
    price = endings["brute_force_price"]
    out = [f"How the budgets ended ({endings['replays']} replays; brute force's predicted CPU over its "
           f"labelled CPU: {price['predicted_over_actual_total']:.2f} summed, "
           f"{price['predicted_over_actual_median']:.2f} the median table). Per reason: share of "
           "replays / their share of brute force's CPU / what they spent of it:", ""]  # fmt: skip
    reasons = list(STOPS)
    out += ["| mode | " + " | ".join(STOP_HEADINGS[r] for r in reasons) + " |",
            "|---|" + "---|" * len(reasons)]  # fmt: skip
    for mode, parts in endings["modes"].items():
        cells = [
            f"{_pct(parts[r]['replays'])} / {_pct(parts[r]['brute_force_cpu'])} / "
            f"{_pct(parts[r]['spent']) if parts[r]['replays'] else '-'}"
            for r in reasons
        ]
        out.append(f"| {mode_label(mode)} | " + " | ".join(cells) + " |")
    out.append("")
    return out


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def regularisation_tables(reg: dict[str, Any]) -> str:
    """A report's ``regularisation`` part (or one report group's, ``groups``) as markdown:
    regrets in accuracy points against the per-dataset best grid point, paired 95% intervals
    (bold: wholly on one side of zero)."""
    grid = ", ".join(f"{c:g}" for c in reg["grid"])
    out = [f"C grid: {grid}; regret against the per-dataset best grid point (points)."]
    for name, part in reg["classifiers"].items():
        methods = part["methods"]
        out += [
            "",
            f"{name} ({part['n_datasets']} datasets; best C per dataset, by grid point: {part['best_C_counts']}):",
            "",
        ]
        out += ["| method | mean regret [95% CI] | minus C = 1 [paired] | minus SBS of C [paired] | median | top-1 | picks per grid point |",
                "|---|---|---|---|---|---|---|"]  # fmt: skip
        for method, m in sorted(methods.items(), key=lambda kv: kv[1]["mean_regret"]):
            vs = m.get("regret_vs_ci", {})
            out.append(
                f"| {method} | {_num(m['mean_regret'])} {_interval_plain(m['mean_regret_ci'])} | "
                f"{_versus(m, methods.get('default'), vs.get('default'))} | {_versus(m, methods.get('sbs'), vs.get('sbs'))} | "
                f"{_num(m['median_regret'])} | {_num(m['top1'])} | {m['choice_counts']} |"
            )
    brute = reg.get("cv_one_sample")
    if brute:
        out += [
            "",
            "Brute force (C picked by one sample's grid CV, priced on the dataset's other samples; C = 1 on the same truths):",
            "",
        ]
        out += [
            "| classifier | datasets | regret of the CV pick | regret of C = 1 |",
            "|---|---|---|---|",
        ]
        for name, values in brute.items():
            out.append(
                f"| {name} | {values.get('n_datasets', '-')} | {_num(values['mean_regret'])} | {_num(values['default_mean_regret'])} |"
            )
    pooled = reg["pooled"]
    out += ["", "Pooled (each dataset's regret averaged over the tuned classifiers):", ""]
    out += ["| method | mean regret [95% CI] | minus C = 1 [paired] | better / worse than C = 1 | minus SBS of C [paired] | better / worse than SBS of C |",
            "|---|---|---|---|---|---|"]  # fmt: skip
    for method, m in sorted(pooled.items(), key=lambda kv: kv[1]["mean_regret"]):
        out.append(
            f"| {method} | {_num(m['mean_regret'])} {_interval_plain(m['mean_regret_ci'])} | "
            f"{_signed_ci(m.get('regret_minus_default'), m.get('regret_minus_default_ci'))} | "
            f"{_pair(m.get('better_worse_than_default'))} | "
            f"{_signed_ci(m.get('regret_minus_sbs'), m.get('regret_minus_sbs_ci'))} | {_pair(m.get('better_worse_than_sbs'))} |"
        )
    combined = reg.get("combined") or {}
    if combined:
        methods = combined["methods"]
        out += ["", f"Classifier + C ({combined['n_datasets']} datasets; {len(combined['answers'])} answers: every "
                "classifier at its default, every tuned classifier at every C; `_c`: picks C too):", ""]  # fmt: skip
        out += ["| method | mean regret [95% CI] | minus SBS at its default [paired] | better / worse than SBS | minus beyonder [paired] | top-1 |",
                "|---|---|---|---|---|---|"]  # fmt: skip
        for method, m in sorted(methods.items(), key=lambda kv: kv[1]["mean_regret"]):
            vs = m.get("regret_vs_ci", {})
            out.append(
                f"| {method} | {_num(m['mean_regret'])} {_interval_plain(m['mean_regret_ci'])} | "
                f"{_versus(m, methods.get('sbs'), vs.get('sbs'))} | {_pair(m.get('better_worse_than_sbs'))} | "
                f"{_versus(m, methods.get('beyonder'), vs.get('beyonder'))} | {_num(m['top1'])} |"
            )
    return "\n".join(out)


def _interval_plain(ci: list | None) -> str:
    return "-" if not ci or None in ci else f"[{ci[0]:.2f}, {ci[1]:.2f}]"


def _versus(m: dict, other: dict | None, ci: list | None) -> str:
    """Mean regret minus the other's, with the paired interval; 0 against itself."""
    if other is None:
        return "-"
    if other is m:
        return "0"
    return _signed_ci(m["mean_regret"] - other["mean_regret"], ci)


def _signed_ci(value: float | None, ci: list | None) -> str:
    return "-" if value is None else f"{value:+.2f} {_interval(ci)}"


def _pair(values: list | None) -> str:
    return "-" if not values else f"{values[0]} / {values[1]}"


def metric_tables(result: dict[str, Any], against: list[str]) -> str:
    """One table per report group and metric: each method's mean regret (points of that
    metric) [95% CI], its regret minus the SBS's and minus each ``against`` method's (paired
    intervals), gap closed and Spearman; brute force's regret and gap closed on the same truth;
    the imbalanced tasks' rows; then the imbalanced natural tasks' pick by predicted balanced
    accuracy against the pick by predicted accuracy."""
    lines: list[str] = []

    def rows(part: dict[str, Any], label: str) -> None:
        methods = part["methods"]
        for name, m in sorted(methods.items(), key=lambda kv: kv[1].get("mean_regret") or math.inf):
            if name == "oracle":
                continue
            versus = "".join(
                " | 0" if o == name else
                f" | {_signed_ci(_diff(m, methods.get(o)), m.get('regret_vs_ci', {}).get(o))}"
                for o in against
                if o in methods
            )  # fmt: skip
            lines.append(
                f"| {label}{name} | {_num(m.get('mean_regret'))} {_interval_plain(m.get('mean_regret_ci'))} | "
                f"{_signed_ci(_diff(m, methods.get('sbs')), m.get('regret_vs_sbs_ci'))}{versus} | "
                f"{_pct(m.get('gap_closed'))} | {_num(m.get('spearman'))} |"
            )
        bf = part.get("brute_force") or {}
        lines.append(
            f"| {label}brute force (one replicate's CV) | {_num(bf.get('mean_regret'))} | |"
            + " |" * sum(o in part["methods"] for o in against)
            + f" {_pct(bf.get('gap_closed'))} | {_num(bf.get('spearman'))} |"
        )

    header = (
        "| method | mean regret [95% CI] | minus SBS | "
        + "".join(f"minus {o} | " for o in against)
        + "gap closed | Spearman |"
    )
    for group, parts in result["metrics"].items():
        if group == "imbalanced_pick":
            continue
        for metric, part in parts.items():
            lines += [
                "",
                f"**{group}, {metric}** ({part['n_datasets']} datasets)",
                "",
                header,
                "|---" * (5 + len(against)) + "|",
            ]
            rows(part, "")
            if part.get("imbalanced"):
                rows(part["imbalanced"], f"imbalanced ({part['imbalanced']['n_datasets']}): ")
    pick = result["metrics"].get("imbalanced_pick")
    if pick:
        lines += ["", f"**imbalanced natural tasks, priced in balanced accuracy** ({pick['n_datasets']} datasets)", "",
                  "| method | mean regret [95% CI] | minus SBS | minus beyonder_by_accuracy | gap closed | Spearman |", "|---" * 6 + "|"]  # fmt: skip
        against = ["beyonder_by_accuracy"]
        rows(pick, "")
    return "\n".join(lines).strip()


def method_regrets(result: dict[str, Any]) -> dict[str, np.ndarray]:
    """Per-dataset regret (accuracy points, the report's truth) of every method with picks."""
    classifiers, true, methods = picks_and_truth(result)
    rows = result["per_dataset"]
    out = {}
    for method in methods:
        picks = [row.get(f"{method}_choice") for row in rows]
        if None in picks:
            continue  # a method scored on part of the datasets only: not pairable here
        out[method] = regret(true, np.array([classifiers.index(p) for p in picks]))
    return out


def seed_mean_table(
    result: dict[str, Any],
    specs: list[str],
    workspace: Path,
    n_boot: int,
    seed: int,
) -> str:
    """The ``--seed-mean`` table (see the module docstring)."""
    params = load_params(workspace / "params.yaml")
    groups = dataset_groups(corpus_groups(Layout(workspace)), params.evaluate.groups)
    datasets = np.array([row["dataset"] for row in result["per_dataset"]])
    members = {g: np.array([groups.get(d) == g for d in datasets]) for g in params.evaluate.groups}
    members = {g: m for g, m in members.items() if m.any()}
    members["all"] = np.ones(len(datasets), dtype=bool)
    regrets = method_regrets(result)
    header = (
        "| difference | " + " | ".join(f"{g} ({int(m.sum())})" for g, m in members.items()) + " |"
    )
    lines = [header, "|---" * (1 + len(members)) + "|"]
    for spec in specs:
        label, _, pairs_text = spec.partition("=")
        pairs = [p.split("-", 1) for p in pairs_text.split(",")]
        unknown = [m for pair in pairs for m in pair if m not in regrets]
        if not label or any(len(pair) != 2 for pair in pairs) or unknown:
            raise ValueError(f"--seed-mean {spec!r}: LABEL=A-B,C-D with methods of the report "
                             f"(unknown or malformed: {', '.join(unknown) or spec})")  # fmt: skip
        diffs = np.array([regrets[a] - regrets[b] for a, b in pairs])
        cells = []
        for mask in members.values():
            mean_diff = diffs[:, mask].mean(axis=0)
            ci = bootstrap_interval(mean_diff, n_boot=n_boot, seed=seed)
            per_seed = " / ".join(f"{np.nanmean(d[mask]):+.2f}" for d in diffs)
            cells.append(f"{np.nanmean(mean_diff):+.2f} {_interval(list(ci))} ({per_seed})")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _diff(m: dict, other: dict | None) -> float | None:
    if other is None or m.get("mean_regret") is None or other.get("mean_regret") is None:
        return None
    return m["mean_regret"] - other["mean_regret"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("json", type=Path, nargs="+", help="a beyonder evaluate --corpus --json report, or "
                        "several of the same workspace, folds and seed")  # fmt: skip
    parser.add_argument(
        "--against", action="append", default=[], help="also pair every method with this one"
    )
    parser.add_argument("--group", help="one corpus of the report (by_group), e.g. uci; with "
                        "--regularisation, a report group, e.g. natural")  # fmt: skip
    parser.add_argument(
        "--n-boot", type=int, default=1000, help="resamples (the run's evaluate.n_boot)"
    )
    parser.add_argument("--seed", type=int, default=42, help="the run's seed")
    parser.add_argument("--decisions", action="store_true", help="the decisions tables (fit time, budget, "
                        "intervals, verify curve) instead")  # fmt: skip
    parser.add_argument("--curve", action="store_true", help="the regret-against-CPU curve (predict, then "
                        "measure; brute force) instead")  # fmt: skip
    parser.add_argument("--regularisation", action="store_true", help="the regularisation tables (suggested C "
                        "against C = 1 and the SBS of C; classifier + C) instead")  # fmt: skip
    parser.add_argument("--metrics", action="store_true", help="the per-group, per-metric tables (natural tasks "
                        "first, brute force beside each, imbalanced tasks apart) instead")  # fmt: skip
    parser.add_argument("--seed-mean", action="append", default=[], metavar="LABEL=A-B,C-D",
                        help="the mean over seeds of paired differences, per report group, instead "
                        "(repeatable)")  # fmt: skip
    parser.add_argument("--workspace", type=Path, default=Path("."), help="the labelled workspace "
                        "the runs read (its params.yaml and ingest manifest: --seed-mean's groups)")  # fmt: skip
    args = parser.parse_args(argv)
    results = [json.loads(path.read_text()) for path in args.json]
    if len(results) > 1 and (args.group or args.decisions or args.regularisation or args.curve):
        parser.error(
            "--group, --decisions, --curve and --regularisation read one report: give one JSON"
        )
    try:
        result = results[0] if len(results) == 1 else merged(results, [str(p) for p in args.json])
    except ValueError as err:
        parser.error(str(err))
    if args.seed_mean:
        try:
            print(seed_mean_table(result, args.seed_mean, args.workspace, args.n_boot, args.seed))
        except ValueError as err:
            parser.error(str(err))
        return 0
    if args.regularisation:
        if not result.get("regularisation"):
            parser.error(
                f"{args.json[0]} has no regularisation part (a workspace without C labels, or written before)"
            )
        reg = result["regularisation"]
        if args.group:
            groups = reg.get("groups", {})
            if args.group not in groups:
                parser.error(
                    f"{args.json[0]}'s regularisation part has no group {args.group!r} "
                    f"(groups: {', '.join(groups) or 'none'})"
                )
            reg = groups[args.group]
        print(regularisation_tables(reg))
        return 0
    if args.curve:
        if not (result.get("decisions") or {}).get("budget_curve"):
            parser.error(
                f"{args.json[0]} has no budget curve (written before it existed, or without a combiner)"
            )
        print(curve_tables(result))
        return 0
    if args.metrics:
        if not result.get("metrics"):
            parser.error(f"{args.json[0]} has no metrics part (written before it existed)")
        print(metric_tables(result, args.against))
        return 0
    if args.decisions:
        if not result.get("decisions"):
            parser.error(
                f"{args.json[0]} has no decisions part (written before it existed, or without beyonder)"
            )
        print(decision_tables(result))
        return 0
    if args.group and args.group not in result.get("by_group", {}):
        parser.error(
            f"{args.json[0]} has no corpus {args.group!r} (corpora: "
            f"{', '.join(result.get('by_group', {})) or 'none'}; the report groups natural, "
            "binarized, synthetic are in --metrics)"
        )
    print(table(result, args.against, args.group, args.n_boot, args.seed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
