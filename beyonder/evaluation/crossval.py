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
from functools import cached_property
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
    svm_task,
)
from beyonder.evaluation.truth import (
    OTHER_GROUP,
    brute_force,
    dataset_groups,
    metric_predictions,
    without_unavailable,
)
from beyonder.evaluation.variants import Variant
from beyonder.params import EvaluateParams, SampleParams
from beyonder.selector import cell_pretraining
from beyonder.selector.baselines import (
    LandmarkRidge,
    MetaFeatureForest,
    NearestDatasets,
    meta_matrix,
)
from beyonder.selector.combiner import (
    FULL,
    MeasurementCombiner,
    Tier,
    calibration_labels,
    calibration_predictions,
    params_tiers,
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
from beyonder.selector.inference import from_head, to_head

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
    minority: dict[str, float] = field(default_factory=dict)  # dataset -> its rarest class's share
    measurements: pd.DataFrame | None = (
        None  # the measurement subsamples' labels (load_measurements)
    )
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
    or with ``heads_only`` the heads alone: transfer by the last layers).
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
            start_from_prior(
                model, fit.accuracy, fit.fit_time, dataset_features(samples, config), curves
            )
        if heads_only:
            cell_pretraining.freeze(model, list(encoder))
    est = Beyonder(config).fit(
        [ws.encoded[s] for s in fit.index["sample_id"]],
        fit.accuracy,
        fit.fit_time,
        validation=(
            [ws.encoded[s] for s in val.index["sample_id"]], val.accuracy, val.fit_time, val.curves,
            val.metric_scores(config.metrics),
        ),
        model=model,
        curves=fit.curves,
        scores=fit.metric_scores(config.metrics),
    )  # fmt: skip
    return est, val


MARGINS = (0.0, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, np.inf)
"""Predicted accuracy gains over the SBS's pick that ``choose_margin`` tries."""


def _refit(
    ws: Workspace,
    train: Corpus,
    config: BeyonderConfig,
    judged: Beyonder,
    log: Callable[[str], None],
) -> Beyonder:
    """``config`` trained again on all of ``train`` (no validation split) for the epochs whose
    weights early stopping kept in ``judged``: what the refit stage does with the corpus."""
    losses = judged.history_.get("val_loss") or judged.history_["loss"]
    epochs = int(np.argmin(losses)) + 1
    if config.dataset_targets:
        train = train.dataset_means()
    log(f"  refit: {len(train.index)} samples for {epochs} epochs")
    return Beyonder(replace(config, epochs=epochs)).fit(
        [ws.encoded[s] for s in train.index["sample_id"]], train.accuracy, train.fit_time,
        curves=train.curves, scores=train.metric_scores(config.metrics),
    )  # fmt: skip


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
            mean_regret = float(
                np.nanmean(regret(truth, choose(cautious(pred, sbs_index, margin))))
            )
            if mean_regret <= best_regret:
                best_regret, best_margin = mean_regret, margin
    return best_margin


def pretrain(
    ws: Workspace,
    config: BeyonderConfig,
    val_fraction: float = 0.15,
    log: Callable[[str], None] = print,
) -> list[np.ndarray]:
    """Weights of a Beyonder trained on every sample of ``ws`` (e.g. a large synthetic corpus),
    to start each fold's training from."""
    everything = _concat(ws.original, ws.augmented)
    everything = everything.subset(~np.all(np.isnan(everything.accuracy), axis=1))
    log(f"pretraining on {everything.index['dataset'].nunique()} datasets")
    est, _ = _fit_beyonder(ws, everything, config, config.seed + 101, val_fraction, log)
    return est.model_.get_weights()


