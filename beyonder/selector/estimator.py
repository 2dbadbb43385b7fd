"""``Beyonder``: a scikit-learn-style estimator around the Keras network.

``fit`` takes encoded samples with their labels (accuracy and fit time per classifier, NaN
where a label is missing); ``predict`` averages several random views of each sample
(test-time ensembling). Random row/column subsets are drawn afresh every epoch: they are the
label-preserving augmentation (row order, column order and class ids never reach the network).
Every batch is padded to one fixed shape (``rows`` x ``max_features``) because TensorFlow
spends about 20 s tracing the graph for each new input shape on this machine.

Prediction outside training does not come here: ``save`` also writes the weights for
``inference.NumpyBeyonder`` (``network.npz``), which predicts the same numbers without
TensorFlow; the views and their averaging are shared (``inference.BeyonderPredictor``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np
from keras import ops

from beyonder.labels.summary import single_best
from beyonder.params import TrainParams
from beyonder.selector.baselines import PRIOR_RIDGE, logit, ridge
from beyonder.selector.encoding import N_CHANNELS, N_GLOBALS, N_LANDMARKS, EncodedSample, view
from beyonder.selector.fitting import epoch_batches, fit_batches, seed_keras
from beyonder.selector.inference import (
    CONFIG_FILE,
    CURVE,
    EMBEDDING,
    PREDICT_BATCH,
    SCORES,
    BeyonderConfig,
    BeyonderPredictor,
    network_inputs,
    read_config,
    to_head,
    write_config,
)
from beyonder.selector.model import build_model
from beyonder.selector.network import (
    NETWORK_FILE,
    TOLERANCE,
    NumpyNetwork,
    export_weights,
    max_difference,
    save_weights,
)

__all__ = [
    "CONFIG_FILE",
    "MODEL_FILE",
    "NETWORK_FILE",
    "PREDICT_BATCH",
    "Beyonder",
    "BeyonderConfig",
]

MODEL_FILE = "model.keras"
EMBEDDING_LAYER = EMBEDDING
"""The layer whose output is the dataset embedding (what ``Beyonder.embed`` returns)."""


REGRET_TEMPERATURE = 0.01
"""Softness of the pick in the regret term: a classifier predicted 1 point (0.01) below the top
is chosen e^-1 times as often as the top one."""


def masked_accuracy_loss(
    rank_weight: float,
    regret_weight: float = TrainParams.regret_weight,
    reference: int | None = None,
):
    """MSE on accuracies, MSE on accuracies relative to a reference, a pairwise logistic
    ranking loss weighted by how far apart the two true accuracies are and, with
    ``regret_weight``, the expected regret of a soft pick (softmax of the predictions at
    ``REGRET_TEMPERATURE``): the selection metric itself, made differentiable.

    ``reference``: the classifier whose accuracy the relative term subtracts (the training
    SBS: targets relative to the SBS, the question a user asks: "better than always X?");
    None: the sample's mean over classifiers. Missing labels (NaN) drop out of every term (a
    sample missing the reference classifier's label falls back on its mean)."""

    def loss(y_true, y_pred):
        mask = ops.cast(ops.logical_not(ops.isnan(y_true)), y_pred.dtype)
        t = ops.where(mask > 0, y_true, 0.0)
        n = ops.maximum(ops.sum(mask, axis=-1, keepdims=True), 1.0)
        mse = ops.sum(mask * (y_pred - t) ** 2, axis=-1) / ops.squeeze(n, -1)
        ref_t = ops.sum(mask * t, axis=-1, keepdims=True) / n
        ref_p = ops.sum(mask * y_pred, axis=-1, keepdims=True) / n
        if reference is not None:
            has_ref = mask[:, reference : reference + 1]
            ref_t = has_ref * t[:, reference : reference + 1] + (1.0 - has_ref) * ref_t
            ref_p = has_ref * y_pred[:, reference : reference + 1] + (1.0 - has_ref) * ref_p
        rel = ops.sum(mask * ((y_pred - ref_p) - (t - ref_t)) ** 2, axis=-1) / ops.squeeze(n, -1)
        dt = ops.expand_dims(t, -1) - ops.expand_dims(t, -2)
        dp = ops.expand_dims(y_pred, -1) - ops.expand_dims(y_pred, -2)
        pair = ops.expand_dims(mask, -1) * ops.expand_dims(mask, -2) * ops.cast(dt > 1e-3, dt.dtype)
        weight = pair * dt
        ranking = ops.sum(weight * ops.softplus(-20.0 * dp), axis=(-1, -2)) / ops.maximum(
            ops.sum(weight, axis=(-1, -2)), 1e-6
        )
        total = 100.0 * (mse + rel) + rank_weight * ranking
        if regret_weight:
            logits = ops.where(mask > 0, y_pred / REGRET_TEMPERATURE, -1e9)
            pick = ops.softmax(logits, axis=-1) * mask
            best = ops.max(ops.where(mask > 0, t, -1.0), axis=-1, keepdims=True)
            total = total + regret_weight * 10.0 * ops.sum(pick * (best - t), axis=-1)
        return total

    return loss


