"""Scheduled retraining: the deployment definitions load without a server (fast), and the
retrain flow runs for real on a tiny corpus in a copy of the repository (slow): a first run
reruns every stage and crowns version 1; a second run reruns nothing and keeps it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
STAGES = {"ingest", "clean", "sample", "label", "augment", "train", "evaluate"}
FLOW_TIMEOUT = 1200


# --------------------------------------------------------------------------- definitions


def _prefect_yaml() -> dict:
    return yaml.safe_load((REPO / "prefect.yaml").read_text())


def test_prefect_yaml_deployments_load_and_their_schedules_parse() -> None:
    from prefect.client.schemas.schedules import CronSchedule, IntervalSchedule
    from prefect.flows import load_flow_from_entrypoint

    raw = _prefect_yaml()
    try:  # the model `prefect deploy` validates the file with (private: skip if it moves)
        from prefect.cli.deploy._models import PrefectYamlModel
    except ImportError:
        PrefectYamlModel = None
    if PrefectYamlModel is not None:
        assert [d.name for d in PrefectYamlModel.model_validate(raw).deployments] == [
            d["name"] for d in raw["deployments"]
        ]
    deployments = {d["name"]: d for d in raw["deployments"]}
    assert "weekly-retrain" in deployments
    for deployment in deployments.values():
        path, _, name = deployment["entrypoint"].partition(":")
        assert (REPO / path).is_file(), deployment["entrypoint"]
        flow = load_flow_from_entrypoint(str(REPO / path) + ":" + name)
        assert set(deployment.get("parameters", {})) <= set(flow.parameters.properties)
        assert deployment["work_pool"]["name"]
        for schedule in deployment["schedules"]:
            if "cron" in schedule:
                CronSchedule(cron=schedule["cron"], timezone=schedule.get("timezone"))
            else:
                IntervalSchedule(interval=schedule["interval"])
    weekly = deployments["weekly-retrain"]
    flow = load_flow_from_entrypoint(str(REPO / weekly["entrypoint"].split(":")[0]) + ":retrain_flow")
    assert flow.name == "retrain"
    (schedule,) = weekly["schedules"]
    runs = _next_runs(schedule["cron"], schedule["timezone"], 3)
    assert {(b - a).days for a, b in zip(runs, runs[1:], strict=False)} == {7}, runs  # weekly


def _next_runs(cron: str, timezone: str, n: int) -> list:
    """The next ``n`` run times, computed the way the Prefect server's scheduler does."""
    import asyncio
    import datetime
    import inspect

    from prefect.server.schemas.schedules import CronSchedule as ServerCron

    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    dates = ServerCron(cron=cron, timezone=timezone).get_dates(n=n, start=start)
    if inspect.isawaitable(dates):  # sync or async, depending on the calling context
        dates = asyncio.run(dates)
    return list(dates)


def test_python_deployment_matches_prefect_yaml() -> None:
    """``flows.retrain.deployment()`` builds the same deployment without a server."""
    from flows.retrain import deployment

    built = deployment()
    weekly = {d["name"]: d for d in _prefect_yaml()["deployments"]}["weekly-retrain"]
    assert built.name == weekly["name"]
    assert built.entrypoint == weekly["entrypoint"]
    assert built.parameters == weekly["parameters"]
    assert built.work_pool_name == weekly["work_pool"]["name"]
    (schedule,) = built.schedules
    assert schedule.schedule.cron == weekly["schedules"][0]["cron"]


# --------------------------------------------------------------------------- the real flow


def _files() -> list[Path]:
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    return [Path(p) for p in out.split("\0") if p and (REPO / p).is_file()]


