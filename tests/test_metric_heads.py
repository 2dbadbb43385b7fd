"""The metric heads: one output per (metric, classifier) on the shared embedding, trained on
the labels' other metrics, exported to NumPy, invariant like the accuracy head, and carried
through a change of portfolio."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_encoding_model import _frame

from beyonder.schema import ROW_ID, TARGET
from beyonder.selector.encoding import encode_sample
from beyonder.selector.estimator import (
    Beyonder,
    BeyonderConfig,
    masked_accuracy_loss,
    masked_scores_loss,
)
from beyonder.selector.inference import NumpyBeyonder, from_head, read_config, to_head

METRICS = ["balanced_accuracy", "neg_log_loss"]
TOL = 1e-5


@pytest.fixture(scope="module")
def fitted() -> Beyonder:
    """A small Beyonder with two metric heads, one epoch; some metric labels missing."""
    config = BeyonderConfig(
        epochs=1, rows=64, max_features=16, dim=16, blocks=1, batch_size=4, metrics=METRICS
    )
    samples = [
        encode_sample(_frame(n_rows=n, seed=s)) for s, n in enumerate((40, 64, 90, 50, 30, 70))
    ]
    rng = np.random.default_rng(0)
    k = len(config.classifiers)
    accuracy = rng.uniform(0.4, 1.0, size=(len(samples), k))
    scores = np.stack(
        [
            rng.uniform(0.3, 1.0, size=(len(samples), k)),
            -rng.uniform(0.1, 2.0, size=(len(samples), k)),
        ],
        axis=1,
    )
    scores[:, 1, -3:] = np.nan  # the SVMs have no log loss
    val = (samples[:2], accuracy[:2], np.full((2, k), 0.1), None, scores[:2])
    return Beyonder(config).fit(
        samples, accuracy, np.full_like(accuracy, 0.1), validation=val, scores=scores
    )


def test_metric_heads_predict_each_metric_on_its_own_scale(fitted: Beyonder) -> None:
    assert (
        np.isfinite(fitted.history_["loss"]).all()
        and np.isfinite(fitted.history_["val_loss"]).all()
    )
    out = fitted.predict([encode_sample(_frame(n_rows=60, seed=11))])
    k = len(fitted.config.classifiers)
    assert out["scores"].shape == (1, 2, k) and out["scores_spread"].shape == (1, 2, k)
    assert ((out["scores"][:, 0] > 0) & (out["scores"][:, 0] < 1)).all()
    assert (out["scores"][:, 1] < 0).all()  # neg_log_loss: negative, back from the head's exp scale


def test_metric_heads_are_invariant_and_exported(fitted: Beyonder, tmp_path) -> None:
    frame = _frame(n_rows=60, seed=11)  # read whole: exactly invariant
    base = fitted.predict([encode_sample(frame)])["scores"]
    rng = np.random.default_rng(3)
    features = [c for c in frame.columns if c not in (TARGET, ROW_ID)]
    other = frame.iloc[rng.permutation(len(frame))].reset_index(drop=True)
    other = other[[features[j] for j in rng.permutation(len(features))] + [TARGET, ROW_ID]]
    other[TARGET] = other[TARGET].map({"a": "q", "b": "p", "c": "r"})
    np.testing.assert_allclose(
        fitted.predict([encode_sample(other)])["scores"], base, rtol=0, atol=TOL
    )
    numpy_model = NumpyBeyonder.load(fitted.save(tmp_path / "model"))
    assert numpy_model.config.metrics == METRICS
    samples = [encode_sample(frame), encode_sample(_frame(n_rows=100, seed=8))]
    np.testing.assert_allclose(
        numpy_model.predict(samples)["scores"], fitted.predict(samples)["scores"], atol=1e-4
    )


def test_a_model_saved_before_the_metric_heads_has_none(fitted: Beyonder, tmp_path) -> None:
    directory = fitted.save(tmp_path / "old")
    saved = json.loads((directory / "beyonder.json").read_text())
    del saved["metrics"]
    (directory / "beyonder.json").write_text(json.dumps(saved))
    assert read_config(directory).metrics == [] and "scores" not in read_config(directory).outputs()


def test_the_scores_loss_masks_missing_labels_and_metrics() -> None:
    loss = masked_scores_loss(2, 3, rank_weight=1.0)
    t = np.array([[0.5, 0.6, 0.7, np.nan, np.nan, np.nan]], dtype=np.float32)
    p = np.array([[0.5, 0.6, 0.7, 0.1, 0.9, 0.2]], dtype=np.float32)
    alone = masked_accuracy_loss(1.0)(t[:, :3], p[:, :3])
    assert float(np.asarray(loss(t, p))[0]) == pytest.approx(
        float(np.asarray(alone)[0]), rel=1e-5
    )  # the missing metric adds nothing
    worse = np.array([[0.7, 0.6, 0.5, 0.1, 0.9, 0.2]], dtype=np.float32)
    assert float(np.asarray(loss(t, worse))[0]) > 0


def test_log_loss_enters_the_head_as_a_probability_and_comes_back() -> None:
    values = np.array([-0.01, -0.7, -3.0])
    assert ((to_head("neg_log_loss", values) > 0) & (to_head("neg_log_loss", values) <= 1)).all()
    np.testing.assert_allclose(from_head("neg_log_loss", to_head("neg_log_loss", values)), values)
    np.testing.assert_array_equal(to_head("f1_macro", np.array([0.3])), [0.3])


def test_finetuning_a_new_portfolio_remaps_the_metric_heads(fitted: Beyonder) -> None:
    from beyonder.selector.finetune import adapt_heads

    old = list(fitted.config.classifiers)
    new = [*old[:3], "brand_new"]
    model = adapt_heads(fitted.model_, old, new)
    kept = model.get_layer("scores_deep").get_weights()[0].reshape(-1, 2, len(new))
    before = fitted.model_.get_layer("scores_deep").get_weights()[0].reshape(-1, 2, len(old))
    np.testing.assert_array_equal(
        kept[:, :, :3], before[:, :, :3]
    )  # per metric, the kept classifiers
    np.testing.assert_allclose(
        kept[:, :, 3], before.mean(axis=-1), rtol=1e-6
    )  # a new one: the average


def test_no_method_can_pick_a_classifier_the_metric_does_not_exist_for() -> None:
    """Log loss of an SVM without probabilities is missing in every method's predictions (the
    baselines' too), so a pick by predicted log loss never lands on it."""
    from beyonder.evaluation.metrics import choose
    from beyonder.evaluation.truth import without_unavailable

    classifiers = ["logreg", "svm_rbf", "random_forest"]
    predicted = np.array([[-0.5, -0.1, -0.4], [-0.3, -0.2, -0.6]])
    masked = without_unavailable(predicted, "neg_log_loss", classifiers)
    assert np.isnan(masked[:, 1]).all() and np.isnan(predicted).sum() == 0  # a copy
    assert choose(masked).tolist() == [2, 0]
    np.testing.assert_array_equal(
        without_unavailable(predicted, "accuracy", classifiers), predicted
    )
