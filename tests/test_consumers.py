"""Consumers of a trained model: ``recommend`` (CLI and Python), ``embed``, ``finetune``,
``mlflow models serve`` answering real HTTP requests, and the evaluation report.

One module-scoped throwaway MLflow registry holds a tiny untrained model as
``models:/beyonder@champion`` (``tests/helpers.py``); nothing here runs the pipeline.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import TINY_CLASSIFIERS, table, tiny_registry

from beyonder.selector.finetune import trainable

REPO = Path(__file__).resolve().parents[1]
OUTPUT_COLUMNS = [
    "rank", "classifier", "predicted_accuracy", "spread", "accuracy_low", "accuracy_high",
    "predicted_fit_time", "predicted_table_fit_time",
]  # fmt: skip


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """A registry with a tiny model as champion; MLflow points at it for the module."""
    with tiny_registry(tmp_path_factory.mktemp("registry")) as found:
        yield found


def _cli(capsys, *argv: str) -> tuple[int, str, str]:
    from beyonder.cli import main

    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


# --------------------------------------------------------------------------- import


def test_import_beyonder_loads_neither_tensorflow_nor_mlflow() -> None:
    code = (
        "import sys, beyonder\n"
        "heavy = [m for m in ('tensorflow', 'keras', 'mlflow', 'prefect') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "assert callable(beyonder.recommend) and beyonder.recommend.Recommender\n"
        "assert 'tensorflow' not in sys.modules  # the recommend module is light too\n"
        "import beyonder.serving.recommend\n"
        "assert 'scipy.stats' not in sys.modules  # slow to import: a cold recommend\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr


# --------------------------------------------------------------------------- recommend


def test_recommend_from_python_ranks_the_portfolio(registry) -> None:
    import beyonder
    from beyonder.serving.recommend import load_recommender

    frame = pd.read_csv(registry.csv)
    ranked = beyonder.recommend(frame, target="class")
    assert list(ranked.columns) == OUTPUT_COLUMNS
    assert sorted(ranked["classifier"]) == sorted(TINY_CLASSIFIERS)
    assert ranked["rank"].tolist() == list(range(1, len(TINY_CLASSIFIERS) + 1))
    assert ranked["predicted_accuracy"].is_monotonic_decreasing
    assert ranked["predicted_accuracy"].between(0, 1).all()
    assert (ranked["spread"] >= 0).all() and (ranked["predicted_fit_time"] > 0).all()
    svms = ranked[ranked["classifier"].str.startswith("svm_")]
    assert ranked.attrs["best_svm_kernel"] == svms.iloc[0]["classifier"]
    assert ranked.attrs["target"] == "class" and ranked.attrs["rows"] == 300
    # the same as the registered model's own predict
    again = load_recommender("models:/beyonder@champion").predict(frame, "class")
    pd.testing.assert_frame_equal(
        ranked, again, check_like=False, check_exact=False, rtol=0, atol=1e-9
    )


def test_a_large_table_is_read_as_averaged_subsamples(registry) -> None:
    """Larger than the model's sample size: several bootstrap subsamples, predictions averaged."""
    from beyonder.selector.encoding import encode_sample
    from beyonder.serving.recommend import load_recommender

    recommender = load_recommender("models:/beyonder@champion")
    frame = table(1000, seed=5)
    samples = recommender.samples(frame, "class")
    assert len(samples) == recommender.subsamples > 1
    assert all(len(s) == recommender.sample_rows < len(frame) for s in samples)
    assert (
        samples[0].drop(columns="__row_id__").ne(samples[1].drop(columns="__row_id__")).any().any()
    )
    ranked = recommender.predict(frame, "class").set_index("classifier")
    each = recommender.estimator.predict([encode_sample(s) for s in samples])["accuracy"]
    expected = pd.Series(each.mean(axis=0), index=recommender.estimator.config.classifiers)
    np.testing.assert_allclose(
        ranked.loc[expected.index, "predicted_accuracy"], expected, atol=1e-12
    )
    assert ranked.attrs["subsamples"] == len(samples)


