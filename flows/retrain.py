"""Retrain flow (scheduled weekly by ``prefect.yaml``): ``dvc repro``, then the registry.

``dvc repro`` decides what reruns: new or changed datasets, code or params rerun their
stages and the ones downstream; when nothing changed, nothing runs (and no new model
appears). Promotion is the evaluate stage's (``beyonder.evaluation.champion.decide``): a new model
becomes ``champion`` only if it beats the current champion on the same held-out datasets and
is not reliably worse than the SBS, else it is ``challenger``. This
flow reports which stages ran and which versions hold the two aliases before and after.

Deploy it with a local server and worker (README, "Scheduled retraining"), or run it once:
``python -m flows.retrain [ROOT]`` (a temporary Prefect server unless ``PREFECT_API_URL``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import deque
from pathlib import Path
from typing import Any

if __name__ == "__main__":  # offline settings before Prefect reads them (at import)
    from beyonder.quiet import quiet_environment

    quiet_environment()

from prefect import flow, get_run_logger, task  # noqa: E402

from beyonder.config import Layout  # noqa: E402
from beyonder.storage import read_json  # noqa: E402

WEEKLY_CRON = "0 3 * * 1"
"""Mondays at 03:00 (UTC unless the schedule says otherwise)."""
DEPLOYMENT = "weekly-retrain"

_RAN = re.compile(r"Running stage '([^']+)'")


class ReproError(RuntimeError):
    """``dvc repro`` failed; the message ends with the last lines of its output."""


def _environment() -> dict[str, str]:
    """The subprocess sees this interpreter's ``bin/`` first (``dvc`` calls ``beyonder``)
    and the offline settings; ``PREFECT_API_URL`` passes through, so the stages' flows report
    to the same Prefect API as this one instead of each starting a server."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    for key, value in {
        "DVC_NO_ANALYTICS": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "KERAS_BACKEND": "tensorflow",
    }.items():
        env.setdefault(key, value)
    return env


@task(name="dvc-repro")
def dvc_repro(root: str, force: bool = False) -> list[str]:
    """Run ``dvc repro`` in ``root``; returns the stages that ran (none: nothing changed)."""
    logger = get_run_logger()
    command = [sys.executable, "-m", "dvc", "repro", *(["--force"] if force else [])]
    logger.info("running %s in %s", " ".join(command[2:]), Path(root).resolve())
    tail: deque[str] = deque(maxlen=40)
    ran: list[str] = []
    with subprocess.Popen(
        command, cwd=root, env=_environment(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, errors="replace", start_new_session=True,
    ) as proc:  # fmt: skip
        assert proc.stdout is not None
        try:
            for raw in proc.stdout:
                line = raw.rstrip().split("\r")[-1]  # progress bars redraw with \r
                if not line:
                    continue
                tail.append(line)
                if match := _RAN.search(line):
                    ran.append(match.group(1))
                    logger.info("stage %s is running", match.group(1))
        except BaseException:  # e.g. Ctrl-C or SIGTERM (beyonder.interrupt): stop DVC too
            _stop_group(proc)
            raise
    if proc.returncode != 0:
        raise ReproError(f"dvc repro exited with {proc.returncode}:\n" + "\n".join(tail))
    logger.info("stages run: %s", ", ".join(ran) or "none (nothing changed)")
    return ran


def _stop_group(proc: subprocess.Popen, grace: float = 20.0) -> None:
    """SIGTERM ``dvc repro``'s process group (DVC and the stage command it runs, which stops
    cleanly on SIGTERM), SIGKILL after ``grace`` seconds. DVC runs in its own session so
    that a stop reaches it from here, not half of it from the terminal."""
    import signal

    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=wait)
            return
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


@task(name="registry-status")
def registry_status(root: str) -> dict[str, Any]:
    """Which version holds ``champion`` and ``challenger`` (None where nobody does)."""
    from beyonder import tracking

    tracking.configure(root)
    status: dict[str, Any] = {}
    for alias in (tracking.CHAMPION, tracking.CHALLENGER):
        version = tracking.alias_version(alias)
        status[alias] = None if version is None else str(version.version)
    return status


@flow(name="retrain")
def retrain_flow(root: str = ".", force: bool = False) -> dict[str, Any]:
    """``dvc repro`` in ``root``, then report the stages run, the aliases before and after,
    and the latest evaluation's headline metrics."""
    logger = get_run_logger()
    before = registry_status(root)
    ran = dvc_repro(root, force)
    after = registry_status(root)
    metrics_file = Layout(root).metrics / "evaluate.json"
    metrics = read_json(metrics_file) if metrics_file.is_file() else {}
    promoted = after["champion"] is not None and after["champion"] != before["champion"]
    if "evaluate" not in ran:
        logger.info("evaluate did not run (nothing it depends on changed): no new model")
    elif promoted:
        logger.info(
            "version %s is the new champion (was %s)", after["champion"], before["champion"]
        )
    else:
        logger.info(
            "the new model did not beat champion version %s; challenger is version %s",
            after["champion"],
            after["challenger"],
        )
    return {
        "stages_run": ran,
        "before": before,
        "after": after,
        "promoted": promoted,
        "beyonder": metrics.get("beyonder"),
    }


def deployment(name: str = DEPLOYMENT, cron: str = WEEKLY_CRON, timezone: str = "UTC"):
    """The same deployment as ``prefect.yaml``, built in Python (no server needed to build;
    ``prefect.deploy(deployment(), work_pool_name=...)`` registers it)."""
    from prefect.schedules import Cron

    return retrain_flow.to_deployment(
        name=name,
        schedule=Cron(cron, timezone=timezone),
        concurrency_limit=1,
        work_pool_name="beyonder",
        parameters={"root": ".", "force": False},
        description="Weekly: dvc repro, then promote the new model only if it beats the champion.",
        tags=["beyonder", "retrain"],
    )


if __name__ == "__main__":
    import json

    from beyonder.interrupt import run_interruptibly
    from flows.runtime import prefect_api

    def main() -> int:
        with prefect_api():
            result = retrain_flow(root=sys.argv[1] if len(sys.argv) > 1 else ".")
        print("retrain: " + json.dumps(result))
        return 0

    sys.exit(run_interruptibly(main, "retrain"))
