"""``bench/crossval_table.py``: several runs of one workspace as one table."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location(
    "crossval_table", REPO / "bench" / "crossval_table.py"
)
crossval_table = importlib.util.module_from_spec(spec)
spec.loader.exec_module(crossval_table)

CLASSIFIERS = ["a", "b", "c"]
TRUE = [[0.9, 0.8, 0.7], [0.6, 0.9, 0.8], [0.7, 0.7, 0.95], [0.8, 0.85, 0.6]]


def _run(picks: dict[str, list[str]], true: list[list[float]] = TRUE) -> dict:
    """A report of ``beyonder evaluate --corpus`` reduced to what the table reads."""
    rows = [
        {"dataset": f"d{i}", "true": t, "best": CLASSIFIERS[t.index(max(t))]}
        for i, t in enumerate(true)
    ]
    methods = {}
    for method, chosen in picks.items():
        regrets = []
        for row, pick in zip(rows, chosen, strict=True):
            row[f"{method}_choice"] = pick
            regrets.append(100 * (max(row["true"]) - row["true"][CLASSIFIERS.index(pick)]))
        methods[method] = {"mean_regret": sum(regrets) / len(regrets), "mean_regret_ci": [0.0, 1.0]}
    return {"classifiers": CLASSIFIERS, "per_dataset": rows, "methods": methods}


def test_runs_merge_side_by_side_and_a_rerun_that_differs_is_kept_apart() -> None:
    first = _run({"sbs": ["a"] * 4, "beyonder": ["a", "b", "c", "b"]})
    second = _run(
        {"sbs": ["a"] * 4, "beyonder": ["a", "b", "a", "b"], "beyonder_deep": ["b", "b", "c", "a"]}
    )
    out = crossval_table.merged([first, second], ["one.json", "two.json"])
    assert set(out["methods"]) == {"sbs", "beyonder", "beyonder_run2", "beyonder_deep"}
    assert out["per_dataset"][2]["beyonder_run2_choice"] == "a"
    assert out["per_dataset"][0]["beyonder_deep_choice"] == "b"
    assert "beyonder_deep_choice" not in first["per_dataset"][0]  # the inputs are left as they were
    # paired intervals are recomputed across the runs: the deep variant has one against beyonder
    pairs = crossval_table.recomputed_pairs(out, n_boot=50, seed=0)
    lo, hi = pairs["beyonder_deep"]["beyonder"]
    assert lo <= hi
    rows = crossval_table.table(out, ["beyonder"], None, n_boot=50, seed=0).splitlines()
    assert len(rows) == 2 + 4 and any(r.startswith("| beyonder_run2 |") for r in rows)


def test_runs_of_other_truths_are_refused(tmp_path: Path) -> None:
    first = _run({"sbs": ["a"] * 4})
    other = _run({"sbs": ["a"] * 4}, true=[[0.9, 0.8, 0.7]] * 4)
    with pytest.raises(ValueError, match="two.json: not the datasets"):
        crossval_table.merged([first, other], ["one.json", "two.json"])
    paths = []
    for name, run in (("one.json", first), ("two.json", other)):
        paths.append(tmp_path / name)
        paths[-1].write_text(json.dumps(run))
    with pytest.raises(SystemExit):
        crossval_table.main([str(p) for p in paths])


def test_seed_mean_pools_each_seeds_paired_difference_per_group(tmp_path: Path) -> None:
    (tmp_path / "params.yaml").write_text(
        "evaluate:\n  groups:\n    natural: [uci]\n    binarized: [statlib_binarized]\n"
    )
    (tmp_path / "data" / "raw").mkdir(parents=True)
    origins = ["uci", "uci", "uci", "statlib_binarized"]
    manifest = [
        {"name": f"d{i}", "source": "local", "origin": f"corpus/{o}/d{i}.parquet"}
        for i, o in enumerate(origins)
    ]
    (tmp_path / "data" / "raw" / "manifest.json").write_text(json.dumps(manifest))
    run = _run(
        {
            "sbs": ["a"] * 4,
            "beyonder": ["a", "b", "c", "b"],  # regrets 0, 0, 0, 0
            "beyonder_seed1": ["a", "c", "c", "a"],  # 0, 10, 0, 5
            "beyonder_refit": ["b", "b", "c", "b"],  # 10, 0, 0, 0
            "beyonder_refit_seed1": ["a", "b", "c", "a"],  # 0, 0, 0, 5
        }
    )
    spec = "refit=beyonder_refit-beyonder,beyonder_refit_seed1-beyonder_seed1"
    text = crossval_table.seed_mean_table(run, [spec], tmp_path, n_boot=200, seed=0)
    header, _, row = text.splitlines()
    assert header == "| difference | natural (3) | binarized (1) | all (4) |"
    cells = [c.strip() for c in row.strip("|").split("|")]
    # natural: seed 0 +10/3, seed 1 -10/3, pooled per dataset (+5, -5, 0): mean 0
    assert cells[0] == "refit" and cells[1].startswith("+0.00 [") and "(+3.33 / -3.33)" in cells[1]
    assert cells[2].startswith("+0.00 [+0.00, +0.00] (+0.00 / +0.00)")
    with pytest.raises(ValueError, match="unknown or malformed: beyonder_wide"):
        crossval_table.seed_mean_table(run, ["x=beyonder_wide-beyonder"], tmp_path, 10, 0)


def test_an_unknown_corpus_is_refused_with_the_ones_there_are(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _run({"sbs": ["a"] * 4})
    run["by_group"] = {"uci": {"methods": run["methods"]}}
    path = tmp_path / "run.json"
    path.write_text(json.dumps(run))
    with pytest.raises(SystemExit):
        crossval_table.main([str(path), "--group", "natural"])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "run.json has no corpus 'natural' (corpora: uci;" in err
