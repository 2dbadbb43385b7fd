"""End to end: the whole pipeline on a tiny corpus in a copy of the repository.

One module-scoped run (minutes) serves every test here, in any order. It starts as a crash
would leave it: ``dvc repro`` killed with ``kill -9`` while train fits, then again while
evaluate runs; the scheduled retrain flow (``flows/retrain.py``: a real Prefect flow that runs
``dvc repro``) then finishes what was left. The tests check what the kills left (every output
whole, nothing upstream rerun) and what the run made: the stages run and the champion crowned
(by the champion rule, on the report it wrote), the DAG, the metrics, the labels table, the
evaluation report as DVC plots and MLflow artifacts, the champion model from the registry, a
second retrain and a second ``dvc repro`` that rerun nothing, a clean ``dvc status``, and which
stages a params change invalidates. Every test leaves the workspace as it found it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import yaml
from helpers import PREFECT_SERVER
from repo_copy import TINY_CLASSIFIERS, copy_repo

from beyonder.evaluation.champion import decide

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
STAGES = ("ingest", "clean", "sample", "label", "augment", "train", "imputer", "evaluate", "refit")
UPSTREAM = STAGES[: STAGES.index("train")]
"""The stages above train: neither kill reaches them, nor does a change of ``train.epochs``."""
CLASSIFIERS = TINY_CLASSIFIERS
STAGE_RUN = re.compile(r"Running stage '([\w-]+)'")
REPRO_TIMEOUT = int(os.environ.get("BEYONDER_TEST_REPRO_TIMEOUT", "900"))
"""Seconds for the first ``dvc repro`` (about 4-8 min on 2 busy cores; 14 min seen under load)."""
PREDICT_CHAMPION = """
import json, sys
import mlflow
from sklearn.datasets import load_iris