def _write_arff(frame: pd.DataFrame, path: Path) -> None:
    import arff

    attributes = []
    for column in frame.columns:
        if pd.api.types.is_numeric_dtype(frame[column]):
            attributes.append((column, "REAL"))
        else:
            attributes.append((column, sorted(frame[column].dropna().unique().tolist())))
    rows = [[None if pd.isna(v) else v for v in row] for row in frame.itertuples(index=False)]
    path.write_text(arff.dumps({"relation": "t", "attributes": attributes, "data": rows}))


def test_csv_arff_and_parquet_give_the_same_recommendation(registry, tmp_path) -> None:
    from beyonder.serving.recommend import recommend

    frame = pd.read_csv(registry.csv)
    frame.to_parquet(tmp_path / "t.parquet", index=False)
    _write_arff(frame, tmp_path / "t.arff")  # class is the last attribute: no --target needed
    base = recommend(registry.csv, target="class")
    for other in (
        recommend(tmp_path / "t.parquet", target="class"),
        recommend(tmp_path / "t.arff"),
    ):
        assert other["classifier"].tolist() == base["classifier"].tolist()
        np.testing.assert_allclose(
            other["predicted_accuracy"], base["predicted_accuracy"], atol=1e-6
        )


def test_cli_recommend_prints_a_ranked_table_and_json(registry, capsys, monkeypatch) -> None:
    import flows.runtime
    from beyonder.serving.recommend import recommend

    def no_prefect():
        raise AssertionError("recommend must not start a Prefect API")

    monkeypatch.setattr(flows.runtime, "prefect_api", no_prefect)
    rc, out, err = _cli(capsys, "recommend", str(registry.csv), "--target", "class")
    assert rc == 0, err
    lines = out.splitlines()
    assert "300 rows" in lines[0]
    for name in TINY_CLASSIFIERS:
        assert any(name in line for line in lines[2:-1])
    expected = recommend(registry.csv, target="class")
    assert lines[-1] == f"best SVM kernel: {expected.attrs['best_svm_kernel']}"
    assert lines[2].split()[1] == expected["classifier"].iloc[0]

    rc, out, err = _cli(capsys, "recommend", str(registry.csv), "--target", "class", "--json")
    assert rc == 0, err
    payload = json.loads(out)
    assert payload["best_svm_kernel"] == expected.attrs["best_svm_kernel"]
    got = pd.DataFrame(payload["ranking"])
    assert got["classifier"].tolist() == expected["classifier"].tolist()
    np.testing.assert_allclose(
        got["predicted_accuracy"], expected["predicted_accuracy"], atol=1e-12
    )
    np.testing.assert_allclose(
        got["predicted_fit_time"], expected["predicted_fit_time"], rtol=1e-12
    )


def _bad_inputs(directory: Path) -> dict[str, tuple[list[str], str]]:
    one_class = table(60, seed=2).assign(**{"class": "only"})
    one_class.to_csv(directory / "one_class.csv", index=False)
    (directory / "garbage.parquet").write_bytes(b"PAR1 not really parquet")
    (directory / "notes.txt").write_text("hello")
    table(60).to_csv(directory / "ok.csv", index=False)
    return {
        "missing target column": (["ok.csv", "--target", "label"], "no target column 'label'"),
        "one class": (["one_class.csv", "--target", "class"], "one class"),
        "unreadable file": (["garbage.parquet", "--target", "class"], "unreadable Parquet"),
        "unsupported file": (["notes.txt"], "unsupported file type"),
        "no such file": (["missing.csv"], "no such file"),
    }


