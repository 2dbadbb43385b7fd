"""The label engine end to end: an existing Dask cluster, kill -9 and resume, incremental
reruns, per-fit time budgets.

Every test builds a tiny workspace under ``tmp_path`` (a shrunk ``params.yaml`` and bootstrap
samples of scikit-learn's bundled sets, written by the library's own ingest/clean/sample code)
and runs the real label flow. The slow tests share one temporary Prefect API (started once for
the module) so that each run does not pay for its own server start; everything runs offline on
loopback, and every process a test starts is stopped in a ``finally``.
"""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
import yaml
from helpers import REPEATABLE_LABEL_COLUMNS

from beyonder.config import Layout
from beyonder.data.cleaning import clean_dataset
from beyonder.data.sources.sklearn_sets import load_sklearn
from beyonder.labels.labelling import CVSettings, label_key
from beyonder.params import parse_params
from beyonder.stages.ingest import storable
from beyonder.stages.label import LabelCache, cv_settings, pending_jobs
from beyonder.stages.sample import sample_one, write_sample_index
from beyonder.storage import write_parquet

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CLASSIFIERS = ["logreg", "gaussian_nb", "decision_tree"]
COMPARED = REPEATABLE_LABEL_COLUMNS


# --------------------------------------------------------------------------- workspace helpers


def make_workspace(
    root: Path,
    datasets: tuple[str, ...] = ("iris", "wine"),
    per_dataset: int = 2,
    rows: int = 120,
    classifiers: list[str] | None = None,
    batch_fits: int = 3,
    workers: int = 2,
    label: dict | None = None,
) -> Path:
    """``root/params.yaml`` (the repo's, shrunk) and ``root/data/samples`` with its index."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["label"]["classifiers"] = list(classifiers or CLASSIFIERS)
    params["label"].update(label or {})
    params["compute"].update({"batch_fits": batch_fits, "workers": workers, "dask_address": None})
    params["sample"].update({"rows": rows, "per_dataset": per_dataset})
    root.mkdir(parents=True, exist_ok=True)
    write_params(root, params)
    entries = []
    for name in datasets:
        entries += add_dataset(root, name, per_dataset)
    write_sample_index(entries, Layout(root))
    return root


def add_dataset(root: Path, name: str, per_dataset: int) -> list[dict]:
    """Ingest, clean and sample one bundled scikit-learn set into the workspace."""
    params = read_params(root)
    layout = Layout(root)
    (raw,) = load_sklearn([name])
    cleaned, _ = clean_dataset(storable(raw))
    write_parquet(cleaned, layout.dataset_file(layout.clean, raw.name))
    settings = replace(parse_params(params).sample, per_dataset=per_dataset)
    return sample_one(
        {"name": raw.name, "source": "sklearn"}, layout, settings, int(params["seed"])
    )


def read_params(root: Path) -> dict:
    return yaml.safe_load((root / "params.yaml").read_text())


def write_params(root: Path, params: dict) -> None:
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def samples_of(root: Path) -> list[dict]:
    return json.loads((root / "data" / "samples" / "index.json").read_text())


def cache_files(root: Path) -> dict[str, str]:
    """Every finished label in the cache: key -> file text (temp files excluded)."""
    folder = Layout(root).label_cache
    return {p.stem: p.read_text(errors="replace") for p in folder.glob("*/*.json")}


def labels_table(root: Path) -> pd.DataFrame:
    return pd.read_parquet(root / "data" / "labels" / "labels.parquet")


def assert_same_labels(left: pd.DataFrame, right: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(
        left[COMPARED].reset_index(drop=True), right[COMPARED].reset_index(drop=True)
    )


def label(root: Path) -> dict:
    """Run the label stage in this process, as ``beyonder label`` does."""
    from beyonder.cli import run_stage

    return run_stage("label", str(root / "params.yaml"), str(root))


def cv_of(root: Path) -> CVSettings:
    params = read_params(root)
    parsed = parse_params(params)
    return cv_settings(parsed.label, parsed.seed)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_group(proc: subprocess.Popen, timeout: float = 30) -> None:
    """SIGTERM the process group of ``proc`` (started with ``start_new_session=True``), then
    SIGKILL whatever is left, and wait until the group is gone."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        if wait_group_gone(proc.pid, wait):
            return
    proc.wait(timeout=10)
    assert wait_group_gone(proc.pid, 10), f"processes of group {proc.pid} survived SIGKILL"