@dataclass
class RunSettings:
    """What a comparison (``cross_validate``, ``train_test``) keeps alike on every fold: the
    methods compared (``METHODS``); how they are scored (``tie_tolerance``, ``n_boot`` and
    ``seed`` of ``beyonder.evaluation.metrics``; the defaults are ``params.yaml``'s
    ``evaluate``); how Beyonder trains (``start``: pretrained weights it fine-tunes from, see
    ``pretrain``; ``seeds`` > 1: also train it with ``seeds - 1`` more seeds, ``beyonder_seed1``,
    ..., and average them all, ``beyonder_ensemble``, to tell seed noise from real change;
    ``variants``: ablations on the same folds and truth, ``beyonder_<name>`` each, see
    ``Variant``; ``val_fraction``: of the training datasets that stop it early); the
    measurement ``tiers`` each fold's combiner is calibrated for and the ``curve_shares`` of
    the budget curve; and where progress lines go (``log``). ``seed`` also seeds the baselines of a fold
    (``cross_validate`` moves it by one per fold)."""

    methods: tuple[str, ...] = METHODS
    tie_tolerance: float = EvaluateParams.tie_tolerance
    n_boot: int = EvaluateParams.n_boot
    seed: int = 0
    log: Callable[[str], None] = print
    start: list[np.ndarray] | None = None
    seeds: int = 1
    variants: tuple[Variant, ...] = ()
    budgets: tuple[float, ...] = tuple(EvaluateParams().time_budgets)
    """Time budgets (seconds per fold fit on a sample) the decisions report scores."""
    val_fraction: float = 0.15
    report_groups: dict[str, list[str]] = field(
        default_factory=lambda: dict(EvaluateParams().groups)
    )
    """``evaluate.groups``: the metric reports' groups (corpus folders and sources); the first
    is the headline."""
    imbalanced_below: float = EvaluateParams.imbalance
    """``evaluate.imbalance``: tasks whose rarest class has a smaller share are reported apart."""
    tiers: list[Tier] | None = None
    """Measurement tiers of each fold's combiner and of the budget curve (default:
    ``default_tiers``)."""
    curve_shares: tuple[float, ...] = tuple(EvaluateParams().budget_shares)
    """``evaluate.budget_shares``: the budgets the budget curve replays, as shares of each
    table's predicted brute-force CPU."""

    def __post_init__(self) -> None:
        if self.seeds < 1:
            raise ValueError(f"seeds must be at least 1, got {self.seeds}")
        unknown = sorted(set(self.methods) - set(METHOD_FITS))
        if unknown:
            raise ValueError(f"unknown method {unknown[0]!r} (known: {', '.join(METHODS)})")
        self.variants = tuple(self.variants or ())

    def scoring(self) -> tuple[float, int, int]:
        """``score``'s last three arguments."""
        return self.tie_tolerance, self.n_boot, self.seed


@dataclass
class Fold:
    """One fold's data, as every method sees it: ``train`` (the training datasets' samples,
    their noisy copies and derived tasks, and the extra synthetic datasets, labelled ones only)
    for Beyonder, ``original_train`` (the training datasets' own samples) for the baselines and
    the SBS (``train_means``: its mean labels per classifier), ``test`` (the test datasets'
    own samples) to predict."""

    train_ws: Workspace
    test_ws: Workspace
    train: Corpus
    original_train: Corpus
    test: Corpus
    train_means: np.ndarray

    @classmethod
    def split(
        cls,
        train_ws: Workspace,
        train_datasets: set[str],
        test_ws: Workspace,
        test_datasets: set[str],
    ) -> Fold:
        pool = _concat(train_ws.original, train_ws.augmented)
        keep = _training_rows(pool, train_datasets) & ~np.all(np.isnan(pool.accuracy), axis=1)
        original_train = train_ws.original.subset(_rows(train_ws.original, train_datasets, True))
        test = test_ws.original.subset(_rows(test_ws.original, test_datasets, True))
        train_means = np.nanmean(
            per_dataset_mean(original_train, original_train.accuracy).to_numpy(), axis=0
        )
        return cls(train_ws, test_ws, pool.subset(keep), original_train, test, train_means)

    @property
    def sbs_index(self) -> int:
        return int(np.nanargmax(self.train_means))

    def metric_train_means(self, metric: str) -> np.ndarray:
        """The training datasets' mean labels of ``metric`` per classifier (its SBS's basis)."""
        values = per_dataset_mean(
            self.original_train, self.original_train.metric(metric)
        ).to_numpy()
        with warnings.catch_warnings():  # a classifier without that metric (log loss of an SVM)
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmean(values, axis=0)

    def train_encoded(self, corpus: Corpus | None = None) -> list[EncodedSample]:
        """Encodings of ``corpus``'s samples (default: ``original_train``) from the training workspace."""
        corpus = self.original_train if corpus is None else corpus
        return [self.train_ws.encoded[s] for s in corpus.index["sample_id"]]

    @cached_property
    def test_encoded(self) -> list[EncodedSample]:
        return [self.test_ws.encoded[s] for s in self.test.index["sample_id"]]

    @cached_property
    def meta(self) -> tuple[np.ndarray, np.ndarray]:
        """The pymfe meta-features of the training and test samples, on the training columns."""
        X_train, columns = meta_matrix(
            [self.train_ws.meta[s] for s in self.original_train.index["sample_id"]]
        )
        X_test, _ = meta_matrix(
            [self.test_ws.meta[s] for s in self.test.index["sample_id"]], columns
        )
        return X_train, X_test

    def train_dataset_names(self) -> np.ndarray:
        return self.original_train.index["dataset"].to_numpy()

    @property
    def train_datasets(self) -> set[str]:
        """The training datasets (those of ``original_train``)."""
        return set(self.original_train.index["dataset"])


