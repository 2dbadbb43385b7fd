"""``recommend --plot FILE``: the answer as the decision a user makes, at a glance.

Each classifier is a point at its predicted whole-table fit time (log scale) and predicted
accuracy, with its calibrated interval; a measured classifier (``--budget``, ``--verify``)
also shows its combined estimate and interval, and the measurement itself. The trade-off
(Pareto) frontier joins the classifiers that no other beats on both accuracy and time: any
other choice is slower for no gain. PNG, or HTML (the same figure as SVG, with the ranking as
a table). Written atomically; matplotlib is imported only here, so a plain ``recommend``
stays as fast as before.
"""

from __future__ import annotations

import html
import io
from pathlib import Path

import numpy as np
import pandas as pd

from beyonder.errors import require_extra
from beyonder.storage import write_bytes, write_text

FORMATS = (".png", ".html", ".htm")


class PlotError(ValueError):
    """A plot file that cannot be written (unknown format); one line."""


def check_plot_path(path: str | Path) -> Path:
    """``path`` if its suffix is a supported format, else ``PlotError``; ``MissingExtra`` in
    the light install (matplotlib comes with the pipeline extra)."""
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise PlotError(f"plot file must end in .png or .html, got {str(path)!r}")
    if path.exists() and path.is_dir():
        raise PlotError(f"plot file {str(path)!r} is a folder")
    require_extra(f"--plot {path.name}", ("matplotlib",))
    return path


def frontier(time: np.ndarray, accuracy: np.ndarray) -> np.ndarray:
    """Indices of the Pareto frontier, fastest first: each is more accurate than every
    faster one (ties in time: the more accurate only)."""
    time, accuracy = np.asarray(time, dtype=np.float64), np.asarray(accuracy, dtype=np.float64)
    ok = np.flatnonzero(np.isfinite(time) & np.isfinite(accuracy))
    order = ok[np.lexsort((-accuracy[ok], time[ok]))]
    out, best = [], -np.inf
    for i in order:
        if accuracy[i] > best:
            out.append(int(i))
            best = accuracy[i]
    return np.array(out, dtype=int)


