"""Encoding and model: what must not matter (row order, column order, class names, affine
rescaling) does not change the encoded cells nor the model's predictions; save/load is exact;
missing labels drop out of the loss."""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd
import pytest

from beyonder.schema import ROW_ID, TARGET
from beyonder.selector.encoding import (
    CELL_CHANNELS,
    GLOBAL_FEATURES,
    N_CHANNELS,
    N_GLOBALS,
    EncodedSample,
    batch,
    encode_sample,
    view,
)
from beyonder.selector.estimator import Beyonder, BeyonderConfig, masked_accuracy_loss

CH = {name: i for i, name in enumerate(CELL_CHANNELS)}
CLASSIC = [i for i, name in enumerate(GLOBAL_FEATURES) if not name.startswith("landmark_")]
"""Dataset-level features other than the landmarkers (which are fitted models' accuracies)."""
TOL = 1e-5  # how far a permutation may move the model's outputs (float32 rounding)


def _frame(
    n_rows: int = 50, seed: int = 0, classes: tuple[str, ...] = ("a", "b", "c")
) -> pd.DataFrame:
    """A cleaned-looking sample: float64 numerics with NaN, str categoricals with NaN,
    string target, ROW_ID last (as the sample stage writes it)."""
    rng = np.random.default_rng(seed)
    y = rng.choice(list(classes), size=n_rows)
    y[: len(classes)] = list(classes)  # every class present
    shift = pd.Series(y).map({c: i for i, c in enumerate(classes)}).to_numpy(dtype=float)
    frame = pd.DataFrame(
        {
            "x1": rng.normal(size=n_rows) + shift,
            "x2": rng.lognormal(size=n_rows),
            "x3": rng.integers(0, 4, size=n_rows).astype(np.float64),  # ties
            "x4": np.round(rng.normal(scale=10, size=n_rows), 1),
            "c1": pd.Series(rng.choice(["u", "v", "w"], size=n_rows), dtype="str"),
            "c2": pd.Series(np.where(shift > 0, "hi", "lo"), dtype="str"),
            "const": np.full(n_rows, 2.5),
        }
    )
    frame.loc[rng.choice(n_rows, 5, replace=False), "x1"] = np.nan
    frame.loc[rng.choice(n_rows, 4, replace=False), "c1"] = np.nan
    frame[TARGET] = pd.Series(y, dtype="str")
    frame[ROW_ID] = np.arange(n_rows, dtype=np.int64)
    return frame


def _features(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c not in (TARGET, ROW_ID)]


# --- encode_sample ----------------------------------------------------------------------------


def test_shape_and_finite() -> None:
    frame = _frame()
    enc = encode_sample(frame)
    assert enc.cells.shape == (len(frame), len(_features(frame)), N_CHANNELS)
    assert enc.cells.dtype == np.float32
    assert enc.globals.shape == (N_GLOBALS,)
    assert np.isfinite(enc.cells).all()
    assert np.isfinite(enc.globals).all()


def test_row_permutation_permutes_cells_exactly() -> None:
    frame = _frame()
    perm = np.random.default_rng(1).permutation(len(frame))
    base = encode_sample(frame)
    permuted = encode_sample(frame.iloc[perm].reset_index(drop=True))
    np.testing.assert_array_equal(permuted.cells, base.cells[perm])
    np.testing.assert_array_equal(permuted.globals, base.globals)


def test_column_permutation_permutes_cells_exactly() -> None:
    frame = _frame()
    features = _features(frame)
    perm = np.random.default_rng(2).permutation(len(features))
    base = encode_sample(frame)
    permuted = encode_sample(frame[[features[j] for j in perm] + [TARGET, ROW_ID]])
    np.testing.assert_array_equal(permuted.cells, base.cells[:, perm])
    np.testing.assert_array_equal(permuted.globals, base.globals)


def test_class_relabelling_changes_nothing() -> None:
    frame = _frame()
    # new names in a different sort order, so class indices move too
    renamed = frame.assign(**{TARGET: frame[TARGET].map({"a": "zeta", "b": "10", "c": "Alpha"})})
    base, other = encode_sample(frame), encode_sample(renamed)
    np.testing.assert_array_equal(other.cells, base.cells)
    np.testing.assert_array_equal(other.globals, base.globals)