def wait_group_gone(pgid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def engine(prefect_server, monkeypatch) -> str:
    """A clean environment for one run of the engine (the session's Prefect API,
    ``conftest.prefect_server``): local cluster unless a test says not."""
    monkeypatch.delenv("BEYONDER_DASK_ADDRESS", raising=False)
    return prefect_server


# --------------------------------------------------------------------------- fast checks


def test_label_key_ignores_everything_but_sample_classifier_and_cv():
    """What the key is made of is what relabels: the model's training params, the compute
    settings and the DVC label stage's params (seed, label) never reach it."""
    cv = CVSettings(n_folds=5, seed=42, fit_timeout=60.0)
    key = label_key("abc", "logreg", cv)
    assert key == label_key("abc", "logreg", CVSettings(5, 42, 60.0))
    assert len({key, label_key("abd", "logreg", cv), label_key("abc", "knn", cv)}) == 3
    assert key != label_key("abc", "logreg", CVSettings(5, 43, 60.0))
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    # ``regularisation`` decides which C-grid names are labelled, never a portfolio key;
    # ``measure.folds`` is the measurement subsamples' CV
    assert stages["label"]["params"] == ["seed", "label", "measure.folds", "regularisation"]


# --------------------------------------------------------------------------- (a) Dask cluster


@pytest.mark.slow
def test_existing_dask_cluster_gives_the_local_result(tmp_path, engine, monkeypatch):
    """``dask scheduler`` + ``dask worker --nworkers 2`` on loopback, started by hand in another
    directory and without ``PREFECT_API_URL``: the stage runs on them (reporting to the flow's
    Prefect API) and its table equals a local cluster's."""
    local = make_workspace(tmp_path / "local", workers=1)  # the reference: one local worker
    remote = make_workspace(tmp_path / "remote")
    assert samples_of(local) == samples_of(remote)
    label(local)

    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    elsewhere = tmp_path / "elsewhere"  # workers' cwd: paths must not be relative to theirs
    elsewhere.mkdir()
    env = {
        k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "BEYONDER_DASK_ADDRESS")
    }
    logs = {name: (tmp_path / f"{name}.log").open("w") for name in ("scheduler", "worker")}
    procs: list[subprocess.Popen] = []
    try:
        common = {
            "cwd": elsewhere,
            "env": env,
            "start_new_session": True,
            "stderr": subprocess.STDOUT,
        }
        procs.append(
            subprocess.Popen(
                [
                    BIN / "dask",
                    "scheduler",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--no-dashboard",
                ],
                stdout=logs["scheduler"],
                **common,
            )
        )
        procs.append(
            subprocess.Popen(
                [
                    BIN / "dask",
                    "worker",
                    address,
                    "--nworkers",
                    "2",
                    "--nthreads",
                    "1",
                    "--no-dashboard",
                    "--local-directory",
                    str(tmp_path / "dask"),
                ],
                stdout=logs["worker"],
                **common,
            )
        )
        from distributed import Client

        with Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=60)
            worker_pids = set(client.run(os.getpid).values())
        assert len(worker_pids) == 2

        monkeypatch.setenv("BEYONDER_DASK_ADDRESS", address)
        monkeypatch.chdir(remote)
        from beyonder.cli import run_stage

        summary = run_stage("label", "params.yaml", ".")  # relative, as `dvc repro` runs it
        assert summary["missing_labels"] == 0
    finally:
        for proc in reversed(procs):
            stop_group(proc)
        for log in logs.values():
            log.close()

    assert_same_labels(labels_table(remote), labels_table(local))
    assert cache_files(remote).keys() == cache_files(local).keys()
    worker_log = (tmp_path / "worker.log").read_text()
    # the batches ran on the external workers, which reported to the flow's API
    assert worker_log.count("Task run 'label-batch") >= 1
    assert "Starting temporary server" not in worker_log
    assert "Error logging to API" not in worker_log
    assert not list(elsewhere.rglob("*.json"))  # nothing written relative to the workers' cwd


