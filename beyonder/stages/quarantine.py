"""The quarantine report of the ingest and clean stages: one line per refused dataset (its
name, its file, the problem), and the report files logged to MLflow as artifacts of a run
named after the stage in the ``beyonder`` experiment.

MLflow is imported only when logging (about 2 s). Logging is best effort: the
``data/`` files (``raw/failures.json``, ``clean/quarantine.json``) are the record, so a
tracking server that is down costs a warning, never the stage.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from beyonder import tracking
from beyonder.errors import error_line, one_line


def problem_line(record: dict) -> str:
    """``name (file): reason`` on one line: what a stage logs for a refused dataset."""
    name = str(record.get("name", "?"))
    origin = str(record.get("origin") or "")
    where = f" ({origin})" if origin and origin != name else ""
    return one_line(f"{name}{where}: {record.get('reason', 'no reason given')}", 600)


def log_stage_report(
    stage: str, root: str | Path, artifacts: Iterable[str | Path], metrics: dict[str, float]
) -> dict:
    """Log ``artifacts`` (files that exist) and ``metrics`` to a new MLflow run named ``stage``.

    Returns ``{"run_id": ...}``, or ``{"error": one line}`` when MLflow could not record it.
    """
    try:
        import mlflow

        tracking.configure(root)
        with mlflow.start_run(run_name=stage, nested=mlflow.active_run() is not None) as run:
            mlflow.set_tag("stage", stage)
            mlflow.log_metrics({k: float(v) for k, v in metrics.items()})
            for path in artifacts:
                if Path(path).is_file():
                    mlflow.log_artifact(str(path))
            return {"run_id": run.info.run_id}
    except Exception as exc:  # best effort: the data/ files are the record
        return {"error": error_line(exc)}