@pytest.mark.parametrize("column", ["x1", "x2", "x4"])
def test_positive_affine_rescaling_keeps_the_cells(column: str) -> None:
    frame = _frame()
    rescaled = frame.assign(**{column: 3.0 * frame[column] + 7.0})
    base, other = encode_sample(frame), encode_sample(rescaled)
    np.testing.assert_allclose(other.cells, base.cells, rtol=0, atol=1e-5)
    j = _features(frame).index(column)
    # ranks and missingness do not go through arithmetic: exact
    np.testing.assert_array_equal(other.cells[:, j, CH["rank"]], base.cells[:, j, CH["rank"]])
    np.testing.assert_array_equal(other.cells[:, j, CH["missing"]], base.cells[:, j, CH["missing"]])
    np.testing.assert_array_equal(other.globals[CLASSIC], base.globals[CLASSIC])


def test_positive_affine_rescaling_keeps_the_landmarks() -> None:
    frame = _frame()
    base = encode_sample(frame)
    for column in ("x1", "x2", "x4"):
        other = encode_sample(frame.assign(**{column: 3.0 * frame[column] + 7.0}))
        np.testing.assert_allclose(other.globals, base.globals, rtol=0, atol=1e-5, err_msg=column)


def test_missing_cells() -> None:
    frame = _frame()
    enc = encode_sample(frame)
    features = _features(frame)
    for column in ("x1", "c1"):
        j = features.index(column)
        missing = frame[column].isna().to_numpy()
        assert missing.any()
        np.testing.assert_array_equal(enc.cells[:, j, CH["missing"]], missing.astype(np.float32))
        assert (enc.cells[missing, j, CH["z"]] == 0).all()
        assert (enc.cells[missing, j, CH["rank"]] == 0).all()
    # categorical flags and level shares
    for column in ("c1", "c2"):
        j = features.index(column)
        assert (enc.cells[:, j, CH["categorical"]] == 1).all()
        present = frame[column].notna().to_numpy()
        shares = frame[column].map(frame[column].value_counts() / len(frame)).to_numpy()
        np.testing.assert_allclose(
            enc.cells[present, j, CH["level_share"]], shares[present], atol=1e-6
        )
        assert (enc.cells[~present, j, CH["level_share"]] == 0).all()
    assert (enc.cells[:, features.index("x1"), CH["categorical"]] == 0).all()
    # a constant column encodes to zeros (no division by a zero scale)
    const = features.index("const")
    assert (enc.cells[:, const, CH["z"]] == 0).all()
    # missing share global = mean of the missing channel
    missing_share = enc.globals[GLOBAL_FEATURES.index("missing_share")]
    assert missing_share == pytest.approx(frame[features].isna().to_numpy().mean(), abs=1e-6)


def test_all_missing_and_all_categorical_columns() -> None:
    frame = _frame(n_rows=30)
    frame["empty"] = np.nan
    frame["empty_cat"] = pd.Series([np.nan] * len(frame), dtype="str")
    frame["flag"] = np.arange(len(frame)) % 2 == 0
    enc = encode_sample(frame)
    assert np.isfinite(enc.cells).all() and np.isfinite(enc.globals).all()
    features = [c for c in frame.columns if c not in (TARGET, ROW_ID)]
    assert (enc.cells[:, features.index("empty"), CH["missing"]] == 1).all()
    assert (enc.cells[:, features.index("empty_cat"), CH["missing"]] == 1).all()
    assert (enc.cells[:, features.index("flag"), CH["categorical"]] == 1).all()


def test_class_share_channel() -> None:
    frame = _frame()
    enc = encode_sample(frame)
    share = frame[TARGET].map(frame[TARGET].value_counts(normalize=True)).to_numpy()
    for j in range(enc.cells.shape[1]):
        np.testing.assert_allclose(enc.cells[:, j, CH["class_share"]], share, atol=1e-6)


