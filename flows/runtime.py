"""How flows run here: offline, quiet, one local Prefect API per command, Dask for labelling."""

from __future__ import annotations

import contextlib
import errno
import importlib
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from beyonder.quiet import quiet_environment

if TYPE_CHECKING:
    from prefect.server.api.server import SubprocessASGIServer

    from beyonder.params import ComputeParams


@contextlib.contextmanager
def prefect_api() -> Iterator[str | None]:
    """Use ``$PREFECT_API_URL`` if set; else start one temporary local Prefect server.

    Starting it here (not lazily inside the flow) and exporting its URL means Dask worker
    processes report to the same server instead of each starting their own: local-cluster
    workers inherit the environment, and every task carries the settings to external workers.
    """
    from prefect.settings import (
        PREFECT_API_URL,
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
        temporary_settings,
    )

    server = watchdog = None
    try:
        if not os.environ.get("PREFECT_API_URL"):
            from prefect.server.api.server import SubprocessASGIServer

            server = SubprocessASGIServer()
            with _signals_blocked():  # the server inherits the mask: see _signals_blocked
                server.start()
                watchdog = _watch_over(server)
            os.environ["PREFECT_API_URL"] = server.api_url
        url = os.environ["PREFECT_API_URL"]
        # The URL in the settings (not only in the environment) travels with every task
        # submitted to Dask, so workers of an existing cluster, started without
        # PREFECT_API_URL, report to this API too. No heartbeat thread: it costs about 1 s per
        # flow and helps only long-lived workers.
        with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None, PREFECT_API_URL: url}):
            yield url
    finally:
        if server is not None:
            if server.running:
                _drain_prefect_workers()
            os.environ.pop("PREFECT_API_URL", None)
            _stop_server(server)
        if watchdog is not None:
            watchdog.kill()
            watchdog.wait()


_WATCHDOG = """
import os, select, signal, sys
try:
    command, server = (os.pidfd_open(int(pid)) for pid in sys.argv[1:])
except ProcessLookupError:
    sys.exit()
select.select([command], [], [])
try:
    signal.pidfd_send_signal(server, signal.SIGKILL)
except ProcessLookupError:
    pass
"""


def _watch_over(server: SubprocessASGIServer) -> subprocess.Popen | None:
    """A tiny process that kills the temporary server when this command dies.

    A command stopped by a signal it can handle stops its server itself; one killed outright
    (``kill -9``, the kernel's out-of-memory killer) cannot, and its server would serve on
    forever. The watchdog waits on a pidfd of this process (no polling; a process handle, so a
    reused PID is never signalled) and then kills the server, if it is still there. Linux only
    (pidfds); elsewhere there is no watchdog."""
    process = server.server_process
    if process is None or not hasattr(os, "pidfd_open"):
        return None
    return subprocess.Popen(
        [sys.executable, "-S", "-c", _WATCHDOG, str(os.getpid()), str(process.pid)],
        stdin=subprocess.DEVNULL,
    )


def _stop_server(server: SubprocessASGIServer) -> None:
    """Stop the temporary server started with ``_signals_blocked``.

    It ignores SIGTERM, so Prefect's own ``stop`` (SIGTERM, then SIGKILL after 5 s) would wait
    the 5 s every command: kill it at once. Nothing is lost: its SQLite writes are committed
    before it answers, and the queued logs and events have been sent (``_drain_prefect_workers``).
    """
    process = server.server_process
    if process is not None and process.poll() is None:
        process.kill()
        process.wait()
    server.stop()  # forgets the instance; the process is gone already


@contextlib.contextmanager
def _signals_blocked() -> Iterator[None]:
    """SIGINT and SIGTERM blocked in this thread, hence in the processes it starts meanwhile.

    Ctrl-C signals the terminal's whole process group, and so does a supervisor stopping a
    process tree (``kill -- -PGID``). A temporary Prefect server in that group would die at
    once, and the command, unwinding from its ``KeyboardInterrupt``, would spend minutes
    retrying to report the crashed flow runs to it. Started with both signals blocked (a mask
    survives ``exec``), the server ignores them and the command stops it (``_stop_server``)
    once the runs are reported. A signal sent meanwhile waits here and is raised on exit.
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _drain_prefect_workers() -> None:
    """Send queued logs and events while the server is still up (else they retry for a
    minute against a stopped server when the process exits)."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (APILogWorker, EventsWorker):
        try:
            worker.drain_all(timeout=10)
        except Exception:  # best effort: a log line lost is not worth failing the stage
            pass