@dataclass
class MethodResult:
    """What a method gives for a fold's test samples: ``predictions`` (accuracy per sample x
    classifier) under each name it reports (``beyonder``, ``beyonder_cautious``, ...),
    ``curves`` (predicted C curves, for the regularisation report) and ``decisions``
    (``decision_details``: what the decision metrics need beyond accuracies; Beyonder's also
    has ``budget_details``: the fold's measurement combiner and what the budget curve needs)."""

    predictions: dict[str, np.ndarray] = field(default_factory=dict)
    curves: dict[str, np.ndarray] = field(default_factory=dict)
    decisions: dict[str, Any] = field(default_factory=dict)
    scores: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    """Per reported name, its predictions of the other metrics (metric -> samples x classifiers)."""

    def add(self, other: MethodResult) -> MethodResult:
        """``other``'s entries after this result's (names stay in the order they came)."""
        self.predictions.update(other.predictions)
        self.curves.update(other.curves)
        self.decisions.update(other.decisions)
        self.scores.update(other.scores)
        return self


@dataclass
class FoldResult:
    """``predict_fold``'s answer: every method's ``predictions`` of the test samples, the SBS's
    ``train_means``, and the ``details`` the decision and regularisation reports pool over
    folds (empty when no method gave any)."""

    predictions: dict[str, np.ndarray]
    train_means: np.ndarray
    details: dict[str, Any]
    scores: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    """Per method, its predictions of the other metrics (``MethodResult.scores``)."""
    metric_train_means: dict[str, np.ndarray] = field(default_factory=dict)
    """Per metric, the training datasets' means per classifier (that metric's SBS)."""


def _beyonder(fold: Fold, config: BeyonderConfig, settings: RunSettings) -> MethodResult:
    """Beyonder (one member per seed, each also behind ``cautious`` selection), its seed
    ensemble, the variants, the one-view ablation and its embedding's nearest datasets."""
    result, fitted = MethodResult(), []
    for m in range(settings.seeds):  # same data, same validation split: only the seed differs
        est, member = _beyonder_member(fold, config, settings, m)
        result.add(member)
        fitted.append(est)
    first = fitted[0]
    if settings.seeds > 1:
        seeds = [result.predictions[_member_name(m)] for m in range(settings.seeds)]
        result.predictions["beyonder_ensemble"] = np.mean(seeds, axis=0)
    result.add(_variants(fold, config, settings, fitted))
    if config.views > 1:  # the test-time ensembling ablation, at no training cost
        result.predictions["beyonder_1view"] = first.predict(fold.test_encoded, views=1)["accuracy"]
    # the learned embedding as meta-features for the nearest-datasets rule
    knn = NearestDatasets(k=5).fit(
        first.embed(fold.train_encoded()), fold.original_train.accuracy, fold.train_dataset_names()
    )
    result.predictions["beyonder_knn"] = knn.predict(first.embed(fold.test_encoded))
    return result


def _member_name(m: int) -> str:
    """The ``m``-th ``--seeds`` member's method name: ``beyonder``, ``beyonder_seed1``..."""
    return "beyonder" if m == 0 else f"beyonder_seed{m}"


def _beyonder_member(
    fold: Fold, config: BeyonderConfig, settings: RunSettings, m: int
) -> tuple[Beyonder, MethodResult]:
    """The ``m``-th seed's Beyonder (``SEED_STRIDE`` apart) and its predictions, plain and
    cautious: it leaves the SBS's pick only for a predicted gain that paid off on its
    validation samples (``choose_margin``). The first member also gives the decision details,
    the fold's measurement combiner (``budget_details``) and the predicted C curves."""
    name = _member_name(m)
    member_config = replace(config, seed=config.seed + SEED_STRIDE * m)
    est, val = _fit_beyonder(
        fold.train_ws,
        fold.train,
        member_config,
        settings.seed,
        settings.val_fraction,
        settings.log,
        settings.start,
    )
    output = est.predict(fold.test_encoded)
    margin, val_out = np.inf, None
    if len(val.index):
        val_out = est.predict(fold.train_encoded(val))
        margin = choose_margin(val_out["accuracy"], val.accuracy, fold.sbs_index)
    settings.log(f"  {name}_cautious: leaves the SBS's pick for a predicted gain over {margin:.4f}")
    result = MethodResult(
        {
            name: output["accuracy"],
            f"{name}_cautious": cautious(output["accuracy"], fold.sbs_index, margin),
        }
    )
    result.scores[name] = metric_predictions(
        output, member_config.metrics, list(member_config.classifiers)
    )
    if m == 0:
        result.decisions = decision_details(fold, output, val, val_out)
        result.decisions.update(budget_details(fold, est, val, val_out, settings))
        if "curve" in output:
            result.curves["beyonder"] = output["curve"]
    return est, result


