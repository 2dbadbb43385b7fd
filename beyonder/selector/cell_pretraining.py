"""Masked-cell pre-training of the selector's encoder: transfer from tables without labels.

Random cells of each view are hidden the way a missing cell reads (its value channels zeroed,
its missing flag set), and the selector's own encoder (the cell embedding and the axial blocks
of ``model.build_model``, same layer names) learns to give them back from their row and their
column: the z-score, rank and level share they had. No selection label is used, so the encoder
can learn from every table; a selector then starts from these layers (``load_encoder``) and
fine-tunes all layers or, with the encoder frozen (``freeze``), the rest: pooling and heads.
``beyonder evaluate --corpus . --variant cells pretrain=cells`` scores it on the same folds as
the selector trained from scratch (``crossval.predict_fold``). The imputer
(``beyonder/imputer/imputation.py``) is a separate, larger network with its own heads; this module
asks only whether the objective transfers to selection.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
from keras import layers, ops

from beyonder.selector.encoding import N_CHANNELS, EncodedSample, view
from beyonder.selector.fitting import fit_batches, seed_keras
from beyonder.selector.inference import BeyonderConfig, network_inputs
from beyonder.selector.model import AxialBlock

HIDDEN_CHANNELS = (0, 1, 4)
"""What a hidden cell loses and the objective asks back: z-score, rank, level share."""
MISSING, CATEGORICAL, CLASS_MEAN = 2, 3, 5
"""Channels: the missing flag a hidden cell gets, the flag of categorical columns, and the
class-wise channel that, in a categorical column, names the cell's level (hidden too)."""
PRETRAIN_EPOCHS = 10
"""Epochs of masked-cell pre-training when a variant does not say (``pretrain_epochs``)."""
ENCODER_SETTINGS = (
    "seed", "rows", "max_features", "dim", "heads", "blocks", "inducing", "dropout", "learning_rate", "batch_size",
)  # fmt: skip
"""The config fields pre-training depends on."""
MASK_SHARE = 0.15
"""Share of a view's present cells hidden (BERT's rate)."""


def encoder_layers(config: BeyonderConfig) -> list[str]:
    """The selector's layers that the objective trains: everything before the poolings."""
    return ["cell_embed", "cell_project", *(f"axial_{i}" for i in range(config.blocks))]


def build_cell_model(config: BeyonderConfig) -> keras.Model:
    """The selector's encoder with a per-cell head that reads back the hidden channels."""
    c = config
    cells = keras.Input((None, None, N_CHANNELS), name="cells")
    row_mask = keras.Input((None,), name="row_mask")
    feature_mask = keras.Input((None,), name="feature_mask")
    x = layers.Dense(c.dim, activation="gelu", name="cell_embed")(cells)
    x = layers.Dense(c.dim, name="cell_project")(x)
    for i in range(c.blocks):
        x = AxialBlock(c.dim, c.heads, c.inducing, c.dropout, name=f"axial_{i}")(
            x, row_mask, feature_mask
        )
    out = layers.Dense(len(HIDDEN_CHANNELS), name="cell_reconstruct")(x)
    return keras.Model(
        {"cells": cells, "row_mask": row_mask, "feature_mask": feature_mask}, out, name="cells"
    )