# --------------------------------------------------------------------------- (b) kill -9


@pytest.mark.slow
def test_kill_9_then_rerun_keeps_finished_work(tmp_path, engine):
    """SIGKILL the whole ``beyonder label`` process group mid-way; a half-written temp file and
    corrupt cache files are left behind; the rerun keeps what was finished, recomputes the
    rest and ends with the table of an uninterrupted run."""
    datasets = ("iris", "wine", "breast_cancer")
    shape = {"datasets": datasets, "per_dataset": 2, "batch_fits": 1, "workers": 1, "rows": 150}
    killed = make_workspace(tmp_path / "killed", **shape)
    reference = make_workspace(tmp_path / "reference", **shape)
    samples = samples_of(killed)
    assert samples == samples_of(reference) and len(samples) == 6
    total = len(samples) * len(CLASSIFIERS)
    cache_dir = Layout(killed).label_cache

    with (tmp_path / "killed.log").open("w") as log:
        proc = subprocess.Popen(
            [
                BIN / "beyonder",
                "label",
                "--params",
                str(killed / "params.yaml"),
                "--root",
                str(killed),
            ],
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
            env={**os.environ, "DASK_TEMPORARY_DIRECTORY": str(tmp_path / "dask")},
        )
    try:
        deadline = time.monotonic() + 300
        while len(list(cache_dir.glob("*/*.json"))) < 2:
            assert proc.poll() is None, "beyonder label ended before it could be killed"
            assert time.monotonic() < deadline, "no label was cached within 300 s"
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        assert wait_group_gone(proc.pid, 30), "killed process group left survivors"
    finally:
        if proc.poll() is None or not wait_group_gone(proc.pid, 0):
            stop_group(proc)
    assert proc.returncode == -signal.SIGKILL

    survived = cache_files(killed)
    assert 2 <= len(survived) < total, f"{len(survived)} of {total} labels before the kill"
    assert all(json.loads(text)["classifier"] in CLASSIFIERS for text in survived.values())
    assert not (killed / "data" / "labels" / "labels.parquet").exists()

    # what a kill during a write could leave, plus damage the writer itself never leaves
    cache = LabelCache(cache_dir)
    cv = cv_of(killed)
    todo = [
        label_key(s["hash"], c, cv)
        for s in samples
        for c in CLASSIFIERS
        if label_key(s["hash"], c, cv) not in survived
    ]
    truncated, binary = todo[0], todo[1]
    cache.path(truncated).parent.mkdir(parents=True, exist_ok=True)
    half = cache.path(truncated).with_name(f".{truncated}.json.k9x2q1.tmp")
    half.write_text('{"accuracy": 0.97, "classifier": "lo')
    cache.path(truncated).write_text('{"accuracy": 0.5, "accuracy_std": 0.0, "classifier": "log')
    cache.path(binary).parent.mkdir(parents=True, exist_ok=True)
    cache.path(binary).write_bytes(b"\x00\x00\xff\xfe\x00")
    before = {k: cache.path(k).stat().st_mtime_ns for k in survived}

    summary = label(killed)
    assert summary["missing_labels"] == 0 and summary["labels"] == total
    label(reference)

    assert_same_labels(labels_table(killed), labels_table(reference))
    after = cache_files(killed)
    assert len(after) == total
    for key in (truncated, binary):
        assert json.loads(after[key])["error"] is None  # recomputed, not read
    assert {k: cache.path(k).stat().st_mtime_ns for k in survived} == before  # kept as they were
    assert {k: after[k] for k in survived} == survived


# --------------------------------------------------------------------------- (c) incremental


