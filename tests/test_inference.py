"""Inference without TensorFlow: the NumPy network against the Keras one, the registry read
without MLflow against MLflow's own answers, and processes that recommend, embed and serve
without ever importing TensorFlow or Keras.

Tiny untrained networks (``tests/helpers.py``); seconds, not minutes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import TINY_CLASSIFIERS, table, tiny_recommender, tiny_registry

REPO = Path(__file__).resolve().parents[1]
TOLERANCE = 1e-5
HEAVY = ("tensorflow", "keras")


def _tables() -> dict[str, tuple[pd.DataFrame, str]]:
    """Mixed types with missing cells; all categorical; wider and longer than one view (random
    views); a table that fits whole in one view; a binary one with a missing-heavy column."""
    rng = np.random.default_rng(5)
    wide = pd.DataFrame(rng.normal(size=(400, 24)), columns=[f"x{i}" for i in range(24)])
    wide.iloc[rng.random(wide.shape) < 0.05] = np.nan
    wide["class"] = np.where(wide["x0"].fillna(0) > 0, "a", "b")
    categorical = pd.DataFrame(
        {f"c{i}": rng.choice(["u", "v", "w", None], size=180) for i in range(5)}
        | {"class": rng.choice(["yes", "no"], size=180)}
    )
    small = table(40, seed=4)
    holes = table(250, seed=6, n_classes=2)
    holes.loc[holes.index % 3 == 0, "b"] = np.nan
    return {
        "mixed": (table(300, seed=3), "class"),
        "categorical": (categorical, "class"),
        "wide": (wide, "class"),
        "small": (small, "class"),
        "holes": (holes, "class"),
    }


@pytest.fixture(scope="module", params=["no_dropout", "dropout"])
def keras_and_numpy(request, tmp_path_factory):
    """A tiny Keras recommender and the same one saved and loaded for NumPy inference.
    With dropout > 0, Keras' attention takes its explicit-softmax path, as trained models do."""
    import keras

    from beyonder.selector.estimator import new_network
    from beyonder.serving.recommend import Recommender

    recommender = tiny_recommender(seed=2)
    if request.param == "dropout":
        c = recommender.estimator.config
        c.dropout, c.blocks = 0.1, 2
        keras.utils.set_random_seed(3)
        recommender.estimator.model_ = new_network(c)
    directory = recommender.save(tmp_path_factory.mktemp("model") / "beyonder")
    return recommender, Recommender.load(directory)


def test_numpy_predictions_match_keras_on_every_output(keras_and_numpy) -> None:
    from beyonder.selector.inference import EMBEDDING, NumpyBeyonder
    from beyonder.selector.network import max_difference

    keras_side, numpy_side = keras_and_numpy
    assert isinstance(numpy_side.estimator, NumpyBeyonder)
    for name, (frame, target) in _tables().items():
        encoded = keras_side.encode(keras_side.samples(frame, target))
        expected, actual = (
            keras_side.estimator.predict(encoded),
            numpy_side.estimator.predict(encoded),
        )
        for key in ("accuracy", "accuracy_spread"):
            assert max_difference({key: expected[key]}, actual)[key] <= TOLERANCE, (name, key)
        # fit time in seconds is 10 ** (the network's log10 output): held relatively here,
        # and absolutely on the log10 output below
        np.testing.assert_allclose(
            actual["fit_time"], expected["fit_time"], rtol=TOLERANCE, err_msg=name
        )
        embedded = max_difference(
            {EMBEDDING: keras_side.estimator.embed(encoded)},
            {EMBEDDING: numpy_side.estimator.embed(encoded)},
        )
        assert embedded[EMBEDDING] <= TOLERANCE, name
        # the raw outputs on the very views predict reads: accuracy, log10 fit time, embedding
        views, _ = numpy_side.estimator._views(encoded, None)
        raw_keras = keras_side.estimator._run(views) | keras_side.estimator._run(
            views, embedding=True
        )
        raw_numpy = numpy_side.estimator._run(views) | numpy_side.estimator._run(
            views, embedding=True
        )
        worst = max_difference(raw_keras, raw_numpy)
        assert (
            set(worst) == {"accuracy", "fit_time", "scores", EMBEDDING}
            and max(worst.values()) <= TOLERANCE
        ), (name, worst)
        # and the whole recommendation
        pd.testing.assert_frame_equal(
            numpy_side.predict(frame, target),
            keras_side.predict(frame, target),
            check_exact=False,
            rtol=TOLERANCE,
            atol=TOLERANCE,
        )