def hide_cells(
    inputs: dict[str, np.ndarray], share: float, rng: np.random.Generator
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Hide a ``share`` of the present cells of a batch. Returns the inputs as the encoder then
    reads them and the targets: the hidden cells' ``HIDDEN_CHANNELS``, NaN everywhere else (padding,
    cells missing already, cells left visible) so the loss counts hidden cells only."""
    cells = inputs["cells"]
    present = (inputs["row_mask"][:, :, None] * inputs["feature_mask"][:, None, :] > 0) & (
        cells[..., MISSING] == 0
    )
    hidden = present & (rng.random(present.shape) < share)
    targets = np.where(hidden[..., None], cells[..., HIDDEN_CHANNELS], np.nan).astype(np.float32)
    masked = cells.copy()
    for channel in HIDDEN_CHANNELS:
        masked[..., channel][hidden] = 0.0
    masked[..., MISSING][hidden] = 1.0
    masked[..., CLASS_MEAN][hidden & (cells[..., CATEGORICAL] > 0)] = 0.0
    return {**{k: v for k, v in inputs.items() if k != "globals"}, "cells": masked}, targets


def masked_cell_mse(y_true, y_pred):
    """Mean squared error over the hidden cells of each view (NaN targets elsewhere)."""
    mask = ops.cast(ops.logical_not(ops.isnan(y_true)), y_pred.dtype)
    err = mask * (y_pred - ops.where(mask > 0, y_true, 0.0)) ** 2
    return ops.sum(err, axis=(1, 2, 3)) / ops.maximum(ops.sum(mask, axis=(1, 2, 3)), 1.0)


class _CellBatches:
    """Random views with random hidden cells (``fitting.BatchSource``); a fresh draw every
    epoch, from the seed."""

    def __init__(
        self, samples: Sequence[EncodedSample], config: BeyonderConfig, share: float, seed: int
    ):
        self.samples, self.config, self.share, self.seed = list(samples), config, share, seed
        self.epoch = 0
        self._plan()

    def _plan(self) -> None:
        self.order = np.random.default_rng([self.seed, self.epoch]).permutation(len(self.samples))

    def __len__(self) -> int:
        return -(-len(self.samples) // self.config.batch_size)

    def __getitem__(self, index: int):
        rng = np.random.default_rng([self.seed, self.epoch, index])
        chosen = self.order[index * self.config.batch_size : (index + 1) * self.config.batch_size]
        views = [
            view(self.samples[i], self.config.rows, self.config.max_features, rng) for i in chosen
        ]
        return hide_cells(network_inputs(views, self.config), self.share, rng)

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self._plan()


def pretrain_encoder(
    samples: Sequence[EncodedSample],
    config: BeyonderConfig,
    epochs: int = PRETRAIN_EPOCHS,
    share: float = MASK_SHARE,
) -> tuple[dict[str, list[np.ndarray]], dict[str, float]]:
    """Train the encoder on the masked-cell objective over views of ``samples`` (seeded by
    ``config.seed``). Returns the weights of ``encoder_layers`` by name, and the last epoch's
    loss next to what predicting zero for every hidden cell scores (the objective's floor: a
    loss below it means the encoder learned something about the hidden cells)."""
    if epochs < 1:
        raise ValueError(f"pretrain epochs must be at least 1, got {epochs}")
    seed_keras(config.seed)
    model = build_cell_model(config)
    model.compile(
        optimizer=keras.optimizers.AdamW(config.learning_rate, weight_decay=1e-4), loss=masked_cell_mse,
        jit_compile=False,
    )  # fmt: skip
    batches = _CellBatches(samples, config, share, config.seed)
    history = fit_batches(model, batches, epochs)
    check = _CellBatches(samples, config, share, config.seed + 1)
    with np.errstate(invalid="ignore"):  # a view with no hidden cell has no error to average
        per_view = [np.nanmean(np.square(check[i][1]), axis=(1, 2, 3)) for i in range(len(check))]
    zero = np.nanmean(np.concatenate(per_view))
    weights = {name: model.get_layer(name).get_weights() for name in encoder_layers(config)}
    return weights, {
        "loss": float(history["loss"][-1]),
        "zero_prediction_loss": float(zero),
    }


def load_encoder(model: keras.Model, weights: dict[str, list[np.ndarray]]) -> None:
    """Put pre-trained encoder layers into a selector network of the same size."""
    for name, values in weights.items():
        model.get_layer(name).set_weights(values)


def freeze(model: keras.Model, names: Sequence[str]) -> None:
    """Freeze exactly these layers (the pre-trained encoder): pooling and heads still train."""
    for name in names:
        model.get_layer(name).trainable = False