@pytest.mark.slow
def test_new_classifier_or_sample_computes_only_that(tmp_path, engine):
    root = make_workspace(tmp_path / "ws", workers=1)  # what is computed, not by how many
    n_samples = len(samples_of(root))
    label(root)
    first = cache_files(root)
    table = labels_table(root)
    assert len(first) == n_samples * len(CLASSIFIERS)

    # changing only the model's training params (and compute settings) relabels nothing
    params = read_params(root)
    params["train"]["epochs"] += 1
    params["train"]["learning_rate"] *= 2
    params["compute"]["batch_fits"] = 1
    write_params(root, params)
    label(root)
    assert cache_files(root) == first
    pd.testing.assert_frame_equal(labels_table(root), table)  # timings included: nothing re-run

    # one more classifier: only its column is computed
    params["label"]["classifiers"] = [*CLASSIFIERS, "knn"]
    write_params(root, params)
    label(root)
    second = cache_files(root)
    assert len(second) - len(first) == n_samples
    assert {k: second[k] for k in first} == first
    new = {k: json.loads(v) for k, v in second.items() if k not in first}
    assert {r["classifier"] for r in new.values()} == {"knn"}
    widened = labels_table(root)
    assert set(widened["classifier"]) == {*CLASSIFIERS, "knn"}
    old = widened[widened["classifier"].isin(CLASSIFIERS)].reset_index(drop=True)
    pd.testing.assert_frame_equal(old, table.reset_index(drop=True))

    # one more sample: only its labels are computed
    entries = samples_of(root) + add_dataset(root, "breast_cancer", per_dataset=1)
    write_sample_index(entries, Layout(root))
    label(root)
    third = cache_files(root)
    assert len(third) - len(second) == 4
    assert {k: third[k] for k in second} == second
    new_sample = entries[-1]
    cv = cv_of(root)
    assert set(third) - set(second) == {
        label_key(new_sample["hash"], c, cv) for c in [*CLASSIFIERS, "knn"]
    }
    grown = labels_table(root)
    assert grown["sample_id"].nunique() == n_samples + 1
    assert not pending_jobs(
        samples_of(root), [*CLASSIFIERS, "knn"], cv, LabelCache(Layout(root).label_cache)
    )


@pytest.mark.slow
def test_a_submitted_batch_carries_its_own_jobs_not_the_runs_data(tmp_path, engine, monkeypatch):
    """Prefect sends the running flow, closure included, with every task it submits to Dask.
    The flow that submits the batches must hold neither the label cache (with the shipped
    labels' table) nor the other batches, or each of N submissions carries the run's data
    (843 batches over the corpus's shipped labels: killed for memory at 18 GB)."""
    import cloudpickle
    import prefect_dask.client

    root = make_workspace(
        tmp_path / "ws", per_dataset=2, classifiers=["gaussian_nb"], batch_fits=1, workers=1
    )
    shipped = read_params(root)["label"]["shipped"]
    records = [json.dumps({"accuracy": i / 4000, "filler": "x" * 400}) for i in range(4000)]
    write_parquet(  # 4,000 labels of other samples: read by the cache, not this run's
        pd.DataFrame({"key": [f"{i:016x}" for i in range(4000)], "record": records}),
        root / shipped,
    )
    contexts: list[bytes] = []
    serialize = prefect_dask.client.serialize_context

    def recorded(*args, **kwargs):
        context = serialize(*args, **kwargs)
        contexts.append(cloudpickle.dumps(context))
        return context

    monkeypatch.setattr(prefect_dask.client, "serialize_context", recorded)
    label(root)
    assert labels_table(root)["accuracy"].notna().all()
    assert len(contexts) == len(samples_of(root))  # one batch per sample
    assert max(map(len, contexts)) < 200_000, [len(c) for c in contexts]  # the table: 1.7 MB
    files = [entry["file"].encode() for entry in samples_of(root)]
    assert not [f for f in files for c in contexts if f in c]  # no batch's jobs in the flow


# --------------------------------------------------------------------------- (d) budgets


