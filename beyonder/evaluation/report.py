"""The evaluation as pictures: predicted against true accuracy, the regret distribution and
per-dataset rankings, as CSV files for ``dvc plots show`` and PNG figures (logged to MLflow
with the rest of ``evaluation``).

Everything is derived from the per-dataset table that ``stages/evaluate.py`` writes (one row
per method, test dataset and classifier: true and predicted accuracy), with the conventions
of ``evaluation.py``: the pick is the highest prediction (ties to the first classifier), a
pick without a label pays the worst labelled regret, regrets are in accuracy points.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from beyonder.evaluation.metrics import choose, regret

REGRET_FILE = "regret.csv"
RANKINGS_FILE = "rankings.csv"
FIGURES = ("predicted_vs_true.png", "regret.png", "rankings.png")
BUDGET_FILE = "budget_curve.csv"
BUDGET_FIGURE = "budget_curve.png"
BUDGET_COLUMNS = [
    "group", "mode", "family", "cpu_share", "cpu_seconds", "mean_regret", "gap_closed",
    "regret_vs_brute_force", "ci_low", "ci_high", "n_datasets",
]  # fmt: skip


def mode_family(mode: str) -> str:
    """The policy a budget-curve mode belongs to: ``top3@m100`` and ``all@m100`` are one
    family (more classifiers measured at one tier), ``budget0.2`` is ``budget``..."""
    if "@" in mode:
        return f"measure the top k @ {mode.split('@', 1)[1]}"
    if mode.startswith("verify"):
        return "verify k (measured only)"
    if mode.startswith("budget"):
        return "budget (greedy)"
    return mode


def budget_table(curve: dict | None) -> pd.DataFrame:
    """The budget curve (``evaluation.budget.budget_curve``) as one row per group and mode."""
    rows = []
    parts = [("all", curve or {})] + sorted((curve or {}).get("by_group", {}).items())
    for group, part in parts:
        for m in part.get("modes", []):
            low, high = (m.get("regret_vs_brute_force_ci") or [np.nan, np.nan])[:2]
            rows.append(
                {
                    "group": group, "mode": m["mode"], "family": mode_family(m["mode"]),
                    "cpu_share": m["cpu_share"], "cpu_seconds": m["cpu_seconds"], "mean_regret": m["mean_regret"],
                    "gap_closed": m["gap_closed"], "regret_vs_brute_force": m["regret_vs_brute_force"],
                    "ci_low": low, "ci_high": high, "n_datasets": m["n_datasets"],
                }
            )  # fmt: skip
    return pd.DataFrame(rows, columns=BUDGET_COLUMNS)


def write_budget_curve(curve: dict | None, directory: str | Path) -> list[Path]:
    """``budget_curve.csv`` (for ``dvc plots``) and ``figures/budget_curve.png``: regret
    against CPU (a share of brute force's) per policy; an empty table and figure when the
    model has no measurement calibration, so that the stage's outputs always exist."""
    from beyonder.storage import write_text

    directory = Path(directory)
    table = budget_table(curve)
    write_text(table.to_csv(index=False), directory / BUDGET_FILE)
    figure = directory / "figures" / BUDGET_FIGURE
    figure.parent.mkdir(parents=True, exist_ok=True)
    _plot_budget(table, figure)
    return [directory / BUDGET_FILE, figure]


def _matrices(
    table: pd.DataFrame,
) -> tuple[list[str], list[str], np.ndarray, dict[str, np.ndarray]]:
    """Datasets, classifiers (in the table's order), true accuracies and each method's
    predictions as (datasets x classifiers) matrices."""
    classifiers = list(dict.fromkeys(table["classifier"]))
    datasets = sorted(set(table["dataset"]))
    first = table[table["method"] == table["method"].iloc[0]]
    true = first.pivot(index="dataset", columns="classifier", values="true_accuracy")
    true = true.reindex(index=datasets, columns=classifiers).to_numpy(np.float64)
    preds = {}
    for method, rows in table.groupby("method", sort=False):
        pred = rows.pivot(index="dataset", columns="classifier", values="predicted_accuracy")
        preds[str(method)] = pred.reindex(index=datasets, columns=classifiers).to_numpy(np.float64)
    return datasets, classifiers, true, preds


def regret_table(table: pd.DataFrame, sbs_classifier: str | None = None) -> pd.DataFrame:
    """One row per test dataset: each method's pick and regret, the oracle's best, and the
    single best classifier's regret (``sbs_regret``)."""
    columns = ["dataset", "best", "best_accuracy"]
    if table.empty:
        return pd.DataFrame(columns=[*columns, "picked", "regret"])
    datasets, classifiers, true, preds = _matrices(table)
    with np.errstate(all="ignore"):
        best_idx = np.argmax(np.where(np.isnan(true), -np.inf, true), axis=1)
    out = pd.DataFrame(
        {
            "dataset": datasets,
            "best": [classifiers[j] for j in best_idx],
            "best_accuracy": true[np.arange(len(datasets)), best_idx],
        }
    )
    for method, pred in preds.items():
        choice = choose(pred)
        prefix = "" if method == "beyonder" else f"{method}_"
        out[f"{prefix}picked"] = [classifiers[j] if j >= 0 else "" for j in choice]
        out[f"{prefix}regret"] = regret(true, choice)
    if sbs_classifier in classifiers:
        out["sbs_regret"] = regret(true, np.full(len(datasets), classifiers.index(sbs_classifier)))
    return out


RANKING_COLUMNS = [
    "dataset",
    "classifier",
    "true_accuracy",
    "predicted_accuracy",
    "true_rank",
    "predicted_rank",
]


def ranking_table(table: pd.DataFrame, method: str = "beyonder") -> pd.DataFrame:
    """Per test dataset and classifier: true and predicted accuracy and rank (1 = best; ties
    share the better rank; an unlabelled classifier has no true rank)."""
    rows = table[table["method"] == method].copy()
    if rows.empty:
        return pd.DataFrame(columns=RANKING_COLUMNS)
    by = rows.groupby("dataset")
    rows["true_rank"] = by["true_accuracy"].rank(ascending=False, method="min").astype("Int64")
    rows["predicted_rank"] = (
        by["predicted_accuracy"].rank(ascending=False, method="first").astype("Int64")
    )
    return (
        rows[RANKING_COLUMNS]
        .sort_values(["dataset", "predicted_rank"], kind="stable")
        .reset_index(drop=True)
    )


def write_report(table: pd.DataFrame, report: dict, directory: str | Path) -> list[Path]:
    """Write ``regret.csv``, ``rankings.csv`` and ``figures/*.png`` into ``directory``."""
    from beyonder.storage import write_text

    directory = Path(directory)
    regrets = regret_table(table, report.get("sbs_classifier"))
    rankings = ranking_table(table)
    write_text(regrets.to_csv(index=False), directory / REGRET_FILE)
    write_text(rankings.to_csv(index=False), directory / RANKINGS_FILE)
    figures = directory / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    paths = [figures / name for name in FIGURES]
    _plot_scatter(table, paths[0])
    _plot_regret(regrets, report, paths[1])
    _plot_rankings(table, rankings, paths[2])
    return [directory / REGRET_FILE, directory / RANKINGS_FILE, *paths]


# --------------------------------------------------------------------------- figures


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=110, bbox_inches="tight")
    tmp.replace(path)


