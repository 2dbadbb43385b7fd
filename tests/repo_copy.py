"""A copy of this repository with a tiny ``params.yaml``, for end-to-end runs of the real
pipeline (``dvc repro``, the retrain flow) that must not touch the working tree."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
TINY_CLASSIFIERS = ["logreg", "decision_tree"]


def repo_files() -> list[Path]:
    """Tracked files plus new, not ignored ones (the working tree as DVC would see it), data/
    excluded."""
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    files = [Path(p) for p in out.split("\0") if p]
    return [f for f in files if (REPO / f).is_file() and f.parts[0] != "data"]


def tiny_params() -> dict:
    """``params.yaml`` shrunk to minutes: iris, wine and one synthetic set instead of the bundled
    corpus, two classifiers, one epoch; a tiny imputer trained one epoch on ``corpus/uci``."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["ingest"]["sklearn"].update(enabled=True, names=["iris", "wine"])
    params["ingest"]["synthetic"].update(enabled=True, n_datasets=1)
    params["ingest"]["local"]["enabled"] = False
    params["ingest"]["openml"]["enabled"] = False
    params["sample"]["per_dataset"] = 2
    params["label"]["classifiers"] = list(TINY_CLASSIFIERS)
    params["augment"]["noise"]["share"] = 0.0
    params["augment"]["synthetic"]["n_datasets"] = 0
    params["train"]["epochs"] = 1
    params["evaluate"]["n_boot"] = 50
    params["impute"].update(
        folders=["corpus/uci"], rows=16, features=4, levels=4, dim=8, heads=2, blocks=1, epochs=1,
        views_per_table=1, predict_rows=32, context_rows=8, views=1, score_tables=2, score_rows=60,
    )  # fmt: skip
    return params


def pipeline_env(repo: Path) -> dict[str, str]:
    """Environment for commands run in the copy: its own code, MLflow database and Prefect
    home; offline and quiet."""
    env = dict(os.environ)
    for key in ("PREFECT_API_URL", "BEYONDER_DASK_ADDRESS", "MLFLOW_REGISTRY_URI", "DVC_CACHE_DIR"):
        env.pop(key, None)
    env.update(
        {
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
            "PYTHONPATH": str(
                repo
            ),  # the copied code (what DVC hashes), not the editable install's
            "MLFLOW_TRACKING_URI": f"sqlite:///{repo / 'mlflow.db'}",
            "PREFECT_HOME": str(repo / ".prefect"),  # no clash with another run on this machine
            "KERAS_BACKEND": "tensorflow",
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",  # a busy machine
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "DVC_NO_ANALYTICS": "1",
            "GIT_AUTHOR_NAME": "test",
            "GIT_AUTHOR_EMAIL": "test@example.com",
            "GIT_COMMITTER_NAME": "test",
            "GIT_COMMITTER_EMAIL": "test@example.com",
        }
    )
    return env


def copy_repo(dest: Path, params: dict | None = None) -> tuple[Path, dict[str, str]]:
    """Copy the repository to ``dest`` (a git repo, empty ``data/``) with ``params`` (default
    ``tiny_params()``); returns the copy and its environment."""
    for rel in repo_files():
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, dest / rel)
    (dest / "data").mkdir(exist_ok=True)
    (dest / "params.yaml").write_text(yaml.safe_dump(params or tiny_params(), sort_keys=False))
    env = pipeline_env(dest)
    subprocess.run(["git", "init", "-q"], cwd=dest, env=env, check=True, timeout=60)
    return dest, env
