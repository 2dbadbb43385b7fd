"""The regularisation strength C: C-grid labels in the label engine's cache, the
network's ``curve`` heads, what ``recommend`` answers, and the evaluation tables' maths."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from test_encoding_model import _frame
from test_label_stage import _iris, _mixed, _run_all, _write_samples

from beyonder.config import Layout
from beyonder.evaluation.regularisation import (
    combined_report,
    crossval_report,
    curve_report,
    fold_details,
    sbs_of_c,
    suggest,
)
from beyonder.labels.labelling import CVSettings, label_key
from beyonder.labels.portfolio import at_C, build_classifier, classifier_config, split_name
from beyonder.params import RegularisationParams, parse_params
from beyonder.schema import ROW_ID, TARGET
from beyonder.selector.corpus import Corpus, concat, load_corpus
from beyonder.selector.encoding import encode_sample
from beyonder.selector.estimator import Beyonder, BeyonderConfig, masked_curve_loss
from beyonder.selector.inference import NumpyBeyonder
from beyonder.stages.label import (
    LabelCache,
    assemble_labels,
    grid_names,
    pending_jobs,
    write_label_tables,
)

CV = CVSettings(n_folds=3, seed=0, fit_timeout=None)
TOL = 1e-5

# --- labels --------------------------------------------------------------------------------------


def test_grid_names_build_the_classifier_with_that_C_and_C1_is_the_portfolio_label() -> None:
    assert at_C("svm_rbf", 0.01) == "svm_rbf@C=0.01" and split_name("svm_rbf@C=0.01") == (
        "svm_rbf",
        0.01,
    )
    assert split_name("knn") == ("knn", None)
    pipe = build_classifier("logreg@C=1000", 0, ["a"], ["b"])
    assert pipe.get_params()["model__C"] == 1000.0
    # C = 1 is the library default: the same configuration, so the same cache key
    assert classifier_config("svm_rbf@C=1") == classifier_config("svm_rbf")
    assert label_key("h", "svm_rbf@C=1", CV) == label_key("h", "svm_rbf", CV)
    assert label_key("h", "svm_rbf@C=10", CV) != label_key("h", "svm_rbf", CV)
    assert label_key("h", "svm_rbf@C=10", CV) != label_key("h", "logreg@C=10", CV)
    with pytest.raises(ValueError, match="no C"):
        at_C("knn", 1.0)
    with pytest.raises(ValueError, match="positive"):
        at_C("logreg", 0.0)
    with pytest.raises(ValueError, match="regularisation"):
        grid_names(RegularisationParams(enabled=True, classifiers=["hist_gb"]))
    assert grid_names(RegularisationParams(enabled=False)) == []
    assert grid_names(RegularisationParams(enabled=True, classifiers=["logreg"], grid=[0.1, 1])) == [
        "logreg@C=0.1", "logreg@C=1",
    ]  # fmt: skip


def test_adding_a_grid_point_computes_only_its_labels(tmp_path) -> None:
    """C = 1 comes from the portfolio's cache; a new grid point is only its own labels; the
    portfolio keys are unchanged (an older cache stays valid)."""
    root = tmp_path.resolve()
    samples = _write_samples(root, {"iris": _iris(), "mixed": _mixed()})
    cache = LabelCache(Layout(root).label_cache)
    portfolio = ["logreg", "gaussian_nb"]
    _run_all(pending_jobs(samples, portfolio, CV, cache), cache, root)
    before = {p.name for p in cache.root.rglob("*.json")}

    grid = grid_names(RegularisationParams(enabled=True, classifiers=["logreg"], grid=[0.01, 1.0]))
    jobs = pending_jobs(samples, portfolio + grid, CV, cache)
    assert [j.classifiers for j in jobs] == [["logreg@C=0.01"]] * len(samples)  # C = 1 is cached
    _run_all(jobs, cache, root)
    assert before <= {p.name for p in cache.root.rglob("*.json")}

    wider = grid_names(
        RegularisationParams(enabled=True, classifiers=["logreg"], grid=[0.01, 1.0, 100.0])
    )
    jobs = pending_jobs(samples, portfolio + wider, CV, cache)
    assert [j.classifiers for j in jobs] == [["logreg@C=100"]] * len(samples)
    _run_all(jobs, cache, root)
    assert pending_jobs(samples, portfolio + wider, CV, cache) == []

    # one pass for a fresh cache: svm_rbf and svm_rbf@C=1 are one label, fitted once
    fresh = LabelCache(root / "other")
    jobs = pending_jobs(samples[:1], ["svm_rbf", "svm_rbf@C=1", "svm_rbf@C=0.1"], CV, fresh)
    assert jobs[0].classifiers == ["svm_rbf", "svm_rbf@C=0.1"]

    table = assemble_labels(samples, portfolio + wider, CV, cache)
    summary = write_label_tables(table, portfolio, wider, Layout(root))
    assert summary["labels"] == 2 * len(samples) and summary["regularisation"]["labels"] == 3 * len(
        samples
    )
    curves = pd.read_parquet(Layout(root).curves)
    assert set(curves["classifier"]) == {"logreg"} and sorted(set(curves["C"])) == [
        0.01,
        1.0,
        100.0,
    ]
    labels = pd.read_parquet(Layout(root).labels / "labels.parquet")
    merged = curves[curves["C"] == 1.0].merge(
        labels[labels["classifier"] == "logreg"], on="sample_id"
    )
    np.testing.assert_array_equal(merged["accuracy_x"], merged["accuracy_y"])  # one label
    # C matters on these samples (else the grid would be pointless)
    assert curves.groupby("sample_id")["accuracy"].agg(np.ptp).max() > 0

    # the corpus reads them as (samples, tuned, grid); a grid point without labels is NaN
    reg = RegularisationParams(
        enabled=True, classifiers=["logreg", "svm_rbf"], grid=[0.01, 1.0, 100.0, 1e4]
    )
    corpus = load_corpus(Layout(root), portfolio, regularisation=reg)
    assert corpus.curves.shape == (len(samples), 2, 4)
    assert np.isnan(corpus.curves[:, 1]).all() and np.isnan(corpus.curves[:, 0, 3]).all()
    assert not np.isnan(corpus.curves[:, 0, :3]).any()
    np.testing.assert_array_equal(corpus.curves[:, 0, 1], corpus.accuracy[:, 0])

    write_label_tables(table, portfolio, [], Layout(root))  # off again: no stale curves
    assert not Layout(root).curves.exists()
    assert load_corpus(Layout(root), portfolio).curves is None


def test_params_section_defaults_and_types() -> None:
    params = parse_params({"regularisation": {"enabled": True, "grid": [0.1, 1, 10]}})
    assert params.regularisation.grid == [0.1, 1.0, 10.0]
    assert params.regularisation.active() == ["svm_rbf", "logreg"]
    assert parse_params(None).regularisation.active() == []  # off by default


def test_corpus_curves_follow_subsets_means_and_concat() -> None:
    index = pd.DataFrame(
        {"sample_id": list("abc"), "dataset": ["x", "x", "y"], "kind": "bootstrap"}
    )
    curves = np.arange(12, dtype=float).reshape(3, 2, 2)
    corpus = Corpus(
        index,
        np.zeros((3, 1)),
        np.zeros((3, 1)),
        ["logreg"],
        None,
        curves,
        ["logreg", "svm_rbf"],
        [0.1, 1.0],
    )
    np.testing.assert_array_equal(corpus.subset(np.array([False, True, True])).curves, curves[1:])
    means = corpus.dataset_means().curves
    np.testing.assert_array_equal(means[0], (curves[0] + curves[1]) / 2)
    np.testing.assert_array_equal(means[2], curves[2])
    plain = Corpus(
        index.assign(sample_id=list("def")), np.ones((3, 1)), np.ones((3, 1)), ["logreg"]
    )
    both = concat(corpus, plain)
    assert both.curves.shape == (6, 2, 2) and np.isnan(both.curves[3:]).all()
    assert both.tuned == ["logreg", "svm_rbf"]


# --- the heads -----------------------------------------------------------------------------------

TUNED, GRID = ["svm_rbf", "logreg"], [0.01, 1.0, 100.0]


@pytest.fixture(scope="module")
def fitted() -> Beyonder:
    """A small Beyonder with curve heads, one epoch; half the samples have no C labels."""
    config = BeyonderConfig(
        epochs=1, rows=64, max_features=16, dim=16, blocks=1, batch_size=4, tuned=TUNED, grid=GRID
    )
    samples = [
        encode_sample(_frame(n_rows=n, seed=s)) for s, n in enumerate((40, 64, 90, 50, 30, 70))
    ]
    rng = np.random.default_rng(0)
    k = len(config.classifiers)
    accuracy = rng.uniform(0.4, 1.0, size=(len(samples), k))
    curves = rng.uniform(0.4, 1.0, size=(len(samples), len(TUNED), len(GRID)))
    curves[::2] = np.nan  # an older workspace's samples: masked, not zero
    val = (samples[:2], accuracy[:2], np.full((2, k), 0.1), curves[:2])
    return Beyonder(config).fit(
        samples, accuracy, np.full_like(accuracy, 0.1), validation=val, curves=curves
    )


def _invariance_sample() -> pd.DataFrame:
    return _frame(n_rows=60, seed=11)  # read whole: exactly invariant


def test_curve_head_shape_range_and_invariances(fitted: Beyonder) -> None:
    assert (
        np.isfinite(fitted.history_["loss"]).all()
        and np.isfinite(fitted.history_["val_loss"]).all()
    )
    frame = _invariance_sample()
    base = fitted.predict([encode_sample(frame)])
    assert base["curve"].shape == (1, len(TUNED), len(GRID))
    assert ((base["curve"] > 0) & (base["curve"] < 1)).all()
    rng = np.random.default_rng(3)
    features = [c for c in frame.columns if c not in (TARGET, ROW_ID)]
    other = frame.iloc[rng.permutation(len(frame))].reset_index(drop=True)
    other = other[[features[j] for j in rng.permutation(len(features))] + [TARGET, ROW_ID]]
    other[TARGET] = other[TARGET].map({"a": "q", "b": "p", "c": "r"})
    np.testing.assert_allclose(
        fitted.predict([encode_sample(other)])["curve"], base["curve"], rtol=0, atol=TOL
    )
    different = fitted.predict([encode_sample(_frame(n_rows=20, seed=3, classes=("a", "b")))])[
        "curve"
    ]
    assert np.abs(different - base["curve"]).max() > 1e-6  # not trivially constant


def test_curve_head_is_exported_and_served_without_keras(fitted: Beyonder, tmp_path) -> None:
    directory = fitted.save(tmp_path / "model")
    numpy_model = NumpyBeyonder.load(directory)
    assert numpy_model.config.tuned == TUNED and numpy_model.config.grid == GRID
    samples = [encode_sample(_invariance_sample()), encode_sample(_frame(n_rows=100, seed=8))]
    np.testing.assert_allclose(
        numpy_model.predict(samples)["curve"], fitted.predict(samples)["curve"], atol=TOL
    )
    # a config without tuned classifiers (every model saved before them) has no curve head
    assert "curve" not in BeyonderConfig().outputs()


def test_curve_loss_masks_missing_labels() -> None:
    loss = masked_curve_loss(2, 3)
    t = np.array([[0.5, 0.6, np.nan, np.nan, np.nan, np.nan]], dtype=np.float32)
    p = np.array([[0.5, 0.6, 0.1, 0.9, 0.2, 0.3]], dtype=np.float32)
    assert float(np.asarray(loss(t, p))[0]) == pytest.approx(
        0.0, abs=1e-6
    )  # nothing else is scored
    worse = np.array([[0.6, 0.6, 0.1, 0.9, 0.2, 0.3]], dtype=np.float32)
    assert float(np.asarray(loss(t, worse))[0]) > 0
    empty = np.full((1, 6), np.nan, dtype=np.float32)
    assert float(np.asarray(loss(empty, p))[0]) == 0.0


# --- recommend -----------------------------------------------------------------------------------


def test_suggest_picks_the_best_predicted_C() -> None:
    curve = np.array([[0.7, 0.8, 0.75], [0.9, 0.85, 0.85]])
    out = suggest(curve, TUNED, GRID)
    assert [o["suggested_C"] for o in out] == [1.0, 0.01]
    assert out[1]["predicted_accuracy"] == 0.9 and out[1]["predicted_accuracy_default"] == 0.85
    # without C = 1 on the grid, the default comes from the accuracy head
    off = suggest(curve, TUNED, [0.01, 0.1, 100.0], default=np.array([0.6, 0.5]))
    assert [o["predicted_accuracy_default"] for o in off] == [0.6, 0.5]


def test_recommend_gives_suggested_C_per_tuned_classifier(
    fitted: Beyonder, tmp_path, capsys
) -> None:
    from beyonder.data.cleaning import CleaningConfig
    from beyonder.serving.recommend import REGULARISATION_COLUMNS, Recommender, as_json, recommend

    directory = Recommender(fitted, CleaningConfig(), sample_rows=60, subsamples=2).save(
        tmp_path / "rec"
    )
    frame = _frame(n_rows=80, seed=21).drop(columns=[ROW_ID]).rename(columns={TARGET: "class"})
    table = recommend(frame, target="class", model=directory)
    for column in REGULARISATION_COLUMNS:
        assert column in table
    tuned = table.set_index("classifier").loc[TUNED]
    assert tuned["suggested_C"].isin(GRID).all()
    assert (tuned["accuracy_at_suggested_C"] >= tuned["accuracy_at_default_C"] - 1e-12).all()
    assert table.set_index("classifier").drop(index=TUNED)["suggested_C"].isna().all()
    answer = json.loads(json.dumps(as_json(table)))  # valid JSON
    assert [r["classifier"] for r in answer["regularisation"]] == TUNED
    first = answer["regularisation"][0]
    assert set(first) >= {
        "suggested_C",
        "predicted_accuracy",
        "predicted_accuracy_default",
        "curve",
    }
    assert first["suggested_C"] == tuned.loc["svm_rbf", "suggested_C"]
    assert len(first["curve"]) == len(GRID)
    # the command: one line per tuned classifier after the ranking, and the same in --json
    from beyonder.cli import main

    path = tmp_path / "table.csv"
    frame.to_csv(path, index=False)
    assert main(["recommend", str(path), "--model", str(directory)]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if "suggested C =" in line]
    assert [line.split(":")[0] for line in lines] == TUNED
    assert main(["recommend", str(path), "--model", str(directory), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert [r["classifier"] for r in printed["regularisation"]] == TUNED
    assert {"suggested_C", "accuracy_at_default_C"} <= set(printed["ranking"][0])


# --- evaluation ----------------------------------------------------------------------------------


def test_curve_report_regrets_and_paired_intervals() -> None:
    """Two datasets, one classifier, grid (0.01, 1, 100): hand-computed regrets."""
    true = np.array([[[0.70, 0.80, 0.90]], [[0.85, 0.80, 0.60]]])  # best: C=100, then C=0.01
    pred = np.array([[[0.1, 0.2, 0.3]], [[0.3, 0.2, 0.1]]])  # right both times
    sbs = np.array([[2], [2]])  # SBS of C: 100
    report = curve_report(true, {"beyonder": pred}, sbs, ["svm_rbf"], GRID, n_boot=200, seed=0)
    methods = report["classifiers"]["svm_rbf"]["methods"]
    assert methods["beyonder"]["mean_regret"] == pytest.approx(0.0)
    assert methods["default"]["mean_regret"] == pytest.approx((10 + 5) / 2)
    assert methods["sbs"]["mean_regret"] == pytest.approx((0 + 25) / 2)
    assert methods["oracle"]["mean_regret"] == 0.0
    assert report["classifiers"]["svm_rbf"]["best_C_counts"] == [1, 0, 1]
    pooled = report["pooled"]["beyonder"]
    assert pooled["regret_minus_default"] == pytest.approx(-7.5)
    low, high = pooled["regret_minus_default_ci"]
    assert low == pytest.approx(-10.0) and high == pytest.approx(-5.0)  # resamples of {-10, -5}
    assert pooled["better_worse_than_default"] == [2, 0]
    assert report["pooled"]["default"]["regret_minus_sbs"] == pytest.approx(7.5 - 12.5)


def test_sbs_of_c_is_the_best_mean_over_training_datasets() -> None:
    train = np.array([[[0.7, 0.8, 0.9]], [[0.85, 0.8, 0.6]]])  # means 0.775, 0.8, 0.75
    assert sbs_of_c(train).tolist() == [1]
    assert sbs_of_c(np.full((2, 1, 3), np.nan)).tolist() == [-1]


def test_combined_report_scores_classifier_and_C_against_the_sbs_at_default() -> None:
    """Portfolio (knn, svm_rbf), svm_rbf tuned over (0.01, 1, 100)."""
    classifiers = ["knn", "svm_rbf"]
    true_acc = np.array([[0.80, 0.75], [0.70, 0.72]])
    true_curves = np.array([[[0.85, 0.75, 0.70]], [[0.60, 0.72, 0.65]]])
    # dataset 0: svm_rbf at C=0.01 is best (0.85); dataset 1: svm_rbf at C=1 (0.72)
    acc_pred = np.array([[0.9, 0.1], [0.1, 0.9]])
    curve_pred = np.array([[[0.95, 0.1, 0.1]], [[0.1, 0.92, 0.2]]])
    sbs = np.array([0, 0])  # knn
    report = combined_report(
        true_acc, true_curves, {"beyonder": (acc_pred, None), "beyonder_c": (acc_pred, curve_pred)},
        sbs, classifiers, ["svm_rbf"], GRID, n_boot=100,
    )  # fmt: skip
    assert report["answers"] == ["knn", "svm_rbf", "svm_rbf@C=0.01", "svm_rbf@C=100"]
    m = report["methods"]
    assert m["beyonder_c"]["mean_regret"] == pytest.approx(0.0)
    assert m["beyonder"]["mean_regret"] == pytest.approx((5 + 0) / 2)  # knn on 0, svm_rbf@1 on 1
    assert m["sbs"]["mean_regret"] == pytest.approx((5 + 2) / 2)


def test_crossval_report_pools_folds_with_their_own_sbs_of_c() -> None:
    index = pd.DataFrame(
        {
            "sample_id": [f"s{i}" for i in range(4)],
            "dataset": ["a", "a", "b", "c"],
            "kind": "bootstrap",
        }
    )
    curves = np.array([[[0.6, 0.8, 0.7]], [[0.6, 0.8, 0.7]], [[0.9, 0.7, 0.6]], [[0.5, 0.6, 0.9]]])
    acc = curves[:, 0, 1:2]
    corpus = Corpus(index, acc, np.zeros_like(acc), ["svm_rbf"], None, curves, ["svm_rbf"], GRID)
    folds = []
    for test_sets in ({"a"}, {"b", "c"}):
        is_test = index["dataset"].isin(test_sets).to_numpy()
        train, test = corpus.subset(~is_test), corpus.subset(is_test)
        details = fold_details(train, test, {"beyonder": test.curves})  # a perfect predictor
        folds.append((test_sets, details))
    # fold 1 trains on b and c: mean curve (0.7, 0.65, 0.75), so its SBS of C is 100
    assert folds[0][1]["sbs_c"].tolist() == [[2], [2]]
    assert folds[1][1]["sbs_c"].tolist() == [[1], [1]]  # trained on a alone: C = 1
    sbs_means = pd.DataFrame({"svm_rbf": [1.0, 1.0, 1.0]}, index=["a", "b", "c"])
    predictions = {"beyonder": pd.DataFrame({"svm_rbf": [0.8, 0.7, 0.6]}, index=["a", "b", "c"])}
    report = crossval_report(corpus, folds, sbs_means, predictions, n_boot=50)
    assert report["datasets"] == ["a", "b", "c"]
    assert report["classifiers"]["svm_rbf"]["methods"]["beyonder"]["mean_regret"] == pytest.approx(
        0.0
    )
    assert "beyonder_c" in report["combined"]["methods"]


def test_evaluate_corpus_reports_C_and_classifier_plus_C_tables() -> None:
    """``cross_validate`` on a workspace with curves: the regularisation table comes with the
    report and the JSON summary (the best C follows a dataset's kind, so the landmarkers can
    learn it); a workspace without curves has none."""
    from dataclasses import replace

    from test_crossval import CONFIG, _workspace

    from beyonder.data.splits import grouped_folds
    from beyonder.evaluation.crossval import RunSettings, cross_validate, summary

    ws = _workspace(n_datasets=12, per_dataset=1)
    rng = np.random.default_rng(0)
    n = len(ws.original.index)
    linear = np.array([int(d[1:]) % 2 == 0 for d in ws.original.index["dataset"]])
    shape = np.where(linear[:, None], [0.9, 0.8, 0.7], [0.6, 0.7, 0.85])  # best C: 0.01 or 100
    curves = np.stack([shape, shape - 0.05], axis=1) + rng.normal(0, 0.005, (n, 2, 3))
    original = replace(ws.original, curves=curves, tuned=["svm_rbf", "logreg"], grid=list(GRID))
    origin = {f"d{i}": "uci" if i < 8 else "statlib_binarized" for i in range(12)}
    ws = replace(ws, original=original, groups=origin)
    folds = grouped_folds(sorted(set(ws.original.index["dataset"])), 2, seed=0, families=())
    config = replace(CONFIG, tuned=["svm_rbf", "logreg"], grid=list(GRID))
    report = cross_validate(
        ws, folds, config, RunSettings(("beyonder", "landmark_ridge"), n_boot=50)
    )
    result = json.loads(json.dumps(summary(report)))
    table = result["regularisation"]
    assert table["tuned"] == ["svm_rbf", "logreg"] and table["grid"] == GRID
    for name in ("svm_rbf", "logreg"):
        methods = table["classifiers"][name]["methods"]
        assert set(methods) == {"beyonder", "landmark_ridge", "sbs", "default", "oracle"}
        assert methods["oracle"]["mean_regret"] == 0
    pooled = table["pooled"]
    assert pooled["landmark_ridge"]["mean_regret"] < pooled["sbs"]["mean_regret"]
    assert len(pooled["beyonder"]["regret_minus_default_ci"]) == 2
    assert {"beyonder", "beyonder_c", "landmark_ridge_c", "sbs", "oracle"} <= set(
        table["combined"]["methods"]
    )
    # the same picks, scored per report group (natural tasks apart from binarised ones)
    groups = table["groups"]
    assert list(groups) == ["natural", "binarized"]
    assert groups["natural"]["datasets"] == [f"d{i}" for i in range(8)]
    assert groups["binarized"]["datasets"] == ["d10", "d11", "d8", "d9"]
    whole = {d: i for i, d in enumerate(table["datasets"])}
    for name in ("natural", "binarized"):
        part = groups[name]
        for c in ("svm_rbf", "logreg"):
            assert part["classifiers"][c]["n_datasets"] == len(part["datasets"])
            assert part["sbs_c"][c] == [table["sbs_c"][c][whole[d]] for d in part["datasets"]]
    n_natural, n_all = len(groups["natural"]["datasets"]), len(table["datasets"])
    for method in ("beyonder", "default"):  # group means add up to the whole's
        parts = [groups[g]["pooled"][method]["mean_regret"] for g in ("natural", "binarized")]
        mixed = (parts[0] * n_natural + parts[1] * (n_all - n_natural)) / n_all
        assert mixed == pytest.approx(table["pooled"][method]["mean_regret"], abs=0.01)
    # landmark_ridge alone suggests C too (no network, so no decision tables)
    ridge_only = cross_validate(ws, folds, config, RunSettings(("landmark_ridge",), n_boot=20))
    assert "decisions" not in ridge_only
    assert set(ridge_only["regularisation"]["pooled"]) == {"landmark_ridge", "sbs", "default"}
    assert list(ridge_only["regularisation"]["groups"]) == ["natural", "binarized"]
    plain = _workspace(n_datasets=6, per_dataset=1)
    folds = grouped_folds(sorted(set(plain.original.index["dataset"])), 2, seed=0, families=())
    assert "regularisation" not in cross_validate(
        plain, folds, CONFIG, RunSettings(("landmark_ridge",), n_boot=20)
    )


def test_bench_table_prints_the_regularisation_tables(tmp_path, capsys) -> None:
    """``bench/crossval_table.py --regularisation`` on a report's JSON form."""
    import importlib.util
    from pathlib import Path

    from beyonder.evaluation.crossval import _rounded_tree

    path = Path(__file__).resolve().parents[1] / "bench" / "crossval_table.py"
    spec = importlib.util.spec_from_file_location("crossval_table", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    index = pd.DataFrame(
        {"sample_id": ["s0", "s1", "s2"], "dataset": ["a", "b", "c"], "kind": "bootstrap"}
    )
    curves = np.array([[[0.6, 0.8, 0.7]], [[0.9, 0.7, 0.6]], [[0.5, 0.6, 0.9]]])
    corpus = Corpus(
        index, curves[:, 0, 1:2], np.zeros((3, 1)), ["svm_rbf"], None, curves, ["svm_rbf"], GRID
    )
    folds = []
    for test_sets in ({"a"}, {"b", "c"}):
        is_test = index["dataset"].isin(test_sets).to_numpy()
        test = corpus.subset(is_test)
        folds.append(
            (
                test_sets,
                fold_details(corpus.subset(~is_test), test, {"beyonder": test.curves[:, :, ::-1]}),
            )
        )
    sbs_means = pd.DataFrame({"svm_rbf": [1.0] * 3}, index=["a", "b", "c"])
    predictions = {"beyonder": pd.DataFrame({"svm_rbf": [0.8, 0.7, 0.6]}, index=["a", "b", "c"])}
    report = _rounded_tree(crossval_report(corpus, folds, sbs_means, predictions, n_boot=50))
    file = tmp_path / "run.json"
    file.write_text(json.dumps({"regularisation": report}))
    assert module.main([str(file), "--regularisation"]) == 0
    text = capsys.readouterr().out
    assert "svm_rbf (3 datasets" in text and "| default |" in text and "Classifier + C" in text
    # reversed curves: a still picks its best (C = 1), b and c their worst (30 and 40 points)
    assert "| beyonder | 23.33 " in text
    # a report group's tables: the same picks on that group's datasets
    file.write_text(json.dumps({"regularisation": {**report, "groups": {"natural": report}}}))
    assert module.main([str(file), "--regularisation", "--group", "natural"]) == 0
    assert "| beyonder | 23.33 " in capsys.readouterr().out
    with pytest.raises(SystemExit):
        module.main([str(file), "--regularisation", "--group", "binarized"])
    assert "has no group 'binarized' (groups: natural)" in capsys.readouterr().err
    file.write_text(json.dumps({"methods": {}}))
    with pytest.raises(SystemExit):
        module.main([str(file), "--regularisation"])


def test_evaluate_stage_scores_the_curve_heads_on_its_test_datasets() -> None:
    """``regularisation_metrics`` (the ``evaluate`` stage): a predictor that knows the test
    curves has no regret; the headline carries the suggested C against C = 1 with its interval;
    a model without curve heads adds nothing."""
    from beyonder.stages.evaluate import regularisation_headline, regularisation_metrics

    rng = np.random.default_rng(0)
    n = 24
    index = pd.DataFrame(
        {
            "sample_id": [f"s{i}" for i in range(n)],
            "dataset": [f"d{i // 2}" for i in range(n)],
            "kind": "bootstrap",
        }
    )
    curves = rng.uniform(0.5, 0.9, size=(n, 2, 3))
    accuracy = np.column_stack([rng.uniform(0.5, 0.9, n), curves[:, 0, 1], curves[:, 1, 1]])
    corpus = Corpus(
        index,
        accuracy,
        np.zeros_like(accuracy),
        ["knn", "svm_rbf", "logreg"],
        None,
        curves,
        TUNED,
        GRID,
    )
    params = parse_params({"split": {"test_fraction": 0.5, "families": []}})
    from beyonder.selector.corpus import test_datasets

    is_test = index["dataset"].isin(test_datasets(corpus, params)).to_numpy()
    outputs = {"accuracy": accuracy[is_test], "curve": curves[is_test]}
    report = regularisation_metrics(corpus, outputs, params)
    assert report["classifiers"]["svm_rbf"]["n_datasets"] == len(test_datasets(corpus, params))
    assert report["pooled"]["beyonder"]["mean_regret"] == pytest.approx(
        0.0, abs=1e-9
    )  # within a dataset's samples
    headline = regularisation_headline(report)
    assert headline["svm_rbf_beyonder_regret"] == 0.0 and headline["regret_minus_default"] <= 0
    assert {
        "regret_minus_default_low",
        "regret_minus_default_high",
        "combined_beyonder_c_regret",
    } <= set(headline)
    assert regularisation_metrics(corpus, {"accuracy": accuracy[is_test]}, params) == {}


def test_finetuning_a_new_portfolio_keeps_the_curve_heads(fitted: Beyonder, tmp_path) -> None:
    """``beyonder finetune`` with a changed portfolio rebuilds the accuracy and fit-time heads;
    the curve heads (no C labels to tune them on) stay, their own weights frozen (they move
    only as much as the shared ``head_hidden`` layer that finetuning trains)."""
    from beyonder.data.cleaning import CleaningConfig
    from beyonder.serving.finetune import LabelledSamples, finetune
    from beyonder.serving.recommend import Recommender

    frames = [_frame(n_rows=50, seed=s) for s in range(3)]
    classifiers = [*fitted.config.classifiers[:3], "svm_rbf"]
    data = LabelledSamples(
        frames, np.full((3, 4), 0.7), np.full((3, 4), 0.01), classifiers, ["a", "b", "c"]
    )
    saved = NumpyBeyonder.load(
        fitted.save(tmp_path / "base")
    )  # as finetune reads a registered model
    tuned, _ = finetune(Recommender(saved, CleaningConfig()), data, epochs=1)
    sample = [encode_sample(_invariance_sample())]
    out = tuned.estimator.predict(sample)
    assert out["accuracy"].shape == (1, 4)
    np.testing.assert_allclose(out["curve"], fitted.predict(sample)["curve"], atol=0.01)
    for part in ("curve_deep", "curve_linear"):
        for new, old in zip(
            tuned.estimator.model_.get_layer(part).get_weights(),
            fitted.model_.get_layer(part).get_weights(),
            strict=True,
        ):
            np.testing.assert_array_equal(new, old)


def test_brute_force_reference_picks_C_on_one_sample_and_prices_it_on_the_other() -> None:
    from beyonder.evaluation.regularisation import cv_one_sample

    # dataset a: sample 0 says C = 0.01, sample 1 says C = 100; dataset b: one sample only
    curves = np.array([[[0.9, 0.8, 0.7]], [[0.7, 0.8, 0.95]], [[0.5, 0.6, 0.7]]])
    out = cv_one_sample(np.array(["a", "a", "b"]), curves, GRID, ["svm_rbf"])
    # pick 0.01 priced on sample 1: 0.95 - 0.7 = 25; pick 100 priced on sample 0: 0.9 - 0.7 = 20
    assert out["svm_rbf"]["n_datasets"] == 1
    assert out["svm_rbf"]["mean_regret"] == pytest.approx(22.5)
    assert out["svm_rbf"]["default_mean_regret"] == pytest.approx((15 + 10) / 2)
    assert out["pooled"]["mean_regret"] == pytest.approx(22.5)