def _empty(path: Path, message: str) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 2))
    ax.text(0.5, 0.5, message, ha="center", va="center")
    ax.set_axis_off()
    _save(fig, path)
    plt.close(fig)


def _plot_scatter(table: pd.DataFrame, path: Path) -> None:
    """Predicted against true accuracy, one panel per method, a colour per classifier."""
    if table.empty:
        return _empty(path, "no test datasets")
    plt = _pyplot()
    methods = list(dict.fromkeys(table["method"]))
    classifiers = list(dict.fromkeys(table["classifier"]))
    cmap = plt.get_cmap("tab10" if len(classifiers) <= 10 else "tab20")
    fig, axes = plt.subplots(1, len(methods), figsize=(5 * len(methods), 4.8), squeeze=False)
    values = table[["true_accuracy", "predicted_accuracy"]].to_numpy(np.float64)
    lo = float(np.nanmin(values)) if np.isfinite(values).any() else 0.0
    lo = max(0.0, min(lo, 1.0) - 0.05)
    for ax, method in zip(axes[0], methods, strict=True):
        rows = table[table["method"] == method]
        for k, clf in enumerate(classifiers):
            sub = rows[rows["classifier"] == clf]
            ax.scatter(
                sub["true_accuracy"],
                sub["predicted_accuracy"],
                s=18,
                color=cmap(k % cmap.N),
                label=clf,
            )
        ax.plot([lo, 1], [lo, 1], color="grey", lw=1, ls="--")
        both = rows[["true_accuracy", "predicted_accuracy"]].dropna()
        mae = (
            100 * float((both["true_accuracy"] - both["predicted_accuracy"]).abs().mean())
            if len(both)
            else float("nan")
        )
        ax.set(
            xlim=(lo, 1.005),
            ylim=(lo, 1.005),
            xlabel="true accuracy (CV)",
            ylabel="predicted accuracy",
        )
        ax.set_title(f"{method}: MAE {mae:.1f} points, {rows['dataset'].nunique()} datasets")
        ax.set_aspect("equal")
    axes[0][-1].legend(fontsize=7, loc="lower right", ncol=2)
    _save(fig, path)
    plt.close(fig)