def _variants(
    fold: Fold, config: BeyonderConfig, settings: RunSettings, members: list[Beyonder]
) -> MethodResult:
    """Each of ``settings.variants`` trained on the fold (``beyonder_<name>``); variants that
    differ only after masked-cell pre-training share one pre-trained encoder, and a refit
    variant with no other change starts from the ``members`` fit of its seed (the same training
    run, not repeated)."""
    result = MethodResult()
    encoders: dict[tuple, dict[str, list[np.ndarray]]] = {}
    for variant in settings.variants:
        variant_config = variant.config(config)
        member = _same_member(variant, settings.seeds)
        if member is None:
            est, subset = _fit_variant(fold, variant, variant_config, settings, encoders)
        else:
            settings.log(f"  beyonder_{variant.name}: {variant.settings()}, "
                         f"from {_member_name(member)}'s fit")  # fmt: skip
            est, subset = members[member], fold.train
        if variant.refit:  # the refit stage's protocol: every training dataset, the chosen epochs
            est = _refit(fold.train_ws, subset, variant_config, est, settings.log)
        result.predictions[f"beyonder_{variant.name}"] = est.predict(fold.test_encoded)["accuracy"]
    return result


def _fit_variant(
    fold: Fold,
    variant: Variant,
    variant_config: BeyonderConfig,
    settings: RunSettings,
    encoders: dict[tuple, dict[str, list[np.ndarray]]],
) -> tuple[Beyonder, Corpus]:
    """``variant`` trained with early stopping on its part of the fold's training samples
    (returned with the model); ``encoders``: masked-cell encoders pre-trained so far, by
    their settings, filled here."""
    subset = fold.train
    if variant.train_groups is not None:
        wanted = {d for d, g in fold.train_ws.groups.items() if g in set(variant.train_groups)}
        subset = subset.subset(_training_rows(subset, wanted))
    if variant.train_kinds is not None:
        subset = subset.subset(subset.index["kind"].isin(variant.train_kinds).to_numpy())
    settings.log(f"  beyonder_{variant.name}: {variant.settings()}")
    encoder = None
    if variant.pretrain == "cells":  # the masked-cell objective on this fold's training tables
        epochs = variant.pretrain_epochs or cell_pretraining.PRETRAIN_EPOCHS
        key = (epochs, *(getattr(variant_config, k) for k in cell_pretraining.ENCODER_SETTINGS))
        if key not in encoders:
            encoders[key], losses = cell_pretraining.pretrain_encoder(
                fold.train_encoded(), variant_config, epochs
            )
            settings.log(f"  beyonder_{variant.name}: masked-cell loss {losses['loss']:.4f} "
                         f"(predicting zero: {losses['zero_prediction_loss']:.4f})")  # fmt: skip
        encoder = encoders[key]
    start = None if variant.finetune == "none" or encoder is not None else settings.start
    est, _ = _fit_beyonder(
        fold.train_ws, subset, variant_config, settings.seed, settings.val_fraction, settings.log, start,
        heads_only=variant.finetune == "heads", encoder=encoder,
    )  # fmt: skip
    return est, subset


def _same_member(variant: Variant, seeds: int) -> int | None:
    """The ``--seeds`` member whose fit ``variant`` would repeat before its refit (a refit
    variant that changes nothing else, its seed that member's), else None."""
    plain = replace(variant, name="", refit=False, seed_offset=0)
    member, rest = divmod(variant.seed_offset, SEED_STRIDE)
    if not variant.refit or plain != Variant("") or rest or not 0 <= member < seeds:
        return None
    return member


def _landmark_ridge(fold: Fold, config: BeyonderConfig, settings: RunSettings) -> MethodResult:
    """Beyonder's linear part alone (a ridge on its landmarkers and globals), on the same
    targets; with regularisation labels, the C curves from the same features."""
    targets = fold.original_train.dataset_means() if config.dataset_targets else fold.original_train
    X_train = dataset_features(fold.train_encoded(), config)
    X_test = dataset_features(fold.test_encoded, config)
    result = MethodResult(
        {"landmark_ridge": LandmarkRidge().fit(X_train, targets.accuracy).predict(X_test)}
    )
    result.scores[
        "landmark_ridge"
    ] = {  # the other metrics from the same features, on the heads' scale
        metric: from_head(
            metric,
            LandmarkRidge().fit(X_train, to_head(metric, targets.metric(metric))).predict(X_test),
        )
        for metric in targets.metrics
    }
    if targets.curves is not None:
        curve = LandmarkRidge().fit(X_train, targets.flat_curves()).predict(X_test)
        result.curves["landmark_ridge"] = curve.reshape(
            len(fold.test.index), *targets.curves.shape[1:]
        )
    return result


