"""Fine-tuning the network: adapt a trained Beyonder to new labels or a changed portfolio.

The encoder (everything up to the ``dataset_embedding`` layer) is frozen; only the heads
(``head_hidden`` and the deep and linear parts of ``accuracy`` and ``fit_time``) learn, plus,
with ``unfreeze=N``, the last ``N`` layers with weights below them. When the portfolio
changes, the ``accuracy`` and ``fit_time`` heads are rebuilt with one output per classifier of
the new portfolio: the weights of classifiers kept are copied, a new classifier starts from the
mean of the old ones (the "average classifier"), and classifiers dropped go away. Reading the
user's labels and tables, and registering the result, is ``beyonder.serving.finetune``'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import keras
import numpy as np

from beyonder.selector.encoding import EncodedSample
from beyonder.selector.estimator import EMBEDDING_LAYER, Beyonder
from beyonder.selector.inference import BeyonderPredictor, NumpyBeyonder
from beyonder.selector.model import CURVE, HEADS, SCORES, head

HEAD_LAYERS = ("head_hidden", *(f"{name}_{part}" for name in HEADS for part in ("deep", "linear")))


def adapt_heads(model: keras.Model, old: list[str], new: list[str]) -> keras.Model:
    """``model`` with ``accuracy``/``fit_time`` heads of one output per classifier of ``new``
    (``model`` itself when the portfolio is unchanged), and metric heads (``scores``) of one
    output per metric and classifier, their weights remapped the same way; the encoder and
    ``head_hidden`` layers are shared with ``model``, and so are its regularisation heads
    (``curve``: fine-tuning labels have no C curves, so they stay frozen and as they were)."""
    if list(old) == list(new):
        return model
    hidden = model.get_layer("accuracy_deep").input  # head_hidden -> dropout
    dataset = model.get_layer("accuracy_linear").input  # the globals
    heads = dict(HEADS)
    names = {layer.name for layer in model.layers}
    if SCORES in names:
        heads[SCORES] = "sigmoid"
    outputs = {}
    for name, activation in heads.items():
        blocks = model.get_layer(f"{name}_deep").units // len(old)  # metrics, for ``scores``
        deep, linear = (
            keras.layers.Dense(
                blocks * len(new),
                use_bias=model.get_layer(f"{name}_{part}").use_bias,
                name=f"{name}_{part}",
            )
            for part in ("deep", "linear")
        )
        outputs[name] = head(name, blocks * len(new), activation, hidden, dataset, deep, linear)
        for layer, part in ((deep, "deep"), (linear, "linear")):
            layer.set_weights(
                _remap_blocks(model.get_layer(f"{name}_{part}").get_weights(), old, new, blocks)
            )
    if CURVE in names:  # the C curves: kept as they are
        outputs[CURVE] = model.get_layer(CURVE).output
    return keras.Model(inputs=model.input, outputs=outputs, name=model.name)


def _remap_blocks(
    weights: list[np.ndarray], old: list[str], new: list[str], blocks: int
) -> list[np.ndarray]:
    """``_remap`` within each of ``blocks`` consecutive groups of classifier columns (the
    metric heads hold one group per metric)."""
    out = []
    for w in weights:
        grouped = w.reshape(*w.shape[:-1], blocks, len(old))
        out.append(_remap([grouped], old, new)[0].reshape(*w.shape[:-1], blocks * len(new)))
    return out


def _remap(weights: list[np.ndarray], old: list[str], new: list[str]) -> list[np.ndarray]:
    """Kernel (and bias) columns of the classifiers kept; a new classifier gets the mean of the
    old ones (the "average classifier")."""
    out = []
    for w in weights:  # the last axis is the classifier
        columns = [w[..., old.index(c)] if c in old else w.mean(axis=-1) for c in new]
        out.append(np.stack(columns, axis=-1).astype(w.dtype))
    return out


def freeze_encoder(model: keras.Model, unfreeze: int = 0) -> list[str]:
    """Freeze every layer but the heads and the last ``unfreeze`` layers with weights below
    them; returns the names of the trainable layers."""
    names = [layer.name for layer in model.layers]
    cut = names.index(EMBEDDING_LAYER)
    below = [
        layer for layer in model.layers[:cut] if layer.weights and layer.name not in HEAD_LAYERS
    ]
    extra = {layer.name for layer in below[len(below) - unfreeze :]} if unfreeze > 0 else set()
    trainable = []
    for layer in model.layers:
        layer.trainable = layer.name in HEAD_LAYERS or layer.name in extra
        if layer.trainable and layer.weights:
            trainable.append(layer.name)
    return trainable


def _copy(model: keras.Model) -> keras.Model:
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    return clone


def trainable(predictor: BeyonderPredictor) -> Beyonder:
    """The Keras ``Beyonder`` behind ``predictor``: itself, or, for a model loaded for NumPy
    prediction, the Keras model saved in the same folder (imports TensorFlow)."""
    if isinstance(predictor, NumpyBeyonder):
        if predictor.directory is None:
            raise ValueError("this NumpyBeyonder was not loaded from a folder")
        return Beyonder.load(predictor.directory)
    return predictor


def finetune_estimator(
    base: Beyonder,
    samples: Sequence[EncodedSample],
    accuracy: np.ndarray,
    fit_time: np.ndarray,
    classifiers: list[str],
    epochs: int,
    unfreeze: int = 0,
    learning_rate: float = 1e-3,
    callbacks: Sequence = (),
) -> tuple[Beyonder, list[str]]:
    """A new ``Beyonder`` whose heads (and ``unfreeze`` more layers) were trained on the
    encoded ``samples`` and their labels (rows: samples; columns: ``classifiers``) for
    ``epochs`` epochs; ``base`` is left as is. Returns it with the trainable layers' names."""
    config = replace(
        base.config,
        classifiers=list(classifiers),
        epochs=int(epochs),
        learning_rate=float(learning_rate),
    )
    model = adapt_heads(_copy(base.model_), list(base.config.classifiers), list(classifiers))
    layers = freeze_encoder(model, unfreeze)
    estimator = Beyonder(config).fit(
        list(samples), accuracy, fit_time, callbacks=list(callbacks), model=model
    )
    for layer in model.layers:  # saved as an ordinary, fully trainable network
        layer.trainable = True
    return estimator, layers
