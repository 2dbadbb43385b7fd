"""Scheduled retraining: the deployment definitions load without a server. The retrain flow
itself runs for real in ``tests/test_pipeline_dvc.py``: it is what builds that module's
pipeline (a first run reruns every stage and crowns version 1; a second reruns nothing)."""

from __future__ import annotations

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


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
    flow = load_flow_from_entrypoint(
        str(REPO / weekly["entrypoint"].split(":")[0]) + ":retrain_flow"
    )
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