def _pymfe_rf(fold: Fold, config: BeyonderConfig, settings: RunSettings) -> MethodResult:
    """A random forest on the pymfe meta-features."""
    X_train, X_test = fold.meta
    rf = MetaFeatureForest(seed=settings.seed).fit(X_train, fold.original_train.accuracy)
    return MethodResult({"pymfe_rf": rf.predict(X_test)})


def _pymfe_knn(fold: Fold, config: BeyonderConfig, settings: RunSettings) -> MethodResult:
    """The nearest training datasets on the pymfe meta-features."""
    X_train, X_test = fold.meta
    knn = NearestDatasets(k=5).fit(
        X_train, fold.original_train.accuracy, fold.train_dataset_names()
    )
    return MethodResult({"pymfe_knn": knn.predict(X_test)})


def _random(fold: Fold, config: BeyonderConfig, settings: RunSettings) -> MethodResult:
    """Uniform random scores: the floor every method must clear."""
    return MethodResult(
        {"random": np.random.default_rng(settings.seed).random(fold.test.accuracy.shape)}
    )


METHOD_FITS: dict[str, Callable[[Fold, BeyonderConfig, RunSettings], MethodResult]] = {
    "beyonder": _beyonder,
    "landmark_ridge": _landmark_ridge,
    "pymfe_rf": _pymfe_rf,
    "pymfe_knn": _pymfe_knn,
    "random": _random,
}
"""Each method's fold: trains on a ``Fold``'s training side, predicts its test samples. Run in
this order whatever the order of ``RunSettings.methods``."""

COMBINED = {"beyonder_ridge_mean": ("beyonder", "landmark_ridge")}
"""Averages of two methods' predictions, reported when both ran (after the second): does the
deep part add anything once shrunk towards the linear?"""


def predict_fold(
    train_ws: Workspace,
    train_datasets: set[str],
    test_ws: Workspace,
    test_datasets: set[str],
    config: BeyonderConfig,
    settings: RunSettings | None = None,
) -> FoldResult:
    """Train every method of ``settings.methods`` on ``train_datasets`` of ``train_ws``
    (``METHOD_FITS``); predict the original samples of ``test_datasets`` of ``test_ws``."""
    settings = settings or RunSettings()
    fold = Fold.split(train_ws, train_datasets, test_ws, test_datasets)
    result = MethodResult()
    for name, fit in METHOD_FITS.items():
        if name not in settings.methods:
            continue
        result.add(fit(fold, config, settings))
        for combined, (a, b) in COMBINED.items():
            if name in (a, b) and a in result.predictions and b in result.predictions:
                result.predictions[combined] = (result.predictions[a] + result.predictions[b]) / 2
    details = dict(result.decisions)
    if result.curves:
        details.update(regularisation.fold_details(fold.original_train, fold.test, result.curves))
    metric_means = {m: fold.metric_train_means(m) for m in fold.original_train.metrics}
    return FoldResult(result.predictions, fold.train_means, details, result.scores, metric_means)


def decision_details(
    fold: Fold, output: dict[str, np.ndarray], val: Corpus, val_out: dict[str, np.ndarray] | None
) -> dict[str, Any]:
    """Per test sample: Beyonder's accuracy, view spread and fit time, and the baseline fit
    time (training medians per row x feature); the interval scale calibrated on the fold's
    validation datasets (bootstrap samples, per dataset as ``recommend`` reads a table)."""

    def size(samples: list[EncodedSample]) -> np.ndarray:
        return np.array([np.prod(e.cells.shape[:2]) for e in samples], dtype=float)

    scale = float("nan")
    if val_out is not None:
        is_boot = (val.index["kind"] == "bootstrap").to_numpy()
        names = sorted(set(val.index["dataset"][is_boot]))
        boot = val.subset(is_boot)
        pred = per_dataset_mean(boot, val_out["accuracy"][is_boot]).reindex(names).to_numpy()
        spread = decisions.per_dataset_spread(
            boot.index["dataset"].to_numpy(),
            val_out["accuracy"][is_boot],
            val_out["accuracy_spread"][is_boot],
            names,
        )
        truth = per_dataset_mean(boot, boot.accuracy).reindex(names).to_numpy()
        scale = decisions.calibrate_scale(truth, pred, spread)
    return {
        "accuracy": output["accuracy"],
        "view_std": output["accuracy_spread"],
        "fit_time": output["fit_time"],
        "baseline_time": decisions.time_baseline(
            fold.original_train.fit_time, size(fold.train_encoded()), size(fold.test_encoded)
        ),
        "interval_scale": scale,
    }


def default_tiers() -> list[Tier]:
    """The measurement tiers of the default ``measure``, ``sample`` and ``label`` sections."""
    return params_tiers()


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
    full = next(t for t in tiers if t.name == FULL)
    boot = (val.index["kind"] == "bootstrap").to_numpy()
    labels = calibration_labels(ws.original, ws.measurements, train_datasets, full.folds)
    predictions = calibration_predictions(
        val.index[boot], val_out["accuracy"][boot], ws.original.classifiers
    )
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


