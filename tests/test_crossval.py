"""Cross-validated evaluation (``beyonder evaluate --corpus``) at the library level: grouped
folds never leak a dataset, every method is scored on every dataset, the JSON layout is the
report's, the test-time ensembling ablation comes along, and pretraining feeds fine-tuning.

The workspace is made in memory: small synthetic tables, labels in which a dataset's "kind"
decides which classifier wins (so there is something to learn), meta-features from numpy.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from beyonder.data.splits import grouped_folds
from beyonder.evaluation.crossval import (
    FoldResult,
    RunSettings,
    Workspace,
    cautious,
    choose_margin,
    cross_validate,
    cv_one_sample,
    predict_fold,
    pretrain,
    summary,
    train_test,
)
from beyonder.evaluation.variants import Variant, parse_variants
from beyonder.params import LocalSource, SampleParams, load_params, parse_params
from beyonder.schema import ROW_ID, TARGET
from beyonder.selector.corpus import Corpus
from beyonder.selector.encoding import encode_sample
from beyonder.selector.estimator import BeyonderConfig, new_network

CLASSIFIERS = ["logreg", "knn", "random_forest", "svm_rbf"]
CONFIG = BeyonderConfig(
    classifiers=CLASSIFIERS, dim=8, heads=2, blocks=1, inducing=4, epochs=1, batch_size=8, views=2
)


def quiet(_: str) -> None:
    """A ``RunSettings.log`` that prints nothing."""


def _table(seed: int, linear: bool, n: int = 80) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    score = x[:, 0] + x[:, 1] if linear else np.sin(3 * x[:, 0]) * np.cos(3 * x[:, 1])
    frame = pd.DataFrame(x, columns=["a", "b", "c"])
    frame[TARGET] = np.where(score > np.median(score), "p", "q")
    frame[ROW_ID] = np.arange(n)
    return frame


def _workspace(
    n_datasets: int = 10, per_dataset: int = 2, prefix: str = "d", seed: int = 0
) -> Workspace:
    rng = np.random.default_rng(seed)
    index, accuracy, encoded, meta = [], [], {}, {}
    for d in range(n_datasets):
        linear = d % 2 == 0
        for s in range(per_dataset):
            sample_id = f"{prefix}{d}__s{s}"
            frame = _table(1000 * seed + 10 * d + s, linear)
            index.append(
                {"sample_id": sample_id, "dataset": f"{prefix}{d}", "kind": "bootstrap", "file": ""}
            )
            base = np.array([0.9, 0.7, 0.75, 0.8]) if linear else np.array([0.6, 0.85, 0.9, 0.8])
            accuracy.append(np.clip(base + rng.normal(0, 0.01, 4), 0, 1))
            encoded[sample_id] = encode_sample(frame)
            meta[sample_id] = {"linear": float(linear) + rng.normal(0, 0.1), "rows": 80.0}
    acc = np.array(accuracy)
    corpus = Corpus(pd.DataFrame(index), acc, np.full_like(acc, 0.01), list(CLASSIFIERS))
    return Workspace(corpus, None, encoded, meta)


@pytest.fixture(scope="module")
def report() -> dict:
    ws = _workspace(n_datasets=16, per_dataset=1)
    folds = grouped_folds(sorted(set(ws.original.index["dataset"])), 2, seed=0, families=())
    methods = ("beyonder", "landmark_ridge", "pymfe_knn", "pymfe_rf", "random")
    return cross_validate(ws, folds, CONFIG, RunSettings(methods, n_boot=50))


def test_every_dataset_is_tested_once_on_held_out_folds(report: dict) -> None:
    folds = report["folds"]
    datasets = [d for fold in folds for d in fold]
    assert sorted(datasets) == sorted(f"d{i}" for i in range(16))  # disjoint and complete
    assert sorted(row["dataset"] for row in report["per_dataset"]) == sorted(datasets)


def test_json_layout_has_every_method_and_the_one_view_ablation(report: dict) -> None:
    result = summary(report)
    assert result["n_datasets"] == 16
    expected = {
        "beyonder", "beyonder_1view", "beyonder_knn", "beyonder_cautious", "beyonder_ridge_mean",
        "landmark_ridge", "sbs", "oracle", "random", "pymfe_rf", "pymfe_knn",
    }  # fmt: skip
    assert set(result["methods"]) == expected
    for metrics in result["methods"].values():
        for key in (
            "mean_regret",
            "median_regret",
            "gap_closed",
            "top1",
            "top3",
            "spearman",
            "mae",
        ):
            assert key in metrics
    assert result["methods"]["oracle"]["mean_regret"] == 0
    # the kind of a dataset decides its winner: nearest datasets on a meta-feature that tells
    # the kinds apart pick right, and the SBS, one fixed pick, cannot be right for both kinds
    assert result["methods"]["pymfe_knn"]["mean_regret"] < result["methods"]["sbs"]["mean_regret"]
    # so do the landmarkers: linear tables score high on the linear landmarker, the others on 1-NN
    assert (
        result["methods"]["landmark_ridge"]["mean_regret"] < result["methods"]["sbs"]["mean_regret"]
    )
    assert "svm_kernel" in result


@pytest.fixture(scope="module")
def pretrained() -> tuple[Workspace, Workspace, list[np.ndarray], FoldResult]:
    """A synthetic corpus, a real one, weights pretrained on the synthetic one, and one fold
    from synthetic to real that fine-tunes from them (``beyonder``), with the variants that
    start fresh (``finetune=none``) and tune the heads only (``finetune=heads``)."""
    synthetic, real = (
        _workspace(6, 1, prefix="syn", seed=1),
        _workspace(5, 1, prefix="real", seed=2),
    )
    start = pretrain(synthetic, CONFIG, log=quiet)
    variants = (Variant("fresh", finetune="none"), Variant("heads", finetune="heads"))
    sets = set(synthetic.original.index["dataset"]), set(real.original.index["dataset"])
    fold = predict_fold(
        synthetic,
        sets[0],
        real,
        sets[1],
        CONFIG,
        RunSettings(("beyonder",), log=quiet, start=start, variants=variants),
    )
    return synthetic, real, start, fold


def test_pretrained_weights_start_the_fine_tuning(pretrained) -> None:
    """``pretrain`` on one corpus gives weights that ``train_test`` fine-tunes from (zero-shot
    and fine-tuned ablations)."""
    synthetic, real, start, fold = pretrained
    assert len(start) > 0 and all(np.isfinite(w).all() for w in start)
    tuned = train_test(
        synthetic, real, CONFIG, RunSettings(("beyonder",), n_boot=20, start=start, log=quiet)
    )
    assert tuned["methods"]["beyonder"]["mean_regret"] >= 0
    assert sorted(row["dataset"] for row in tuned["per_dataset"]) == [f"real{i}" for i in range(5)]

    # Training is seeded (tests/test_repeatability.py), so fine-tuning the same network from
    # other weights gives other predictions only if it really starts from the weights given.
    rng = np.random.default_rng(0)
    other = [
        w + rng.normal(0, 0.2, w.shape).astype(w.dtype) if w.dtype.kind == "f" else w for w in start
    ]
    sets = set(synthetic.original.index["dataset"]), set(real.original.index["dataset"])
    from_other = predict_fold(
        synthetic,
        sets[0],
        real,
        sets[1],
        CONFIG,
        RunSettings(("beyonder",), log=quiet, start=other),
    )
    difference = np.abs(fold.predictions["beyonder"] - from_other.predictions["beyonder"]).max()
    assert difference > 1e-4, "the pretrained weights were ignored"


def test_heads_only_fine_tuning_keeps_the_pretrained_encoder(pretrained) -> None:
    """``finetune=heads``: every layer below the heads keeps its pretrained weights and the heads
    move; ``finetune=none`` ignores the pretrained weights (a fresh start); unknown: refused."""
    from beyonder.evaluation.crossval import _fit_beyonder
    from beyonder.selector.finetune import HEAD_LAYERS

    synthetic, real, start, fold = pretrained
    reference = new_network(CONFIG)
    reference.set_weights(start)
    est, _ = _fit_beyonder(real, real.original, CONFIG, 0, 0.2, quiet, start, heads_only=True)
    moved = {
        layer.name
        for layer, before in zip(est.model_.layers, reference.layers, strict=True)
        if any(
            not np.array_equal(a, b)
            for a, b in zip(layer.get_weights(), before.get_weights(), strict=True)
        )
    }
    assert moved and moved <= set(HEAD_LAYERS)

    sets = set(synthetic.original.index["dataset"]), set(real.original.index["dataset"])
    preds = fold.predictions
    plain = predict_fold(
        synthetic,
        sets[0],
        real,
        sets[1],
        CONFIG,
        RunSettings(("beyonder", "landmark_ridge"), log=quiet),
    ).predictions
    np.testing.assert_allclose(preds["beyonder_fresh"], plain["beyonder"], atol=1e-6)
    np.testing.assert_allclose(
        plain["beyonder_ridge_mean"], (plain["beyonder"] + plain["landmark_ridge"]) / 2
    )
    assert np.abs(preds["beyonder_heads"] - preds["beyonder"]).max() > 1e-4
    with pytest.raises(ValueError, match="finetune must be one of"):
        Variant("bad", finetune="last")


@pytest.fixture(scope="module")
def seeded() -> tuple[Workspace, FoldResult, list[str]]:
    """One fold trained with ``seeds=2`` and four variants (``--variant narrow rows=16``,
    ``first_only train_groups=first``, ``again seed_offset=1000``, ``refit refit=true``) on a
    workspace of two corpora, and the progress lines it logged."""
    from dataclasses import replace

    from beyonder.evaluation.crossval import SEED_STRIDE

    ws = replace(
        _workspace(n_datasets=8, per_dataset=1),
        groups={f"d{i}": "first" if i < 4 else "second" for i in range(8)},
    )
    variants = parse_variants([["narrow", "rows=16"], ["first_only", "train_groups=first"],
                               ["again", f"seed_offset={SEED_STRIDE}"], ["refit", "refit=true"]])  # fmt: skip
    lines: list[str] = []
    fold = predict_fold(
        ws, {f"d{i}" for i in range(6)}, ws, {"d6", "d7"}, CONFIG,
        RunSettings(("beyonder",), log=lines.append, seeds=2, variants=variants),
    )  # fmt: skip
    return ws, fold, lines


def test_extra_seeds_are_scored_alone_and_averaged(seeded) -> None:
    """``seeds=2``: one more Beyonder per fold, with its own predictions, and its average with
    the first (``beyonder_ensemble``); the first is the plain ``beyonder``."""
    _, fold, _ = seeded
    preds, train_means = fold.predictions, fold.train_means
    members = [preds["beyonder"], preds["beyonder_seed1"]]
    assert members[0].shape == (2, len(CLASSIFIERS))
    assert not np.array_equal(members[0], members[1])
    np.testing.assert_allclose(preds["beyonder_ensemble"], np.mean(members, axis=0))
    for name, member in (("beyonder", members[0]), ("beyonder_seed1", members[1])):
        cautious_picks = np.argmax(preds[f"{name}_cautious"], axis=1)  # its own pick or the SBS's
        sbs_pick = np.argmax(train_means)
        assert np.all((cautious_picks == np.argmax(member, axis=1)) | (cautious_picks == sbs_pick))
    with pytest.raises(ValueError, match="seeds"):
        RunSettings(("beyonder",), log=quiet, seeds=0)


def test_variants_are_trained_on_the_same_folds_and_scored_side_by_side(seeded) -> None:
    """``--variant``: an ablation trained in the same fold, on the same truth, so the report's
    paired intervals compare it with every method; ``train_groups`` trains on those corpora's
    datasets only (the other corpus's datasets are left out of its training samples)."""
    _, fold, lines = seeded
    preds = fold.predictions
    assert {"beyonder", "beyonder_narrow", "beyonder_first_only"} <= set(preds)
    assert preds["beyonder_narrow"].shape == preds["beyonder"].shape == (2, len(CLASSIFIERS))
    sizes = [line for line in lines if "training samples" in line]
    # beyonder, its second seed, narrow and again (all 6 datasets), first_only (d0-d3 only)
    assert len(sizes) == 5
    assert sizes[0] == sizes[1] == sizes[2] == sizes[4] != sizes[3]
    assert int(sizes[3].split()[1]) + int(sizes[3].split()[4]) == 4


def test_a_variant_with_the_second_members_seed_offset_is_that_member(seeded) -> None:
    """``seed_offset=SEED_STRIDE`` (``--variant NAME seed_offset=1000``) trains a variant with
    the seed of ``--seeds``' second member in every fold, so a changed setting can be paired seed
    by seed: with no other change it is that member, prediction for prediction."""
    from beyonder.evaluation.crossval import SEED_STRIDE

    assert parse_variants([["again", f"seed_offset={SEED_STRIDE}"]]) == [
        Variant("again", seed_offset=SEED_STRIDE)
    ]
    preds = seeded[1].predictions
    np.testing.assert_allclose(preds["beyonder_again"], preds["beyonder_seed1"], atol=1e-6)
    assert not np.allclose(preds["beyonder_again"], preds["beyonder"], atol=1e-6)


def test_a_refit_variant_retrains_the_members_fit_on_every_training_dataset(seeded) -> None:
    """``--variant refit refit=true``: the member's early-stopped fit is not repeated; the
    refit trains again on all 6 training datasets (validation ones too) for its chosen epochs,
    so its predictions differ from the member's."""
    _, fold, lines = seeded
    assert any("beyonder_refit" in line and "from beyonder's fit" in line for line in lines)
    refits = [line.split() for line in lines if line.strip().startswith("refit:")]
    assert len(refits) == 1 and refits[0][1] == "6"
    preds = fold.predictions
    assert preds["beyonder_refit"].shape == preds["beyonder"].shape
    assert not np.allclose(preds["beyonder_refit"], preds["beyonder"], atol=1e-6)


def test_only_a_refit_that_changes_nothing_else_shares_a_members_fit() -> None:
    from beyonder.evaluation.crossval import SEED_STRIDE, _same_member

    assert _same_member(Variant("r", refit=True), seeds=1) == 0
    assert _same_member(Variant("r", refit=True, seed_offset=SEED_STRIDE), seeds=2) == 1
    assert _same_member(Variant("r", refit=True, seed_offset=SEED_STRIDE), seeds=1) is None
    assert _same_member(Variant("r", refit=True, seed_offset=7), seeds=2) is None
    assert _same_member(Variant("r", {"rows": 16}, refit=True), seeds=1) is None
    assert _same_member(Variant("r", refit=True, train_groups=("uci",)), seeds=1) is None
    assert _same_member(Variant("r"), seeds=1) is None  # not a refit: trained as it asks


def test_cautious_selection_falls_back_on_the_sbs_below_the_margin() -> None:
    pred = np.array([[0.80, 0.83, 0.70], [0.80, 0.90, 0.70], [0.60, 0.50, 0.55]])
    picks = lambda margin: np.argmax(cautious(pred, 0, margin), axis=1).tolist()  # noqa: E731
    assert picks(0.0) == [1, 1, 0]  # plain argmax
    assert picks(0.05) == [0, 1, 0]  # a 3-point predicted gain is not enough, 10 points is
    assert picks(np.inf) == [0, 0, 0]  # always the SBS
    np.testing.assert_array_equal(cautious(pred, 0, 0.05)[1], pred[1])  # untouched where kept


def test_cv_one_sample_prices_each_samples_pick_with_the_other_samples() -> None:
    index = pd.DataFrame({"dataset": ["a", "a", "b", "b", "b", "b", "c"]})
    accuracy = np.array(
        [
            [0.9, 0.8], [0.7, 0.8],  # a: each sample's pick loses 10 points on the other
            [0.5, 0.9], [0.5, 0.9], [0.5, 0.9], [np.nan, np.nan],  # b: CV always right; one unlabelled
            [0.1, 0.9],  # c: a single sample, nothing to price its pick with
        ]
    )  # fmt: skip
    corpus = Corpus(index, accuracy, np.zeros_like(accuracy), ["x", "y"])
    result = cv_one_sample(corpus, {"a": 0, "b": 0, "c": 0})
    assert result["n_datasets"] == 2
    assert result["mean_regret"] == pytest.approx(5.0)  # (10 + 0) / 2
    assert result["sbs_mean_regret"] == pytest.approx(22.5)  # a: (10 + 0) / 2, b: 40
    assert result["gap_closed"] == pytest.approx(17.5 / 22.5)
    assert result["spearman"] == pytest.approx(
        0.0
    )  # a: each sample ranks the pair wrong (-1), b: right (+1)
    assert cv_one_sample(corpus, {"c": 1})["n_datasets"] == 0


def test_margin_is_chosen_on_validation_regret_ties_to_the_sbs() -> None:
    pred = np.array([[0.80, 0.83, 0.70], [0.80, 0.90, 0.70]])
    # the small predicted gain was wrong, the large one right: a margin between them wins
    truth = np.array([[0.85, 0.80, 0.70], [0.80, 0.95, 0.70]])
    assert 0.03 <= choose_margin(pred, truth, 0) < 0.10
    # every departure from the SBS was wrong: never leave it
    assert choose_margin(pred, np.array([[0.9, 0.8, 0.7], [0.9, 0.8, 0.7]]), 0) == np.inf
    # both departures right: margins below the 3-point gain pick both; the largest one wins the tie
    assert choose_margin(pred, np.array([[0.8, 0.9, 0.7], [0.8, 0.9, 0.7]]), 0) == 0.02
    missing = np.array([[np.nan, np.nan, np.nan], [0.80, 0.95, np.nan]])
    assert np.isfinite(choose_margin(pred, missing, 0))


def test_corpus_workspace_takes_its_samples_per_dataset_from_evaluate(tmp_path) -> None:
    from beyonder.evaluation.workspaces import corpus_workspace

    params = parse_params(
        {
            "seed": 1,
            "ingest": {
                "sklearn": {"enabled": True},
                "local": {"target": "target", "enabled": False},
            },
            "sample": {"rows": 300, "per_dataset": 2},
            "evaluate": {"corpus_samples": 4},
        }
    )
    root = corpus_workspace(tmp_path / "my corpus", params, base=tmp_path / "corpora")
    derived = load_params(root / "params.yaml")
    assert derived.sample == SampleParams(rows=300, per_dataset=4)
    assert derived.ingest.local == LocalSource(
        target="target", enabled=True, folders=[str(tmp_path / "my corpus")]
    )
    assert [
        s for s in ("sklearn", "synthetic", "openml") if getattr(derived.ingest, s).enabled
    ] == []
    assert derived.seed == 1 and derived.train == params.train
    assert params.sample.per_dataset == 2  # the caller's params untouched
    params.evaluate.corpus_samples = 0
    derived = load_params(
        corpus_workspace(tmp_path / "other", params, base=tmp_path / "c") / "params.yaml"
    )
    assert derived.sample.per_dataset == 2


def test_dataset_means_label_each_sample_with_its_datasets_mean_per_kind() -> None:
    """Training targets without one sample's CV noise: the mean over the dataset's samples of
    the same kind (noisy copies apart), a missing label filled from its siblings, fit times
    kept per sample."""
    index = pd.DataFrame(
        {
            "sample_id": ["a__s0", "a__s1", "a__s0__noise", "b__s0", "b__s1"],
            "dataset": ["a", "a", "a", "b", "b"],
            "kind": ["bootstrap", "bootstrap", "noise", "bootstrap", "bootstrap"],
        }
    )
    accuracy = np.array([[0.8, 0.6], [0.9, np.nan], [0.5, 0.5], [0.7, 0.7], [0.9, 0.8]])
    fit_time = np.arange(10.0).reshape(5, 2)
    means = Corpus(index, accuracy, fit_time, ["x", "y"]).dataset_means()
    expected = np.array([[0.85, 0.6], [0.85, 0.6], [0.5, 0.5], [0.8, 0.75], [0.8, 0.75]])
    np.testing.assert_allclose(means.accuracy, expected)
    np.testing.assert_array_equal(means.fit_time, fit_time)
    assert means.index is index and means.classifiers == ["x", "y"]


def test_several_folders_make_one_workspace_scored_per_folder_too(tmp_path) -> None:
    """``--corpus A B``: one workspace ingesting both folders; the report comes whole and per
    folder (the same picks, scored on each folder's datasets), so UCI and StatLib are
    reported apart as well as together."""
    from dataclasses import replace

    from beyonder.evaluation.workspaces import corpus_workspace

    params = parse_params(
        {"seed": 1, "ingest": {"local": {"target": "class"}}, "sample": {"per_dataset": 2}}
    )
    root = corpus_workspace([tmp_path / "uci", tmp_path / "statlib"], params, base=tmp_path / "c")
    assert root.name == "uci-statlib"
    derived = yaml.safe_load((root / "params.yaml").read_text())
    assert derived["ingest"]["local"]["folders"] == [
        str(tmp_path / "uci"),
        str(tmp_path / "statlib"),
    ]

    ws = _workspace(n_datasets=8, per_dataset=1)
    groups = {f"d{i}": "first" if i < 3 else "second" for i in range(8)}
    ws = replace(ws, groups=groups)
    folds = grouped_folds(sorted(groups), 2, seed=0, families=())
    report = cross_validate(ws, folds, CONFIG, RunSettings(("landmark_ridge", "random"), n_boot=20))
    assert set(report["by_group"]) == {"first", "second"}
    assert report["by_group"]["first"]["n_datasets"] == 3
    assert report["by_group"]["second"]["n_datasets"] == 5
    whole = report["methods"]["random"]["mean_regret"]
    parts = [report["by_group"][g]["methods"]["random"]["mean_regret"] for g in ("first", "second")]
    assert whole == pytest.approx((3 * parts[0] + 5 * parts[1]) / 8)  # same picks, split apart
    out = summary(report)
    assert set(out["by_group"]["first"]["methods"]) == set(out["methods"])
    assert "per_dataset" not in out["by_group"]["first"]
    assert "by_group" not in cross_validate(
        replace(ws, groups={}), folds, CONFIG, RunSettings(("random",), n_boot=20)
    )


def test_variants_are_parsed_and_checked_in_one_place() -> None:
    """``--variant NAME KEY=VALUE ...``: train settings and the variant's own settings, typed
    as YAML scalars (lists comma-separated); a typo, a bad value or a repeated name is one
    line before any training; the report names only what sets a variant apart."""
    wide, uci = parse_variants(
        [["wide", "rows=128", "dropout=0"], ["uci", "train_groups=uci,statlib", "finetune=heads"]]
    )
    assert wide == Variant("wide", {"rows": 128, "dropout": 0})
    assert uci.train_groups == ("uci", "statlib") and uci.finetune == "heads"
    assert uci.settings() == {"train_groups": ["uci", "statlib"], "finetune": "heads"}
    assert (
        wide.config(CONFIG).rows == 128
        and Variant("s", seed_offset=7).config(CONFIG).seed == CONFIG.seed + 7
    )
    for specs, message in (
        ([["x", "epoch=3"]], "--variant x: 'epoch=3' is not KEY=VALUE with a train setting"),
        ([["x", "rows"]], "--variant x: 'rows' is not KEY=VALUE"),
        ([["x", "finetune=last"]], "variant x: finetune must be one of"),
        ([["x", "pretrain_epochs=0"]], "variant x: pretrain_epochs must be at least 1"),
        ([["x", "rows=8"], ["x", "rows=16"]], "--variant x: given more than once"),
    ):
        with pytest.raises(ValueError, match=message):
            parse_variants(specs)
    with pytest.raises(ValueError, match="'epoch' is not a train setting"):
        Variant("x", {"epoch": 3})
    with pytest.raises(ValueError, match="unknown method 'ridge'"):
        RunSettings(("beyonder", "ridge"))