def masked_curve_loss(n_tuned: int, n_grid: int):
    """The regularisation heads' loss: per tuned classifier, MSE of its accuracy curve over
    the C grid plus MSE of the curve relative to its own mean (its shape, which decides the
    best C), averaged over the curves a sample has; missing labels (NaN) drop out, so a sample
    without C labels (older workspaces, augmented samples) adds nothing."""

    def loss(y_true, y_pred):
        t = ops.reshape(y_true, (-1, n_tuned, n_grid))
        p = ops.reshape(y_pred, (-1, n_tuned, n_grid))
        mask = ops.cast(ops.logical_not(ops.isnan(t)), p.dtype)
        t = ops.where(mask > 0, t, 0.0)
        count = ops.sum(mask, axis=-1)
        n = ops.maximum(count, 1.0)
        mse = ops.sum(mask * (p - t) ** 2, axis=-1) / n
        ref_t = ops.expand_dims(ops.sum(mask * t, axis=-1) / n, -1)
        ref_p = ops.expand_dims(ops.sum(mask * p, axis=-1) / n, -1)
        rel = ops.sum(mask * ((p - ref_p) - (t - ref_t)) ** 2, axis=-1) / n
        present = ops.cast(count > 0, p.dtype)
        return (
            100.0
            * ops.sum(present * (mse + rel), axis=-1)
            / ops.maximum(ops.sum(present, axis=-1), 1.0)
        )

    return loss


def masked_scores_loss(n_metrics: int, n_classifiers: int, rank_weight: float):
    """The metric heads' loss: per metric, the accuracy loss's MSE, relative and ranking terms
    (``masked_accuracy_loss``) over the classifiers, averaged over the metrics a sample has;
    missing labels (NaN: e.g. no log loss for SVMs) drop out."""
    per_metric = masked_accuracy_loss(rank_weight)

    def loss(y_true, y_pred):
        t = ops.reshape(y_true, (-1, n_classifiers))
        p = ops.reshape(y_pred, (-1, n_classifiers))
        values = ops.reshape(per_metric(t, p), (-1, n_metrics))
        present = ops.cast(
            ops.any(
                ops.logical_not(ops.isnan(ops.reshape(y_true, (-1, n_metrics, n_classifiers)))),
                axis=-1,
            ),
            p.dtype,
        )
        return ops.sum(present * values, axis=-1) / ops.maximum(ops.sum(present, axis=-1), 1.0)

    return loss


def masked_mse(y_true, y_pred):
    """MSE over the labels that are present (NaN = missing)."""
    mask = ops.cast(ops.logical_not(ops.isnan(y_true)), y_pred.dtype)
    t = ops.where(mask > 0, y_true, 0.0)
    return ops.sum(mask * (y_pred - t) ** 2, axis=-1) / ops.maximum(ops.sum(mask, axis=-1), 1.0)


class _Batches:
    """Batches of random views (``fitting.BatchSource``); a fresh draw every epoch,
    reproducible from the seed."""

    def __init__(
        self,
        samples,
        accuracy,
        fit_time,
        config: BeyonderConfig,
        shuffle: bool,
        curves=None,
        scores=None,
    ):
        self.samples, self.accuracy, self.fit_time = samples, accuracy, fit_time
        self.curves = curves  # (samples, tuned x grid) when the network has the curve head
        self.scores = scores  # (samples, metrics x classifiers) when it has the metric heads
        self.config, self.shuffle = config, shuffle
        self.epoch = 0
        self._plan()

    def _plan(self) -> None:
        rng = np.random.default_rng([self.config.seed, self.epoch, int(self.shuffle)])
        self.batches = epoch_batches(rng, len(self.samples), self.config.batch_size, self.shuffle)

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, index: int):
        idx = self.batches[index]
        rng = np.random.default_rng([self.config.seed, self.epoch, index, int(self.shuffle)])
        views = [
            view(self.samples[i], self.config.rows, self.config.max_features, rng) for i in idx
        ]
        inputs = _inputs(views, self.config)
        targets = {"accuracy": self.accuracy[idx], "fit_time": self.fit_time[idx]}
        if self.curves is not None:
            targets[CURVE] = self.curves[idx]
        if self.scores is not None:
            targets[SCORES] = self.scores[idx]
        return inputs, targets

    def on_epoch_end(self) -> None:
        if self.shuffle:
            self.epoch += 1
            self._plan()