def prediction_seconds(
    model: Any, ws: Workspace, test: Corpus, subsamples: int = SampleParams.subsamples
) -> np.ndarray:
    """CPU seconds of the prediction itself per test sample (``budget.prediction_cpu``), by
    the fold's model run in NumPy as ``recommend`` runs it; zeros without the workspace's
    sample files."""
    from beyonder.selector.inference import NumpyBeyonder
    from beyonder.selector.network import NumpyNetwork, export_weights

    if ws.root is None or getattr(model, "model_", None) is None:
        return np.zeros(len(test.index))
    predictor = NumpyBeyonder(model.config, NumpyNetwork(export_weights(model.model_)))
    return budget.prediction_cpu(
        predictor, [Path(ws.root) / f for f in test.index["file"]], subsamples
    )


def budget_details(
    fold: Fold, est: Any, val: Corpus, val_out: dict[str, np.ndarray] | None, settings: RunSettings
) -> dict[str, Any]:
    """What the budget curve pools over folds beyond ``decision_details``: the fold's
    measurement combiner (``combiner``: calibrated on the training datasets' labels and the
    validation datasets' predictions, ``fold_combiner``), the prediction's timed CPU seconds
    per test sample (``prediction_seconds``) and, for ``budget.replay`` (the combiner refitted
    without retraining), the validation predictions (``validation``: bootstrap samples)."""
    out: dict[str, Any] = {
        "combiner": fold_combiner(
            fold.train_ws, fold.train_datasets, val, val_out, settings.tiers, settings.log
        ),
        "prediction_seconds": prediction_seconds(est, fold.test_ws, fold.test),
    }
    if val_out is not None:  # val_out: None without validation datasets
        boot = (val.index["kind"] == "bootstrap").to_numpy()
        out["validation"] = {
            "sample_id": val.index["sample_id"][boot].tolist(),
            "predicted": val_out["accuracy"][boot].tolist(),
        }
    return out