def test_view_and_batch_masks() -> None:
    enc = encode_sample(_frame(n_rows=80))
    v = view(enc, rows=64, features=4, rng=np.random.default_rng(0))
    assert v.cells.shape == (64, 4, N_CHANNELS)
    b = batch([v, encode_sample(_frame(n_rows=20))], rows=64, features=16)
    assert b["cells"].shape == (2, 64, 16, N_CHANNELS)
    assert b["row_mask"][0].sum() == 64 and b["row_mask"][1].sum() == 20
    assert b["feature_mask"][0].sum() == 4 and b["feature_mask"][1].sum() == 7
    assert (b["cells"][1, 20:] == 0).all() and (b["cells"][1, :, 7:] == 0).all()


# --- the model ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fitted() -> Beyonder:
    """One small Beyonder fitted for one epoch (graph tracing is the slow part: do it once)."""
    config = BeyonderConfig(epochs=1, rows=64, max_features=16, dim=16, blocks=1, batch_size=8)
    samples = [
        encode_sample(_frame(n_rows=n, seed=s)) for s, n in enumerate((40, 64, 90, 50, 120, 30))
    ]
    rng = np.random.default_rng(0)
    k = len(config.classifiers)
    accuracy = rng.uniform(0.4, 1.0, size=(len(samples), k))
    accuracy[0, 3] = np.nan  # missing labels are allowed
    fit_time = rng.uniform(0.001, 2.0, size=(len(samples), k))
    return Beyonder(config).fit(samples, accuracy, fit_time)


def test_sbs_relative_regret_loss_trains_and_knows_the_training_sbs() -> None:
    """``relative_to='sbs'`` with the regret term: one epoch trains to a finite loss, and the
    reference is the classifier with the best mean training accuracy."""
    config = BeyonderConfig(
        epochs=1, dim=16, blocks=1, batch_size=4, relative_to="sbs", regret_weight=1.0
    )
    samples = [encode_sample(_frame(n_rows=n, seed=s)) for s, n in enumerate((40, 50, 60, 45))]
    rng = np.random.default_rng(1)
    accuracy = rng.uniform(0.4, 0.8, size=(len(samples), len(config.classifiers)))
    accuracy[:, 5] = 0.95
    est = Beyonder(config).fit(samples, accuracy, np.full_like(accuracy, 0.1))
    assert est.sbs_ == config.classifiers[5]
    assert np.isfinite(est.history_["loss"][0])
    with pytest.raises(ValueError, match="relative_to"):
        Beyonder(BeyonderConfig(epochs=1, relative_to="median")).fit(samples, accuracy, accuracy)


def _invariance_sample() -> pd.DataFrame:
    frame = _frame(n_rows=60, seed=11)  # <= 64 rows, <= 16 features: read whole
    assert len(frame) <= 64 and len(_features(frame)) <= 16
    return frame


def _predict(model: Beyonder, frame: pd.DataFrame) -> dict[str, np.ndarray]:
    return model.predict([encode_sample(frame)])


def test_fit_history_and_output_shapes(fitted: Beyonder) -> None:
    assert len(fitted.history_["loss"]) == 1
    assert np.isfinite(fitted.history_["loss"][0])
    out = _predict(fitted, _invariance_sample())
    k = len(fitted.config.classifiers)
    assert out["accuracy"].shape == out["accuracy_spread"].shape == out["fit_time"].shape == (1, k)
    assert ((out["accuracy"] >= 0) & (out["accuracy"] <= 1)).all()
    assert (out["fit_time"] > 0).all()
    assert (out["accuracy_spread"] == 0).all()  # one whole view


def _assert_same_outputs(out: dict, base: dict) -> None:
    """Accuracies within TOL; fit times (10 ** the network's log10 output, seconds) within a
    relative TOL, since exponentiation scales float32 rounding with the value."""
    np.testing.assert_allclose(out["accuracy"], base["accuracy"], rtol=0, atol=TOL)
    np.testing.assert_allclose(
        np.log10(out["fit_time"]), np.log10(base["fit_time"]), rtol=0, atol=TOL
    )


def test_model_invariant_to_row_order(fitted: Beyonder) -> None:
    frame = _invariance_sample()
    base = _predict(fitted, frame)
    for seed in range(3):
        perm = np.random.default_rng(seed).permutation(len(frame))
        out = _predict(fitted, frame.iloc[perm].reset_index(drop=True))
        _assert_same_outputs(out, base)


