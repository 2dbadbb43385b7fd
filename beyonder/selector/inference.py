"""Prediction from a saved Beyonder without TensorFlow: the config, the test-time views, and
the averaging that ``Beyonder`` (Keras, ``estimator.py``) and ``NumpyBeyonder`` (NumPy,
``network.py``) share, so both read the same random views and average them the same way.

This module imports no Keras: ``recommend``, ``embed`` and the served MLflow model use
``NumpyBeyonder``; training and fine-tuning use ``Beyonder``, a subclass of the same base.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from beyonder.params import TrainParams
from beyonder.schema import PORTFOLIO
from beyonder.selector.encoding import N_GLOBALS, N_LANDMARKS, EncodedSample, batch, view
from beyonder.selector.network import NETWORK_FILE, NumpyNetwork

CONFIG_FILE = "beyonder.json"
PREDICT_BATCH = 64
"""Views per network call when predicting."""
OUTPUTS = ("accuracy", "fit_time")
CURVE = "curve"
"""The regularisation heads' output (``model.CURVE``), present when the config has ``tuned``."""
SCORES = "scores"
"""The metric heads' output (``model.SCORES``): the config's ``metrics`` x its classifiers."""
EMBEDDING = "dataset_embedding"
"""The network's dataset embedding (the input of its heads): what ``embed`` returns."""


@dataclass
class BeyonderConfig(TrainParams):
    """Every knob of the network and its training; saved beside the weights.

    The ``train`` section of ``params.yaml`` (``TrainParams``: the one home of its defaults)
    plus what a saved model also needs: the classifiers it predicts, its seed,
    ``landmarks`` (off: the landmarker globals are zeroed, for ablations), and the
    regularisation heads' ``tuned`` classifiers and C ``grid`` (empty: no such heads, as in
    every model saved before they existed)."""

    classifiers: list[str] = field(default_factory=lambda: list(PORTFOLIO))
    landmarks: bool = True
    seed: int = 0
    tuned: list[str] = field(default_factory=list)
    grid: list[float] = field(default_factory=list)

    @property
    def n_scores(self) -> int:
        """Values of the ``scores`` head: metrics x classifiers (0: no metric heads)."""
        return len(self.metrics) * len(self.classifiers)

    @property
    def n_curve(self) -> int:
        """Values of the ``curve`` head: tuned classifiers x grid points (0: no head)."""
        return len(self.tuned) * len(self.grid) if self.tuned and self.grid else 0

    def outputs(self) -> tuple[str, ...]:
        """The network's outputs for this config."""
        return (
            *OUTPUTS,
            *((CURVE,) if self.n_curve else ()),
            *((SCORES,) if self.n_scores else ()),
        )


def read_config(directory: str | Path) -> BeyonderConfig:
    """The config saved beside a model's weights; a key it lacks (a model saved before that
    knob existed) takes today's default, except ``metrics``: a model saved before the metric
    heads has none."""
    saved = json.loads((Path(directory) / CONFIG_FILE).read_text())
    saved.setdefault("metrics", [])
    return BeyonderConfig(**saved)


def to_head(metric: str, values: np.ndarray) -> np.ndarray:
    """A metric's labels on the scale of its sigmoid head: all are in [0, 1] but log loss,
    which enters as ``exp(neg_log_loss)`` (the geometric mean probability of the true class;
    monotone, so rankings keep)."""
    values = np.asarray(values, dtype=np.float64)
    return np.exp(np.maximum(values, -50.0)) if metric == "neg_log_loss" else values


def from_head(metric: str, values: np.ndarray) -> np.ndarray:
    """``to_head`` undone: the head's output back on the metric's own scale."""
    values = np.asarray(values, dtype=np.float64)
    return np.log(np.maximum(values, 1e-22)) if metric == "neg_log_loss" else values


def write_config(config: BeyonderConfig, directory: str | Path) -> None:
    (Path(directory) / CONFIG_FILE).write_text(json.dumps(asdict(config), indent=2) + "\n")


def network_inputs(views: list[EncodedSample], config: BeyonderConfig) -> dict[str, np.ndarray]:
    """Views padded and stacked as the network reads them (landmarkers zeroed if the config
    says so)."""
    inputs = batch(views, config.rows, config.max_features)
    if not config.landmarks:
        inputs["globals"][:, N_GLOBALS - N_LANDMARKS :] = 0.0
    return inputs