def _sbs_table(
    train_means: np.ndarray, datasets: list[str], classifiers: list[str]
) -> pd.DataFrame:
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
    result = brute_force(corpus.index["dataset"].to_numpy(), corpus.accuracy, sbs_index)
    return {k: v for k, v in result.items() if k != "per_dataset"}


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
    report = evaluate_methods(
        true, preds, sbs_index, tie_tolerance=tie_tolerance, n_boot=n_boot, seed=seed
    )
    report["svm_kernel"] = svm_task(
        true,
        preds,
        test.classifiers,
        {"tie_tolerance": tie_tolerance, "n_boot": n_boot, "seed": seed},
    )
    report["missing_labels"] = int(np.isnan(test.accuracy).sum())
    report["cv_one_sample"] = cv_one_sample(
        test, dict(zip(datasets, sbs_index.tolist(), strict=True))
    )
    report["per_dataset"] = [
        {
            "dataset": d,
            "best": test.classifiers[int(np.nanargmax(true[i]))]
            if not np.all(np.isnan(true[i]))
            else None,
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


def cross_validate(
    ws: Workspace,
    folds: list[set[str]],
    config: BeyonderConfig,
    settings: RunSettings | None = None,
) -> dict[str, Any]:
    """Grouped K-fold: each fold's datasets are predicted by methods trained on the others.
    With Beyonder among the methods, ``decisions`` has its fit-time quality, regret under each
    of ``settings.budgets`` (seconds per fold fit on a sample), interval coverage, the
    ``--verify K`` curve (``decision_report``) and, where folds could calibrate a measurement
    combiner, the budget curve (``budget_curve``, with ``replay``: what it was computed from)."""
    settings = settings or RunSettings()
    log = settings.log
    collected: dict[str, list[pd.DataFrame]] = defaultdict(list)
    sbs_rows = []
    fold_details: list[tuple[set[str], dict[str, Any]]] = []
    by_metric: dict[str, dict[str, list[pd.DataFrame]]] = defaultdict(lambda: defaultdict(list))
    metric_sbs: dict[str, list[pd.DataFrame]] = defaultdict(list)
    for k, test_sets in enumerate(folds):
        if not test_sets:
            continue
        train_sets = set().union(*(f for i, f in enumerate(folds) if i != k))
        log(
            f"fold {k + 1}/{len(folds)}: {len(test_sets)} test datasets, {len(train_sets)} training datasets"
        )
        fold = predict_fold(
            ws, train_sets, ws, test_sets, replace(config, seed=config.seed + k),
            replace(settings, seed=settings.seed + k),
        )  # fmt: skip
        if fold.details:
            fold_details.append((test_sets, fold.details))
        test = ws.original.subset(_rows(ws.original, test_sets, True))
        for name, p in fold.predictions.items():
            collected[name].append(per_dataset_mean(test, p))
        datasets = sorted(test_sets & set(test.index["dataset"]))
        sbs_rows.append(_sbs_table(fold.train_means, datasets, ws.original.classifiers))
        for name, metrics in fold.scores.items():
            for metric, p in metrics.items():
                by_metric[metric][name].append(per_dataset_mean(test, p))
        for metric, means in fold.metric_train_means.items():
            metric_sbs[metric].append(_sbs_table(means, datasets, ws.original.classifiers))
    predictions = {name: pd.concat(frames) for name, frames in collected.items() if frames}
    sbs_means = pd.concat(sbs_rows)
    report = score(ws.original, predictions, sbs_means, *settings.scoring())
    report["folds"] = [sorted(f) for f in folds]
    scored = {"accuracy": (predictions, sbs_means)} | {
        metric: (
            {name: pd.concat(frames) for name, frames in methods.items()},
            pd.concat(metric_sbs[metric]),
        )
        for metric, methods in by_metric.items()
        if metric_sbs.get(metric)
    }
    report["metrics"] = metric_reports(ws, scored, settings)
    if fold_details and "beyonder" in settings.methods:  # its decision details
        report["decisions"] = _pooled_decisions(
            ws.original,
            fold_details,
            sbs_means,
            settings.budgets,
            ws.groups,
            ws.measurements,
            settings,
        )
    if fold_details and ws.original.curves is not None:  # C, from Beyonder or landmark_ridge
        tie, n_boot, seed = settings.scoring()
        report["regularisation"] = regularisation.crossval_report(
            ws.original, fold_details, sbs_means, predictions, n_boot, seed, tie
        )
        groups = report_group_members(ws, settings)
        if report["regularisation"] and len(groups) > 1:  # the same picks, per group
            report["regularisation"]["groups"] = {}
            for group, members in groups.items():
                folds = regularisation.folds_within(ws.original, fold_details, members)
                if part := regularisation.crossval_report(
                    ws.original, folds, sbs_means, predictions, n_boot, seed, tie
                ):
                    report["regularisation"]["groups"][group] = part
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


def report_group_members(ws: Workspace, settings: RunSettings) -> dict[str, set[str]]:
    """Report group -> its datasets in the workspace, in ``settings.report_groups``' order
    (the headline first), then the datasets of no group; groups without a dataset left out."""
    groups = dataset_groups(ws.groups, settings.report_groups)
    out: dict[str, set[str]] = {}
    for dataset in ws.original.index["dataset"]:
        out.setdefault(groups.get(dataset, OTHER_GROUP), set()).add(dataset)
    order = [*settings.report_groups, OTHER_GROUP]
    return {group: out[group] for group in order if group in out}


def metric_reports(
    ws: Workspace,
    scored: dict[str, tuple[dict[str, pd.DataFrame], pd.DataFrame]],
    settings: RunSettings,
) -> dict[str, Any]:
    """Per report group (``settings.report_groups``: natural tasks first, then binarised and
    synthetic ones, never mixed) and metric: every method against that metric's truth (the
    mean over each dataset's replicates) and each fold's SBS of that metric, brute force (one
    replicate's CV priced on the others), and the same on the group's imbalanced tasks; then,
    on the imbalanced natural tasks, Beyonder's pick by predicted balanced accuracy against
    its pick by predicted accuracy, both priced in balanced accuracy (paired interval)."""
    groups = report_group_members(ws, settings)
    imbalanced = {d for d, share in ws.minority.items() if share < settings.imbalanced_below}
    tie, n_boot, seed = settings.scoring()
    out: dict[str, Any] = {}
    for group, members in groups.items():
        out[group] = {}
        for metric, (predictions, sbs_means) in scored.items():
            part = _metric_score(
                ws.original, metric, members, predictions, sbs_means, tie, n_boot, seed
            )
            if part is None:
                continue
            if members & imbalanced:
                part["imbalanced"] = _metric_score(
                    ws.original,
                    metric,
                    members & imbalanced,
                    predictions,
                    sbs_means,
                    tie,
                    n_boot,
                    seed,
                )
            out[group][metric] = part
    headline = next(iter(settings.report_groups), None)
    members = groups.get(headline, set()) & imbalanced
    if members and "balanced_accuracy" in scored and "beyonder" in scored["balanced_accuracy"][0]:
        by_accuracy = scored["accuracy"][0].get("beyonder")
        if by_accuracy is not None:
            predictions = {
                "beyonder": scored["balanced_accuracy"][0]["beyonder"],
                "beyonder_by_accuracy": by_accuracy,
            }
            out["imbalanced_pick"] = _metric_score(
                ws.original,
                "balanced_accuracy",
                members,
                predictions,
                scored["balanced_accuracy"][1],
                tie,
                n_boot,
                seed,
            )
    return out


def _metric_score(
    original: Corpus,
    metric: str,
    datasets: set[str],
    predictions: dict[str, pd.DataFrame],
    sbs_means: pd.DataFrame,
    tie: float,
    n_boot: int,
    seed: int,
) -> dict[str, Any] | None:
    """``evaluate_methods`` for one metric on ``datasets`` (per-dataset SBS from ``sbs_means``)
    and brute force on the same datasets; None when the metric has no labels there."""
    subset = original.subset(_rows(original, datasets, True))
    values = subset.metric(metric)
    if np.isnan(values).all():
        return None
    truth = per_dataset_mean(subset, values)
    names = list(truth.index)
    sbs_table = sbs_means.reindex(names).to_numpy()
    sbs_index = np.where(
        np.isnan(sbs_table).all(axis=1), 0, np.argmax(np.nan_to_num(sbs_table, nan=-np.inf), axis=1)
    )
    # no method may pick a classifier the metric does not exist for (log loss without
    # probabilities), whatever it predicted there
    preds = {
        name: without_unavailable(p.reindex(names).to_numpy(), metric, original.classifiers)
        for name, p in predictions.items()
    }
    preds["sbs"] = sbs_table
    report = evaluate_methods(
        truth.to_numpy(), preds, sbs_index, tie_tolerance=tie, n_boot=n_boot, seed=seed
    )
    ceiling = brute_force(
        subset.index["dataset"].to_numpy(),
        values,
        dict(zip(names, sbs_index.tolist(), strict=True)),
    )
    report["brute_force"] = {k: v for k, v in ceiling.items() if k != "per_dataset"}
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
    per report group, ``evaluate.groups``, in its ``by_group``, as the evaluate stage's)."""
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
    sbs_index = {
        d: int(np.nanargmax(row))
        for d, row in zip(sbs_means.index, sbs_means.to_numpy(), strict=True)
    }
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
            test,
            details,
            combiners,
            measurements,
            sbs_index,
            dataset_groups(groups or {}, settings.report_groups),
            settings.tiers or default_tiers(),
        )
        report["budget_curve"] = budget.budget_curve(
            tables, shares=settings.curve_shares, n_boot=settings.n_boot, seed=settings.seed
        )
        report["replay"] = {  # what the curve was computed from, for budget.replay (no retraining)
            "folds": replay_folds,
            "samples": {
                "sample_id": test.index["sample_id"].tolist(),
                "predicted": np.round(details["accuracy"], 6).tolist(),
                "fit_time": np.round(details["fit_time"], 8).tolist(),
                "prediction_seconds": np.round(
                    details.get("prediction_seconds", np.zeros(len(test.index))), 6
                ).tolist(),
            },
            "sbs": sbs_index,
        }
    return report


def train_test(
    train_ws: Workspace,
    test_ws: Workspace,
    config: BeyonderConfig,
    settings: RunSettings | None = None,
) -> dict[str, Any]:
    """Train on every dataset of one corpus, test on every dataset of another."""
    settings = settings or RunSettings()
    train_sets = set(train_ws.original.index["dataset"])
    test_sets = set(test_ws.original.index["dataset"])
    fold = predict_fold(train_ws, train_sets, test_ws, test_sets, config, settings)
    test = test_ws.original
    predictions = {name: per_dataset_mean(test, p) for name, p in fold.predictions.items()}
    datasets = sorted(test_sets)
    return score(
        test,
        predictions,
        _sbs_table(fold.train_means, datasets, test.classifiers),
        *settings.scoring(),
    )


def summary(report: dict[str, Any]) -> dict[str, Any]:
    """The report's JSON layout: n_datasets, methods -> headline metrics, per_dataset;
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
        **(
            {"regularisation": _rounded_tree(report["regularisation"])}
            if report.get("regularisation")
            else {}
        ),
        **({"metrics": _metrics_summary(report["metrics"])} if report.get("metrics") else {}),
    }


def _metrics_summary(metrics: dict[str, Any]) -> dict[str, Any]:
    """``metric_reports`` for the JSON: per group and metric (and ``imbalanced_pick``) the
    methods' headline numbers with their paired intervals, and brute force."""

    def brief(part: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in _summary(part).items() if k in ("n_datasets", "methods")}
        out["brute_force"] = _rounded_tree(part.get("brute_force", {}))
        if part.get("imbalanced"):
            out["imbalanced"] = brief(part["imbalanced"])
        return out

    return {
        group: brief(parts)
        if group == "imbalanced_pick"
        else {metric: brief(part) for metric, part in parts.items()}
        for group, parts in metrics.items()
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