class Beyonder(BeyonderPredictor):
    """Predicts, from a dataset sample, each portfolio classifier's accuracy and fit time
    (Keras: trains, fine-tunes, predicts; ``inference.NumpyBeyonder`` predicts without it)."""

    def __init__(self, config: BeyonderConfig | None = None):
        self.config = config or BeyonderConfig()
        self.model_: keras.Model | None = None
        self.history_: dict[str, list[float]] = {}
        self._embedder: tuple[keras.Model, keras.Model] | None = None
        self.sbs_: str | None = None

    def _compile(self, model: keras.Model) -> None:
        c = self.config
        loss = {"accuracy": self._accuracy_loss(), "fit_time": masked_mse}
        weights = {"accuracy": 1.0, "fit_time": c.time_weight}
        if c.n_curve:
            loss[CURVE] = masked_curve_loss(len(c.tuned), len(c.grid))
            weights[CURVE] = c.curve_weight
        if c.n_scores:
            loss[SCORES] = masked_scores_loss(len(c.metrics), len(c.classifiers), c.rank_weight)
            weights[SCORES] = c.metrics_weight
        model.compile(
            optimizer=keras.optimizers.AdamW(c.learning_rate, weight_decay=1e-4),
            loss=loss,
            loss_weights=weights,
            jit_compile=False,  # XLA compiles for about a minute on CPU and gains little here
        )

    def _accuracy_loss(self):
        c = self.config
        if c.relative_to not in ("mean", "sbs"):
            raise ValueError(f"relative_to must be 'mean' or 'sbs', got {c.relative_to!r}")
        reference = None
        if c.relative_to == "sbs":
            if self.sbs_ is None:
                raise ValueError("relative_to='sbs' needs the training labels (call fit)")
            reference = c.classifiers.index(self.sbs_)
        return masked_accuracy_loss(c.rank_weight, c.regret_weight, reference)

    def fit(
        self,
        samples: Sequence[EncodedSample],
        accuracy: np.ndarray,
        fit_time: np.ndarray,
        validation: tuple[Sequence[EncodedSample], np.ndarray, np.ndarray] | tuple | None = None,
        callbacks: Sequence[keras.callbacks.Callback] = (),
        verbose: int = 0,
        model: keras.Model | None = None,
        curves: np.ndarray | None = None,
        scores: np.ndarray | None = None,
    ) -> Beyonder:
        """Train on encoded samples; ``fit_time`` in seconds (log10 is taken here).

        ``model``: train this network (e.g. a loaded one with its encoder frozen, see
        ``beyonder.selector.finetune``) instead of a freshly built one. ``curves``: the C-grid labels,
        (samples, tuned, grid) or flattened, for a config with ``tuned`` (None: all missing,
        so only the other heads learn); ``validation`` may carry them as a fourth item.
        ``scores``: the other metrics' labels, (samples, metrics, classifiers) on each metric's
        own scale, for a config with ``metrics`` (None: all missing); ``validation``'s fifth item.
        """
        c = self.config
        curves = _curve_targets(curves, len(samples), c)
        scores = _score_targets(scores, len(samples), c)
        seed_keras(c.seed)  # models already built keep working
        if model is None:
            model = new_network(c)
            if c.prior_init:
                start_from_prior(
                    model, accuracy, fit_time, dataset_features(samples, c), curves, scores
                )
        # the reference of SBS-relative targets, from the training labels alone
        self.sbs_ = c.classifiers[single_best(accuracy)] if c.relative_to == "sbs" else None
        self._compile(model)
        train = _Batches(
            list(samples),
            _f32(accuracy),
            _log_time(fit_time),
            c,
            shuffle=True,
            curves=curves,
            scores=scores,
        )
        val = None
        all_callbacks = list(callbacks)
        if validation is not None and len(validation[0]):
            vs, va, vt = validation[:3]
            vc = _curve_targets(validation[3] if len(validation) > 3 else None, len(vs), c)
            vm = _score_targets(validation[4] if len(validation) > 4 else None, len(vs), c)
            val = _Batches(
                list(vs), _f32(va), _log_time(vt), c, shuffle=False, curves=vc, scores=vm
            )
            all_callbacks.append(
                keras.callbacks.EarlyStopping(
                    patience=c.patience, restore_best_weights=True, monitor="val_loss"
                )
            )
        history = fit_batches(
            model, train, c.epochs, validation=val, callbacks=all_callbacks, verbose=verbose
        )
        self.model_ = model
        self.history_ = history
        return self

    def _network(self, inputs: dict[str, np.ndarray], embedding: bool) -> dict[str, Any]:
        """The Keras model on one batch, padded to a power of two views: each new input shape
        costs a graph trace (about a second), and every padded view costs as much as a real
        one (a recommend reads 4 views)."""
        model = self._fitted()
        n = len(inputs["cells"])
        size = 1 << max(0, n - 1).bit_length()
        padded = {
            k: np.concatenate([v, np.repeat(v[-1:], size - n, axis=0)]) for k, v in inputs.items()
        }
        if embedding:
            return {
                EMBEDDING: np.asarray(self._embedding_model(model).predict_on_batch(padded))[:n]
            }
        out = model.predict_on_batch(padded)
        return {k: np.asarray(out[k])[:n] for k in self.config.outputs()}

    def _embedding_model(self, model: keras.Model) -> keras.Model:
        if self._embedder is None or self._embedder[0] is not model:
            layer = model.get_layer(EMBEDDING_LAYER)
            self._embedder = (
                model,
                keras.Model(model.input, layer.output, name="beyonder_embedding"),
            )
        return self._embedder[1]

    def _check_fitted(self) -> None:
        self._fitted()

    def _fitted(self) -> keras.Model:
        if self.model_ is None:
            raise RuntimeError("Beyonder is not fitted: call fit() or Beyonder.load()")
        return self.model_

    def save(self, directory: str | Path) -> Path:
        """Write ``model.keras`` (for training on), ``network.npz`` (the weights for
        ``NumpyBeyonder``, checked against the Keras model first, see ``check_export``) and
        ``beyonder.json`` (the config) into ``directory``."""
        if self.model_ is None:
            raise RuntimeError("nothing to save: the model is not fitted")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        weights = export_weights(self.model_)
        check_export(self.model_, NumpyNetwork(weights), self.config)
        tmp = directory / f".{MODEL_FILE}.tmp.keras"
        self.model_.save(tmp)
        tmp.replace(directory / MODEL_FILE)
        save_weights(weights, directory / NETWORK_FILE)
        write_config(self.config, directory)
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> Beyonder:
        """Load a saved Beyonder (Keras safe mode: no code is deserialised)."""
        directory = Path(directory)
        est = cls(read_config(directory))
        est.model_ = keras.saving.load_model(directory / MODEL_FILE, compile=False, safe_mode=True)
        return est


