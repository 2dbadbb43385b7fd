"""Shared test setup: offline/quiet environment (set before Keras, Prefect, MLflow or DVC are
imported), eager Keras for the unit fits, one Prefect API for the session's flow runs, and
the UCI folder beside the repository.

The quick loop is ``pytest -m 'not slow'``: a test that starts a server (Prefect, ``mlflow
models serve``) or runs a pipeline is marked ``slow``, and only slow tests train Keras
networks in graph mode, as ``dvc repro`` does on the corpus (tracing costs about 30-40 s per fit
on two busy cores; the unit fits run eagerly, ``pytest_runtest_setup``, and so does any fit of
at most ``fitting.EAGER_STEPS`` steps). No test asserts on elapsed
time: timings belong in ``bench/``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

for _key, _value in {
    "KERAS_BACKEND": "tensorflow",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DVC_NO_ANALYTICS": "1",
    # one pytest-xdist worker per core: single-threaded OpenMP and BLAS in each (as in the
    # label stage's Dask workers), or hist_gb's OpenMP threads spin-wait for a core the other
    # worker holds and a one-second fit takes ten
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}.items():
    os.environ.setdefault(_key, _value)

LONGEST_FIRST = (
    "test_pipeline_dvc.py",
    "test_label_engine.py",
    "test_signals.py",
    "test_repeatability.py",
    "test_crossval.py",
    "test_bundled_corpus.py",
    "test_inference.py",
    "test_budget.py",
)
"""The modules that take longest (``bench/suite_times.py`` ranks them), run first. With
``--dist loadfile --no-loadscope-reorder`` pytest-xdist hands modules out in this order as
workers free up, so the two workers end within a short module of each other instead of one
starting the pipeline run late (its default order is by number of tests)."""

SHARED_UCI = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "uci"
"""Same location as ``tests/test_sources.py``'s ``UCI``: ``../shared/datasets/uci``."""


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Keras fits and predictions run eagerly in the quick tests (no graph tracing: the
    networks there are tiny and fit for an epoch or two), in graph mode in the slow ones. Only
    once TensorFlow is imported (the test modules that fit import it at collection): a test
    that needs no Keras never pays for importing it."""
    tf = sys.modules.get("tensorflow")
    if tf is not None and hasattr(tf, "config"):
        tf.config.run_functions_eagerly(item.get_closest_marker("slow") is None)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``LONGEST_FIRST`` modules first; the others, and every module's own tests, in collection
    order (a stable sort)."""
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


@pytest.fixture(scope="session")
def shared_uci() -> Path:
    """The shared UCI datasets folder; the test is skipped when it is not there."""
    if not SHARED_UCI.is_dir():
        pytest.skip(f"shared UCI datasets not found at {SHARED_UCI}")
    return SHARED_UCI


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[str]:
    """One temporary Prefect API for every flow run of the session, exported as
    ``PREFECT_API_URL``: ``flows.runtime.prefect_api``, ``run_stage`` and ``beyonder``
    subprocesses use it instead of each starting their own server (seconds each)."""
    from beyonder.quiet import quiet_environment

    quiet_environment()
    from flows.runtime import prefect_api

    saved = os.environ.pop("PREFECT_API_URL", None)
    with prefect_api() as url:
        yield url
    if saved is not None:
        os.environ["PREFECT_API_URL"] = saved
