"""Evaluation that can be trusted: grouped K-fold over the datasets of a corpus (or train on
one corpus, test on another), Beyonder next to random, SBS, oracle and two classic
meta-learners, all on the same splits and metrics.

Test-side truth for a dataset is the mean of its samples' labels: ``per_dataset`` bootstrap
samples, each labelled by its own 5-fold CV, i.e. repeated CV over resamples.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from beyonder.data.splits import DEFAULT_FAMILIES, grouped_test_split
from beyonder.evaluation import budget, decisions, regularisation
from beyonder.evaluation.metrics import (
    HEADLINE,
    choose,
    evaluate_methods,
    regret,
    rounded,
    spearman_rows,
    svm_task,
)
from beyonder.params import EvaluateParams, MeasureParams, SampleParams
from beyonder.selector import cell_pretraining
from beyonder.selector.baselines import (
    LandmarkRidge,
    MetaFeatureForest,
    NearestDatasets,
    meta_matrix,
)
from beyonder.selector.combiner import (
    MeasurementCombiner,
    Tier,
    calibration_labels,
    calibration_predictions,
    tiers_for,
)
from beyonder.selector.corpus import Corpus, concat, per_dataset_mean
from beyonder.selector.encoding import EncodedSample
from beyonder.selector.estimator import (
    Beyonder,
    BeyonderConfig,
    dataset_features,
    new_network,
    start_from_prior,
)
from beyonder.selector.finetune import freeze_encoder

METHODS = ("beyonder", "landmark_ridge", "pymfe_rf", "pymfe_knn", "random")
SEED_STRIDE = 1000
"""Seed offset between the extra Beyonder members of ``seeds`` (folds offset by 1)."""


@dataclass
class Workspace:
    """One corpus ready for meta-learning: labelled samples, their encodings and meta-features."""

    original: Corpus  # bootstrap samples of the corpus's datasets
    augmented: Corpus | None  # noisy copies and extra synthetic datasets (training only)
    encoded: dict[str, EncodedSample]
    meta: dict[str, dict[str, float]]
    families: tuple[str, ...] = DEFAULT_FAMILIES  # params' split.families: validation splits too
    groups: dict[str, str] = field(default_factory=dict)  # dataset -> its corpus (source folder)
    measurements: pd.DataFrame | None = None  # the measurement subsamples' labels (load_measurements)
    root: Path | None = None  # the workspace folder (sample files: the prediction's timed cost)


def _concat(a: Corpus, b: Corpus | None) -> Corpus:
    return concat(a, b)  # curves (regularisation labels) included


def _training_rows(corpus: Corpus, datasets: set[str]) -> np.ndarray:
    """Samples of ``datasets`` (their noisy copies and derived tasks included), plus the extra
    synthetic datasets, which belong to no fold."""
    return _rows(corpus, datasets, True) | (corpus.index["kind"] == "synthetic").to_numpy()


def _rows(corpus: Corpus, datasets: set[str], include: bool) -> np.ndarray:
    return corpus.index["dataset"].isin(datasets).to_numpy() == include


def _fit_beyonder(
    ws: Workspace,
    train: Corpus,
    config: BeyonderConfig,
    seed: int,
    val_fraction: float,
    log: Callable[[str], None],
    start: list[np.ndarray] | None = None,
    heads_only: bool = False,
    encoder: dict[str, list[np.ndarray]] | None = None,
) -> tuple[Beyonder, Corpus]:
    """Fit on ``train`` with early stopping on a grouped validation split of its datasets;
    ``start``: weights of a pretrained network to fine-tune instead of a fresh one (all layers,
    or with ``heads_only`` the heads alone: the seed's transfer by the last layers).
    ``encoder``: pre-trained encoder layers only (``cell_pretraining``), under fresh heads that
    start from the prior as usual; ``heads_only`` then freezes exactly those layers.
    Returns the fitted model and its validation samples (with the labels it was given)."""
    if config.dataset_targets:
        train = train.dataset_means()
    val_sets = grouped_test_split(
        sorted(set(train.index["dataset"])), val_fraction, seed + 11, ws.families
    )
    is_val = _rows(train, val_sets, True)
    fit, val = train.subset(~is_val), train.subset(is_val)
    log(f"  beyonder: {len(fit.index)} training samples, {len(val.index)} validation samples")
    model = None
    if start is not None:
        model = new_network(config)
        model.set_weights(start)
        if heads_only:
            freeze_encoder(model)
    elif encoder is not None:
        model = new_network(config)
        cell_pretraining.load_encoder(model, encoder)
        if config.prior_init:
            samples = [ws.encoded[s] for s in fit.index["sample_id"]]
            curves = None if fit.curves is None else fit.flat_curves()  # the C curves' heads too
            start_from_prior(model, fit.accuracy, fit.fit_time, dataset_features(samples, config), curves)
        if heads_only:
            cell_pretraining.freeze(model, list(encoder))
    est = Beyonder(config).fit(
        [ws.encoded[s] for s in fit.index["sample_id"]],
        fit.accuracy,
        fit.fit_time,
        validation=([ws.encoded[s] for s in val.index["sample_id"]], val.accuracy, val.fit_time, val.curves),
        model=model,
        curves=fit.curves,
    )
    return est, val


FINETUNE = ("all", "heads", "none")
"""What a variant does with pretrained weights (``--pretrain-corpus``): fine-tune all layers,
the heads only, or ignore them and start fresh."""

MARGINS = (0.0, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, np.inf)
"""Predicted accuracy gains over the SBS's pick that ``choose_margin`` tries."""


def cautious(pred: np.ndarray, sbs_index: int, margin: float) -> np.ndarray:
    """Predictions whose top classifier is Beyonder's only where its predicted accuracy beats
    that of the SBS's pick by more than ``margin``; elsewhere the SBS's pick is lifted to the
    top (a selector that falls back on the single best solver when unsure)."""
    out = np.array(pred, dtype=np.float64)
    top = np.nanmax(out, axis=1)
    fall_back = ~(top - out[:, sbs_index] > margin)
    out[fall_back, sbs_index] = top[fall_back] + 1e-6
    return out


def choose_margin(pred: np.ndarray, truth: np.ndarray, sbs_index: int) -> float:
    """The margin of ``MARGINS`` with the lowest mean regret on validation samples (``truth``:
    their labels); ties go to the larger margin, i.e. to the SBS."""
    best_regret, best_margin = np.inf, np.inf
    with warnings.catch_warnings():  # a sample without any label
        warnings.simplefilter("ignore", RuntimeWarning)
        for margin in MARGINS:
            mean_regret = float(np.nanmean(regret(truth, choose(cautious(pred, sbs_index, margin)))))
            if mean_regret <= best_regret:
                best_regret, best_margin = mean_regret, margin
    return best_margin


def pretrain(
    ws: Workspace, config: BeyonderConfig, val_fraction: float = 0.15, log: Callable[[str], None] = print
) -> list[np.ndarray]:
    """Weights of a Beyonder trained on every sample of ``ws`` (e.g. a large synthetic corpus),
    to start each fold's training from."""
    everything = _concat(ws.original, ws.augmented)
    everything = everything.subset(~np.all(np.isnan(everything.accuracy), axis=1))
    log(f"pretraining on {everything.index['dataset'].nunique()} datasets")
    est, _ = _fit_beyonder(ws, everything, config, config.seed + 101, val_fraction, log)
    return est.model_.get_weights()


def predict_fold(
    train_ws: Workspace,
    train_datasets: set[str],
    test_ws: Workspace,
    test_datasets: set[str],
    config: BeyonderConfig,
    methods: tuple[str, ...] = METHODS,
    seed: int = 0,
    val_fraction: float = 0.15,
    log: Callable[[str], None] = print,
    start: list[np.ndarray] | None = None,
    seeds: int = 1,
    variants: dict[str, dict[str, Any]] | None = None,
    details: dict[str, Any] | None = None,
    tiers: list[Tier] | None = None,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Train every method on ``train_datasets`` of ``train_ws``; predict the original samples of
    ``test_datasets`` of ``test_ws``. Returns (predictions per method, SBS train means).
    ``start``: pretrained weights that Beyonder fine-tunes from (see ``pretrain``).
    ``seeds`` > 1: also train Beyonder with ``seeds - 1`` more seeds (``beyonder_seed1``, ...)
    and average all of them (``beyonder_ensemble``), to tell seed noise from real change.
    Each seed also comes as ``<name>_cautious``: the same model behind ``cautious`` selection,
    its margin chosen on that model's validation samples.
    ``variants``: ablations on the same folds and truth, ``beyonder_<name>`` each: overrides of
    ``BeyonderConfig`` fields, ``train_groups`` (e.g. ``["uci"]``) to train only on the
    datasets of those corpora (``Workspace.groups``), ``train_kinds`` (e.g. ``["bootstrap",
    "noise"]``) to train only on those kinds of samples (leaving out derived tasks, say),
    ``seed_offset`` to move the fold's seed (``SEED_STRIDE``: the seed of ``beyonder_seed1``),
    ``pretrain="cells"`` (and ``pretrain_epochs``) to start from an encoder pre-trained on the
    masked-cell objective over the fold's training samples (``cell_pretraining``; with
    ``finetune="heads"`` that encoder stays frozen).
    ``details``: a dict that, when given, receives what the decision metrics need beyond
    accuracies (``decision_details``), and the fold's measurement combiner (``combiner``:
    calibrated on the training datasets' labels and the validation datasets' predictions,
    ``fold_combiner``) with the prediction's timed CPU seconds per test sample; an
    out-parameter, so callers that only rank keep the two-value return. ``tiers``: the
    measurement tiers the combiner knows (default: the ``measure`` section's defaults)."""
    if seeds < 1:
        raise ValueError(f"seeds must be at least 1, got {seeds}")
    for name, overrides in (variants or {}).items():  # before any training, not after hours of it
        if overrides.get("finetune", "all") not in FINETUNE:
            raise ValueError(f"variant {name}: finetune must be one of {FINETUNE}, got {overrides['finetune']!r}")
        if overrides.get("pretrain", "cells") != "cells":
            raise ValueError(f"variant {name}: pretrain must be 'cells' (masked-cell), got {overrides['pretrain']!r}")
    pool = _concat(train_ws.original, train_ws.augmented)
    keep = _training_rows(pool, train_datasets)
    keep &= ~np.all(np.isnan(pool.accuracy), axis=1)
    train = pool.subset(keep)
    original_train = train_ws.original.subset(_rows(train_ws.original, train_datasets, True))
    test = test_ws.original.subset(_rows(test_ws.original, test_datasets, True))
    train_means = np.nanmean(per_dataset_mean(original_train, original_train.accuracy).to_numpy(), axis=0)
    preds: dict[str, np.ndarray] = {}
    curves: dict[str, np.ndarray] = {}  # predicted C curves of the test samples (issue 17)
    if "beyonder" in methods:
        encoded = [test_ws.encoded[s] for s in test.index["sample_id"]]
        sbs_index = int(np.nanargmax(train_means))
        members = []
        for m in range(seeds):  # same data, same validation split: only the seed differs
            name = "beyonder" if m == 0 else f"beyonder_seed{m}"
            member_config = replace(config, seed=config.seed + SEED_STRIDE * m)
            member, val = _fit_beyonder(train_ws, train, member_config, seed, val_fraction, log, start)
            output = member.predict(encoded)
            members.append(output["accuracy"])
            preds[name] = members[-1]
            # leave the SBS's pick only for a predicted gain that paid off on validation samples
            margin = np.inf
            if len(val.index):
                val_out = member.predict([train_ws.encoded[s] for s in val.index["sample_id"]])
                val_pred = val_out["accuracy"]
                margin = choose_margin(val_pred, val.accuracy, sbs_index)
            if m == 0 and details is not None:
                details.update(
                    decision_details(train_ws, original_train, test, output, val, val_out if len(val.index) else None)
                )
                if "curve" in output:
                    curves["beyonder"] = output["curve"]
                details["combiner"] = fold_combiner(
                    train_ws, train_datasets, val, val_out if len(val.index) else None, tiers, log
                )
                details["prediction_seconds"] = prediction_seconds(member, test_ws, test)
                if len(val.index):  # kept for budget.replay: the combiner refitted without retraining
                    boot = (val.index["kind"] == "bootstrap").to_numpy()
                    details["validation"] = {
                        "sample_id": val.index["sample_id"][boot].tolist(),
                        "predicted": val_out["accuracy"][boot].tolist(),
                    }
            log(f"  {name}_cautious: leaves the SBS's pick for a predicted gain over {margin:.4f}")
            preds[f"{name}_cautious"] = cautious(members[-1], sbs_index, margin)
            if m == 0:
                est = member
        if seeds > 1:
            preds["beyonder_ensemble"] = np.mean(members, axis=0)
        encoders: dict[tuple, dict[str, list[np.ndarray]]] = {}
        for name, overrides in (variants or {}).items():
            settings = dict(overrides)
            groups, kinds = settings.pop("train_groups", None), settings.pop("train_kinds", None)
            finetune = settings.pop("finetune", "all")
            pretrain = settings.pop("pretrain", None)
            epochs = int(settings.pop("pretrain_epochs", cell_pretraining.PRETRAIN_EPOCHS))
            settings["seed"] = settings.get("seed", config.seed) + int(settings.pop("seed_offset", 0))
            subset = train
            if groups is not None:
                wanted = {d for d, g in train_ws.groups.items() if g in set(groups)}
                subset = subset.subset(_training_rows(subset, wanted))
            if kinds is not None:
                subset = subset.subset(subset.index["kind"].isin(kinds).to_numpy())
            log(f"  beyonder_{name}: {overrides}")
            variant_config = replace(config, **settings)
            encoder = None
            if pretrain == "cells":  # the masked-cell objective on this fold's training tables
                key = (epochs, *(getattr(variant_config, k) for k in cell_pretraining.ENCODER_SETTINGS))
                if key not in encoders:  # variants that differ only after pre-training share it
                    encoders[key], losses = cell_pretraining.pretrain_encoder(
                        [train_ws.encoded[s] for s in original_train.index["sample_id"]], variant_config, epochs
                    )
                    log(f"  beyonder_{name}: masked-cell loss {losses['loss']:.4f} "
                        f"(predicting zero: {losses['zero_prediction_loss']:.4f})")  # fmt: skip
                encoder = encoders[key]
            variant, _ = _fit_beyonder(
                train_ws, subset, variant_config, seed, val_fraction, log,
                None if finetune == "none" or encoder is not None else start, heads_only=finetune == "heads",
                encoder=encoder,
            )  # fmt: skip
            preds[f"beyonder_{name}"] = variant.predict(encoded)["accuracy"]
        if config.views > 1:  # the test-time ensembling ablation, at no training cost
            preds["beyonder_1view"] = est.predict(encoded, views=1)["accuracy"]
        # the learned embedding as meta-features for the nearest-datasets rule
        known = est.embed([train_ws.encoded[s] for s in original_train.index["sample_id"]])
        knn = NearestDatasets(k=5).fit(known, original_train.accuracy, original_train.index["dataset"].to_numpy())
        preds["beyonder_knn"] = knn.predict(est.embed(encoded))
    if "landmark_ridge" in methods:  # Beyonder's linear part alone, on the same targets
        targets = original_train.dataset_means() if config.dataset_targets else original_train
        ridge = LandmarkRidge().fit(
            dataset_features([train_ws.encoded[s] for s in original_train.index["sample_id"]], config),
            targets.accuracy,
        )
        preds["landmark_ridge"] = ridge.predict(
            dataset_features([test_ws.encoded[s] for s in test.index["sample_id"]], config)
        )
        if targets.curves is not None:  # the C curves from the same features
            curve_ridge = LandmarkRidge().fit(
                dataset_features([train_ws.encoded[s] for s in original_train.index["sample_id"]], config),
                targets.flat_curves(),
            )
            curves["landmark_ridge"] = curve_ridge.predict(
                dataset_features([test_ws.encoded[s] for s in test.index["sample_id"]], config)
            ).reshape(len(test.index), *targets.curves.shape[1:])
        if "beyonder" in preds:  # does the deep part add anything once shrunk towards the linear?
            preds["beyonder_ridge_mean"] = (preds["beyonder"] + preds["landmark_ridge"]) / 2
    if {"pymfe_rf", "pymfe_knn"} & set(methods):
        X_train, columns = meta_matrix([train_ws.meta[s] for s in original_train.index["sample_id"]])
        X_test, _ = meta_matrix([test_ws.meta[s] for s in test.index["sample_id"]], columns)
        if "pymfe_rf" in methods:
            rf = MetaFeatureForest(seed=seed).fit(X_train, original_train.accuracy)
            preds["pymfe_rf"] = rf.predict(X_test)
        if "pymfe_knn" in methods:
            knn = NearestDatasets(k=5).fit(X_train, original_train.accuracy, original_train.index["dataset"].to_numpy())
            preds["pymfe_knn"] = knn.predict(X_test)
    if "random" in methods:
        rng = np.random.default_rng(seed)
        preds["random"] = rng.random(test.accuracy.shape)
    if details is not None and curves:
        details.update(regularisation.fold_details(original_train, test, curves))
    return preds, train_means


def default_tiers() -> list[Tier]:
    """The measurement tiers of the default ``measure``, ``sample`` and ``label`` sections."""
    return tiers_for(MeasureParams().rows, MeasureParams.folds, SampleParams.rows, 5)


def fold_combiner(
    ws: Workspace,
    train_datasets: set[str],
    val: Corpus,
    val_out: dict[str, np.ndarray] | None,
    tiers: list[Tier] | None = None,
    log: Callable[[str], None] = print,
) -> MeasurementCombiner | None:
    """The measurement combiner of one fold: measurement noise and prices from the training
    datasets' labels, the model's errors from its predictions of its validation datasets
    (bootstrap samples only); ``None`` (logged) when there is too little to calibrate on."""
    if val_out is None:
        log("  combiner: no validation datasets, no measurement calibration")
        return None
    tiers = tiers or default_tiers()
    full = next(t for t in tiers if t.name == "full")
    boot = (val.index["kind"] == "bootstrap").to_numpy()
    labels = calibration_labels(ws.original, ws.measurements, train_datasets, full.folds)
    predictions = calibration_predictions(val.index[boot], val_out["accuracy"][boot], ws.original.classifiers)
    try:
        combiner = MeasurementCombiner(tiers, ws.original.classifiers).fit(labels, predictions)
    except ValueError as exc:
        log(f"  combiner: {exc}")
        return None
    sd = np.sqrt(np.diag(combiner.prediction_cov_)).mean()
    noise = {t.name: float(np.sqrt(np.diag(combiner.noise_cov_)[i * len(combiner.classifiers) : (i + 1) * len(combiner.classifiers)]).mean())
             for i, t in enumerate(tiers)}  # fmt: skip
    log(f"  combiner: prediction error sd {100 * sd:.2f} points, measurement noise sd "
        + ", ".join(f"{k} {100 * v:.2f}" for k, v in noise.items()))  # fmt: skip
    return combiner


def prediction_seconds(model: Any, ws: Workspace, test: Corpus, subsamples: int = SampleParams.subsamples) -> np.ndarray:
    """CPU seconds of the prediction itself per test sample (``budget.prediction_cpu``), by
    the fold's model run in NumPy as ``recommend`` runs it; zeros without the workspace's
    sample files."""
    from beyonder.selector.inference import NumpyBeyonder
    from beyonder.selector.network import NumpyNetwork, export_weights

    if ws.root is None or getattr(model, "model_", None) is None:
        return np.zeros(len(test.index))
    predictor = NumpyBeyonder(model.config, NumpyNetwork(export_weights(model.model_)))
    return budget.prediction_cpu(predictor, [Path(ws.root) / f for f in test.index["file"]], subsamples)


def decision_details(
    ws: Workspace,
    original_train: Corpus,
    test: Corpus,
    output: dict[str, np.ndarray],
    val: Corpus,
    val_out: dict[str, np.ndarray] | None,
) -> dict[str, Any]:
    """Per test sample: Beyonder's accuracy, view spread and fit time, and the baseline fit
    time (training medians per row x feature); the interval scale calibrated on the fold's
    validation datasets (bootstrap samples, per dataset as ``recommend`` reads a table)."""
    def size(corpus: Corpus) -> np.ndarray:
        return np.array([np.prod(ws.encoded[s].cells.shape[:2]) for s in corpus.index["sample_id"]], dtype=float)

    scale = float("nan")
    if val_out is not None:
        is_boot = (val.index["kind"] == "bootstrap").to_numpy()
        names = sorted(set(val.index["dataset"][is_boot]))
        boot = val.subset(is_boot)
        pred = per_dataset_mean(boot, val_out["accuracy"][is_boot]).reindex(names).to_numpy()
        spread = decisions.per_dataset_spread(
            boot.index["dataset"].to_numpy(), val_out["accuracy"][is_boot], val_out["accuracy_spread"][is_boot], names
        )
        truth = per_dataset_mean(boot, boot.accuracy).reindex(names).to_numpy()
        scale = decisions.calibrate_scale(truth, pred, spread)
    return {
        "accuracy": output["accuracy"],
        "view_std": output["accuracy_spread"],
        "fit_time": output["fit_time"],
        "baseline_time": decisions.time_baseline(original_train.fit_time, size(original_train), size(test)),
        "interval_scale": scale,
    }


def _sbs_table(train_means: np.ndarray, datasets: list[str], classifiers: list[str]) -> pd.DataFrame:
    """The SBS's prediction (its training means) repeated for each test dataset."""
    return pd.DataFrame([train_means] * len(datasets), index=datasets, columns=classifiers)


def cv_one_sample(corpus: Corpus, sbs_index: dict[str, int]) -> dict[str, float]:
    """The brute-force reference: pick a dataset's classifier by the full K-fold CV of one of
    its samples, and price that pick with the mean labels of its *other* samples (so pick and
    truth share no CV noise); the SBS (``sbs_index`` per dataset) is priced with the same
    truths. This is what running cross-validation on the table itself achieves, i.e. what
    Beyonder is meant to replace: the realistic ceiling of any selector that reads one sample.
    Its ``spearman`` (one sample's CV ranking against the others' mean) is likewise the
    ranking quality that CV noise allows. Needs at least two labelled samples per dataset;
    others are skipped."""
    cv_regret, sbs_regret, cv_spearman = [], [], []
    with warnings.catch_warnings():  # a classifier labelled in no other sample
        warnings.simplefilter("ignore", RuntimeWarning)
        for dataset, rows in sorted(corpus.index.groupby("dataset").indices.items()):
            accuracy = corpus.accuracy[rows]
            labelled = ~np.all(np.isnan(accuracy), axis=1)
            if labelled.sum() < 2 or dataset not in sbs_index:
                continue
            accuracy = accuracy[labelled]
            # row i: the mean labels of every sample but i
            truth = np.array([np.nanmean(np.delete(accuracy, i, axis=0), axis=0) for i in range(len(accuracy))])
            cv_regret.append(float(np.nanmean(regret(truth, choose(accuracy)))))
            sbs_regret.append(float(np.nanmean(regret(truth, np.full(len(truth), sbs_index[dataset])))))
            cv_spearman.append(float(np.nanmean(spearman_rows(truth, accuracy))))
    cv_mean = float(np.mean(cv_regret)) if cv_regret else float("nan")
    sbs_mean = float(np.mean(sbs_regret)) if sbs_regret else float("nan")
    return {
        "n_datasets": len(cv_regret),
        "mean_regret": cv_mean,
        "sbs_mean_regret": sbs_mean,
        "gap_closed": (sbs_mean - cv_mean) / sbs_mean if sbs_mean > 1e-12 else float("nan"),
        "spearman": float(np.nanmean(cv_spearman)) if cv_spearman else float("nan"),
    }


def score(
    test: Corpus,
    predictions: dict[str, pd.DataFrame],
    sbs_means: pd.DataFrame,
    tie_tolerance: float,
    n_boot: int,
    seed: int,
) -> dict[str, Any]:
    """Metrics of every method per test dataset; the SBS may differ per dataset (per fold)."""
    truth = per_dataset_mean(test, test.accuracy)
    datasets = list(truth.index)
    true = truth.to_numpy()
    sbs_table = sbs_means.reindex(datasets).to_numpy()
    sbs_index = np.nanargmax(sbs_table, axis=1)
    preds = {name: p.reindex(datasets).to_numpy() for name, p in predictions.items()}
    preds["sbs"] = sbs_table
    report = evaluate_methods(true, preds, sbs_index, tie_tolerance=tie_tolerance, n_boot=n_boot, seed=seed)
    report["svm_kernel"] = svm_task(
        true, preds, test.classifiers, {"tie_tolerance": tie_tolerance, "n_boot": n_boot, "seed": seed}
    )
    report["missing_labels"] = int(np.isnan(test.accuracy).sum())
    report["cv_one_sample"] = cv_one_sample(test, dict(zip(datasets, sbs_index.tolist(), strict=True)))
    report["per_dataset"] = [
        {
            "dataset": d,
            "best": test.classifiers[int(np.nanargmax(true[i]))] if not np.all(np.isnan(true[i])) else None,
            **{
                f"{name}_choice": test.classifiers[int(np.nanargmax(p[i]))]
                for name, p in preds.items()
                if not np.all(np.isnan(p[i]))
            },
            "true": [None if np.isnan(v) else round(float(v), 4) for v in true[i]],
        }
        for i, d in enumerate(datasets)
    ]
    report["classifiers"] = list(test.classifiers)
    return report


@dataclass
class RunSettings:
    """What a comparison (``cross_validate``, ``train_test``) keeps alike on every fold: the
    methods compared; how they are scored (``tie_tolerance``, ``n_boot`` and ``seed`` of
    ``beyonder.evaluation.metrics``; the defaults are ``params.yaml``'s ``evaluate``); how Beyonder
    trains (``start``: pretrained weights it fine-tunes from, see ``pretrain``; ``seeds`` and
    ``variants``: see ``predict_fold``); and where progress lines go (``log``)."""

    methods: tuple[str, ...] = METHODS
    tie_tolerance: float = EvaluateParams.tie_tolerance
    n_boot: int = EvaluateParams.n_boot
    seed: int = 0
    log: Callable[[str], None] = print
    start: list[np.ndarray] | None = None
    seeds: int = 1
    variants: dict[str, dict[str, Any]] | None = None
    budgets: tuple[float, ...] = tuple(EvaluateParams().time_budgets)
    """Time budgets (seconds per fold fit on a sample) the decisions report scores."""
    tiers: list[Tier] | None = None
    """Measurement tiers of the combiner and the budget curve (default: ``default_tiers``)."""
    budget_shares: tuple[float, ...] = tuple(EvaluateParams().budget_shares)
    """Budgets the budget curve replays, as shares of each table's predicted brute-force CPU."""

    def scoring(self) -> tuple[float, int, int]:
        """``score``'s last three arguments."""
        return self.tie_tolerance, self.n_boot, self.seed

    def training(self) -> dict[str, Any]:
        """``predict_fold``'s keyword arguments but the seed (which moves per fold)."""
        return {"log": self.log, "start": self.start, "seeds": self.seeds, "variants": self.variants, "tiers": self.tiers}


def cross_validate(
    ws: Workspace, folds: list[set[str]], config: BeyonderConfig, settings: RunSettings | None = None
) -> dict[str, Any]:
    """Grouped K-fold: each fold's datasets are predicted by methods trained on the others.
    With Beyonder among the methods, ``decisions`` has its fit-time quality, regret under each
    of ``settings.budgets`` (seconds per fold fit on a sample), interval coverage and the
    ``--verify K`` curve (``decision_report``)."""
    settings = settings or RunSettings()
    methods, seed, log = settings.methods, settings.seed, settings.log
    collected: dict[str, list[pd.DataFrame]] = defaultdict(list)
    sbs_rows = []
    fold_details: list[tuple[set[str], dict[str, Any]]] = []
    for k, test_sets in enumerate(folds):
        if not test_sets:
            continue
        train_sets = set().union(*(f for i, f in enumerate(folds) if i != k))
        log(f"fold {k + 1}/{len(folds)}: {len(test_sets)} test datasets, {len(train_sets)} training datasets")
        details: dict[str, Any] = {}
        preds, train_means = predict_fold(
            ws, train_sets, ws, test_sets, replace(config, seed=config.seed + k), methods, seed + k,
            details=details, **settings.training(),
        )
        if details:
            fold_details.append((test_sets, details))
        test = ws.original.subset(_rows(ws.original, test_sets, True))
        for name, p in preds.items():
            collected[name].append(per_dataset_mean(test, p))
        datasets = sorted(test_sets & set(test.index["dataset"]))
        sbs_rows.append(_sbs_table(train_means, datasets, ws.original.classifiers))
    predictions = {name: pd.concat(frames) for name, frames in collected.items() if frames}
    sbs_means = pd.concat(sbs_rows)
    report = score(ws.original, predictions, sbs_means, *settings.scoring())
    report["folds"] = [sorted(f) for f in folds]
    if fold_details:
        report["decisions"] = _pooled_decisions(
            ws.original, fold_details, sbs_means, settings.budgets, ws.groups, ws.measurements, settings
        )
        if ws.original.curves is not None:  # the regularisation strength C (issue 17)
            tie, n_boot, seed = settings.scoring()
            report["regularisation"] = regularisation.crossval_report(
                ws.original, fold_details, sbs_means, predictions, n_boot, seed, tie
            )
    by_group: dict[str, set[str]] = defaultdict(set)
    for dataset in ws.original.index["dataset"]:
        by_group[ws.groups.get(dataset, "")].add(dataset)
    if len(by_group) > 1:  # e.g. UCI and StatLib apart: the same picks, scored per corpus
        report["by_group"] = {
            group or "(unknown)": score(
                ws.original.subset(_rows(ws.original, members, True)),
                predictions, sbs_means, *settings.scoring(),
            )
            for group, members in sorted(by_group.items())
        }  # fmt: skip
    return report


def _pooled_decisions(
    original: Corpus,
    fold_details: list[tuple[set[str], dict[str, Any]]],
    sbs_means: pd.DataFrame,
    budgets: tuple[float, ...],
    groups: dict[str, str] | None = None,
    measurements: pd.DataFrame | None = None,
    settings: RunSettings | None = None,
) -> dict[str, Any]:
    """``decision_report`` over every fold's test samples at once (each scored by its own
    fold's model, SBS and interval scale); with several corpora (``groups``), the verify
    curve per corpus too (``verify_by_group``); with the folds' combiners, the budget curve
    (``budget_curve``: regret against CPU seconds of predicting, measuring and brute force,
    per corpus in its ``by_group``)."""
    settings = settings or RunSettings()
    parts, pooled = [], defaultdict(list)
    combiners: dict[str, MeasurementCombiner] = {}
    replay_folds = []
    for test_sets, details in fold_details:
        details = dict(details)
        combiner = details.pop("combiner", None)
        validation = details.pop("validation", None)
        replay_folds.append({"test": sorted(test_sets), "validation": validation})
        if combiner is not None:
            combiners.update(dict.fromkeys(test_sets, combiner))
        mask = _rows(original, test_sets, True)
        parts.append(mask.nonzero()[0])
        for key, value in details.items():
            rows = int(mask.sum())
            pooled[key].append(np.full(rows, value) if np.ndim(value) == 0 else value)
    order = np.concatenate(parts)
    test = Corpus(
        original.index.iloc[order].reset_index(drop=True),
        original.accuracy[order],
        original.fit_time[order],
        original.classifiers,
        None if original.predict_time is None else original.predict_time[order],
    )
    details = {k: np.concatenate(v) for k, v in pooled.items()}
    sbs_index = {d: int(np.nanargmax(row)) for d, row in zip(sbs_means.index, sbs_means.to_numpy(), strict=True)}
    report = decisions.decision_report(test, details, sbs_index, sbs_means, budgets)
    names = test.index["dataset"].to_numpy()
    by_group = {groups.get(d, "") for d in names} if groups else set()
    if len(by_group) > 1:
        report["verify_by_group"] = {
            group or "(unknown)": decisions.verify_curve(
                names, test.accuracy, test.cv_seconds(), details["accuracy"],
                {d: i for d, i in sbs_index.items() if groups.get(d, "") == group},
            )
            for group in sorted(by_group)
        }  # fmt: skip
    if combiners:
        tables = budget.labelled_tables(
            test, details, combiners, measurements, sbs_index, groups or {}, settings.tiers or default_tiers()
        )
        report["budget_curve"] = budget.budget_curve(
            tables, shares=settings.budget_shares, n_boot=settings.n_boot, seed=settings.seed
        )
        report["replay"] = {  # what the curve was computed from, for budget.replay (no retraining)
            "folds": replay_folds,
            "samples": {
                "sample_id": test.index["sample_id"].tolist(),
                "predicted": np.round(details["accuracy"], 6).tolist(),
                "fit_time": np.round(details["fit_time"], 8).tolist(),
                "prediction_seconds": np.round(details.get("prediction_seconds", np.zeros(len(test.index))), 6).tolist(),
            },
            "sbs": sbs_index,
        }
    return report


def train_test(
    train_ws: Workspace, test_ws: Workspace, config: BeyonderConfig, settings: RunSettings | None = None
) -> dict[str, Any]:
    """Train on every dataset of one corpus, test on every dataset of another."""
    settings = settings or RunSettings()
    train_sets = set(train_ws.original.index["dataset"])
    test_sets = set(test_ws.original.index["dataset"])
    preds, train_means = predict_fold(
        train_ws, train_sets, test_ws, test_sets, config, settings.methods, settings.seed, **settings.training()
    )
    test = test_ws.original
    predictions = {name: per_dataset_mean(test, p) for name, p in preds.items()}
    datasets = sorted(test_sets)
    return score(test, predictions, _sbs_table(train_means, datasets, test.classifiers), *settings.scoring())


def summary(report: dict[str, Any]) -> dict[str, Any]:
    """The JSON layout of the issue: n_datasets, methods -> headline metrics, per_dataset;
    ``by_group``: the same headline per corpus when the datasets came from several folders."""
    out = _summary(report)
    if report.get("by_group"):
        out["by_group"] = {
            group: {k: v for k, v in _summary(part).items() if k not in ("per_dataset", "folds")}
            for group, part in report["by_group"].items()
        }
    return out


def _summary(report: dict[str, Any]) -> dict[str, Any]:
    methods = {}
    for name, metrics in report["methods"].items():
        methods[name] = {k: rounded(metrics.get(k)) for k in HEADLINE}
        for key in ("mean_regret_ci", "regret_vs_sbs_ci"):
            methods[name][key] = [rounded(v) for v in metrics.get(key, [])]
        methods[name]["better_worse_than_sbs"] = metrics.get("better_worse_than_sbs", [])
        methods[name]["regret_vs_ci"] = {
            other: [rounded(v) for v in ci] for other, ci in metrics.get("regret_vs_ci", {}).items()
        }
    return {
        "n_datasets": report["n_datasets"],
        "methods": methods,
        "svm_kernel": report.get("svm_kernel", {}),
        "missing_labels": report.get("missing_labels", 0),
        "cv_one_sample": {k: rounded(v) for k, v in report.get("cv_one_sample", {}).items()},
        "classifiers": report.get("classifiers", []),
        "per_dataset": report.get("per_dataset", []),
        "folds": report.get("folds", []),
        **({"decisions": _decisions_json(report["decisions"])} if report.get("decisions") else {}),
        **({"regularisation": _rounded_tree(report["regularisation"])} if report.get("regularisation") else {}),
    }


def _decisions_json(decisions_report: dict[str, Any]) -> dict[str, Any]:
    """The decisions part for JSON: rounded, but ``replay`` (the predictions the budget curve
    was computed from) as it is, so that replaying it gives the same picks."""
    out = _rounded_tree({k: v for k, v in decisions_report.items() if k != "replay"})
    if "replay" in decisions_report:
        out["replay"] = decisions_report["replay"]
    return out


def _rounded_tree(value: Any) -> Any:
    """Every float of a nested dict/list through ``rounded`` (ints and strings kept)."""
    if isinstance(value, dict):
        return {k: _rounded_tree(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded_tree(v) for v in value]
    if isinstance(value, float | np.floating):
        return rounded(value)
    return value