class ExportError(RuntimeError):
    """The NumPy export of a network does not compute what the Keras network computes."""


def check_export(
    model: keras.Model, network: NumpyNetwork, config: BeyonderConfig, seed: int = 0
) -> dict[str, float]:
    """Run the Keras model and its NumPy export on a few random views (padded rows and
    features, missing cells, one view with a single row) and raise ``ExportError`` if any
    output differs by more than ``network.TOLERANCE``; returns the differences.

    A Keras upgrade that changed what a layer computes would otherwise give served
    predictions that silently differ from the trained model's."""
    rng = np.random.default_rng(seed)
    views = []
    for rows, features in (
        (config.rows, config.max_features),
        (max(1, config.rows // 3), 2),
        (1, 1),
    ):
        cells = rng.normal(size=(rows, features, N_CHANNELS)).astype(np.float32)
        cells[..., 2] = rng.random((rows, features)) < 0.2  # the missing flag
        views.append(EncodedSample(cells, rng.normal(size=N_GLOBALS).astype(np.float32)))
    inputs = network_inputs(views, config)
    keras_out = model(inputs, training=False)
    expected = {k: np.asarray(keras_out[k]) for k in config.outputs()}
    embedding = model.get_layer(EMBEDDING_LAYER).output
    expected[EMBEDDING] = np.asarray(keras.Model(model.input, embedding)(inputs, training=False))
    differences = max_difference(expected, network(inputs))
    worst = max(differences.values())
    if not worst <= TOLERANCE:
        raise ExportError(
            f"the NumPy export differs from the Keras model by {worst:.3g} (> {TOLERANCE}): {differences}"
        )
    return differences


def new_network(config: BeyonderConfig) -> keras.Model:
    """A freshly initialised network of the size ``config`` asks for."""
    c = config
    return build_model(
        len(c.classifiers), c.dim, c.heads, c.blocks, c.inducing, c.dropout, c.n_curve, c.n_scores
    )


PRIOR_KERNEL_SCALE = 0.1
"""How much of the heads' random initial weights is kept when they start from the prior."""


def start_from_prior(
    model: keras.Model,
    accuracy: np.ndarray,
    fit_time: np.ndarray,
    globals_: np.ndarray | None = None,
    curves: np.ndarray | None = None,
    scores: np.ndarray | None = None,
) -> None:
    """Start each head at a ridge regression of its labels (logit accuracy, log10 fit time) on
    the dataset-level features ``globals_`` (landmarkers included), with small weights on the
    deep part: a fresh network then predicts what a linear model of the landmarkers knows, and
    training spends its few datasets learning where a dataset departs from it (the bias trick
    of keras-io's imbalanced-classification example, with a linear model in place of a mean).
    Without ``globals_`` each head starts at the training means (the single best solver's view).
    ``curves`` (samples, tuned x grid): the same for the regularisation heads, when there are;
    ``scores`` (samples, metrics x classifiers, on the heads' scale): for the metric heads.
    """
    targets = {"accuracy": logit(accuracy), "fit_time": _log_time(fit_time).astype(np.float64)}
    if curves is not None and any(layer.name == f"{CURVE}_deep" for layer in model.layers):
        targets[CURVE] = logit(curves)
    if scores is not None and any(layer.name == f"{SCORES}_deep" for layer in model.layers):
        targets[SCORES] = logit(scores)
    for name, y in targets.items():
        if globals_ is None:
            kernel, bias = np.zeros((N_GLOBALS, y.shape[1])), _column_means(y)
        else:
            kernel, bias = ridge(np.asarray(globals_, dtype=np.float64), y, PRIOR_RIDGE)
        deep = model.get_layer(f"{name}_deep")
        deep_kernel, _ = deep.get_weights()
        deep.set_weights([deep_kernel * PRIOR_KERNEL_SCALE, bias.astype(deep_kernel.dtype)])
        model.get_layer(f"{name}_linear").set_weights([kernel.astype(deep_kernel.dtype)])


def _curve_targets(curves: np.ndarray | None, n: int, config: BeyonderConfig) -> np.ndarray | None:
    """The curve head's targets as (samples, tuned x grid) float32 (all NaN when not given),
    or None for a config without the head."""
    if not config.n_curve:
        return None
    if curves is None:
        return np.full((n, config.n_curve), np.nan, dtype=np.float32)
    flat = np.asarray(curves, dtype=np.float32).reshape(n, -1)
    if flat.shape[1] != config.n_curve:
        raise ValueError(
            f"curves have {flat.shape[1]} values per sample, the config's head {config.n_curve}"
        )
    return flat


def _score_targets(scores: np.ndarray | None, n: int, config: BeyonderConfig) -> np.ndarray | None:
    """The metric heads' targets as (samples, metrics x classifiers) float32 on the heads'
    scale (all NaN when not given), or None for a config without them."""
    if not config.n_scores:
        return None
    if scores is None:
        return np.full((n, config.n_scores), np.nan, dtype=np.float32)
    values = np.asarray(scores, dtype=np.float64).reshape(n, len(config.metrics), -1)
    if values.shape[2] != len(config.classifiers):
        raise ValueError(
            f"scores have {values.shape[2]} classifiers, the config {len(config.classifiers)}"
        )
    heads = np.stack([to_head(m, values[:, i]) for i, m in enumerate(config.metrics)], axis=1)
    return heads.reshape(n, -1).astype(np.float32)


def _column_means(y: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():  # a classifier without any label: neutral start
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nan_to_num(np.nanmean(y, axis=0), nan=0.0)


def dataset_features(samples: Sequence[EncodedSample], config: BeyonderConfig) -> np.ndarray:
    """The dataset-level features as the network reads them (see ``_inputs``)."""
    values = np.stack([s.globals for s in samples]).astype(np.float64)
    if not config.landmarks:
        values[:, N_GLOBALS - N_LANDMARKS :] = 0.0
    return values


_inputs = network_inputs  # the name the training batches and older callers use


def _f32(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=np.float32)


def _log_time(seconds: np.ndarray) -> np.ndarray:
    seconds = np.asarray(seconds, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(
            np.isfinite(seconds) & (seconds > 0), np.log10(np.maximum(seconds, 1e-5)), math.nan
        ).astype(np.float32)
