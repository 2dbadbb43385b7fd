"""The training loop every network of the package uses (``beyonder.selector.fitting``)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from beyonder.selector import fitting
from beyonder.selector.fitting import fit_batches, full_batches


class Source:
    """Batches of a fixed regression problem; counts the epochs it was told about."""

    def __init__(self, n: int, batch: int, seed: int, noise: float = 0.0):
        rng = np.random.default_rng(seed)
        self.x = rng.normal(size=(n, 3)).astype(np.float32)
        self.y = (self.x @ np.array([1.0, -2.0, 0.5]) + noise * rng.normal(size=n)).astype(
            np.float32
        )[:, None]
        self.batch = batch
        self.epochs_ended = 0

    def __len__(self) -> int:
        return -(-len(self.x) // self.batch)

    def __getitem__(self, index: int):
        part = slice(index * self.batch, (index + 1) * self.batch)
        return self.x[part], self.y[part]

    def on_epoch_end(self) -> None:
        self.epochs_ended += 1


def _model(learning_rate: float) -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate), loss="mse")
    return model


def test_losses_are_the_epoch_means_and_training_learns():
    train = Source(64, 16, seed=1)
    model = _model(0.05)
    history = fit_batches(model, train, epochs=5, validation=Source(32, 16, seed=2))
    assert set(history) == {"loss", "val_loss"}
    assert len(history["loss"]) == len(history["val_loss"]) == 5 == train.epochs_ended
    assert history["val_loss"][-1] < history["val_loss"][0] / 2
    # the reported validation loss is the mean over the validation samples
    val = Source(32, 16, seed=2)
    predicted = model.predict_on_batch(val.x)
    assert history["val_loss"][-1] == pytest.approx(
        float(np.mean((predicted - val.y) ** 2)), rel=1e-4
    )


@pytest.mark.parametrize(("epochs", "eager"), [(2, True), (5, False)])
def test_a_fit_of_few_steps_runs_eagerly(monkeypatch, epochs: int, eager: bool) -> None:
    """Tracing costs more than a short fit: up to ``EAGER_STEPS`` steps (training and
    validation batches, every epoch) run eagerly, longer fits traced; both learn alike."""
    monkeypatch.setattr(fitting, "EAGER_STEPS", 12)
    model = _model(0.05)  # 4 training + 2 validation batches per epoch
    history = fit_batches(model, Source(64, 16, seed=1), epochs, validation=Source(32, 16, seed=2))
    assert model.run_eagerly is eager
    assert history["val_loss"][-1] < history["val_loss"][0]


def test_early_stopping_stops_and_restores_the_best_weights():
    model = _model(5.0)  # diverges: the first epoch is the best
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    train = Source(64, 16, seed=1, noise=1.0)
    history = fit_batches(model, train, 30, validation=Source(32, 16, seed=2), callbacks=[stop])
    assert len(history["loss"]) < 30
    best = int(np.argmin(history["val_loss"]))
    assert len(history["val_loss"]) - 1 - best == 2  # stopped after `patience` epochs without gain
    val = Source(32, 16, seed=2)
    restored = float(np.mean((model.predict_on_batch(val.x) - val.y) ** 2))
    assert restored == pytest.approx(history["val_loss"][best], rel=1e-4)


@pytest.mark.parametrize("n, batch", [(50, 16), (48, 16), (10, 16), (1, 4)])
def test_full_batches_cover_every_item_and_fill_every_batch(n, batch):
    order = full_batches(np.random.default_rng(0), n, batch)
    assert set(order) == set(range(n))
    if n > batch:
        assert len(order) % batch == 0 and len(order) - n < batch
    else:
        assert len(order) == n


def test_a_seeded_build_ignores_what_other_threads_draw_from_random() -> None:
    """Keras seeds every unseeded initializer and dropout layer from Python's global
    ``random``, which Prefect's threads draw from too: after ``seed_keras`` the same seed
    builds the same weights however many numbers others drew in between."""
    import random

    from beyonder.selector.estimator import BeyonderConfig, new_network
    from beyonder.selector.fitting import seed_keras

    config = BeyonderConfig(classifiers=["logreg", "knn"], dim=8, heads=2, blocks=1, inducing=4)

    def build(other_draws: int) -> list[np.ndarray]:
        seed_keras(7)
        for _ in range(other_draws):  # another thread's draws, between the seeding and the build
            random.random()
        return new_network(config).get_weights()

    first, second = build(0), build(5)
    assert len(first) == len(second) and all(
        np.array_equal(a, b) for a, b in zip(first, second, strict=True)
    )
