"""Keras training over batch sources, one ``train_on_batch`` call per batch.

The networks here draw fresh random views every epoch from ``keras.utils.PyDataset``-like
sources (``__len__``, ``__getitem__`` giving ``(inputs, targets)``, ``on_epoch_end``). Handing
such a source to ``model.fit`` makes Keras read it through tf.data's generator op, and on CPU
that path costs far more than the training steps need: an epoch of the selector takes markedly
longer through ``fit`` than through the same steps called one batch at a time (``python
bench/fit_loop.py``; ``bench/RESULTS.md``, "Training loop"). The likely cause is memory: on
first use the op sets glibc's ``M_TRIM_THRESHOLD`` (TensorFlow logs "Memory patch applied"),
which also fixes glibc's mmap threshold at its default, so every activation tensor of a batch
is mapped and unmapped afresh for the rest of the process. This loop keeps what ``fit`` gave the callers: Keras callbacks
(early stopping with restored weights, the epoch loggers), each epoch's losses as the
sample-weighted mean over its batches, ``val_`` losses, and the history.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

# Keras is imported where a network trains: the imputer's module imports this one in the
# light install too.
if TYPE_CHECKING:
    import keras


def seed_keras(seed: int) -> None:
    """Start a fit from a clean, seeded Keras: the same seed builds and trains the same
    network whatever the process did before and whatever its other threads do.

    ``keras.backend.clear_session`` first: layer-name counters and TensorFlow's default graph
    would otherwise make a fit depend on what the process built before it (the same seed gave
    different weights in a second fit, and cross-validation folds depended on earlier folds);
    it also resets Keras' global settings, which Beyonder leaves at their defaults. Then
    ``keras.utils.set_random_seed``. Last, Keras' default seeds: every initializer and dropout
    layer built without a seed draws one from Python's global ``random``
    (``keras.src.random.seed_generator.make_default_seed``), and other threads of the process
    draw from it too (in a Prefect flow, its event-loop, log and event threads), so a seeded
    build could still come out different. Those draws now come from a ``random.Random(seed)``
    of Keras' own, replaced at each call."""
    import keras
    from keras.src.random import seed_generator

    keras.backend.clear_session(free_memory=False)
    keras.utils.set_random_seed(seed)
    if not hasattr(seed_generator, "python_random"):  # a Keras that moved it: fail, not drift
        raise RuntimeError(
            "keras.src.random.seed_generator.python_random is gone: update seed_keras"
        )
    seed_generator.python_random = random.Random(seed)


class BatchSource(Protocol):
    """What ``fit_batches`` reads: batches by index, and a new draw after each epoch."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> tuple[Any, Any]: ...

    def on_epoch_end(self) -> None: ...


EAGER_STEPS = 16
"""Fits of at most this many steps (training and validation batches, times the epochs) run
eagerly. Tracing the selector's training and validation steps into graphs costs about 30 CPU
seconds, while an eager step costs about a second more than a traced one, so a fit this short
(a fine-tuning on a user's few tables, a refit on a small workspace) is done before tracing
would be; the corpus-sized fits, thousands of steps, run traced."""


def fit_batches(
    model: keras.Model,
    train: BatchSource,
    epochs: int,
    validation: BatchSource | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    verbose: int = 0,
) -> dict[str, list[float]]:
    """Train ``model`` (compiled) for up to ``epochs`` epochs; returns the history (one value
    per epoch and loss, validation losses prefixed ``val_``). A callback that sets
    ``model.stop_training`` (``EarlyStopping``) ends the loop after that epoch. The validation
    batches are drawn once: a validation source gives the same draw every time. A fit of at
    most ``EAGER_STEPS`` steps runs eagerly."""
    import keras

    from beyonder.progress import EpochProgress

    steps = epochs * (len(train) + (len(validation) if validation else 0))
    if model.train_function is None and steps <= EAGER_STEPS:
        model.run_eagerly = True

    printed = [EpochProgress(print, epochs)] if verbose else []
    callback_list = keras.callbacks.CallbackList(
        [*callbacks, *printed], model=model, epochs=epochs, steps=len(train), verbose=verbose
    )
    val_batches = [validation[i] for i in range(len(validation))] if validation else []
    history: dict[str, list[float]] = {}
    model.stop_training = False
    callback_list.on_train_begin()
    for epoch in range(epochs):
        callback_list.on_epoch_begin(epoch)
        logs = _mean_logs(model.train_on_batch, (train[i] for i in range(len(train))))
        if val_batches:
            val_logs = _mean_logs(model.test_on_batch, val_batches)
            logs.update({f"val_{name}": value for name, value in val_logs.items()})
        callback_list.on_epoch_end(epoch, logs)
        for name, value in logs.items():
            history.setdefault(name, []).append(value)
        train.on_epoch_end()
        if model.stop_training:
            break
    callback_list.on_train_end()
    return history


def full_batches(rng: np.random.Generator, n: int, batch_size: int) -> np.ndarray:
    """A random order of ``n`` items for one training epoch, topped up with a few items drawn
    again so that every batch is full. Keras builds a training step for each batch shape it
    meets; a short last batch cost a second build in every fit."""
    order = rng.permutation(n)
    short = -n % batch_size
    if n <= batch_size or not short:
        return order
    return np.concatenate([order, rng.choice(n, short, replace=False)])


def epoch_batches(
    rng: np.random.Generator, n: int, batch_size: int, training: bool
) -> list[np.ndarray]:
    """The batches of one epoch as index arrays: for training a random order in full batches
    (``full_batches``), otherwise every item once, in order."""
    order = full_batches(rng, n, batch_size) if training else np.arange(n)
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def _mean_logs(step, batches) -> dict[str, float]:
    """Each loss of ``step`` (``train_on_batch`` or ``test_on_batch``) averaged over the
    batches, weighted by their sizes, as ``fit`` reports an epoch."""
    totals: dict[str, float] = {}
    count = 0
    for x, y in batches:
        n = _batch_size(y)
        for name, value in step(x, y, return_dict=True).items():
            totals[name] = totals.get(name, 0.0) + n * float(value)
        count += n
    return {name: total / max(count, 1) for name, total in totals.items()}


def _batch_size(targets: Any) -> int:
    first = next(iter(targets.values())) if isinstance(targets, dict) else targets
    return int(np.shape(first)[0])