def test_bad_input_is_one_line_and_exit_code_2(registry, tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    for case, (args, expected) in _bad_inputs(tmp_path).items():
        for command in ("recommend", "embed"):
            rc, out, err = _cli(capsys, command, *args)
            assert rc == 2, (case, command, out, err)
            assert out == "", (case, out)
            assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, (case, err)
            assert err.startswith(f"beyonder {command}: ") and expected in err, (case, err)


def test_no_registry_and_unknown_model_are_one_line_errors(
    registry, tmp_path, capsys, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    table(60).to_csv(tmp_path / "ok.csv", index=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    rc, _, err = _cli(capsys, "recommend", "ok.csv")
    assert rc == 2 and "no model registry" in err and len(err.strip().splitlines()) == 1, err
    monkeypatch.setenv("MLFLOW_TRACKING_URI", registry.uri)
    rc, _, err = _cli(capsys, "recommend", "ok.csv", "--model", "models:/beyonder@nobody")
    assert rc == 2 and "cannot load model" in err and len(err.strip().splitlines()) == 1, err
    rc, _, err = _cli(capsys, "recommend", "ok.csv", "--model", str(tmp_path / "nothing"))
    assert rc == 2 and "no model at" in err, err


def test_cli_error_in_a_real_process_has_no_traceback(tmp_path) -> None:
    """The installed command, as a user runs it: exit status 2, one line on stderr."""
    table(60).to_csv(tmp_path / "ok.csv", index=False)
    script = Path(sys.executable).parent / "beyonder"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "beyonder.cli"]
    result = subprocess.run(
        [*command, "recommend", "ok.csv", "--target", "nope"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "beyonder recommend: ok.csv: no target column 'nope' (columns: a, b, c, colour, d, class)"
    ]


# --------------------------------------------------------------------------- embed


def test_embed_is_the_dataset_embedding_layer(registry, capsys) -> None:
    import keras

    from beyonder.selector.encoding import encode_sample
    from beyonder.serving.recommend import load_recommender

    rc, out, err = _cli(capsys, "embed", str(registry.csv), "--target", "class", "--json")
    assert rc == 0, err
    payload = json.loads(out)
    recommender = load_recommender("models:/beyonder@champion")
    dim = recommender.estimator.config.dim
    assert payload["dim"] == len(payload["embedding"]) == 3 * dim
    # the same as reading the Keras layer by hand (the command ran the NumPy export), averaged
    # over the same subsamples and views
    model = trainable(recommender.estimator).model_
    layer = keras.Model(model.input, model.get_layer("dataset_embedding").output)
    samples = [encode_sample(s) for s in recommender.samples(pd.read_csv(registry.csv), "class")]
    views, counts = recommender.estimator._views(samples, None)
    from beyonder.selector.estimator import _inputs

    values = np.asarray(layer.predict_on_batch(_inputs(views, recommender.estimator.config)))
    per_sample = np.split(values, np.cumsum(counts)[:-1])
    expected = np.mean([v.mean(axis=0) for v in per_sample], axis=0)
    np.testing.assert_allclose(payload["embedding"], expected, atol=1e-5)
    # plain output: one line of numbers; another dataset embeds elsewhere
    rc, out, _ = _cli(capsys, "embed", str(registry.csv), "--target", "class")
    assert rc == 0 and len(out.strip().splitlines()) == 1
    np.testing.assert_allclose(
        [float(v) for v in out.split()], payload["embedding"], rtol=1e-5, atol=1e-6
    )
    other = recommender.embed(table(200, seed=9, n_classes=2), "class")
    assert np.abs(other - np.asarray(payload["embedding"])).max() > 1e-4


# --------------------------------------------------------------------------- serve


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _post(url: str, body: bytes, content_type: str) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.slow
def test_mlflow_models_serve_answers_like_recommend(registry, capsys) -> None:
    from beyonder.serving.recommend import read_table

    port = _free_port()
    env = dict(os.environ)
    env.update(
        {
            "MLFLOW_TRACKING_URI": registry.uri,
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
            "KERAS_BACKEND": "tensorflow",
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "MLFLOW_DISABLE_TELEMETRY": "true",
        }
    )
    mlflow_cli = Path(sys.executable).parent / "mlflow"
    log = open(registry.dir / f"serve-{port}.log", "w")  # noqa: SIM115 (closed below)
    server = subprocess.Popen(
        [str(mlflow_cli), "models", "serve", "-m", "models:/beyonder@champion", "--env-manager", "local",
         "-h", "127.0.0.1", "-p", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            assert server.poll() is None, (registry.dir / f"serve-{port}.log").read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"{base}/ping", timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the scoring server did not start in 240 s"
            time.sleep(1)

        frame, target = read_table(registry.csv, "class")
        # exact floats (DataFrame.to_json rounds to 10 digits): the same data, bit for bit
        split = {
            "columns": [str(c) for c in frame.columns],
            "data": frame.astype(object).where(frame.notna(), None).to_numpy().tolist(),
        }
        body = json.dumps({"dataframe_split": split, "params": {"target": target}}).encode()
        status, answer = _post(f"{base}/invocations", body, "application/json")
        assert status == 200, answer
        served = pd.DataFrame(answer["predictions"])

        rc, out, err = _cli(capsys, "recommend", str(registry.csv), "--target", "class", "--json")
        assert rc == 0, err
        local = pd.DataFrame(json.loads(out)["ranking"])
        assert served["classifier"].tolist() == local["classifier"].tolist()
        assert served["rank"].tolist() == local["rank"].tolist()
        for column in ("predicted_accuracy", "spread", "predicted_fit_time"):
            np.testing.assert_allclose(served[column], local[column], rtol=1e-6, atol=1e-6)

        # a time budget (from the model's own predicted times: no clock involved)
        budget = float(local["predicted_table_fit_time"].median())
        body = json.dumps(
            {"dataframe_split": split, "params": {"target": target, "time_budget": budget}}
        ).encode()
        status, answer = _post(f"{base}/invocations", body, "application/json")
        assert status == 200, answer
        rc, out, err = _cli(
            capsys, "recommend", str(registry.csv), "--json", "--time-budget", str(budget)
        )
        budgeted = pd.DataFrame(json.loads(out)["ranking"])
        assert [(r["classifier"], r["rank"]) for r in answer["predictions"]] == list(
            zip(budgeted["classifier"], budgeted["rank"], strict=True)
        )
        assert 0 in budgeted["rank"].tolist()

        # CSV works too (the model's default target, "class")
        status, answer = _post(f"{base}/invocations", registry.csv.read_bytes(), "text/csv")
        assert status == 200, answer
        assert [r["classifier"] for r in answer["predictions"]] == local["classifier"].tolist()

        # bad input is the client's fault: 400 and the reason
        body = json.dumps({"dataframe_split": split, "params": {"target": "label"}}).encode()
        status, answer = _post(f"{base}/invocations", body, "application/json")
        assert status == 400, answer
        assert answer["error_code"] == "INVALID_PARAMETER_VALUE"
        assert "beyonder: no target column 'label'" in answer["message"]
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)
        log.close()


# --------------------------------------------------------------------------- finetune


def test_finetune_registers_a_challenger_with_a_changed_portfolio(
    registry, tmp_path, capsys
) -> None:
    from beyonder.serving.recommend import load_recommender

    folder = tmp_path / "mine"
    folder.mkdir()
    rows = []
    rng = np.random.default_rng(0)
    for i in range(3):
        table(150, seed=20 + i, n_classes=2 + i % 2).to_csv(folder / f"set{i}.csv", index=False)
        for clf in ["logreg", "decision_tree", "svm_rbf", "svm_linear", "extra_trees"]:  # no knn
            rows.append(
                {
                    "dataset": f"set{i}",
                    "classifier": clf,
                    "accuracy": rng.uniform(0.6, 0.95),
                    "fit_time": 0.01,
                }
            )
    pd.DataFrame(rows).to_csv(tmp_path / "labels.csv", index=False)

    rc, out, err = _cli(
        capsys, "finetune", "--labels", str(tmp_path / "labels.csv"), "--datasets", str(folder),
        "--target", "class", "--epochs", "2", "--unfreeze", "1", "--root", str(tmp_path), "--json",
    )  # fmt: skip
    assert rc == 0, err
    summary = json.loads(out)
    assert summary["alias"] == "challenger" and summary["version"] != str(registry.version.version)
    assert summary["added"] == ["extra_trees"] and summary["removed"] == []
    assert summary["samples"] == 3 * 3 and summary["groups"] == 3 and len(summary["loss"]) == 2
    heads = {"head_hidden", "accuracy_deep", "accuracy_linear", "fit_time_deep", "fit_time_linear"}
    assert heads <= set(summary["trainable_layers"])
    assert len(summary["trainable_layers"]) == len(heads) + 1  # the heads plus one unfrozen layer

    champion = load_recommender("models:/beyonder@champion", cache=False)
    tuned = load_recommender("models:/beyonder@challenger", cache=False)
    assert tuned.estimator.config.classifiers == [*TINY_CLASSIFIERS, "extra_trees"]
    assert champion.estimator.config.classifiers == TINY_CLASSIFIERS  # the champion is untouched
    # loaded for prediction (NumPy, no TensorFlow): the Keras models beside them hold the layers
    champion_model, tuned_model = (
        trainable(champion.estimator).model_,
        trainable(tuned.estimator).model_,
    )
    frozen = [layer.name for layer in champion_model.layers if layer.weights]
    trained = set(summary["trainable_layers"])
    for name in frozen:
        before = champion_model.get_layer(name).get_weights()
        after = tuned_model.get_layer(name).get_weights()
        if name.startswith(
            "scores_"
        ):  # the metric heads: remapped to the new portfolio, not trained
            assert [w.shape[-1] for w in after] == [
                w.shape[-1] // len(TINY_CLASSIFIERS) * (len(TINY_CLASSIFIERS) + 1) for w in before
            ]
            continue
        changed = any(
            a.shape != b.shape or not np.array_equal(a, b)
            for a, b in zip(before, after, strict=True)
        )
        assert changed == (name in trained), name
    ranked = tuned.predict(pd.read_csv(registry.csv), "class")
    assert "extra_trees" in set(ranked["classifier"]) and len(ranked) == len(TINY_CLASSIFIERS) + 1


def test_finetune_rejects_bad_labels_in_one_line(registry, tmp_path, capsys) -> None:
    pd.DataFrame({"dataset": ["a"], "accuracy": [0.9]}).to_csv(tmp_path / "no_clf.csv", index=False)
    pd.DataFrame({"dataset": ["a"], "classifier": ["knn"], "accuracy": [93.0]}).to_csv(
        tmp_path / "pct.csv", index=False
    )
    pd.DataFrame({"dataset": ["zzz"], "classifier": ["knn"], "accuracy": [0.9]}).to_csv(
        tmp_path / "gone.csv", index=False
    )
    cases = {
        "no_clf.csv": "labels need columns",
        "pct.csv": "in [0, 1]",
        "gone.csv": "not found in",
    }
    for name, expected in cases.items():
        rc, _, err = _cli(
            capsys, "finetune", "--labels", str(tmp_path / name), "--datasets", str(tmp_path)
        )
        assert rc == 2 and expected in err and len(err.strip().splitlines()) == 1, (name, err)


def test_finetune_reads_the_pipeline_labels_table(tmp_path) -> None:
    """``--samples``: the pipeline's long labels table plus its sample index."""
    from beyonder.serving.finetune import from_sample_index, portfolio

    entries = []
    for k in range(2):
        path = tmp_path / "data" / "samples" / f"d__s{k}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        table(40, seed=k).rename(columns={"class": "__target__"}).to_parquet(path)
        entries.append(
            {"sample_id": f"d__s{k}", "dataset": "d", "file": f"data/samples/d__s{k}.parquet"}
        )
    (tmp_path / "index.json").write_text(json.dumps(entries))
    labels = pd.DataFrame(
        {
            "sample_id": ["d__s0", "d__s0", "d__s1", "other"],
            "classifier": ["knn", "new", "knn", "knn"],
            "accuracy": [0.8, 0.7, 0.9, 0.5],
            "fit_time": [0.1, 0.2, 0.3, 0.4],
        }
    )
    classifiers = portfolio(["logreg", "knn"], list(labels["classifier"]))
    assert classifiers == ["logreg", "knn", "new"]
    data = from_sample_index(labels, tmp_path / "index.json", classifiers, root=tmp_path)
    assert len(data.samples) == 2 and data.groups == ["d", "d"]
    np.testing.assert_array_equal(data.accuracy, [[np.nan, 0.8, 0.7], [np.nan, 0.9, np.nan]])
    np.testing.assert_array_equal(data.fit_time[:, 1], [0.1, 0.3])


# --------------------------------------------------------------------------- the report


def test_evaluation_report_tables_and_figures(tmp_path) -> None:
    from beyonder.evaluation.report import FIGURES, ranking_table, regret_table, write_report

    true = {"d1": [0.9, 0.8, 0.7], "d2": [0.6, 0.95, np.nan]}
    pred = {"d1": [0.85, 0.9, 0.1], "d2": [0.7, 0.9, 0.99]}
    classifiers = ["a", "b", "c"]
    rows = [
        {
            "method": "beyonder",
            "dataset": d,
            "classifier": c,
            "true_accuracy": true[d][j],
            "predicted_accuracy": pred[d][j],
        }
        for d in true
        for j, c in enumerate(classifiers)
    ]
    per_dataset = pd.DataFrame(rows)
    regrets = regret_table(per_dataset, sbs_classifier="a").set_index("dataset")
    assert regrets.loc["d1", "picked"] == "b" and regrets.loc["d1", "best"] == "a"
    assert regrets.loc["d1", "regret"] == pytest.approx(10.0)
    # d2: the pick (c) has no label, so it pays the worst labelled regret (a: 35 points)
    assert regrets.loc["d2", "picked"] == "c" and regrets.loc["d2", "regret"] == pytest.approx(35.0)
    assert regrets["sbs_regret"].tolist() == pytest.approx([0.0, 35.0])
    ranks = ranking_table(per_dataset).set_index(["dataset", "classifier"])
    assert (
        ranks.loc[("d1", "b"), "predicted_rank"] == 1 and ranks.loc[("d1", "b"), "true_rank"] == 2
    )
    assert pd.isna(ranks.loc[("d2", "c"), "true_rank"])

    written = write_report(per_dataset, {"sbs_classifier": "a"}, tmp_path)
    assert [p.name for p in written] == ["regret.csv", "rankings.csv", *FIGURES]
    for path in written[2:]:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert pd.read_csv(tmp_path / "regret.csv")["dataset"].tolist() == ["d1", "d2"]


def test_bench_results_section_is_replaced_not_clobbered(tmp_path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "recommend_latency", REPO / "bench" / "recommend_latency.py"
    )
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    results = tmp_path / "RESULTS.md"
    bench.update_results(results, "first")  # created when absent
    assert f"{bench.BEGIN}\nfirst\n{bench.END}" in results.read_text()
    results.write_text(
        f"# R\n\n<!-- other -->\nkeep\n<!-- /other -->\n\n{bench.BEGIN}\nold\n{bench.END}\ntail\n"
    )
    bench.update_results(results, "new")
    assert (
        results.read_text()
        == f"# R\n\n<!-- other -->\nkeep\n<!-- /other -->\n\n{bench.BEGIN}\nnew\n{bench.END}\ntail\n"
    )