def test_a_fully_masked_view_matches_keras_too(keras_and_numpy) -> None:
    """No feature at all in a view (every key masked): Keras' two attention paths disagree
    there (uniform vs zero weights); the export follows the one its model takes."""
    from beyonder.selector.encoding import N_CHANNELS, N_GLOBALS, EncodedSample
    from beyonder.selector.inference import network_inputs
    from beyonder.selector.network import max_difference

    keras_side, numpy_side = keras_and_numpy
    config = keras_side.estimator.config
    views = [
        EncodedSample(
            np.ones((5, 0, N_CHANNELS), np.float32), np.linspace(0, 1, N_GLOBALS).astype(np.float32)
        )
    ]
    inputs = network_inputs(views, config)
    expected = {
        k: np.asarray(v) for k, v in keras_side.estimator.model_(inputs, training=False).items()
    }
    actual = numpy_side.estimator.network(inputs)
    assert max(max_difference(expected, actual).values()) <= TOLERANCE


def test_save_checks_the_export_against_keras(keras_and_numpy) -> None:
    from beyonder.selector.estimator import ExportError, check_export
    from beyonder.selector.network import NumpyNetwork, export_weights

    keras_side, _ = keras_and_numpy
    model, config = keras_side.estimator.model_, keras_side.estimator.config
    weights = export_weights(model)
    assert max(check_export(model, NumpyNetwork(weights), config).values()) <= TOLERANCE
    weights["head_hidden.bias"] = weights["head_hidden.bias"] + 1e-3  # a drifted layer
    with pytest.raises(ExportError, match="differs from the Keras model"):
        check_export(model, NumpyNetwork(weights), config)


def test_an_unknown_export_format_is_refused(keras_and_numpy, tmp_path) -> None:
    from beyonder.selector.network import NumpyNetwork, export_weights

    weights = export_weights(keras_and_numpy[0].estimator.model_)
    weights["__meta__"] = np.array(json.dumps({"format": 99}))
    with pytest.raises(ValueError, match="format 99"):
        NumpyNetwork(weights)


# --------------------------------------------------------------------------- registry and processes


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """A tiny model registered as champion (and as version 1) in a throwaway SQLite registry."""
    with tiny_registry(tmp_path_factory.mktemp("registry")) as found:
        yield found


def test_registry_read_without_mlflow_agrees_with_mlflow(registry) -> None:
    from mlflow.tracking import MlflowClient

    from beyonder import tracking
    from beyonder.registry import local_folder, model_version_location, registered_artifact

    uri = registry.uri
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    version = registry.version
    expected = client.get_model_version_download_uri("beyonder", version.version)
    assert model_version_location("models:/beyonder@champion", uri) == expected
    assert model_version_location(f"models:/beyonder/{version.version}", uri) == expected
    folder = registered_artifact("models:/beyonder@champion", uri, "beyonder")
    assert folder is not None and folder.is_relative_to(local_folder(expected))
    assert (folder / "network.npz").is_file() and (folder / "pipeline.json").is_file()
    # what the fast path cannot answer goes back to MLflow (None): no such alias, model or
    # version, the "latest" alias, runs:/ URIs, another kind of registry, another workspace
    for other in ("models:/beyonder@nobody", "models:/nothing@champion", "models:/beyonder/99",
                  "models:/beyonder@latest", f"runs:/{version.run_id}/model"):  # fmt: skip
        assert model_version_location(other, uri) is None, other
    assert model_version_location("models:/beyonder@champion", "http://127.0.0.1:5000") is None
    os.environ["MLFLOW_WORKSPACE"] = "elsewhere"
    try:
        assert model_version_location("models:/beyonder@champion", uri) is None
    finally:
        os.environ.pop("MLFLOW_WORKSPACE")
    # a moved alias is seen at once: the registry is read, not a copy of it
    tracking.set_alias(version, "challenger")
    assert model_version_location("models:/beyonder@challenger", uri) == expected
    client.delete_registered_model_alias("beyonder", "challenger")
    assert model_version_location("models:/beyonder@challenger", uri) is None


