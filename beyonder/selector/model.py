"""The Beyonder network: a Transformer over the cells of a dataset sample.

Read top to bottom:

1. every cell (row, feature) is embedded from its encoded channels (``encoding.py``);
2. each block attends across the features of a row, then across the rows of a feature through
   a few learned inducing points (ISAB, Set Transformer), so row attention costs O(rows);
3. rows are pooled by a masked mean, features by attention pooling with a learned seed (PMA);
4. dataset-level features join, and two heads predict, for each classifier of the portfolio,
   its cross-validated accuracy and its log10 fit time; each head also reads the dataset-level
   features (landmarkers included) through a linear path.

No positional encoding anywhere, and every pooling is symmetric, so the outputs cannot depend
on row order or column order; classes enter only through class-wise statistics.
"""

from __future__ import annotations

import keras
from keras import layers, ops

from beyonder.params import TrainParams
from beyonder.selector.encoding import N_CHANNELS, N_GLOBALS


@keras.saving.register_keras_serializable(package="beyonder")
class MaskedMean(layers.Layer):
    """Mean over ``axis`` counting only positions where ``mask`` is 1."""

    def __init__(self, axis: int, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def call(self, x, mask):
        while len(mask.shape) < len(x.shape):
            mask = ops.expand_dims(mask, -1)
        total = ops.sum(x * mask, axis=self.axis)
        count = ops.maximum(ops.sum(mask, axis=self.axis), 1.0)
        return total / count

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


@keras.saving.register_keras_serializable(package="beyonder")
class AttentionBlock(layers.Layer):
    """Pre-norm multi-head attention of queries over keys plus a feed-forward layer (MAB)."""

    def __init__(self, dim: int, heads: int, dropout: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.dim, self.heads, self.dropout = dim, heads, dropout
        self.norm_q = layers.LayerNormalization()
        self.norm_kv = layers.LayerNormalization()
        self.attention = layers.MultiHeadAttention(heads, dim // heads, dropout=dropout)
        self.norm_ff = layers.LayerNormalization()
        self.ff_in = layers.Dense(dim * 2, activation="gelu")
        self.ff_out = layers.Dense(dim)

    def build(self, query_shape, keys_shape=None):
        keys_shape = keys_shape or query_shape
        self.norm_q.build(query_shape)
        self.norm_kv.build(keys_shape)
        self.attention.build(query_shape, keys_shape)
        self.norm_ff.build(query_shape)
        self.ff_in.build(query_shape)
        self.ff_out.build((*query_shape[:-1], self.dim * 2))

    def call(self, queries, keys, key_mask=None, training=False):
        attention_mask = None
        if key_mask is not None:
            # (batch, 1, keys): broadcast over every query
            attention_mask = ops.cast(ops.expand_dims(key_mask, 1), "bool")
        q = self.norm_q(queries)
        kv = self.norm_kv(keys)
        x = queries + self.attention(q, kv, attention_mask=attention_mask, training=training)
        return x + self.ff_out(self.ff_in(self.norm_ff(x)))

    def get_config(self):
        return {
            **super().get_config(),
            "dim": self.dim,
            "heads": self.heads,
            "dropout": self.dropout,
        }


def attend_across_features(block, x, feature_mask, training=False):
    """``block`` (self-attention) across the features of each row: one sequence per (sample,
    row) of the ``(batch, rows, features, dim)`` cells, padded features masked out."""
    batch, rows, features, dim = ops.shape(x)[0], ops.shape(x)[1], ops.shape(x)[2], ops.shape(x)[3]
    flat = ops.reshape(x, (batch * rows, features, dim))
    fmask = ops.reshape(
        ops.broadcast_to(ops.expand_dims(feature_mask, 1), (batch, rows, features)),
        (batch * rows, features),
    )
    flat = block(flat, flat, fmask, training=training)
    return ops.reshape(flat, (batch, rows, features, dim))


def column_sequences(x, row_mask):
    """The cells as one sequence per (sample, feature), with the mask of their real rows, for
    attention across rows."""
    batch, rows, features, dim = ops.shape(x)[0], ops.shape(x)[1], ops.shape(x)[2], ops.shape(x)[3]
    cols = ops.reshape(ops.transpose(x, (0, 2, 1, 3)), (batch * features, rows, dim))
    rmask = ops.reshape(
        ops.broadcast_to(ops.expand_dims(row_mask, 1), (batch, features, rows)),
        (batch * features, rows),
    )
    return cols, rmask


def cells_from_columns(cols, batch, rows, features):
    """``column_sequences``' layout back to ``(batch, rows, features, dim)``."""
    return ops.transpose(
        ops.reshape(cols, (batch, features, rows, ops.shape(cols)[-1])), (0, 2, 1, 3)
    )


@keras.saving.register_keras_serializable(package="beyonder")
class AxialBlock(layers.Layer):
    """Attention across features (within each row), then across rows (within each feature).

    Row attention goes through ``inducing`` learned points (ISAB): the points read all rows,
    then every row reads the points, so the cost is linear in the number of rows.
    """

    def __init__(self, dim: int, heads: int, inducing: int, dropout: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.dim, self.heads, self.inducing, self.dropout = dim, heads, inducing, dropout
        self.feature_attention = AttentionBlock(dim, heads, dropout)
        self.induce = AttentionBlock(dim, heads, dropout)
        self.row_attention = AttentionBlock(dim, heads, dropout)

    def build(self, input_shape):
        seq = (None, None, self.dim)
        self.points = self.add_weight(
            shape=(1, self.inducing, self.dim), initializer="glorot_uniform", name="points"
        )
        self.feature_attention.build(seq, seq)
        self.induce.build((None, self.inducing, self.dim), seq)
        self.row_attention.build(seq, (None, self.inducing, self.dim))

    def call(self, x, row_mask, feature_mask, training=False):
        x = attend_across_features(self.feature_attention, x, feature_mask, training)
        cols, rmask = column_sequences(x, row_mask)
        batch, rows, features = ops.shape(x)[0], ops.shape(x)[1], ops.shape(x)[2]
        points = ops.broadcast_to(self.points, (batch * features, self.inducing, self.dim))
        summary = self.induce(points, cols, rmask, training=training)
        cols = self.row_attention(cols, summary, None, training=training)
        return cells_from_columns(cols, batch, rows, features)

    def get_config(self):
        return {
            **super().get_config(),
            "dim": self.dim,
            "heads": self.heads,
            "inducing": self.inducing,
            "dropout": self.dropout,
        }


@keras.saving.register_keras_serializable(package="beyonder")
class AttentionPool(layers.Layer):
    """Pooling by multi-head attention (PMA): a learned seed attends over a masked set."""

    def __init__(self, dim: int, heads: int, **kwargs):
        super().__init__(**kwargs)
        self.dim, self.heads = dim, heads
        self.block = AttentionBlock(dim, heads)

    def build(self, input_shape):
        self.seed = self.add_weight(
            shape=(1, 1, self.dim), initializer="glorot_uniform", name="seed"
        )
        self.block.build((None, 1, self.dim), (None, None, self.dim))

    def call(self, x, mask):
        seed = ops.broadcast_to(self.seed, (ops.shape(x)[0], 1, self.dim))
        return ops.squeeze(self.block(seed, x, mask), axis=1)

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "heads": self.heads}


HEADS = {"accuracy": "sigmoid", "fit_time": "linear"}
"""The outputs, each one value per portfolio classifier, and their activations."""

CURVE = "curve"
"""The optional output of the regularisation heads: the CV accuracy at each C of the grid for
each tuned classifier (``tuned x grid`` values, sigmoid), from the same dataset embedding."""


def head(name: str, units: int, activation: str, hidden, dataset, deep=None, linear=None):
    """One output: a deep part on the dataset embedding plus a linear part on the dataset-level
    numbers (no bias; it starts at zero, or at a ridge regression, see ``start_from_prior``),
    so the network can always fall back on a linear model of the landmarkers. ``deep`` and
    ``linear``: Dense layers to use instead of fresh ones (a portfolio change)."""
    deep = deep or layers.Dense(units, name=f"{name}_deep")
    linear = linear or layers.Dense(
        units, use_bias=False, kernel_initializer="zeros", name=f"{name}_linear"
    )
    total = layers.Add(name=f"{name}_sum")([deep(hidden), linear(dataset)])
    return layers.Activation(activation, name=name)(total)


SCORES = "scores"
"""The optional output of the metric heads: each further metric's score for each classifier
(``metrics x classifiers`` values, sigmoid; log loss through ``inference.to_head``)."""


def build_model(
    n_classifiers: int,
    dim: int = TrainParams.dim,
    heads: int = TrainParams.heads,
    blocks: int = TrainParams.blocks,
    inducing: int = TrainParams.inducing,
    dropout: float = 0.0,
    n_curve: int = 0,
    n_scores: int = 0,
) -> keras.Model:
    """Beyonder: dataset sample in, (accuracy, log10 fit time) per portfolio classifier out;
    with ``n_curve`` > 0 also ``curve``: the accuracy at each grid point of each tuned
    classifier's C (``n_curve`` = tuned x grid), a head like the others, so it inherits their
    invariances (it reads only the pooled embedding and the dataset-level numbers); with
    ``n_scores`` > 0 also ``scores``: the other metrics per classifier, heads of the same kind."""
    cells = keras.Input((None, None, N_CHANNELS), name="cells")
    row_mask = keras.Input((None,), name="row_mask")
    feature_mask = keras.Input((None,), name="feature_mask")
    dataset = keras.Input((N_GLOBALS,), name="globals")

    x = layers.Dense(dim, activation="gelu", name="cell_embed")(cells)
    x = layers.Dense(dim, name="cell_project")(x)
    for i in range(blocks):
        x = AxialBlock(dim, heads, inducing, dropout, name=f"axial_{i}")(x, row_mask, feature_mask)

    per_feature = MaskedMean(axis=1, name="pool_rows")(x, row_mask)  # (batch, features, dim)
    pooled = AttentionPool(dim, heads, name="pool_features")(per_feature, feature_mask)
    mean_feature = MaskedMean(axis=1, name="mean_features")(per_feature, feature_mask)
    context = layers.Dense(dim, activation="gelu", name="globals_embed")(dataset)
    h = layers.Concatenate(name="dataset_embedding")([pooled, mean_feature, context])
    h = layers.Dense(dim * 2, activation="gelu", name="head_hidden")(h)
    h = layers.Dropout(dropout)(h)
    outputs = {
        name: head(name, n_classifiers, activation, h, dataset)
        for name, activation in HEADS.items()
    }
    if n_curve:
        outputs[CURVE] = head(CURVE, n_curve, "sigmoid", h, dataset)
    if n_scores:
        outputs[SCORES] = head(SCORES, n_scores, "sigmoid", h, dataset)
    return keras.Model(
        inputs={
            "cells": cells,
            "row_mask": row_mask,
            "feature_mask": feature_mask,
            "globals": dataset,
        },
        outputs=outputs,
        name="beyonder",
    )