def dask_runner(compute: ComputeParams):
    """A ``DaskTaskRunner``: the cluster at ``compute.dask_address`` (or ``$BEYONDER_DASK_ADDRESS``),
    else a local cluster with one single-threaded worker process per core."""
    import cloudpickle
    from prefect_dask import DaskTaskRunner

    import flows

    # the flows are this project's files, not an installed package: their tasks travel to the
    # workers by value, so a worker needs only ``beyonder`` importable, started from any folder
    cloudpickle.register_pickle_by_value(flows)
    address = os.environ.get("BEYONDER_DASK_ADDRESS") or compute.dask_address
    if address:
        return DaskTaskRunner(address=address)
    workers = compute.workers or (os.cpu_count() or 1)
    # single-threaded BLAS/OpenMP in every worker, or the workers fight over the cores
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    return DaskTaskRunner(
        cluster_kwargs={
            "n_workers": workers,
            "threads_per_worker": 1,
            "processes": True,
            "memory_limit": compute.memory_limit,
            "dashboard_address": None,
        }
    )


TRANSIENT_ERRNOS = frozenset(
    {
        errno.EIO,
        errno.EAGAIN,
        errno.EBUSY,
        errno.EINTR,
        errno.ETIMEDOUT,
        errno.ESTALE,
        errno.ECONNRESET,
        errno.ECONNREFUSED,
        errno.ECONNABORTED,
        errno.EPIPE,
        errno.ENFILE,
        errno.EMFILE,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
    }
)
"""File-system and network error numbers that another try may not meet again."""


def is_transient(exc: BaseException) -> bool:
    """Whether an error is worth a retry: a flaky file system or network, a lost connection to
    a Dask worker or scheduler. Deterministic errors (bad data, a bug, a missing or forbidden
    file) fail the same way every time, so retrying them only delays the report."""
    if isinstance(exc, ConnectionError | TimeoutError):
        return True
    try:
        from distributed.comm.core import CommClosedError

        if isinstance(exc, CommClosedError):
            return True
    except ImportError:  # pragma: no cover - distributed is a dependency
        pass
    if type(exc).__module__.startswith(("requests", "urllib3")) and isinstance(exc, OSError):
        return type(exc).__name__ in {
            "ConnectionError",
            "Timeout",
            "ReadTimeout",
            "ConnectTimeout",
            "ChunkedEncodingError",
        }
    return isinstance(exc, OSError) and exc.errno in TRANSIENT_ERRNOS


def retry_if_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect ``retry_condition_fn``: retry a failed task run only for a transient error."""
    exc = state.data if isinstance(getattr(state, "data", None), BaseException) else None
    if exc is None:
        try:
            state.result(raise_on_failure=True)
        except BaseException as raised:  # noqa: BLE001 - this is how Prefect hands it over
            exc = raised
    return exc is not None and is_transient(exc)


TRANSIENT_RETRIES: dict[str, Any] = {
    "retries": 2,
    "retry_delay_seconds": [1, 5],
    "retry_condition_fn": retry_if_transient,
}
"""Keyword arguments for ``@task``: two retries, for transient faults only."""


def run_stage(stage: str, params: str = "params.yaml", root: str = ".") -> dict:
    """Run one stage's flow against a Prefect API (a temporary local one if none is set).

    The params file is checked first, so a typo in it is one line before any server starts."""
    from beyonder.params import load_params

    load_params(params)
    quiet_environment()
    flow = getattr(importlib.import_module(f"flows.{stage}"), f"{stage}_flow")
    with prefect_api():
        return flow(params_path=params, root=root)
