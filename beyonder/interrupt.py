"""Ctrl-C and SIGTERM stop any ``beyonder`` command within seconds, leaving nothing half-written.

Left to their defaults, SIGTERM kills the process on the spot: no ``finally`` runs, so the
temporary Prefect server (a subprocess) outlives the command, an atomic write leaves its
temporary file behind, and Prefect's own SIGTERM bridge (active only inside a flow run)
re-sends the signal to the default handler after marking the run crashed. Here both signals
raise ``KeyboardInterrupt`` in the main thread instead, so every context manager unwinds (Dask
clusters close, the Prefect server stops, temporary files are removed) and then the process
ends *by that signal*, as a parent (DVC, a shell, a scheduler) expects. A second signal during
that clean-up ends the process at once: the user asked twice.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable

SIGNALS = (signal.SIGINT, signal.SIGTERM)


def run_interruptibly(main: Callable[[], int], name: str = "beyonder") -> int:
    """``main()`` with SIGINT and SIGTERM turned into ``KeyboardInterrupt``; its exit status.

    On an interrupt the command says so on stderr (one line) and re-raises the signal with its
    default action, so the exit status reads "killed by SIGTERM" (or SIGINT). Outside the main
    thread (where handlers cannot be installed) ``main()`` runs as it is.
    """
    if threading.current_thread() is not threading.main_thread():
        return main()
    received: list[int] = []

    def handler(signum: int, frame: object) -> None:
        if received:  # a second signal while cleaning up: stop now
            os._exit(128 + signum)
        received.append(signum)
        raise KeyboardInterrupt(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, handler) for sig in SIGNALS}
    try:
        return main()
    except KeyboardInterrupt:
        if not received:
            raise
        signum = received[0]
        print(f"{name}: stopped by {signal.Signals(signum).name}", file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        signal.signal(signum, signal.SIG_DFL)
        signal.pthread_kill(threading.get_ident(), signum)  # delivered before this returns
        raise  # not reached: the default action ends the process
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