def figure(table: pd.DataFrame, title: str = ""):
    """The matplotlib figure of a ``recommend`` answer."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    ranked = table[table["rank"] > 0] if "rank" in table else table
    out = table[table["rank"] == 0] if "rank" in table else table.iloc[:0]
    time = ranked["predicted_table_fit_time"].to_numpy(np.float64)
    pred = ranked["predicted_accuracy"].to_numpy(np.float64)
    combined = "estimated_accuracy" in ranked
    best = ranked["estimated_accuracy"].to_numpy(np.float64) if combined else pred
    fig, ax = plt.subplots(figsize=(8, 5.2))
    low, high = (
        ranked["accuracy_low"].to_numpy(np.float64),
        ranked["accuracy_high"].to_numpy(np.float64),
    )
    has_interval = np.isfinite(low) & np.isfinite(high)
    shift = 1.0 / 1.06 if combined else 1.0  # predicted and estimated side by side
    ax.errorbar(
        time[has_interval] * shift, pred[has_interval],
        yerr=[pred[has_interval] - low[has_interval], high[has_interval] - pred[has_interval]],
        fmt="none", ecolor="#9aa7b8", elinewidth=1.2, capsize=3, zorder=1,
    )  # fmt: skip
    ax.scatter(time * shift, pred, s=42, facecolors="white", edgecolors="#4a6a8a", zorder=2,
               label="predicted, with its 80% interval")  # fmt: skip
    if combined:
        measured = ranked["measured_tier"].fillna("").astype(str).to_numpy() != ""
        e_low, e_high = (
            ranked["estimated_low"].to_numpy(np.float64),
            ranked["estimated_high"].to_numpy(np.float64),
        )
        ok = np.isfinite(e_low) & np.isfinite(e_high)
        ax.errorbar(time[ok] * 1.06, best[ok], yerr=[best[ok] - e_low[ok], e_high[ok] - best[ok]], fmt="none",
                    ecolor="#e3a35a", elinewidth=1.2, capsize=3, zorder=1)  # fmt: skip
        ax.scatter(time * 1.06, best, s=46, color="#d9822b", zorder=3,
                   label="prediction combined with the measurements")  # fmt: skip
        m_acc = ranked["measured_accuracy"].to_numpy(np.float64)
        ax.scatter(time[measured] * 1.06, m_acc[measured], marker="x", s=60, color="#b03a2e", zorder=4,
                   label="measured (CV on a subsample of the table)")  # fmt: skip
    edge = frontier(time, best)
    if len(edge):
        xs, ys = time[edge], best[edge]
        step_x = np.r_[xs, xs[-1] * 3]
        step_y = np.r_[ys, ys[-1]]
        ax.step(
            step_x,
            step_y,
            where="post",
            color="#2e7d32",
            lw=1.6,
            zorder=0,
            label="trade-off frontier",
        )
    for name, x, y in zip(ranked["classifier"], time, best, strict=True):
        ax.annotate(str(name), (x, y), textcoords="offset points", xytext=(6, 5), fontsize=8)
    if len(out):
        ax.scatter(out["predicted_table_fit_time"], out["predicted_accuracy"], s=30, color="#bbbbbb", zorder=1,
                   label="left out by the time budget")  # fmt: skip
        for name, x, y in zip(
            out["classifier"],
            out["predicted_table_fit_time"],
            out["predicted_accuracy"],
            strict=True,
        ):
            ax.annotate(
                str(name),
                (x, y),
                textcoords="offset points",
                xytext=(6, 5),
                fontsize=8,
                color="#999999",
            )
    ax.set_xscale("log")
    ax.set_xlabel("predicted fit time on the whole table (s, log scale)")
    ax.set_ylabel("accuracy")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def title_of(table: pd.DataFrame, path: str = "") -> str:
    rows = table.attrs.get("table_rows") or table.attrs.get("rows")
    parts = [str(path) if path else "", f"{rows} rows" if rows else ""]
    if table.attrs.get("budget"):
        spent = table.attrs.get("budget_spent") or 0.0
        parts.append(
            f"budget {table.attrs['budget']:g} CPU s, {spent:.2f} s spent on {len(table.attrs.get('measurements') or [])} measurements"
        )
    elif table.attrs.get("verified"):
        parts.append(f"top {table.attrs['verified']} cross-validated")
    return "; ".join(p for p in parts if p)


def write_plot(table: pd.DataFrame, path: str | Path, title: str = "") -> Path:
    """Draw ``table`` (a ``recommend`` answer) into ``path`` (.png, or .html with the ranking)."""
    import matplotlib.pyplot as plt

    path = check_plot_path(path)
    fig = figure(table, title)
    buffer = io.BytesIO()
    try:
        if path.suffix.lower() == ".png":
            fig.savefig(buffer, format="png", dpi=120)
            write_bytes(buffer.getvalue(), path)
        else:
            fig.savefig(buffer, format="svg")
            svg = buffer.getvalue().decode()
            svg = svg[svg.index("<svg") :]
            columns = [c for c in table.columns if c != "left_out" or table[c].astype(bool).any()]
            ranking = table[columns].to_html(
                index=False, float_format=lambda v: f"{v:.4g}", na_rep=""
            )
            page = (
                "<!doctype html>\n<html><head><meta charset='utf-8'>"
                f"<title>{html.escape(title or 'beyonder recommend')}</title>"
                "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;font-size:13px}"
                "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}</style></head><body>\n"
                f"<h3>{html.escape(title)}</h3>\n{svg}\n{ranking}\n</body></html>\n"
            )
            write_text(page, path)
    finally:
        plt.close(fig)
    return path