def _plot_regret(regrets: pd.DataFrame, report: dict, path: Path) -> None:
    """Left: the distribution of per-dataset regret (ECDF) for every method and the SBS;
    right: Beyonder's regret per dataset, worst first."""
    if regrets.empty:
        return _empty(path, "no test datasets")
    plt = _pyplot()
    series = {
        c.removesuffix("_regret") if c != "regret" else "beyonder": regrets[c]
        for c in regrets.columns
        if c.endswith("regret")
    }
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, max(3.5, 0.22 * len(regrets) + 1.5)))
    for name, values in series.items():
        v = np.sort(values.dropna().to_numpy())
        if v.size:
            left.step(
                v,
                np.arange(1, v.size + 1) / v.size,
                where="post",
                label=f"{name} (mean {v.mean():.2f})",
            )
    left.set(
        xlabel="regret (accuracy points)",
        ylabel="share of test datasets",
        title="Regret distribution (ECDF)",
    )
    left.set_ylim(0, 1.02)
    left.legend(fontsize=8, loc="lower right")
    order = regrets.sort_values("regret", ascending=True, kind="stable")
    y = np.arange(len(order))
    right.barh(y, order["regret"], color="tab:blue", label="beyonder")
    if "sbs_regret" in order:
        right.scatter(
            order["sbs_regret"],
            y,
            color="tab:red",
            marker="|",
            s=80,
            label=f"SBS ({report.get('sbs_classifier')})",
        )
    right.set_yticks(
        y,
        [f"{d} ({p})" for d, p in zip(order["dataset"], order["picked"], strict=True)],
        fontsize=7,
    )
    right.set(xlabel="regret (accuracy points)", title="Regret per test dataset (pick in brackets)")
    right.legend(fontsize=8, loc="lower right")
    _save(fig, path)
    plt.close(fig)


def _plot_rankings(table: pd.DataFrame, rankings: pd.DataFrame, path: Path) -> None:
    """A grid of test datasets x classifiers: colour = how far the classifier's true accuracy
    is below the dataset's best (0 = best), number = Beyonder's predicted rank, boxed = pick."""
    if rankings.empty:
        return _empty(path, "no test datasets")
    plt = _pyplot()
    classifiers = list(dict.fromkeys(table["classifier"]))
    datasets = sorted(set(rankings["dataset"]))
    gap = rankings.pivot(index="dataset", columns="classifier", values="true_accuracy")
    gap = gap.reindex(index=datasets, columns=classifiers)
    gap = 100 * (gap.max(axis=1).to_numpy()[:, None] - gap.to_numpy(np.float64))
    ranks = rankings.pivot(index="dataset", columns="classifier", values="predicted_rank")
    ranks = ranks.reindex(index=datasets, columns=classifiers)
    fig, ax = plt.subplots(figsize=(1.0 + 0.75 * len(classifiers), 1.2 + 0.32 * len(datasets)))
    image = ax.imshow(
        np.nan_to_num(gap, nan=np.nanmax(gap) if np.isfinite(gap).any() else 0),
        cmap="viridis_r",
        aspect="auto",
    )
    for i in range(len(datasets)):
        for j in range(len(classifiers)):
            rank = ranks.iat[i, j]
            if pd.notna(rank):
                ax.text(
                    j,
                    i,
                    str(int(rank)),
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if gap[i, j] > np.nanmax(gap) / 2 else "black",
                )
                if int(rank) == 1:
                    ax.add_patch(
                        plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="red", lw=1.5)
                    )
    ax.set_xticks(range(len(classifiers)), classifiers, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(datasets)), datasets, fontsize=7)
    ax.set_title(
        "Per-dataset rankings: predicted rank (number, pick boxed)\nagainst true accuracy gap to the best"
    )
    fig.colorbar(image, ax=ax, label="points below the best (true)")
    _save(fig, path)
    plt.close(fig)


def _plot_budget(table: pd.DataFrame, path: Path) -> None:
    """Mean regret against CPU share, a line per policy family, one panel per corpus group."""
    if table.empty:
        return _empty(path, "no budget curve (a model without measurement calibration)")
    plt = _pyplot()
    groups = list(dict.fromkeys(table["group"]))
    fig, axes = plt.subplots(1, len(groups), figsize=(6.2 * len(groups), 4.6), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, group in zip(axes[0], groups, strict=True):
        part = table[table["group"] == group]
        brute = part[part["mode"] == "brute_force"]
        for n, (family, rows) in enumerate(
            part[~part["mode"].isin(["brute_force", "sbs"])].groupby("family", sort=False)
        ):
            rows = rows.sort_values("cpu_share")
            ax.plot(
                rows["cpu_share"],
                rows["mean_regret"],
                marker="o",
                ms=4,
                lw=1.2,
                color=colours[n % len(colours)],
                label=family,
            )
        if len(brute):
            ax.scatter(
                brute["cpu_share"],
                brute["mean_regret"],
                marker="*",
                s=160,
                color="black",
                zorder=5,
                label="brute force (CV of all)",
            )
            ax.axhline(float(brute["mean_regret"].iloc[0]), color="black", lw=0.8, ls="--")
        ax.axvline(1 / 3, color="grey", lw=0.8, ls=":")
        sbs = part[part["mode"] == "sbs"]
        if len(sbs):
            ax.axhline(
                float(sbs["mean_regret"].iloc[0]),
                color="#b03a2e",
                lw=0.8,
                ls="-.",
                label="single best (SBS)",
            )
        ax.set_xlabel("CPU seconds, share of brute force's")
        ax.set_ylabel("mean regret (accuracy points)")
        ax.set_title(f"{group}: {int(part['n_datasets'].max())} datasets", fontsize=10)
        ax.grid(True, alpha=0.3)
    axes[0][0].legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)
