"""Ctrl-C and SIGTERM stop a real ``beyonder`` command within seconds, cleanly.

``beyonder label`` on a tiny workspace (the label engine's, ``tests/test_label_engine.py``)
with its own temporary Prefect server and local Dask cluster, as DVC runs it: signalled once
labelling is under way, it must end by that signal within a few seconds, leave no process of
its group behind (server, Dask workers) and no partial output (no labels table, no temporary
file). SIGTERM goes to the command alone (``kill PID``, a scheduler stopping it) or to its
whole process group (``kill -- -PGID``, a supervisor stopping a process tree, so the Dask
workers get it too); SIGINT to its whole process group, as a terminal's Ctrl-C does.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import PREFECT_SERVER
from test_label_engine import make_workspace, stop_group, wait_group_gone

from beyonder.config import Layout
from beyonder.interrupt import run_interruptibly

HUNG_AFTER_S = 120.0
"""When a command that has not stopped counts as hung. Not a speed requirement: it unwinds
(closes the Dask cluster, reports the flow run, stops the server) in seconds on an idle
machine; the test prints how long it took."""


@pytest.fixture(scope="module")
def prefect_home(tmp_path_factory) -> Path:
    """One Prefect home for the module's commands: each starts its own temporary server, but
    its database is created and migrated once (about 20 CPU seconds), not once per case."""
    return tmp_path_factory.mktemp("prefect")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sig", "to_group"),
    [(signal.SIGTERM, False), (signal.SIGTERM, True), (signal.SIGINT, True)],
    ids=["sigterm", "sigterm-group", "ctrl-c"],
)
def test_a_signal_stops_beyonder_label_cleanly(
    tmp_path: Path, prefect_home: Path, sig: signal.Signals, to_group: bool
) -> None:
    root = make_workspace(
        tmp_path / "ws", datasets=("iris", "wine", "breast_cancer"), per_dataset=2, rows=150,
        batch_fits=1, workers=1,
    )  # fmt: skip
    env = {
        k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "BEYONDER_DASK_ADDRESS")
    }
    env["PREFECT_HOME"] = str(prefect_home)  # its own temporary server, not the session's
    env["DASK_TEMPORARY_DIRECTORY"] = str(tmp_path / "dask")
    command = [
        Path(sys.executable).parent / "beyonder",
        "label",
        "--params",
        str(root / "params.yaml"),
        "--root",
        str(root),
    ]
    cache = Layout(root).label_cache
    log = tmp_path / "label.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 300
        while not list(cache.glob("*/*.json")):  # labelling is under way
            assert proc.poll() is None, (
                f"beyonder label ended before the signal:\n{log.read_text()}"
            )
            assert time.monotonic() < deadline, "no label was cached within 300 s"
            time.sleep(0.02)
        sent = time.monotonic()
        if to_group:
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)
        try:
            proc.wait(timeout=HUNG_AFTER_S)
        except subprocess.TimeoutExpired:
            pytest.fail(
                f"beyonder label still running {HUNG_AFTER_S:.0f} s after {sig.name}:\n{log.read_text()[-3000:]}"
            )
        stopped = time.monotonic() - sent
        assert wait_group_gone(proc.pid, HUNG_AFTER_S), "processes of the command outlived it"
    finally:
        if proc.poll() is None or not wait_group_gone(proc.pid, 0):
            stop_group(proc)
    text = log.read_text()
    assert proc.returncode == -sig, f"exit {proc.returncode}:\n{text[-3000:]}"
    assert f"beyonder: stopped by {sig.name}" in text
    assert not (root / "data" / "labels" / "labels.parquet").exists()
    # to the group, the Dask workers get the signal too and die at once, as under ``kill -9``;
    # the temporary file of a label one was writing is swept when the command stops
    leftovers = [p for p in (root / "data").rglob("*") if p.name.endswith(".tmp")]
    assert not leftovers, leftovers
    print(f"\n{sig.name}: stopped after {stopped:.1f} s")


def _answers(url: str) -> bool:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"{url}/health", timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


@pytest.mark.slow  # starts a Prefect server
@pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="the watchdog needs Linux pidfds")
def test_a_command_killed_outright_takes_its_prefect_server_with_it(
    tmp_path: Path, prefect_home: Path
) -> None:
    """``kill -9`` of the command alone (no handler runs: the out-of-memory killer does the
    same) still stops the temporary Prefect server it started, within seconds."""
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env["PREFECT_HOME"] = str(prefect_home)
    proc = subprocess.Popen(
        [sys.executable, "-c", PREFECT_SERVER], cwd=Path(__file__).resolve().parents[1],
        env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        text=True, start_new_session=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        url = next((line for line in proc.stdout if line.startswith("URL ")), "")[4:].strip()
        assert url and _answers(url), f"no Prefect server (exit {proc.poll()})"
        proc.kill()
        proc.wait(timeout=30)
        deadline = time.monotonic() + 30
        while _answers(url) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _answers(url), "the server outlived the command killed with SIGKILL"
        assert wait_group_gone(proc.pid, 30), "the watchdog or the server is still running"
    finally:
        stop_group(proc)


def test_run_interruptibly_passes_the_exit_status_and_other_errors_through() -> None:
    assert run_interruptibly(lambda: 3) == 3
    before = signal.getsignal(signal.SIGTERM)

    def fail() -> int:
        raise KeyboardInterrupt  # not from a signal: an ordinary exception, re-raised

    with pytest.raises(KeyboardInterrupt):
        run_interruptibly(fail)
    assert signal.getsignal(signal.SIGTERM) == before  # handlers put back