def _python(code: str, registry: dict, checkout: bool = True) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter on the registry; ``checkout``: with this checkout's
    code first on the path, else only what is installed (and what a model brings)."""
    env = {**os.environ, "MLFLOW_TRACKING_URI": registry.uri}
    env.pop("PYTHONPATH", None)
    if checkout:
        env["PYTHONPATH"] = str(REPO)
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=registry.dir,
    )


def test_recommend_and_embed_never_import_tensorflow(registry) -> None:
    """``beyonder.recommend(PATH)`` and the CLI's ``embed`` on the registry's champion: the
    same answers as in this process (which has Keras), without TensorFlow, Keras or MLflow."""
    from beyonder.serving.recommend import load_recommender

    code = (
        "import json, sys, beyonder\n"
        f"table = beyonder.recommend({str(registry.csv)!r})\n"
        "from beyonder.cli import main\n"
        f"assert main(['embed', {str(registry.csv)!r}, '--json']) == 0\n"
        "print(json.dumps({'table': table.to_dict('list'),\n"
        "    'loaded': [m for m in ('tensorflow', 'keras', 'mlflow') if m in sys.modules]}))\n"
    )
    result = _python(code, registry)
    assert result.returncode == 0, result.stderr
    embedded, report = (json.loads(line) for line in result.stdout.strip().splitlines()[-2:])
    assert report["loaded"] == []
    recommender = load_recommender("models:/beyonder@champion", cache=False)
    frame = pd.read_csv(registry.csv)
    expected = recommender.predict(frame, "class")
    assert report["table"]["classifier"] == list(expected["classifier"])
    np.testing.assert_allclose(
        report["table"]["predicted_accuracy"], expected["predicted_accuracy"], atol=1e-12
    )
    np.testing.assert_allclose(
        embedded["embedding"], recommender.embed(frame, "class"), rtol=1e-6, atol=1e-7
    )


def test_the_logged_model_serves_without_tensorflow_and_is_self_contained(registry) -> None:
    """``mlflow.pyfunc.load_model`` (what ``mlflow models serve`` runs) predicts what
    ``recommend`` predicts without importing TensorFlow; the model carries its code and real
    pip requirements (not ``beyonder``, an unrelated project on PyPI)."""
    import beyonder
    from beyonder.registry import local_folder, model_version_location

    folder = local_folder(model_version_location("models:/beyonder@champion", registry.uri))
    requirements = (folder / "requirements.txt").read_text().split()
    names = {r.split("~=")[0].split("==")[0] for r in requirements}
    assert {
        "mlflow",
        "numpy",
        "pandas",
        "pyarrow",
        "threadpoolctl",
    } <= names and "beyonder" not in names
    assert not names & {"tensorflow", "tensorflow-cpu", "keras"}
    assert all("~=" in r for r in requirements), requirements
    code = folder / "code" / "beyonder"
    for module in (
        "serving/recommend.py",
        "selector/network.py",
        "selector/inference.py",
        "serving/pyfunc.py",
    ):
        assert (code / module).read_text() == (Path(beyonder.__file__).parent / module).read_text()

    script = (
        "import json, sys, mlflow, pandas as pd\n"
        "model = mlflow.pyfunc.load_model('models:/beyonder@champion')\n"
        "import beyonder\n"
        f"served = model.predict(pd.read_csv({str(registry.csv)!r}), params={{'target': 'class'}})\n"
        f"direct = beyonder.recommend({str(registry.csv)!r})\n"
        "print(json.dumps({'served': served['predicted_accuracy'].tolist(),\n"
        "    'direct': direct['predicted_accuracy'].tolist(), 'classifiers': served['classifier'].tolist(),\n"
        "    'loaded': [m for m in ('tensorflow', 'keras') if m in sys.modules],\n"
        "    'code': beyonder.__file__}))\n"
    )
    # not this checkout on the path: the model's own copy of the code is what runs
    result = _python(script, registry, checkout=False)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["loaded"] == []
    assert Path(report["code"]).resolve() == (code / "__init__.py").resolve()
    assert sorted(report["classifiers"]) == sorted(TINY_CLASSIFIERS)
    np.testing.assert_allclose(report["served"], report["direct"], atol=1e-12)


def test_float32_erf_is_exact_to_float32_precision() -> None:
    """The table erf behind GELU (no SciPy: faster, and 0.15 s less to import)."""
    import math

    from beyonder.selector.network import erf_float32

    rng = np.random.default_rng(0)
    x = np.concatenate(
        [np.linspace(-6, 6, 200_001), rng.normal(scale=3, size=20_000), [0.0, 1e-30, -4.0, 4.0]]
    )
    x = x.astype(np.float32)
    exact = np.array([math.erf(float(v)) for v in x])
    assert np.abs(erf_float32(x) - exact).max() < 1e-7