class BeyonderPredictor:
    """``predict`` and ``embed`` over random views of each sample; subclasses say how the
    network is run (``_network``)."""

    config: BeyonderConfig

    def _network(self, inputs: dict[str, np.ndarray], embedding: bool) -> dict[str, Any]:
        """The network on one batch: ``accuracy`` and ``fit_time`` (and ``curve``), or
        (``embedding``) ``dataset_embedding``, one row per view."""
        raise NotImplementedError

    def _check_fitted(self) -> None:
        """Raise if there is no network to run."""

    def _views(
        self, samples: Sequence[EncodedSample], views: int | None
    ) -> tuple[list[EncodedSample], list[int]]:
        """The views read for each sample (seeded by the sample's position) and their counts."""
        c = self.config
        n_views = views or c.views
        drawn: list[EncodedSample] = []
        counts: list[int] = []
        for i, sample in enumerate(samples):
            n_rows, n_features = sample.cells.shape[:2]
            whole = n_rows <= c.rows and n_features <= c.max_features
            rng = np.random.default_rng([c.seed, 7919, i])
            vs = (
                [sample]
                if whole
                else [view(sample, c.rows, c.max_features, rng) for _ in range(n_views)]
            )
            drawn.extend(vs)
            counts.append(len(vs))
        return drawn, counts

    def _run(self, views: list[EncodedSample], embedding: bool = False) -> dict[str, np.ndarray]:
        """The network on all views, in batches of at most ``PREDICT_BATCH``, as float64."""
        outs = [
            self._network(network_inputs(views[i : i + PREDICT_BATCH], self.config), embedding)
            for i in range(0, len(views), PREDICT_BATCH)
        ]
        return {
            k: np.concatenate([np.asarray(o[k], dtype=np.float64) for o in outs]) for k in outs[0]
        }

    def predict(
        self, samples: Sequence[EncodedSample], views: int | None = None
    ) -> dict[str, np.ndarray]:
        """Mean and spread over ``views`` random views of each sample; with regularisation
        heads also ``curve``: (samples, tuned, grid) predicted accuracies at each C; with
        metric heads ``scores``: (samples, metrics, classifiers) on each metric's own scale
        (``scores_spread``: their spread over the views, on the head's scale).

        A sample that fits in one view (rows and features within the limits) is read whole,
        once: the result is then exactly invariant to row and column order.
        """
        self._check_fitted()
        c = self.config
        drawn, counts = self._views(samples, views)
        if not drawn:
            empty = np.zeros((0, len(c.classifiers)))
            out = {"accuracy": empty, "accuracy_spread": empty.copy(), "fit_time": empty.copy()}
            if c.n_curve:
                out[CURVE] = np.zeros((0, len(c.tuned), len(c.grid)))
            if c.n_scores:
                out[SCORES] = np.zeros((0, len(c.metrics), len(c.classifiers)))
                out["scores_spread"] = out[SCORES].copy()
            return out
        out = self._run(drawn)
        bounds = np.cumsum([0, *counts])
        parts = list(zip(bounds[:-1], bounds[1:], strict=True))
        accuracy = [out["accuracy"][a:b] for a, b in parts]
        result = {
            "accuracy": np.array([acc.mean(axis=0) for acc in accuracy]),
            "accuracy_spread": np.array([acc.std(axis=0) for acc in accuracy]),
            "fit_time": np.array([10 ** out["fit_time"][a:b].mean(axis=0) for a, b in parts]),
        }
        if c.n_curve:
            result[CURVE] = np.array([out[CURVE][a:b].mean(axis=0) for a, b in parts]).reshape(
                len(parts), len(c.tuned), len(c.grid)
            )
        if c.n_scores:
            heads = [
                out[SCORES][a:b].reshape(b - a, len(c.metrics), len(c.classifiers))
                for a, b in parts
            ]
            result[SCORES] = np.stack(
                [
                    from_head(m, np.array([h[:, i].mean(axis=0) for h in heads]))
                    for i, m in enumerate(c.metrics)
                ],
                axis=1,
            )
            result["scores_spread"] = np.stack(
                [np.array([h[:, i].std(axis=0) for h in heads]) for i in range(len(c.metrics))],
                axis=1,
            )
        return result

    def embed(self, samples: Sequence[EncodedSample], views: int | None = None) -> np.ndarray:
        """Learned meta-features: the network's dataset embedding (the input of its heads,
        layer ``dataset_embedding``), averaged over the same views as ``predict``.
        Returns ``(len(samples), 3 * dim)``."""
        self._check_fitted()
        drawn, counts = self._views(samples, views)
        if not drawn:
            return np.zeros((0, 3 * self.config.dim))
        values = self._run(drawn, embedding=True)[EMBEDDING]
        bounds = np.cumsum([0, *counts])
        return np.array(
            [values[a:b].mean(axis=0) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
        )


class NumpyBeyonder(BeyonderPredictor):
    """A saved Beyonder read for prediction only: its ``network.npz`` run by NumPy.

    ``predict`` and ``embed`` give what ``Beyonder.predict``/``embed`` give on the Keras model
    (within ``network.TOLERANCE``), with no TensorFlow in the process
    (``selector.finetune.trainable`` loads the Keras model saved beside it).
    """

    def __init__(
        self, config: BeyonderConfig, network: NumpyNetwork, directory: Path | None = None
    ):
        self.config = config
        self.network = network
        self.directory = directory

    @classmethod
    def load(cls, directory: str | Path) -> NumpyBeyonder:
        directory = Path(directory)
        return cls(read_config(directory), NumpyNetwork.load(directory / NETWORK_FILE), directory)

    def _network(self, inputs: dict[str, np.ndarray], embedding: bool) -> dict[str, Any]:
        out = self.network(inputs)
        return (
            {EMBEDDING: out[EMBEDDING]} if embedding else {k: out[k] for k in self.config.outputs()}
        )


def has_numpy_export(directory: str | Path) -> bool:
    return (Path(directory) / NETWORK_FILE).is_file()
