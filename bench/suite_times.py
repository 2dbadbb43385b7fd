"""How long the test suite takes, in wall and CPU seconds per test, and in total.

On a shared machine wall time says more about the neighbours than about the tests; CPU
seconds (this process and the children it waited for: Prefect servers, ``beyonder``
subprocesses, Dask workers) barely move with the load, and on two idle cores the wall time of
a mostly single-threaded suite is between half of them and all of them, plus the time it spends
waiting (servers starting, polling). Both are recorded, with the 1-minute load average.

As a pytest plugin (``-p bench.suite_times``; the repository root is on pytest's path), it
writes one JSON line per test, one per pytest-xdist worker and one for the whole session, to
``--suite-times PATH`` (the README's test commands, with the plugin added):

    python -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder -m 'not slow' -p bench.suite_times --suite-times quick.jsonl
    python -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder -p bench.suite_times --suite-times whole.jsonl

As a script, it sums such a file: totals (quick loop and slow tests apart), per module, and
the tests that cost most.

    python bench/suite_times.py quick.jsonl [--top 25]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest


def _cpu() -> float:
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--suite-times",
        metavar="PATH",
        help="write per-test wall and CPU seconds here (JSON lines)",
    )


_START: dict[str, float] = {}


def _worker(config: pytest.Config) -> str | None:
    """The pytest-xdist worker's id (``gw0``, ...); ``None`` in the controlling process or
    without xdist."""
    workerinput = getattr(config, "workerinput", None)
    return None if workerinput is None else workerinput["workerid"]


def _write(config: pytest.Config, row: dict) -> None:
    path = config.getoption("--suite-times")
    if path:
        with open(path, "a") as out:
            out.write(json.dumps(row) + "\n")


def pytest_sessionstart(session: pytest.Session) -> None:
    _START.update(wall=time.perf_counter(), cpu=_cpu())


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    wall, cpu = time.perf_counter(), _cpu()
    yield
    _write(item.config, {
        "test": item.nodeid, "wall": time.perf_counter() - wall, "cpu": _cpu() - cpu,
        "slow": item.get_closest_marker("slow") is not None, "load": os.getloadavg()[0],
        "worker": _worker(item.config),
    })  # fmt: skip


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The session's row; under xdist each worker writes its own (``<worker>``) and the
    controlling process the whole run's wall time (``<session>``)."""
    worker = _worker(session.config)
    _write(session.config, {
        "test": "<session>" if worker is None else "<worker>", "worker": worker,
        "wall": time.perf_counter() - _START["wall"], "cpu": _cpu() - _START["cpu"],
        "load": os.getloadavg()[0],
    })  # fmt: skip


def summarise(rows: list[dict], top: int = 25) -> str:
    """Totals, per module (most CPU first) and the ``top`` tests by CPU seconds."""
    tests = [r for r in rows if r["test"] not in ("<session>", "<worker>")]
    workers = [r for r in rows if r["test"] == "<worker>"]
    lines = []
    for r in rows:
        if r["test"] == "<session>":
            # the workers are children of the controlling process: their CPU is in its own
            lines.append(f"session: {r['wall']:.0f} s wall, {r['cpu']:.0f} s CPU (collection and teardown included), "
                         f"load {r['load']:.1f} at the end")  # fmt: skip
    for r in sorted(workers, key=lambda r: r["worker"]):
        lines.append(f"worker {r['worker']}: {r['wall']:.0f} s wall, {r['cpu']:.0f} s CPU")
    for label, part in (
        ("quick", [r for r in tests if not r["slow"]]),
        ("slow", [r for r in tests if r["slow"]]),
    ):
        lines.append(f"{label}: {len(part)} tests, {sum(r['wall'] for r in part):.0f} s wall, "
                     f"{sum(r['cpu'] for r in part):.0f} s CPU")  # fmt: skip
    modules: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0])
    for r in tests:
        totals = modules[r["test"].split("::")[0]]
        totals[0] += r["cpu"]
        totals[1] += r["wall"]
        totals[2] += 1
    lines.append("per module (CPU s, wall s, tests):")
    for module, (cpu, wall, n) in sorted(modules.items(), key=lambda kv: -kv[1][0]):
        lines.append(f"  {cpu:7.1f} {wall:7.1f} {n:4d}  {module}")
    lines.append(f"top {top} tests by CPU seconds (CPU s, wall s; S: slow):")
    for r in sorted(tests, key=lambda r: -r["cpu"])[:top]:
        lines.append(f"  {r['cpu']:7.1f} {r['wall']:7.1f} {'S' if r['slow'] else ' '} {r['test']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Sum a --suite-times file.")
    parser.add_argument("path", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    rows = [json.loads(line) for line in args.path.read_text().splitlines() if line.strip()]
    print(summarise(rows, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
