"""Repeatability: the same ``params.yaml`` and seed give the same data and labels, bit for bit,
and the same model within a stated tolerance.

- the synthetic source, the cleaned datasets and the bootstrap samples: identical content
  hashes, in this process and in a second one (another ``PYTHONHASHSEED``);
- the labels table (accuracy, accuracy_std, n_folds, error; fit/predict times are wall-clock
  measurements and are not compared) of two independent label runs, each into its own cache,
  one of them in the second process: identical, ``check_exact``;
- two ``Beyonder`` fits with the same seed in one process, other models built in between:
  identical weights, losses and predictions.

A label that hits ``label.fit_timeout`` depends on the machine's load, so labels repeat only
when no label times out (the timeout is off here).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
import pytest

from beyonder.config import Layout
from beyonder.data.cleaning import CleaningConfig, clean_dataset
from beyonder.data.sampling import bootstrap_samples
from beyonder.data.sources.synthetic import SyntheticSpec, load_synthetic
from beyonder.labels.labelling import CVSettings
from beyonder.stages.ingest import storable
from beyonder.stages.label import LabelCache, assemble_labels, pending_jobs, run_job
from beyonder.storage import frame_hash, write_json, write_parquet

SEED = 42
SPEC = SyntheticSpec(rows=(60, 150), features=(2, 8), classes=(2, 4))
CLASSIFIERS = [
    "logreg",
    "knn",
    "decision_tree",
    "random_forest",
    "extra_trees",
    "hist_gb",
]
"""The randomised members of the portfolio (forests, boosting) plus cheap ones."""
CV = CVSettings(n_folds=3, seed=SEED, fit_timeout=None)
COMPARED = ["sample_id", "dataset", "classifier", "accuracy", "accuracy_std", "n_folds", "error"]


def run_chain(root: str | Path, n_datasets: int = 3) -> dict:
    """Synthetic source -> stored raw frame -> clean -> bootstrap samples -> labels, under
    ``root``; returns the hashes of every step (the labels table is written as Parquet)."""
    layout = Layout(root)
    hashes: dict = {"raw": {}, "clean": {}, "samples": {}}
    entries = []
    for dataset in load_synthetic(n_datasets, SEED, SPEC):
        raw = storable(dataset)
        hashes["raw"][dataset.name] = frame_hash(raw)
        cleaned, _ = clean_dataset(raw, CleaningConfig(n_folds=CV.n_folds))
        hashes["clean"][dataset.name] = frame_hash(cleaned)
        for sample_id, sample in bootstrap_samples(cleaned, dataset.name, 60, 1, True, SEED):
            path = layout.dataset_file(layout.samples, sample_id)
            write_parquet(sample, path)
            hashes["samples"][sample_id] = frame_hash(sample)
            entries.append(
                {
                    "sample_id": sample_id,
                    "dataset": dataset.name,
                    "hash": frame_hash(sample),
                    "file": str(path.relative_to(layout.root.resolve())),
                }
            )
    write_json(entries, layout.samples / "index.json")
    cache = LabelCache(layout.label_cache)
    for job in pending_jobs(entries, CLASSIFIERS, CV, cache):
        run_job(job, CV, cache, layout.root.resolve())
    table = assemble_labels(entries, CLASSIFIERS, CV, cache)
    write_parquet(table, layout.labels / "labels.parquet")
    return hashes


def test_synthetic_source_is_bit_identical_across_calls() -> None:
    first = [(d.name, frame_hash(d.frame), d.meta) for d in load_synthetic(4, SEED, SPEC)]
    second = [(d.name, frame_hash(d.frame), d.meta) for d in load_synthetic(4, SEED, SPEC)]
    assert first == second
    other = [frame_hash(d.frame) for d in load_synthetic(4, SEED + 1, SPEC)]
    assert other != [h for _, h, _ in first]  # the seed matters


def test_samples_regenerated_from_the_seed_are_bit_identical() -> None:
    dataset = next(load_synthetic(1, SEED, SPEC))
    cleaned, _ = clean_dataset(storable(dataset))
    a = bootstrap_samples(cleaned, dataset.name, 60, 3, True, SEED)
    b = bootstrap_samples(cleaned.copy(), dataset.name, 60, 3, True, SEED)
    assert [(i, frame_hash(s)) for i, s in a] == [(i, frame_hash(s)) for i, s in b]


@pytest.mark.slow  # the data pipeline twice, once in a fresh process
def test_two_independent_label_runs_give_identical_labels(tmp_path) -> None:
    """One run here, one in a fresh process with another hash seed, each with its own cache."""
    here = run_chain(tmp_path / "a")
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); "
        "from test_repeatability import run_chain; "
        "print(json.dumps(run_chain(sys.argv[2])))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", code, str(Path(__file__).parent), str(tmp_path / "b")],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    there = json.loads(done.stdout.strip().splitlines()[-1])
    assert here == there  # raw, cleaned and sampled frames: same content hashes
    a = pd.read_parquet(tmp_path / "a" / "data" / "labels" / "labels.parquet")
    b = pd.read_parquet(tmp_path / "b" / "data" / "labels" / "labels.parquet")
    assert len(a) == len(here["samples"]) * len(CLASSIFIERS)
    assert a["error"].isna().all(), a.loc[a["error"].notna(), ["classifier", "error"]]
    pd.testing.assert_frame_equal(a[COMPARED], b[COMPARED], check_exact=True)
    caches = [sorted(p.name for p in (tmp_path / r / "data").rglob("*.json")) for r in "ab"]
    assert caches[0] == caches[1]  # the same label keys


@pytest.mark.filterwarnings("ignore:Even though the:UserWarning")  # tf.data stays traced
@pytest.mark.parametrize("mode", ["eager", pytest.param("graph", marks=pytest.mark.slow)])
def test_two_fits_with_the_same_seed_predict_the_same(mode: str, monkeypatch) -> None:
    """Same seed, same data: same weights, losses and predictions. ``eager`` runs the training
    step without tracing it (seconds instead of minutes on two busy cores), as every fit of a
    few steps runs; ``graph`` is the way ``dvc repro`` trains on the corpus (slow: about 40 s
    of tracing per fit, minutes under load)."""
    import tensorflow as tf

    from beyonder.selector import fitting

    tf.config.run_functions_eagerly(mode == "eager")
    monkeypatch.setattr(fitting, "EAGER_STEPS", 1000 if mode == "eager" else 0)
    try:
        _fit_twice_and_compare()
    finally:
        tf.config.run_functions_eagerly(False)


def _fit_twice_and_compare() -> None:
    import random

    import keras

    from beyonder.schema import ROW_ID
    from beyonder.selector import fitting
    from beyonder.selector.encoding import encode_sample
    from beyonder.selector.estimator import Beyonder, BeyonderConfig

    class DrawsFromRandom(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None) -> None:
            random.random()

    samples = []
    for dataset in load_synthetic(5, SEED, SPEC):
        cleaned, _ = clean_dataset(storable(dataset))
        _, sample = bootstrap_samples(cleaned, dataset.name, 48, 1, True, SEED)[0]
        samples.append(encode_sample(sample))
        assert ROW_ID in sample.columns
    rng = np.random.default_rng(0)
    accuracy = rng.uniform(0.4, 1.0, size=(len(samples), 3))
    fit_time = rng.uniform(0.01, 1.0, size=(len(samples), 3))
    config = BeyonderConfig(
        classifiers=["logreg", "knn", "decision_tree"], rows=32, max_features=8, dim=16, heads=2,
        blocks=1, inducing=4, dropout=0.1, epochs=2, batch_size=2, views=2, seed=7,
    )  # fmt: skip
    # the first fit runs beside something that draws from Python's global `random`; Keras
    # shuffles a PyDataset's batches with it unless told not to
    first = Beyonder(config).fit(samples, accuracy, fit_time, callbacks=[DrawsFromRandom()])
    first.embed(samples[:1])  # builds another Keras model: process history a fit must not see
    # another fit in between, eager in both modes: it is there to leave process history (layer
    # names, the eager op-seed counter), and tracing it would add a third trace to the graph case
    with mock.patch.object(fitting, "EAGER_STEPS", 1000):
        Beyonder(replace(config, seed=8)).fit(samples[:2], accuracy[:2], fit_time[:2])
    second = Beyonder(config).fit(samples, accuracy, fit_time)
    p1, p2 = first.predict(samples), second.predict(samples)
    for key in p1:
        np.testing.assert_array_equal(p1[key], p2[key], err_msg=key)
    assert first.history_["loss"] == second.history_["loss"]
    for w1, w2 in zip(first.model_.get_weights(), second.model_.get_weights(), strict=True):
        np.testing.assert_array_equal(w1, w2)