def test_model_invariant_to_column_order(fitted: Beyonder) -> None:
    frame = _invariance_sample()
    features = _features(frame)
    base = _predict(fitted, frame)
    for seed in range(3):
        perm = np.random.default_rng(seed).permutation(len(features))
        out = _predict(fitted, frame[[features[j] for j in perm] + [TARGET, ROW_ID]])
        _assert_same_outputs(out, base)


def test_model_invariant_to_class_names(fitted: Beyonder) -> None:
    frame = _invariance_sample()
    base = _predict(fitted, frame)
    renamed = frame.assign(**{TARGET: frame[TARGET].map({"a": "yes", "b": "0", "c": "Maybe"})})
    out = _predict(fitted, renamed)
    _assert_same_outputs(out, base)


def test_model_invariant_to_all_three_at_once(fitted: Beyonder) -> None:
    frame = _invariance_sample()
    base = _predict(fitted, frame)
    rng = np.random.default_rng(5)
    features = _features(frame)
    other = frame.iloc[rng.permutation(len(frame))].reset_index(drop=True)
    other = other[[features[j] for j in rng.permutation(len(features))] + [TARGET, ROW_ID]]
    other[TARGET] = other[TARGET].map({"a": "q", "b": "p", "c": "r"})
    np.testing.assert_allclose(
        _predict(fitted, other)["accuracy"], base["accuracy"], rtol=0, atol=TOL
    )


def test_prediction_depends_on_the_data(fitted: Beyonder) -> None:
    """Guard against a trivially invariant (constant) model making the tests above vacuous."""
    a = _predict(fitted, _invariance_sample())["accuracy"]
    frame = _frame(n_rows=20, seed=3, classes=("a", "b"))[["x2", "c1", TARGET, ROW_ID]]
    b = _predict(fitted, frame)["accuracy"]
    assert np.abs(a - b).max() > 1e-6


def test_large_sample_uses_random_views(fitted: Beyonder) -> None:
    enc = encode_sample(_frame(n_rows=150, seed=4))
    out = fitted.predict([enc], views=3)
    again = fitted.predict([enc], views=3)
    np.testing.assert_array_equal(out["accuracy"], again["accuracy"])  # views are seeded
    # 150 rows > 64: three different random views, so the predictions spread over them, and
    # averaging three views is not reading one
    assert (out["accuracy_spread"] >= 0).all()
    assert out["accuracy_spread"].max() > 1e-6, "the views are all the same"
    assert np.abs(fitted.predict([enc], views=1)["accuracy"] - out["accuracy"]).max() > 1e-7
    whole = fitted.predict([encode_sample(_invariance_sample())], views=3)  # read once, whole
    np.testing.assert_array_equal(whole["accuracy_spread"], 0.0)


def test_save_load_round_trip(fitted: Beyonder, tmp_path) -> None:
    directory = fitted.save(tmp_path / "model")
    loaded = Beyonder.load(directory)
    assert loaded.config == fitted.config
    samples = [encode_sample(_invariance_sample()), encode_sample(_frame(n_rows=100, seed=8))]
    before, after = fitted.predict(samples), loaded.predict(samples)
    for key in before:
        np.testing.assert_array_equal(after[key], before[key])
    assert not list(directory.glob(".*tmp*"))  # the atomic-save temp file is gone


def test_unfitted_model_refuses(tmp_path) -> None:
    with pytest.raises(RuntimeError, match="not fitted"):
        Beyonder().predict(
            [EncodedSample(np.zeros((3, 2, N_CHANNELS), np.float32), np.zeros(N_GLOBALS))]
        )
    with pytest.raises(RuntimeError):
        Beyonder().save(tmp_path)


# --- the loss ----------------------------------------------------------------------------------


def _loss(
    y_true: np.ndarray, y_pred: np.ndarray, rank_weight: float = 1.0, **options
) -> np.ndarray:
    out = masked_accuracy_loss(rank_weight, **options)(
        keras.ops.convert_to_tensor(y_true.astype(np.float32)),
        keras.ops.convert_to_tensor(y_pred.astype(np.float32)),
    )
    return keras.ops.convert_to_numpy(out)