@pytest.mark.slow
def test_fit_over_budget_is_a_missing_label_not_a_crash(tmp_path, engine):
    """A budget no fit can meet (a nanosecond a fold, checked after each fold): every label
    times out, whatever the machine's speed. The stage still succeeds, writes every label as
    missing with its reason, and its summary counts them. (Which classifiers exceed a real
    budget depends on the machine; that mix is unit-tested in
    ``tests/test_labelling.py::test_timeout_is_cooperative_per_classifier``.)"""
    classifiers = ["gaussian_nb", "decision_tree"]
    root = make_workspace(
        tmp_path / "ws",
        per_dataset=1,
        classifiers=classifiers,
        label={"fit_timeout": 1e-9},
        rows=150,
        workers=1,
    )
    summary = label(root)
    table = labels_table(root)
    assert len(table) == 4  # 2 datasets x 1 sample x 2 classifiers
    assert table["accuracy"].isna().all()
    assert table["error"].str.startswith("timeout after").all()
    assert (table["n_folds"] == 1).all()  # stopped after the first fold, not after all five

    on_disk = json.loads((root / "data" / "labels" / "labels.summary.json").read_text())
    assert on_disk == {k: v for k, v in summary.items() if k != "measurements"}
    assert summary["measurements"]["labels"] == 0  # no measurement subsamples in this workspace
    assert summary["missing_labels"] == 4
    assert {(e["classifier"], e["error"][:7]) for e in summary["errors"]} == {
        (name, "timeout") for name in classifiers
    }
    # a timed-out label is cached like any other: the rerun computes nothing
    cached = cache_files(root)
    label(root)
    assert cache_files(root) == cached
    assert math.isnan(
        json.loads(next(v for v in cached.values() if "decision_tree" in v))["accuracy"]
    )


@pytest.mark.slow
def test_worker_over_its_memory_limit_is_a_missing_label_not_a_crash(tmp_path, engine):
    """A worker process killed by its nanny over ``compute.memory_limit`` (250 MB: less than a
    worker needs once it has imported scikit-learn) loses its batch: those labels are recorded
    missing with the reason, the stage succeeds, nothing is cached, and a rerun with memory
    enough computes them."""
    import dask
    import distributed  # its config defaults, before they are overridden

    assert distributed.__version__
    root = make_workspace(tmp_path / "ws", per_dataset=1, workers=1, batch_fits=100)
    params = read_params(root)
    params["compute"]["memory_limit"] = "250MB"
    write_params(root, params)
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):  # give up at once
        summary = label(root)
    table = labels_table(root)
    assert len(table) == 2 * len(CLASSIFIERS)
    assert table["accuracy"].isna().all()
    assert table["error"].str.startswith("worker died: KilledWorker").all()
    assert summary["missing_labels"] == len(table)
    assert not cache_files(root)

    params["compute"]["memory_limit"] = "auto"
    write_params(root, params)
    label(root)
    assert labels_table(root)["accuracy"].notna().all()


@pytest.mark.slow
def test_unreadable_sample_is_missing_labels_not_a_crash(tmp_path, engine):
    """A sample file cut short after sampling (a deterministic error: no retry cures it) loses
    only its own batch: its labels are recorded missing with the error, the other samples are
    labelled, and nothing of the bad sample is cached, so a repaired file is labelled later."""
    root = make_workspace(
        tmp_path / "ws", per_dataset=1, batch_fits=len(CLASSIFIERS), workers=1
    )  # one batch per sample: the bad one's batch fails, the other's does not
    bad = samples_of(root)[0]
    path = root / bad["file"]
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 3])
    summary = label(root)
    table = labels_table(root)
    broken = table[table["sample_id"] == bad["sample_id"]]
    others = table[table["sample_id"] != bad["sample_id"]]
    assert len(broken) == len(CLASSIFIERS) and broken["accuracy"].isna().all()
    assert broken["error"].str.startswith("batch failed: ").all(), broken["error"].tolist()
    assert len(others) == len(CLASSIFIERS) and others["accuracy"].notna().all()
    assert summary["missing_labels"] == len(CLASSIFIERS)

    path.write_bytes(whole)
    label(root)
    assert labels_table(root)["accuracy"].notna().all()
