"""Prefect retries: transient faults (file system, network, a lost Dask connection) are retried,
deterministic errors fail at once. Real Prefect task runs on a temporary local API."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
from distributed.comm.core import CommClosedError

from flows.runtime import TRANSIENT_RETRIES, is_transient, retry_if_transient


@pytest.mark.parametrize(
    "exc",
    [
        OSError(errno.EIO, "Input/output error"),
        OSError(errno.ESTALE, "Stale file handle"),
        OSError(errno.EAGAIN, "Resource temporarily unavailable"),
        ConnectionResetError(errno.ECONNRESET, "reset by peer"),
        TimeoutError("timed out"),
        CommClosedError("in <TCP (closed)>: Stream is closed"),
    ],
    ids=lambda e: (
        type(e).__name__ + (f"-{errno.errorcode[e.errno]}" if getattr(e, "errno", None) else "")
    ),
)
def test_transient_faults_are_retried(exc: BaseException) -> None:
    assert is_transient(exc)


@pytest.mark.parametrize(
    "exc",
    [
        ValueError("could not convert string to float"),
        KeyError("class"),
        FileNotFoundError(errno.ENOENT, "No such file or directory"),
        PermissionError(errno.EACCES, "Permission denied"),
        OSError(errno.ENOSPC, "No space left on device"),
        OSError("no errno at all"),
        MemoryError(),
        RuntimeError("a bug"),
    ],
    ids=lambda e: (
        type(e).__name__ + (f"-{errno.errorcode[e.errno]}" if getattr(e, "errno", None) else "")
    ),
)
def test_deterministic_errors_are_not_retried(exc: BaseException) -> None:
    assert not is_transient(exc)


def test_every_flow_task_that_touches_files_uses_the_policy() -> None:
    from flows.augment import make_samples
    from flows.clean import clean_task
    from flows.crossval import meta_task
    from flows.ingest import ingest_source_task
    from flows.label import label_batch
    from flows.sample import sample_task

    for task in (label_batch, clean_task, sample_task, ingest_source_task, make_samples, meta_task):
        assert task.retries == TRANSIENT_RETRIES["retries"] >= 1, task.name
        assert task.retry_condition_fn is retry_if_transient, task.name


def _fail_then_succeed(counter: Path, exc: BaseException, failures: int) -> int:
    """Append one line per attempt; raise ``exc`` on the first ``failures`` attempts."""
    with counter.open("a") as f:
        f.write("attempt\n")
    attempts = len(counter.read_text().splitlines())
    if attempts <= failures:
        raise exc
    return attempts


@pytest.mark.slow
def test_real_task_runs_retry_transient_faults_only(tmp_path: Path, prefect_server: str) -> None:
    from prefect import flow, task

    flaky = task(name="flaky", **{**TRANSIENT_RETRIES, "retry_delay_seconds": 0})(
        _fail_then_succeed
    )

    @flow(name="retry-policy")
    def run(counter: str, exc: BaseException, failures: int) -> dict:
        state = flaky(Path(counter), exc, failures, return_state=True)
        error = None if state.is_completed() else repr(state.result(raise_on_failure=False))
        return {"completed": state.is_completed(), "error": error}

    # an I/O error twice, then success: two retries, the run completes
    io = run(str(tmp_path / "io"), OSError(errno.EIO, "Input/output error"), 2)
    # three I/O errors exhaust the two retries
    exhausted = run(str(tmp_path / "exhausted"), OSError(errno.EIO, "Input/output error"), 3)
    # a deterministic error: one attempt only
    bad = run(str(tmp_path / "bad"), ValueError("bad data"), 1)

    def attempts(name: str) -> int:
        return len((tmp_path / name).read_text().splitlines())

    assert io == {"completed": True, "error": None} and attempts("io") == 3
    assert not exhausted["completed"] and attempts("exhausted") == 3
    assert not bad["completed"] and attempts("bad") == 1
    assert "bad data" in bad["error"]