def test_loss_ignores_predictions_where_the_label_is_missing() -> None:
    y_true = np.array([[0.9, np.nan, 0.7, 0.8], [0.5, 0.6, np.nan, np.nan]])
    y_pred = np.array([[0.8, 0.1, 0.75, 0.6], [0.55, 0.5, 0.2, 0.9]])
    base = _loss(y_true, y_pred)
    assert np.isfinite(base).all() and (base > 0).all()
    for value in (0.0, 0.5, 1.0, -3.0):
        other = y_pred.copy()
        other[np.isnan(y_true)] = value
        np.testing.assert_allclose(_loss(y_true, other), base, rtol=1e-6)


def test_loss_with_a_missing_label_equals_the_loss_without_that_classifier() -> None:
    y_true = np.array([[0.9, np.nan, 0.7, 0.8]])
    y_pred = np.array([[0.8, 0.3, 0.75, 0.6]])
    keep = [0, 2, 3]
    np.testing.assert_allclose(
        _loss(y_true, y_pred), _loss(y_true[:, keep], y_pred[:, keep]), rtol=1e-6
    )


def test_regret_term_is_the_regret_of_a_confident_pick_and_ignores_missing_labels() -> None:
    """With the ranking and MSE terms equal, the regret term adds 10 x weight x the true regret
    of the predicted top classifier when the predictions are far apart (a near-hard pick)."""
    y_true = np.array([[0.9, np.nan, 0.7, 0.8]])
    right = np.array([[0.95, 2.0, 0.3, 0.5]])  # picks the best (0.9): no regret
    wrong = np.array([[0.3, 2.0, 0.95, 0.5]])  # picks 0.7: regret 0.2
    for pred, regret in ((right, 0.0), (wrong, 0.2)):
        added = _loss(y_true, pred, regret_weight=2.0) - _loss(y_true, pred)
        np.testing.assert_allclose(added, 10.0 * 2.0 * regret, atol=1e-4)


def test_relative_term_measures_departures_from_the_reference_classifier() -> None:
    """Predictions off by the same shift everywhere: relative to the mean or to any classifier
    the error is zero; shifting the reference alone shows only in the SBS-relative term."""
    y_true = np.array([[0.9, 0.6, 0.7, 0.8]])
    shifted = y_true + 0.1
    np.testing.assert_allclose(
        _loss(y_true, shifted, reference=1), _loss(y_true, shifted), rtol=1e-6
    )
    off_reference = y_true.copy()
    off_reference[0, 1] += 0.2
    # relative to classifier 1 every other classifier seems 0.2 too low: 3 x 0.04 / 4
    expected_rel = 3 * 0.2**2 / 4
    mse = 0.2**2 / 4
    plain = _loss(y_true, off_reference, rank_weight=0.0, reference=1)
    np.testing.assert_allclose(plain, 100.0 * (mse + expected_rel), rtol=1e-5)
    missing_reference = y_true.copy()
    missing_reference[0, 1] = np.nan  # falls back on the mean: equals the mean-relative loss
    np.testing.assert_allclose(
        _loss(missing_reference, off_reference, reference=1),
        _loss(missing_reference, off_reference),
        rtol=1e-6,
    )


def test_loss_of_an_unlabelled_sample_is_zero_and_gradients_are_finite() -> None:
    import tensorflow as tf

    y_true = np.array([[np.nan, np.nan, np.nan], [0.9, np.nan, 0.6]], dtype=np.float32)
    y_pred = tf.Variable(np.array([[0.2, 0.4, 0.9], [0.7, 0.1, 0.5]], dtype=np.float32))
    with tf.GradientTape() as tape:
        loss = masked_accuracy_loss(1.0)(tf.constant(y_true), y_pred)
        total = tf.reduce_sum(loss)
    grad = tape.gradient(total, y_pred).numpy()
    assert loss.numpy()[0] == 0.0
    assert np.isfinite(grad).all()
    assert (grad[np.isnan(y_true)] == 0).all()


