"""Labelling throughput: a plain sequential loop against the label engine, side by side.

    .venv/bin/python bench/label_throughput.py                 # 10 datasets x 4 samples x 10
    .venv/bin/python bench/label_throughput.py --datasets 3 --samples 2 --json /tmp/lt.json

One run labels a fixed slice of the UCI folder (``--uci``, default ``../shared/datasets/uci``)
four ways, on the same bootstrap samples and CV settings (``params.yaml``'s ``seed`` and
``label`` section, the full classifier portfolio):

  (a) sequential: ``beyonder.labels.labelling.label_sample`` in a plain loop in this process, one
      core, no Prefect, no Dask, no cache (the seed's loop);
  (b) engine, 1 worker: the label flow (``flows.label.label_flow``) on a fresh cache, with a
      local Dask cluster of 1 single-threaded worker process;
  (c) engine, 2 workers: the same on a fresh cache, 2 workers;
  (d) cached rerun: (c) again with every label in the cache.

Engine times (b)-(d) are wall time around one call of the label flow: flow-run bookkeeping,
starting and stopping the local cluster (worker processes and their imports), submitting the
batches, labelling, assembling and writing the labels table. They do not include the Prefect
API start: one temporary server is started once for the whole benchmark (``prefect_api()``)
and its start is reported on its own; a ``beyonder label`` command pays it on every run (plus
the interpreter start and imports). A "fit" here is one label: one classifier's
``n_folds``-fold cross-validation on one sample (so ``n_folds`` model fits).

CPU seconds (user+system of this process and of the worker processes, once they have exited)
are reported beside the wall times: on a busy machine they still show the engine's CPU overhead.
Peak memory is the largest sum of RSS over this process and the processes a phase starts
(Dask worker processes; the Prefect server is excluded), sampled every 0.1 s with psutil, so
pages shared between processes are counted once per process. Without psutil, ``getrusage``
maxima (this process, and separately the largest finished child) are reported instead.

Dataset slice: the first ``--datasets`` names of ``PREFERRED`` (10 varied sets: numeric and
categorical features, 2 to 11 classes, 4 to 60 features, 208 to 2310 rows), then any other
file of the folder in name order, skipping files that do not load, do not clean or have fewer
than 100 rows after cleaning. Each gets ``--samples`` stratified bootstrap samples of
``--rows`` rows, exactly as the sample stage draws them.

Results go to ``bench/RESULTS.md`` (the section between ``<!-- label_throughput -->`` and
``<!-- /label_throughput -->``, replaced on every run) and, with ``--json PATH``, to JSON.
Speed-ups depend on the machine being otherwise idle: compare figures from one run only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import shlex
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_section import write_section  # noqa: E402  (a sibling bench module)

if TYPE_CHECKING:
    from beyonder.params import Params

REPO = Path(__file__).resolve().parents[1]
PREFERRED = (
    "anneal",
    "balance.scale",
    "breast.w",
    "car",
    "credit.g",
    "diabetes",
    "ionosphere",
    "segment",
    "sonar",
    "vowel",
)
MIN_ROWS = 100
MARK = "label_throughput"
TARGETS = {"b_over_a": 0.9, "c_over_b": 1.7, "d_over_b": 0.05}

# quiet and offline before Prefect is imported; the caller's settings win
for _key, _value in {"PREFECT_LOGGING_LEVEL": "WARNING", "TQDM_DISABLE": "1"}.items():
    os.environ.setdefault(_key, _value)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--uci", type=Path, default=REPO.parent / "shared" / "datasets" / "uci")
    p.add_argument("--datasets", type=int, default=10, help="datasets in the slice (default 10)")
    p.add_argument(
        "--samples", type=int, default=4, help="bootstrap samples per dataset (default 4)"
    )
    p.add_argument("--rows", type=int, default=500, help="rows per sample (default 500)")
    p.add_argument(
        "--params", type=Path, default=REPO / "params.yaml", help="seed, label, clean, compute"
    )
    p.add_argument(
        "--batch-fits",
        type=int,
        default=None,
        help="labels per engine task (default: params' compute.batch_fits)",
    )
    p.add_argument("--json", type=Path, default=None, help="also write the figures as JSON here")
    p.add_argument("--results", type=Path, default=REPO / "bench" / "RESULTS.md")
    p.add_argument(
        "--workdir", type=Path, default=None, help="keep the workspace here (default: a temp dir)"
    )
    return p.parse_args(argv)


# --------------------------------------------------------------------------- the slice


def build_workspace(args: argparse.Namespace, params: Params, root: Path) -> list[dict]:
    """Ingest, clean and sample the slice with the library; returns the sample index."""
    from beyonder.config import Layout
    from beyonder.data.cleaning import CleaningError, clean_dataset
    from beyonder.data.datasets import LoadFailure
    from beyonder.data.sampling import bootstrap_samples
    from beyonder.data.sources.local import SUFFIXES, load_file
    from beyonder.schema import TARGET
    from beyonder.stages.ingest import storable
    from beyonder.stages.sample import write_sample_index
    from beyonder.storage import frame_hash, write_parquet

    if not args.uci.is_dir():
        raise SystemExit(f"UCI folder not found: {args.uci}")
    files = {p.stem: p for p in sorted(args.uci.iterdir()) if p.suffix.lower() in SUFFIXES}
    order = [n for n in PREFERRED if n in files] + [n for n in files if n not in PREFERRED]
    layout = Layout(root)
    config, seed, local = params.clean, params.seed, params.ingest.local
    entries: list[dict] = []
    chosen: list[dict] = []
    for name in order:
        if len(chosen) == args.datasets:
            break
        raw = load_file(files[name], target=local.target, override=local.overrides.get(name))
        if isinstance(raw, LoadFailure):
            print(f"  skip {name}: {raw.reason}", file=sys.stderr)
            continue
        try:
            frame, _ = clean_dataset(storable(raw), config)
        except CleaningError as exc:
            print(f"  skip {name}: {exc}", file=sys.stderr)
            continue
        if len(frame) < MIN_ROWS:
            print(f"  skip {name}: {len(frame)} rows < {MIN_ROWS}", file=sys.stderr)
            continue
        chosen.append(
            {
                "name": raw.name,
                "rows": len(frame),
                "features": frame.shape[1] - 1,
                "classes": int(frame[TARGET].nunique()),
            }
        )
        for sample_id, sample in bootstrap_samples(
            frame, raw.name, rows=args.rows, per_dataset=args.samples, seed=seed
        ):
            path = layout.dataset_file(layout.samples, sample_id)
            write_parquet(sample, path)
            entries.append(
                {
                    "sample_id": sample_id,
                    "dataset": raw.name,
                    "source": "local",
                    "kind": "bootstrap",
                    "rows": len(sample),
                    "hash": frame_hash(sample),
                    "file": str(path.relative_to(layout.root.resolve())),
                }
            )
    if len(chosen) < args.datasets:
        print(f"  only {len(chosen)} usable datasets in {args.uci}", file=sys.stderr)
    write_sample_index(entries, layout)
    args.chosen = chosen
    return entries


# --------------------------------------------------------------------------- memory


class PeakRSS:
    """Peak summed RSS of this process and its descendants, minus ``exclude`` pids."""

    def __init__(self, exclude: set[int] | None = None, interval: float = 0.1):
        self.exclude = set(exclude or ())
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        try:
            import psutil

            self._psutil = psutil
        except ImportError:  # fall back on getrusage maxima, reported as such
            self._psutil = None
        self.method = (
            "psutil tree RSS" if self._psutil else "getrusage max RSS (self, largest child)"
        )

    def _sample(self) -> int:
        me = self._psutil.Process()
        total = 0
        for proc in [me, *me.children(recursive=True)]:
            if proc.pid in self.exclude:
                continue
            try:
                total += proc.memory_info().rss
            except (self._psutil.NoSuchProcess, self._psutil.AccessDenied):
                pass
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._sample())
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakRSS:
        if self._psutil:
            self.peak = self._sample()
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._psutil:
            self._stop.set()
            self._thread.join()
            self.peak = max(self.peak, self._sample())
        else:
            import resource

            kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            kib += resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            self.peak = kib * 1024


def cpu_seconds() -> float:
    """User+system CPU of this process and its finished (reaped) children, such as the
    worker processes of a closed local cluster; not the still-running Prefect server."""
    import resource

    return sum(
        u.ru_utime + u.ru_stime
        for u in (
            resource.getrusage(resource.RUSAGE_SELF),
            resource.getrusage(resource.RUSAGE_CHILDREN),
        )
    )


def prefect_server_pids() -> set[int]:
    """Processes already running under this one (the Prefect server): not labelling memory."""
    try:
        import psutil
    except ImportError:
        return set()
    return {p.pid for p in psutil.Process().children(recursive=True)}


# --------------------------------------------------------------------------- the runs


def run_sequential(
    entries: list[dict], root: Path, classifiers: list[str], cv
) -> tuple[float, list[dict]]:
    import pandas as pd

    from beyonder.labels.labelling import label_sample

    records = []
    start = time.perf_counter()
    for entry in entries:
        sample = pd.read_parquet(root / entry["file"])
        for record in label_sample(sample, classifiers, cv):
            records.append({"sample_id": entry["sample_id"], **record})
    return time.perf_counter() - start, records


def run_engine(root: Path, params: Params, workers: int, fresh: bool) -> float:
    from beyonder.config import Layout
    from flows.label import label_flow

    layout = Layout(root)
    if fresh:
        shutil.rmtree(layout.label_cache, ignore_errors=True)
        shutil.rmtree(layout.labels, ignore_errors=True)
    params = replace(params, compute=replace(params.compute, workers=workers, dask_address=None))
    path = root / "params.yaml"
    path.write_text(params.to_yaml())
    start = time.perf_counter()
    label_flow(params_path=str(path), root=str(root))
    return time.perf_counter() - start


def comparable(frame) -> list[tuple]:
    """Rows of (sample, classifier, accuracy, std, folds, error), sorted, missing as None."""
    import pandas as pd

    cols = ["sample_id", "classifier", "accuracy", "accuracy_std", "n_folds", "error"]
    rows = (
        tuple(None if pd.isna(v) else v for v in row) for row in frame[cols].itertuples(index=False)
    )
    return sorted(rows, key=lambda row: (row[0], row[1]))


def same_labels(root: Path, sequential: list[tuple]) -> bool:
    """Whether the engine's labels table equals the sequential loop's records (timings aside)."""
    import pandas as pd

    return comparable(pd.read_parquet(root / "data" / "labels" / "labels.parquet")) == sequential


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from beyonder.quiet import quiet_environment

    quiet_environment()
    from beyonder.params import load_params
    from beyonder.stages.label import cv_settings

    if os.environ.pop("BEYONDER_DASK_ADDRESS", None):
        print("BEYONDER_DASK_ADDRESS ignored: this benchmark uses local clusters", file=sys.stderr)
    params = load_params(args.params)
    classifiers = params.label.classifiers
    if args.batch_fits is not None:
        params = replace(params, compute=replace(params.compute, batch_fits=args.batch_fits))
    cv = cv_settings(params.label, params.seed)

    tmp = None
    if args.workdir:
        root = args.workdir.resolve()
        if root.exists():
            shutil.rmtree(root)
        root.mkdir(parents=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="label_bench_")
        root = Path(tmp.name)
    load_before = os.getloadavg()
    try:
        print(f"building the slice in {root} ...", file=sys.stderr)
        entries = build_workspace(args, params, root)
        n_labels = len(entries) * len(classifiers)
        print(
            f"{len(args.chosen)} datasets, {len(entries)} samples, {len(classifiers)} classifiers: "
            f"{n_labels} labels of {cv.n_folds}-fold CV",
            file=sys.stderr,
        )
        runs: dict[str, dict] = {}

        print("(a) sequential loop ...", file=sys.stderr)
        cpu = cpu_seconds()
        with PeakRSS() as mem:
            seconds, sequential = run_sequential(entries, root, classifiers, cv)
        runs["a"] = {
            "name": "sequential loop, 1 core",
            "seconds": seconds,
            "cpu_s": cpu_seconds() - cpu,
            "peak_rss": mem.peak,
        }

        from flows.runtime import prefect_api

        saved_url = os.environ.pop("PREFECT_API_URL", None)  # always a fresh temporary server
        start = time.perf_counter()
        with prefect_api():
            prefect_start = time.perf_counter() - start
            server = prefect_server_pids()
            import pandas as pd

            expected = comparable(pd.DataFrame(sequential))
            identical = True
            for key, name, workers, fresh in (
                ("b", "engine, 1 worker, fresh cache", 1, True),
                ("c", "engine, 2 workers, fresh cache", 2, True),
                ("d", "engine, 2 workers, cache full", 2, False),
            ):
                print(f"({key}) {name} ...", file=sys.stderr)
                cpu = cpu_seconds()
                with PeakRSS(exclude=server) as mem:
                    seconds = run_engine(root, params, workers, fresh)
                runs[key] = {
                    "name": name,
                    "seconds": seconds,
                    "cpu_s": cpu_seconds() - cpu,
                    "peak_rss": mem.peak,
                }
                identical &= same_labels(root, expected)
        if saved_url is not None:
            os.environ["PREFECT_API_URL"] = saved_url
    finally:
        if tmp is not None:
            tmp.cleanup()

    for run in runs.values():
        run["fits_per_s"] = n_labels / run["seconds"] if run["seconds"] > 0 else math.inf
    ratios = {
        "b_over_a": runs["b"]["fits_per_s"] / runs["a"]["fits_per_s"],
        "c_over_b": runs["c"]["fits_per_s"] / runs["b"]["fits_per_s"],
        "d_over_b": runs["d"]["seconds"] / runs["b"]["seconds"],
    }
    met = {
        "b_over_a": ratios["b_over_a"] >= TARGETS["b_over_a"],
        "c_over_b": ratios["c_over_b"] >= TARGETS["c_over_b"],
        "d_over_b": ratios["d_over_b"] < TARGETS["d_over_b"],
    }
    result = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python bench/label_throughput.py "
        + shlex.join(argv if argv is not None else sys.argv[1:]),
        "machine": {
            "nproc": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "loadavg_before": [round(x, 2) for x in load_before],
            "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        },
        "slice": {
            "uci": str(args.uci),
            "datasets": args.chosen,
            "samples_per_dataset": args.samples,
            "rows": args.rows,
            "classifiers": classifiers,
            "n_folds": cv.n_folds,
            "fit_timeout": cv.fit_timeout,
            "batch_fits": params.compute.batch_fits,
            "labels": n_labels,
        },
        "prefect_server_start_s": prefect_start,
        "runs": runs,
        "ratios": ratios,
        "targets": TARGETS,
        "targets_met": met,
        "labels_identical": identical,
        "memory_method": mem.method,
    }
    print(report_text(result))
    write_section(
        args.results,
        MARK,
        markdown(result),
        "## Labelling throughput (`bench/label_throughput.py`)",
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


# --------------------------------------------------------------------------- reporting


def _mib(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB"


def report_text(r: dict) -> str:
    lines = [
        f"{r['slice']['labels']} labels; Prefect server start {r['prefect_server_start_s']:.1f} s (not in b-d)"
    ]
    for key, run in r["runs"].items():
        lines.append(
            f"({key}) {run['name']:<32} {run['seconds']:8.2f} s  {run['fits_per_s']:7.2f} fits/s  {run['cpu_s']:7.1f} CPU s  peak {_mib(run['peak_rss'])}"
        )
    for key, value in r["ratios"].items():
        ok = "met" if r["targets_met"][key] else "NOT met"
        bound = ("<" if key == "d_over_b" else ">=") + f" {r['targets'][key]}"
        lines.append(f"{key.replace('_over_', '/')}: {value:.3f} (target {bound}: {ok})")
    lines.append(f"labels identical across (a)-(d): {r['labels_identical']}")
    return "\n".join(lines)


def markdown(r: dict) -> str:
    s, m = r["slice"], r["machine"]
    names = ", ".join(
        f"{d['name']} ({d['rows']}x{d['features']}, {d['classes']} classes)" for d in s["datasets"]
    )
    rows = [
        "| run | what the time covers | seconds | fits/s | CPU s | peak RSS |",
        "|---|---|---:|---:|---:|---:|",
    ]
    covers = {
        "a": "`label_sample` loop in one process; no Prefect, Dask or cache",
        "b": "one label flow call: cluster start/stop, batches, labelling, cache writes, table",
        "c": "as (b)",
        "d": "as (b), every label read from the cache (no cluster is started)",
    }
    for key, run in r["runs"].items():
        rows.append(
            f"| ({key}) {run['name']} | {covers[key]} | {run['seconds']:.2f} | {run['fits_per_s']:.2f} | {run['cpu_s']:.1f} | {_mib(run['peak_rss'])} |"
        )
    ratio_rows = ["| ratio | value | target | met |", "|---|---:|---|---|"]
    for key, value in r["ratios"].items():
        bound = ("< " if key == "d_over_b" else ">= ") + f"{r['targets'][key]}"
        label = {
            "b_over_a": "(b)/(a) fits/s",
            "c_over_b": "(c)/(b) fits/s",
            "d_over_b": "(d)/(b) time",
        }[key]
        ratio_rows.append(
            f"| {label} | {value:.3f} | {bound} | {'yes' if r['targets_met'][key] else 'no'} |"
        )
    return "\n".join(
        [
            f"{r['date']}, `{r['command']}`; {m['nproc']} cores (nproc), Python {m['python']}, "
            f"load average {m['loadavg_before'][0]} before / {m['loadavg_after'][0]} after.",
            "",
            f"Slice: {len(s['datasets'])} datasets of `{Path(s['uci']).name}` ({names}); "
            f"{s['samples_per_dataset']} bootstrap samples of up to {s['rows']} rows each; "
            f"{len(s['classifiers'])} classifiers, {s['n_folds']}-fold CV, fit_timeout {s['fit_timeout']} s; "
            f"{s['labels']} labels (a fit = one label = one classifier's CV on one sample); "
            f"engine batches of {s['batch_fits']} labels.",
            "",
            *rows,
            "",
            *ratio_rows,
            "",
            f"Prefect API: one temporary server started once for the benchmark "
            f"({r['prefect_server_start_s']:.1f} s, not in (b)-(d)); a `beyonder label` command pays "
            "it on every run. CPU s: user+system of this process and the worker processes "
            "(little affected by other load: the engine's CPU overhead is (b)-(a)). Peak RSS: "
            + r["memory_method"]
            + ", this process plus the workers a "
            "run starts, Prefect server excluded. Labels identical across (a)-(d) (timings aside): "
            f"{'yes' if r['labels_identical'] else 'NO'}.",
        ]
    )


if __name__ == "__main__":  # the guard a local Dask cluster needs
    sys.exit(main())