uri = sys.argv[1]
mlflow.set_tracking_uri(uri)
mlflow.set_registry_uri(uri)
model = mlflow.pyfunc.load_model("models:/beyonder@champion")
iris = load_iris(as_frame=True)
frame = iris.data.copy()
frame["class"] = [str(iris.target_names[i]) for i in iris.target]
out = model.predict(frame, params={"target": "class"})
print("RESULT " + json.dumps([type(out).__name__, json.loads(out.to_json(orient="records"))]))
"""


@dataclass
class Pipeline:
    repo: Path
    env: dict[str, str]  # the copy's environment, PREFECT_API_URL the module's server
    first: dict  # the summary of the retrain flow that finished the run
    killed: dict[str, str]  # stage -> the output of the dvc repro killed during it
    upstream_lock: dict  # dvc.lock's ingest ... augment entries after the first kill
    labels_digest: str  # labels.parquet's content after the first kill

    @property
    def tracking_uri(self) -> str:
        return f"sqlite:///{self.repo / 'mlflow.db'}"

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*_dvc(), *args],
            cwd=self.repo,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )


def _dvc() -> list[str]:
    script = Path(sys.executable).parent / "dvc"
    return [str(script)] if script.exists() else [sys.executable, "-m", "dvc"]


def _report(result: subprocess.CompletedProcess) -> str:
    return f"exit {result.returncode}\n--- stdout ---\n{result.stdout[-15000:]}\n--- stderr ---\n{result.stderr[-15000:]}"


@contextlib.contextmanager
def _train_epochs(pipeline: Pipeline, epochs: int) -> Iterator[None]:
    """``train.epochs`` set to ``epochs`` in the copy's ``params.yaml``, put back afterwards."""
    params_file = pipeline.repo / "params.yaml"
    original = params_file.read_text()
    params = yaml.safe_load(original)
    params["train"]["epochs"] = epochs
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        yield
    finally:
        params_file.write_text(original)


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory) -> Iterator[Pipeline]:
    """The run, and its Prefect server kept for the module's later commands (the second
    retrain, ``evaluate --corpus``), so that each does not start its own (seconds of CPU each)."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo, env = copy_repo(tmp_path_factory.mktemp("pipeline").resolve())
    start = time.monotonic()
    with _prefect_server(repo, env) as shared:  # as the scheduled flow gives its dvc repro
        killed = {
            "train": _kill_repro_during(repo, shared, "train", lambda: _mlflow_train_running(repo))
        }
        upstream_lock = _upstream_lock(repo)
        labels_digest = _digest(repo / "data" / "labels" / "labels.parquet")
        killed["evaluate"] = _kill_repro_during(
            repo, shared, "evaluate", lambda: _prefect_flow_running(repo, "evaluate")
        )
        first = _retrain(repo, shared)
        elapsed = time.monotonic() - start
        print(f"\ntwo killed dvc repro and the retrain that finished the run: {elapsed:.0f} s")
        yield Pipeline(repo, shared, first, killed, upstream_lock, labels_digest)


@contextlib.contextmanager
def _prefect_server(repo: Path, env: dict[str, str]) -> Iterator[dict[str, str]]:
    """``env`` with ``PREFECT_API_URL`` set to one temporary Prefect server (database in the
    copy's ``.prefect``) that outlives the ``dvc repro`` runs killed meanwhile, as the retrain
    flow's server outlives a crashed ``dvc repro``: stages report to it instead of each
    starting its own (seconds each)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", PREFECT_SERVER], cwd=repo, env=env, text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert proc.stdout is not None and proc.stdin is not None
        lines = (line for line in proc.stdout if line.startswith("URL "))
        url = next(lines, "").removeprefix("URL ").strip()
        assert url, f"the Prefect server did not start (exit {proc.poll()})"
        yield {**env, "PREFECT_API_URL": url}
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _upstream_lock(repo: Path) -> dict:
    stages = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    return {stage: stages[stage] for stage in UPSTREAM}


def _digest(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def _retrain(repo: Path, env: dict[str, str]) -> dict:
    """One run of the retrain flow, as the weekly deployment runs it; returns its summary."""
    result = subprocess.run(
        [sys.executable, "-m", "flows.retrain", str(repo)],
        cwd=repo, env=env, capture_output=True, text=True, timeout=REPRO_TIMEOUT,
    )  # fmt: skip
    lines = [line for line in result.stdout.splitlines() if line.startswith("retrain: ")]
    if result.returncode != 0 or not lines:
        pytest.fail(f"retrain flow failed:\n{_report(result)}")
    return json.loads(lines[-1].removeprefix("retrain: "))


def test_retrain_finished_the_killed_run_and_crowned_the_refit(pipeline: Pipeline) -> None:
    """The retrain ran what the kills left (evaluate, refit); version 1 is the model evaluate
    judged (alias ``judged``); version 2, its configuration refit on every family, is the
    champion consumers get."""
    first = pipeline.first
    assert first["stages_run"] == ["evaluate", "refit"]
    ran = {s for text in pipeline.killed.values() for s in STAGE_RUN.findall(text)}
    assert ran | set(first["stages_run"]) == set(STAGES)
    assert first["before"] == {"champion": None, "challenger": None}
    assert first["after"]["champion"] == "2" and first["promoted"] is True
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=pipeline.tracking_uri, registry_uri=pipeline.tracking_uri)
    assert str(client.get_model_version_by_alias("beyonder", "judged").version) == "1"
    refit = json.loads((pipeline.repo / "metrics" / "refit.json").read_text())
    assert refit["refit"] is True and str(refit["version"]) == "2"
    assert client.get_model_version_by_alias("beyonder", "champion").run_id == refit["run_id"]
    decision = json.loads((pipeline.repo / "evaluation" / "decision.json").read_text())
    assert decision["promote"] is True and str(decision["version"]) == "1"
    # the flow's summary is the evaluate stage's metrics, and the promotion is the champion
    # rule's on the report evaluate wrote (no champion before: only the SBS can stop it)
    evaluation = pipeline.repo / "evaluation"
    report = json.loads((evaluation / "report.json").read_text())
    metrics = json.loads((pipeline.repo / "metrics" / "evaluate.json").read_text())
    assert first["beyonder"] == metrics["beyonder"]
    assert "champion" not in report["methods"]
    assert decide(report).promote is True
    _check_headline(metrics, report)


def _check_headline(metrics: dict, report: dict) -> None:
    """``evaluate.json`` is the report's numbers, rounded: regrets in range, oracle at zero,
    each method's difference with the SBS inside its paired interval."""
    assert metrics["n_datasets"] == report["n_datasets"] == len(report["test_datasets"]) >= 1
    for method, full in report["methods"].items():
        row = metrics[method]
        assert row["mean_regret"] == pytest.approx(full["mean_regret"], abs=1e-4)
        assert 0 <= row["mean_regret"] <= full["max_regret"] + 1e-4
        assert row["regret_minus_sbs"] == pytest.approx(
            full["mean_regret"] - full["sbs_mean_regret"], abs=2e-4
        )
        assert (
            row["regret_minus_sbs_low"] - 1e-3
            <= row["regret_minus_sbs"]
            <= row["regret_minus_sbs_high"] + 1e-3
        )
    assert metrics["oracle"]["mean_regret"] == 0 and metrics["sbs"]["regret_minus_sbs"] == 0


def test_repro_ran_every_stage(pipeline: Pipeline) -> None:
    assert (pipeline.repo / "dvc.lock").is_file()
    lock = yaml.safe_load((pipeline.repo / "dvc.lock").read_text())
    assert set(lock["stages"]) == set(STAGES)
    # the imputer stage: its model, its metrics beside the mean-imputation baseline
    assert (pipeline.repo / "data" / "imputer" / "imputer.keras").is_file()
    imputer = json.loads((pipeline.repo / "metrics" / "imputer.json").read_text())
    assert imputer["epochs"] == 1 and imputer["score_tables"] >= 1 and "simple_nrmse" in imputer


def test_dag_lists_the_stages(pipeline: Pipeline) -> None:
    result = pipeline.run("dag")
    assert result.returncode == 0, _report(result)
    for stage in STAGES:
        assert stage in result.stdout
    dot = pipeline.run("dag", "--dot")
    assert dot.returncode == 0, _report(dot)
    for edge in [
        ("ingest", "clean"),
        ("clean", "sample"),
        ("sample", "label"),
        ("sample", "augment"),
        ("label", "train"),
        ("augment", "train"),
        ("train", "evaluate"),
        ("evaluate", "refit"),
    ]:
        assert f'"{edge[0]}" -> "{edge[1]}"' in dot.stdout, dot.stdout


def _find_metrics(node) -> dict | None:
    """The evaluate metrics (a dict with per-method metrics) anywhere in ``dvc metrics show``."""
    if isinstance(node, dict):
        if isinstance(node.get("beyonder"), dict) and isinstance(node.get("sbs"), dict):
            return node
        for value in node.values():
            found = _find_metrics(value)
            if found is not None:
                return found
    return None


def test_metrics_show_has_the_evaluate_metrics(pipeline: Pipeline) -> None:
    result = pipeline.run("metrics", "show", "--json")
    assert result.returncode == 0, _report(result)
    metrics = _find_metrics(json.loads(result.stdout))
    assert metrics is not None, result.stdout
    for method in ("beyonder", "sbs"):
        assert isinstance(metrics[method]["mean_regret"], int | float), metrics
    written = json.loads((pipeline.repo / "metrics" / "evaluate.json").read_text())
    for method in ("beyonder", "sbs", "oracle"):
        for key in (
            "mean_regret",
            "regret_minus_sbs",
            "regret_minus_sbs_low",
            "regret_minus_sbs_high",
        ):
            assert metrics[method][key] == written[method][key], (method, key, metrics)
    _check_headline(written, json.loads((pipeline.repo / "evaluation" / "report.json").read_text()))
    # the decisions a user acts on, scored on the same held-out datasets (beyonder/evaluation/decisions.py)
    decisions = written["decisions"]
    for key in (
        "fit_time_beyonder_mae_log10",
        "fit_time_baseline_mae_log10",
        "verify_0_regret",
        "verify_all_regret",
    ):
        assert isinstance(decisions[key], int | float), decisions
    assert decisions["verify_0_cpu_seconds"] == 0 and decisions["verify_all_cpu_seconds"] > 0
    assert "metrics/train.json" in result.stdout
    train = json.loads((pipeline.repo / "metrics" / "train.json").read_text())
    assert train["epochs"] == 1


def test_labels_table(pipeline: Pipeline) -> None:
    data = pipeline.repo / "data"
    index = json.loads((data / "samples" / "index.json").read_text())
    datasets = {e["dataset"] for e in index}
    assert {"sklearn.iris", "sklearn.wine"} <= datasets
    assert len(index) == 2 * len(datasets)  # per_dataset = 2
    labels = pd.read_parquet(data / "labels" / "labels.parquet")
    assert len(labels) == len(CLASSIFIERS) * len(index)
    assert sorted(labels["classifier"].unique()) == sorted(CLASSIFIERS)
    assert set(labels["sample_id"]) == {e["sample_id"] for e in index}
    assert labels["accuracy"].between(0, 1).all(), labels[labels["accuracy"].isna()]
    augmented = json.loads((data / "augmented" / "index.json").read_text())
    assert augmented == []  # noise share 0, no synthetic extras


def test_champion_model_predicts_from_the_registry(pipeline: Pipeline) -> None:
    """``models:/beyonder@champion`` loads from the run's registry and ranks iris's portfolio.

    Loaded in a fresh interpreter that imports the copied code, i.e. the code that trained
    the model (in this process, ``beyonder`` is the working tree, which may have moved on).
    """
    result = subprocess.run(
        [sys.executable, "-c", PREDICT_CHAMPION, pipeline.tracking_uri],
        cwd=pipeline.repo,
        env=pipeline.env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, _report(result)
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    assert len(lines) == 1, _report(result)
    kind, records = json.loads(lines[0].removeprefix("RESULT "))
    assert kind == "DataFrame"
    out = pd.DataFrame(records)
    assert len(out) == len(CLASSIFIERS)
    assert sorted(out["classifier"]) == sorted(CLASSIFIERS)
    assert out["predicted_accuracy"].between(0, 1).all()
    assert out["rank"].tolist() == [1, 2]


def test_evaluation_report_as_dvc_plots_and_mlflow_artifacts(pipeline: Pipeline) -> None:
    evaluation = pipeline.repo / "evaluation"
    for name in ("per_dataset.csv", "regret.csv", "rankings.csv"):
        assert (evaluation / name).is_file(), name
    figures = sorted(p.name for p in (evaluation / "figures").glob("*.png"))
    assert figures == ["budget_curve.png", "predicted_vs_true.png", "rankings.png", "regret.png"]
    plots = pipeline.run("plots", "show", "--json")
    assert plots.returncode == 0, _report(plots)
    shown = json.loads(plots.stdout)
    assert not shown.get("errors"), shown.get("errors")
    for name in ("regret.csv", "rankings.csv", "figures/regret.png"):
        assert f"evaluation/{name}" in shown["data"], list(shown["data"])
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=pipeline.tracking_uri, registry_uri=pipeline.tracking_uri)
    run_id = client.get_model_version_by_alias(
        "beyonder", "judged"
    ).run_id  # the model evaluate judged
    logged = {a.path for a in client.list_artifacts(run_id, "evaluation/figures")}
    assert "evaluation/figures/regret.png" in logged, logged


def test_second_retrain_reruns_nothing_and_keeps_the_champion(pipeline: Pipeline) -> None:
    second = _retrain(pipeline.repo, pipeline.env)
    assert second["stages_run"] == []
    assert second["after"] == second["before"] == pipeline.first["after"]
    assert second["promoted"] is False


def test_second_repro_reruns_nothing(pipeline: Pipeline) -> None:
    start = time.monotonic()
    result = pipeline.run("repro", timeout=REPRO_TIMEOUT)
    print(f"\nsecond dvc repro: {time.monotonic() - start:.1f} s")
    assert result.returncode == 0, _report(result)
    output = result.stdout + result.stderr
    assert "Data and pipelines are up to date." in output, _report(result)
    assert "Running stage" not in output, _report(result)


def test_status_is_clean(pipeline: Pipeline) -> None:
    result = pipeline.run("status", "--json")
    assert result.returncode == 0, _report(result)
    assert json.loads(result.stdout) == {}, result.stdout


def test_evaluate_corpus_cross_validates_the_labelled_workspace(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    """``beyonder evaluate --corpus`` on a folder holding a labelled workspace (this one) uses
    its labels as they are: grouped folds, the report's JSON, the paired comparison with
    the SBS and the brute-force reference, with no training (methods without Beyonder)."""
    out = tmp_path / "cv.json"
    result = subprocess.run(
        [sys.executable, "-m", "beyonder.cli", "evaluate", "--corpus", str(pipeline.repo), "--folds", "2",
         "--methods", "random,pymfe_knn", "--json", str(out)],
        cwd=pipeline.repo, env=pipeline.env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, _report(result)
    report = json.loads(out.read_text())
    assert report["n_datasets"] == 3 and len(report["per_dataset"]) == 3
    assert sorted(d for fold in report["folds"] for d in fold) == sorted(
        r["dataset"] for r in report["per_dataset"]
    )
    assert set(report["methods"]) == {"random", "pymfe_knn", "sbs", "oracle"}
    for metrics in report["methods"].values():
        assert len(metrics["regret_vs_sbs_ci"]) == 2 and len(metrics["better_worse_than_sbs"]) == 2
    assert report["methods"]["oracle"]["mean_regret"] == 0
    reference = report["cv_one_sample"]  # 2 samples per dataset: each priced with the other
    assert (
        reference["n_datasets"] == 3
        and reference["mean_regret"] >= 0
        and reference["sbs_mean_regret"] >= 0
    )


def test_changing_epochs_invalidates_train_and_refit_only(pipeline: Pipeline) -> None:
    """Changing ``train.epochs`` changes train's params (and refit's, which trains the same
    configuration) and nothing else's: ``dvc status`` lists train and refit (evaluate is not listed: its own deps are unchanged until train writes a
    new ``data/model``, and then it reruns), and a dry repro runs train, not the stages above it.
    """
    with _train_epochs(pipeline, 2):
        result = pipeline.run("status", "--json")
        dry = pipeline.run("repro", "--dry")
    assert result.returncode == 0, _report(result)
    status = json.loads(result.stdout)
    print(f"\ndvc status after train.epochs change: {status}")
    assert set(status) == {"train", "refit"}, status  # refit trains the same configuration
    changed = status["train"][0]["changed deps"]
    assert list(changed) == ["params.yaml"] and "train" in changed["params.yaml"], status
    assert dry.returncode == 0, _report(dry)
    for stage in UPSTREAM:
        assert f"Stage '{stage}' didn't change" in dry.stdout, dry.stdout
        assert f"Running stage '{stage}'" not in dry.stdout, dry.stdout
    assert "Running stage 'train'" in dry.stdout, dry.stdout
    # the original params again: nothing to do
    assert json.loads(pipeline.run("status", "--json").stdout) == {}


# --------------------------------------------------------------------------- kill -9, then the retrain
# The module's run starts with them (the fixture): kill -9 while train fits, then while
# evaluate runs, before the retrain flow finishes the run.


def _mlflow_train_running(repo: Path) -> bool:
    """Whether an MLflow run named ``train`` is RUNNING: the model is being fitted or logged."""
    import sqlite3

    try:
        with sqlite3.connect(f"file:{repo / 'mlflow.db'}?mode=ro", uri=True, timeout=1) as db:
            rows = db.execute(
                "SELECT COUNT(*) FROM runs WHERE name = 'train' AND status = 'RUNNING'"
            )
            return rows.fetchone()[0] > 0
    except sqlite3.Error:
        return False


def _prefect_flow_running(repo: Path, flow: str) -> bool:
    """Whether a Prefect flow run of ``flow`` is RUNNING in the workspace's Prefect database
    (``PREFECT_HOME`` is ``.prefect`` in the copy): the stage's command has imported its code,
    started its server and entered the flow."""
    import sqlite3

    path = repo / ".prefect" / "prefect.db"
    if not path.exists():
        return False
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as db:
            rows = db.execute(
                "SELECT COUNT(*) FROM flow_run JOIN flow ON flow_run.flow_id = flow.id "
                "WHERE flow.name = ? AND flow_run.state_type = 'RUNNING'",
                (flow,),
            )
            return rows.fetchone()[0] > 0
    except sqlite3.Error:
        return False


def _kill_repro_during(
    repo: Path, env: dict[str, str], stage: str, ready: Callable[[], bool]
) -> str:
    """Start ``dvc repro`` in its own process group; SIGKILL the whole group (DVC, the
    stage's command, its Prefect server unless ``env`` names one) as soon as ``ready()`` says
    ``stage`` is mid-way.
    Returns the output up to the kill."""
    import signal

    log = repo / f"killed-during-{stage}.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [*_dvc(), "repro"],
            cwd=repo,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + REPRO_TIMEOUT
            while time.monotonic() < deadline and proc.poll() is None:
                text = log.read_text()
                assert "Running stage 'evaluate'" not in text or stage == "evaluate", text
                if f"Running stage '{stage}'" in text and ready():
                    break
                time.sleep(0.1)
            assert proc.poll() is None, (
                f"dvc repro ended before {stage} was killed:\n{log.read_text()}"
            )
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the group is gone (server subprocesses included)
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    assert proc.returncode == -signal.SIGKILL
    return log.read_text()


def _whole_outputs(repo: Path) -> None:
    """Every output reads back whole; no temporary file of an interrupted write is left."""
    folders = [repo / "data", repo / "metrics", repo / "evaluation"]
    for path in [p for folder in folders for p in folder.rglob("*.json")]:
        json.loads(path.read_text())
    for path in (repo / "data").rglob("*.parquet"):
        pd.read_parquet(path)
    leftovers = [p for folder in folders for p in folder.rglob("*.tmp") if p.name.startswith(".")]
    assert not leftovers, leftovers


def test_kill_9_during_train_and_evaluate_left_whole_outputs(pipeline: Pipeline) -> None:
    """After ``kill -9`` while train fitted, then while evaluate ran: the killed train ran
    again, nothing above it did, every output reads back whole and no temporary file is left;
    the stages above train and the labels are as the first kill found them, bit for bit."""
    assert "Running stage 'train'" in pipeline.killed["train"]
    second = pipeline.killed["evaluate"]
    assert "Running stage 'train'" in second, second  # the killed train ran again
    for stage in UPSTREAM:
        assert f"Running stage '{stage}'" not in second, second
    _whole_outputs(pipeline.repo)
    assert _upstream_lock(pipeline.repo) == pipeline.upstream_lock
    assert _digest(pipeline.repo / "data" / "labels" / "labels.parquet") == pipeline.labels_digest