def test_fresh_heads_start_at_the_training_means() -> None:
    """``prior_init``: before any training step the network predicts about the per-classifier
    training means (NaN labels ignored), so it starts where the single best solver stands."""
    from beyonder.selector.encoding import batch, encode_sample
    from beyonder.selector.estimator import start_from_prior
    from beyonder.selector.model import build_model

    keras.utils.set_random_seed(0)
    model = build_model(3, dim=8, heads=2, blocks=1, inducing=4)
    accuracy = np.array([[0.9, 0.6, 0.7], [0.8, np.nan, 0.5], [np.nan, 0.5, 0.6]])
    fit_time = np.array([[0.01, 1.0, 0.1], [0.01, 1.0, 0.1], [0.01, 1.0, np.nan]])
    inputs = batch([encode_sample(_frame(seed=s)) for s in range(4)], rows=64, features=16)
    before = model.predict_on_batch(inputs)
    start_from_prior(model, accuracy, fit_time)
    out = model.predict_on_batch(inputs)
    means = np.array([0.85, 0.55, 0.6])
    assert np.abs(out["accuracy"] - means).max() < 0.03
    assert np.abs(out["accuracy"] - means).max() < np.abs(before["accuracy"] - means).max()
    assert (out["accuracy"].argmax(axis=1) == 0).all()
    assert np.abs(out["fit_time"] - [-2.0, 0.0, -1.0]).max() < 0.3


def test_fresh_heads_start_at_a_ridge_regression_on_the_globals() -> None:
    """``prior_init`` with the globals: labels that follow one dataset-level feature through a
    logistic curve are predicted, before any training step, by the linear path (shrunk by the
    penalty), and the prior's ridge equals scikit-learn's on standardised features."""
    from sklearn.linear_model import Ridge

    from beyonder.selector.baselines import ridge
    from beyonder.selector.encoding import batch, encode_sample
    from beyonder.selector.estimator import start_from_prior
    from beyonder.selector.model import build_model

    keras.utils.set_random_seed(0)
    model = build_model(2, dim=8, heads=2, blocks=1, inducing=4)
    samples = [encode_sample(_frame(seed=s)) for s in range(40)]
    rng = np.random.default_rng(0)
    globals_ = np.stack([s.globals for s in samples]).astype(np.float64)
    globals_[:, 8] = rng.uniform(-0.3, 0.3, len(samples))  # a landmarker that decides the labels
    for s, g in zip(samples, globals_, strict=True):
        s.globals[:] = g
    logit = np.stack([3 * globals_[:, 8], -3 * globals_[:, 8] + 0.5], axis=1)
    accuracy = 1 / (1 + np.exp(-logit))
    start_from_prior(model, accuracy, np.full_like(accuracy, 0.1), globals_)
    out = model.predict_on_batch(batch(samples, rows=64, features=16))
    error = np.abs(out["accuracy"] - accuracy).mean()
    assert (
        error < 0.3 * np.abs(accuracy.mean(axis=0) - accuracy).mean()
    )  # far closer than the means
    for j in range(2):
        assert np.corrcoef(out["accuracy"][:, j], accuracy[:, j])[0, 1] > 0.95

    x, y = rng.normal(size=(30, 4)) * [1, 10, 0.1, 1], rng.normal(size=(30, 2))
    x[:, 3] = 2.0  # a constant feature
    y[0, 1] = np.nan  # a missing label leaves that row out of that column only
    kernel, bias = ridge(x, y, alpha=3.0)
    for j in range(2):
        rows = ~np.isnan(y[:, j])
        scale = np.where(x.std(axis=0) > 0, x.std(axis=0), 1.0)
        expected = Ridge(alpha=3.0).fit((x[rows] - x.mean(axis=0)) / scale, y[rows, j])
        np.testing.assert_allclose(
            x[rows] @ kernel[:, j] + bias[j], expected.predict((x[rows] - x.mean(axis=0)) / scale)
        )
    assert (kernel[3] == 0).all()


def test_categorical_row_keys_are_pandas_hashes_of_the_cells() -> None:
    """Row keys (which rows are copies of one source row, for the landmarkers' split) are
    computed per level; they must equal pandas' hash of every cell's string, missing included."""
    from beyonder.selector.encoding import _encode_categorical

    for values in (
        pd.Series(["a", None, "b", np.nan, "a", "c"], dtype=object),
        pd.Series([None, None], dtype=object),
    ):
        expected = pd.util.hash_array(values.astype("string").to_numpy(dtype=object, na_value=None))
        n = len(values)
        cells = np.zeros((n, 1, N_CHANNELS), dtype=np.float32)
        keys = _encode_categorical(
            values.to_frame(), np.zeros(n, int), np.array([float(n)]), cells, [0]
        )
        np.testing.assert_array_equal(keys, expected)