def _tiny_params() -> dict:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["ingest"]["sklearn"]["names"] = ["iris", "wine"]
    params["ingest"]["synthetic"]["n_datasets"] = 1
    params["ingest"]["local"]["enabled"] = False
    params["ingest"]["openml"]["enabled"] = False
    params["sample"]["per_dataset"] = 2
    params["label"]["classifiers"] = ["logreg", "decision_tree"]
    params["augment"]["noise"]["share"] = 0.0
    params["augment"]["synthetic"]["n_datasets"] = 0
    params["train"]["epochs"] = 1
    params["evaluate"]["n_boot"] = 50
    return params


def _env(repo: Path) -> dict[str, str]:
    env = dict(os.environ)
    for key in ("PREFECT_API_URL", "BEYONDER_DASK_ADDRESS", "MLFLOW_REGISTRY_URI", "DVC_CACHE_DIR"):
        env.pop(key, None)
    env.update(
        {
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
            "PYTHONPATH": str(repo),  # the copied code, which DVC hashes
            "MLFLOW_TRACKING_URI": f"sqlite:///{repo / 'mlflow.db'}",
            "PREFECT_HOME": str(repo / ".prefect"),  # an own Prefect database
            "KERAS_BACKEND": "tensorflow",
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "DVC_NO_ANALYTICS": "1",
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",  # a busy machine
        }
    )
    return env


def _run_flow(repo: Path, env: dict[str, str]) -> dict:
    result = subprocess.run(
        [sys.executable, "-m", "flows.retrain", str(repo)],
        cwd=repo, env=env, capture_output=True, text=True, timeout=FLOW_TIMEOUT,
    )  # fmt: skip
    lines = [line for line in result.stdout.splitlines() if line.startswith("retrain: ")]
    assert result.returncode == 0 and lines, (
        f"exit {result.returncode}\n{result.stdout[-8000:]}\n{result.stderr[-8000:]}"
    )
    return json.loads(lines[-1].removeprefix("retrain: "))


@pytest.mark.slow
def test_retrain_flow_runs_dvc_repro_and_keeps_the_champion(tmp_path) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "repo"
    for rel in _files():
        if rel.parts[0] == "data":
            continue
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, repo / rel)
    (repo / "data").mkdir(exist_ok=True)
    (repo / "params.yaml").write_text(yaml.safe_dump(_tiny_params(), sort_keys=False))
    env = _env(repo)
    subprocess.run(["git", "init", "-q"], cwd=repo, env=env, check=True, timeout=60)

    first = _run_flow(repo, env)
    assert set(first["stages_run"]) == STAGES
    assert first["before"] == {"champion": None, "challenger": None}
    assert first["after"]["champion"] == "1" and first["promoted"] is True
    assert first["beyonder"]["mean_regret"] >= 0

    # the evaluation report: CSVs and figures, as DVC plots and as MLflow artifacts
    evaluation = repo / "data" / "evaluation"
    for name in ("per_dataset.csv", "regret.csv", "rankings.csv"):
        assert (evaluation / name).is_file(), name
    figures = sorted(p.name for p in (evaluation / "figures").glob("*.png"))
    assert figures == ["predicted_vs_true.png", "rankings.png", "regret.png"]
    plots = subprocess.run(
        [sys.executable, "-m", "dvc", "plots", "show", "--json"],
        cwd=repo, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert plots.returncode == 0, plots.stderr
    shown = json.loads(plots.stdout)
    assert not shown.get("errors"), shown.get("errors")
    for name in ("regret.csv", "rankings.csv", "figures/regret.png"):
        assert f"data/evaluation/{name}" in shown["data"], list(shown["data"])
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=env["MLFLOW_TRACKING_URI"], registry_uri=env["MLFLOW_TRACKING_URI"])
    run_id = client.get_model_version_by_alias("beyonder", "champion").run_id
    logged = {a.path for a in client.list_artifacts(run_id, "evaluation/figures")}
    assert "evaluation/figures/regret.png" in logged, logged

    # nothing changed: DVC reruns nothing, no new version, the champion stays
    second = _run_flow(repo, env)
    assert second["stages_run"] == []
    assert second["after"] == second["before"] == first["after"]
    assert second["promoted"] is False
