"""Masked-cell pre-training of the selector's encoder (``beyonder/selector/cell_pretraining.py``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_crossval import CONFIG, _workspace

from beyonder.evaluation.crossval import RunSettings, _fit_beyonder, predict_fold
from beyonder.evaluation.variants import Variant
from beyonder.schema import TARGET
from beyonder.selector import cell_pretraining as cp
from beyonder.selector.encoding import encode_sample
from beyonder.selector.inference import BeyonderConfig, network_inputs

TINY = BeyonderConfig(
    dim=16,
    heads=2,
    blocks=1,
    inducing=4,
    rows=32,
    max_features=6,
    batch_size=4,
    dropout=0.0,
    learning_rate=0.003,
)


def _redundant(seed: int, n: int = 60) -> pd.DataFrame:
    """Columns that are nearly copies of one another and a categorical copy of their sign: a
    hidden cell can be read back from its row."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    frame = pd.DataFrame({f"x{j}": x * (j + 1) + rng.normal(0, 0.05, n) for j in range(4)})
    frame["sign"] = np.where(x > 0, "up", "down")
    frame.loc[rng.choice(n, 5, replace=False), "x0"] = np.nan
    frame[TARGET] = np.where(x + rng.normal(0, 1, n) > 0, "p", "q")
    return frame


def test_hidden_cells_read_as_missing_and_only_they_are_targets() -> None:
    sample = encode_sample(_redundant(0))
    inputs = network_inputs([sample, sample], TINY)
    inputs["row_mask"][1, 50:] = 0.0  # a shorter second view: its padding is never hidden
    masked, targets = cp.hide_cells(inputs, 0.3, np.random.default_rng(0))
    hidden = ~np.isnan(targets[..., 0])
    assert "globals" not in masked
    assert 0.2 < hidden.mean() < 0.4
    assert not hidden[1, 50:].any()
    assert not hidden[inputs["cells"][..., cp.MISSING] > 0].any()  # cells missing already
    assert (masked["cells"][..., cp.MISSING][hidden] == 1).all()
    for channel in cp.HIDDEN_CHANNELS:
        assert (masked["cells"][..., channel][hidden] == 0).all()
    categorical = hidden & (inputs["cells"][..., cp.CATEGORICAL] > 0)
    assert categorical.any() and (masked["cells"][..., cp.CLASS_MEAN][categorical] == 0).all()
    visible = ~hidden
    np.testing.assert_array_equal(masked["cells"][visible], inputs["cells"][visible])
    np.testing.assert_array_equal(
        targets[hidden], inputs["cells"][hidden][:, list(cp.HIDDEN_CHANNELS)]
    )


@pytest.mark.slow  # 20 epochs until it has learned (the quick loop checks the seeding on two)
def test_the_encoder_learns_to_fill_hidden_cells() -> None:
    """On tables whose columns repeat one another the loss falls well below predicting zero."""
    samples = [encode_sample(_redundant(s)) for s in range(8)]
    weights, losses = cp.pretrain_encoder(samples, TINY, epochs=20)
    assert set(weights) == {"cell_embed", "cell_project", "axial_0"}
    assert losses["loss"] < 0.6 * losses["zero_prediction_loss"], losses


def test_the_same_seed_pretrains_the_same_encoder() -> None:
    """Two epochs (each its own draw of views and hidden cells) twice: the same weights."""
    samples = [encode_sample(_redundant(s)) for s in range(4)]
    weights, _ = cp.pretrain_encoder(samples, TINY, epochs=2)
    again, _ = cp.pretrain_encoder(samples, TINY, epochs=2)
    for name in weights:
        for a, b in zip(weights[name], again[name], strict=True):
            np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="at least 1"):
        cp.pretrain_encoder(samples, TINY, epochs=0)


def test_a_selector_starts_from_the_pretrained_encoder_and_can_keep_it_frozen() -> None:
    """``--variant NAME pretrain=cells``: the encoder pre-trained on the fold's training samples
    is loaded into the selector; with ``finetune=heads`` exactly those layers keep their weights
    while pooling and heads train (fine-tuning all layers is the plain fit from other weights)."""
    ws = _workspace(6, 1)
    samples = [ws.encoded[s] for s in ws.original.index["sample_id"]]
    encoder, _ = cp.pretrain_encoder(samples, CONFIG, epochs=1)
    est, _ = _fit_beyonder(
        ws, ws.original, CONFIG, 0, 0.2, lambda _: None, heads_only=True, encoder=encoder
    )
    for name, values in encoder.items():
        for a, b in zip(est.model_.get_layer(name).get_weights(), values, strict=True):
            np.testing.assert_array_equal(a, b)
    assert est.model_.get_layer("pool_features").trainable
    lines: list[str] = []
    datasets = set(ws.original.index["dataset"])
    variant = Variant("cells", pretrain="cells", pretrain_epochs=1, finetune="heads")
    preds = predict_fold(
        ws,
        datasets - {"d5"},
        ws,
        {"d5"},
        CONFIG,
        RunSettings(("beyonder",), log=lines.append, variants=(variant,)),
    ).predictions
    assert preds["beyonder_cells"].shape == preds["beyonder"].shape
    assert any("masked-cell loss" in line for line in lines)
    with pytest.raises(ValueError, match="pretrain must be 'cells'"):
        Variant("x", pretrain="bert")