def test_categorical_channels_by_hand_and_columns_independent() -> None:
    """Level share, frequency rank and class lift of a small column, worked out by hand; and
    encoding columns together (one level numbering for all) equals encoding each alone."""
    from beyonder.selector.encoding import _encode_categorical

    y_idx = np.array([0, 0, 1, 1, 1, 0])
    class_count = np.array([3.0, 3.0])
    frame = pd.DataFrame(
        {
            "a": pd.Series(["u", "u", "u", "v", None, "w"], dtype="str"),
            "b": pd.Series(["p", "q", "q", "q", "p", "p"], dtype="str"),
        }
    )
    together = np.zeros((6, 2, N_CHANNELS), dtype=np.float32)
    _encode_categorical(frame, y_idx, class_count, together, [0, 1])
    a = together[:, 0]
    np.testing.assert_array_equal(a[:, CH["missing"]], [0, 0, 0, 0, 1, 0])
    np.testing.assert_allclose(a[:, CH["level_share"]], [3 / 6, 3 / 6, 3 / 6, 1 / 6, 0, 1 / 6])
    # level shares u 3/6, v 1/6, w 1/6: frequency ranks (ties averaged) 3/3, 1.5/3, 1.5/3, minus 0.5
    np.testing.assert_allclose(a[:, CH["rank"]], [0.5, 0.5, 0.5, 0.0, 0.0, 0.0])
    # lift = p(level | row's class) - p(level): u in class 0 is 2/3 - 1/2, v in class 1 is 1/3 - 1/6
    np.testing.assert_allclose(
        a[[0, 2, 3, 5], CH["class_mean"]],
        [2 / 3 - 1 / 2, 1 / 3 - 1 / 2, 1 / 3 - 1 / 6, 1 / 3 - 1 / 6],
        rtol=1e-6,
    )
    for k in range(2):
        alone = np.zeros((6, 1, N_CHANNELS), dtype=np.float32)
        _encode_categorical(frame.iloc[:, [k]], y_idx, class_count, alone, [0])
        np.testing.assert_array_equal(alone[:, 0], together[:, k])


def _stump_by_loop(
    X: np.ndarray, y: np.ndarray, X_test: np.ndarray, classes: np.ndarray
) -> np.ndarray:
    """The decision stump written plainly: every feature, every threshold between values."""
    best = (-1, 0, 0.0, classes[0], classes[0])
    for j in range(X.shape[1]):
        values = np.unique(X[:, j])
        for lo, hi in zip(values[:-1], values[1:], strict=True):
            t = (lo + hi) / 2
            left, right = y[X[:, j] <= t], y[X[:, j] > t]
            counts_l = [(left == c).sum() for c in classes]
            counts_r = [(right == c).sum() for c in classes]
            acc = max(counts_l) + max(counts_r)
            if acc > best[0]:
                best = (
                    acc,
                    j,
                    t,
                    classes[int(np.argmax(counts_l))],
                    classes[int(np.argmax(counts_r))],
                )
    _, j, t, left_class, right_class = best
    return np.where(X_test[:, j] <= t, left_class, right_class)


@pytest.mark.parametrize("max_counts", [1, 50, 2_000_000])
def test_vectorised_stump_matches_the_plain_loop(max_counts: int) -> None:
    """Whatever the chunking of features, the same feature, threshold and sides as the loop."""
    from beyonder.selector.encoding import _stump

    rng = np.random.default_rng(3)
    for trial in range(200):
        n, f = int(rng.integers(2, 40)), int(rng.integers(1, 12))
        X = rng.integers(0, 3, (n, f)).astype(float) if trial % 2 else rng.normal(size=(n, f))
        y = rng.integers(0, int(rng.integers(2, 5)), n)
        X_test, classes = rng.normal(size=(15, f)), np.unique(y)
        np.testing.assert_array_equal(
            _stump(X, y, X_test, classes, max_counts=max_counts),
            _stump_by_loop(X, y, X_test, classes),
        )
