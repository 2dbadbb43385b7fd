"""Recommendation latency against brute force, side by side in one run.

For each dataset (default: 10 UCI sets of ``../shared/datasets/uci`` from 150 to 11,000 rows):

* cold: the whole ``beyonder recommend PATH --json`` command in a fresh process (interpreter,
  imports, resolving ``models:/beyonder@champion`` in a SQLite registry, reading the model,
  predicting), median of ``--cold-repeats`` runs;
* warm: ``recommend`` with the model already loaded: ``Recommender.predict`` on the table in
  memory (cleaning, bootstrap subsamples, encoding, test-time ensembling), median of
  ``--repeats`` calls after one warm-up call on the first dataset;
* load + recommend in this process: loading the model afresh plus the first call;
* brute force: cleaning plus k-fold CV of the model's whole portfolio on the whole cleaned
  table with the label stage's engine (``labelling.label_sample``: one core, the pipeline's
  folds and ``fit_timeout``; a timed-out classifier makes the time a lower bound).

It also reports the regret of the recommended pick against the brute-force best, and whether
``python -c "import sys, beyonder; beyonder.recommend(PATH); print('tensorflow' in
sys.modules)"`` prints False. Without ``--model``, it uses ``models:/beyonder@champion`` if a
registry has one, else trains a stand-in of the size ``params.yaml`` asks for for one epoch on
random labels (its timings are real, its picks are not). A model given as a folder, or the
stand-in, is first logged and registered as champion in a temporary SQLite registry, so the
cold runs resolve ``models:/beyonder@champion`` as users do. Results: stdout, ``--json PATH``,
and the ``recommend_latency`` section of ``bench/RESULTS.md``.

    python bench/recommend_latency.py                    # 10 datasets (minutes: brute force)
    python bench/recommend_latency.py --datasets 3 --json bench/recommend_latency.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_section import write_section  # noqa: E402  (a sibling bench module)

if TYPE_CHECKING:
    from beyonder.params import Params

REPO = Path(__file__).resolve().parents[1]
DEFAULT_FOLDER = REPO / "corpus" / "uci"  # the bundled UCI tables (Parquet, target `class`)
DEFAULT_DATASETS = (  # by size; the last three have more than 5,000 rows
    "iris", "sonar", "ionosphere", "diabetes", "vehicle", "credit.g", "segment",
    "optdigits", "mushroom", "pendigits",
)  # fmt: skip
LARGE_ROWS = 5000
TARGET_COLD_S = 1.0  # median whole-process `beyonder recommend`
TARGET_WARM_MS = 50.0  # median recommend with the model loaded
TARGET_COLD_SPEEDUP = 3.0  # brute force / cold, on the median table
MARK = "recommend_latency"
BEGIN, END = f"<!-- {MARK} -->", f"<!-- /{MARK} -->"

for _key, _value in {
    "KERAS_BACKEND": "tensorflow",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
}.items():
    os.environ.setdefault(_key, _value)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--folder", type=Path, default=DEFAULT_FOLDER, help="datasets folder")
    p.add_argument(
        "--datasets",
        type=int,
        default=len(DEFAULT_DATASETS),
        help="the first N of the default list",
    )
    p.add_argument(
        "--names", help="comma-separated dataset names (file stems) instead of the default list"
    )
    p.add_argument(
        "--model", help="model URI or folder (default: the registry's champion, else a stand-in)"
    )
    p.add_argument("--repeats", type=int, default=5, help="timed calls per dataset, model loaded")
    p.add_argument(
        "--params", type=Path, default=REPO / "params.yaml", help="for the stand-in and CV"
    )
    p.add_argument("--json", type=Path, help="write the results here")
    p.add_argument(
        "--results", type=Path, default=REPO / "bench" / "RESULTS.md", help="markdown results file"
    )
    p.add_argument(
        "--no-results", action="store_true", help="do not touch the markdown results file"
    )
    p.add_argument(
        "--cold-repeats", type=int, default=3, help="cold `beyonder recommend` runs per dataset"
    )
    p.add_argument("--no-cli", action="store_true", help="skip the cold `beyonder recommend` runs")
    return p


# --------------------------------------------------------------------------- the model


def registry_champion() -> str | None:
    """``models:/beyonder@champion`` if a registry (env or ./mlflow.db) has that alias."""
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        db = REPO / "mlflow.db"
        if not db.is_file():
            return None
        uri = f"sqlite:///{db}"
    from mlflow.tracking import MlflowClient

    try:
        MlflowClient(tracking_uri=uri, registry_uri=uri).get_model_version_by_alias(
            "beyonder", "champion"
        )
    except Exception:
        return None
    os.environ["MLFLOW_TRACKING_URI"] = uri
    return "models:/beyonder@champion"


def _stand_in(frames: list[tuple[str, Any, str]], params: Params, directory: Path) -> str:
    """A model of the configured size, trained one epoch on random labels; returns its folder."""
    import numpy as np

    from beyonder.selector.encoding import encode_sample
    from beyonder.selector.estimator import Beyonder
    from beyonder.stages.train import model_config, recommender_for

    classifiers = params.label.classifiers
    config = model_config(params)
    config.epochs = 1
    recommender = recommender_for(Beyonder(config), params)
    samples = [
        s
        for name, frame, target in frames
        for s in recommender.samples(frame, target, name=name, n=2)
    ]
    rng = np.random.default_rng(0)
    accuracy = rng.uniform(0.5, 1.0, size=(len(samples), len(classifiers)))
    fit_time = rng.uniform(0.001, 1.0, size=(len(samples), len(classifiers)))
    recommender.estimator.fit([encode_sample(s) for s in samples], accuracy, fit_time)
    return str(recommender.save(directory / "stand_in"))


def _register(model: str, frame, target: str, directory: Path) -> str:
    """Log ``model`` (a saved folder) as the pipeline does and register it as champion in a
    temporary SQLite registry (``MLFLOW_TRACKING_URI`` then points there, for the cold runs
    too); a model saved before the NumPy export is re-saved first, which writes it."""
    import mlflow
    import numpy as np

    from beyonder import tracking
    from beyonder.schema import ROW_ID
    from beyonder.selector.inference import has_numpy_export
    from beyonder.serving.recommend import Recommender
    from beyonder.serving.tracking import log_pyfunc

    recommender = Recommender.load(model)
    if not has_numpy_export(model):
        model = str(recommender.save(directory / "exported"))
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{directory / 'mlflow.db'}"
    os.environ.pop("MLFLOW_REGISTRY_URI", None)
    tracking.configure(directory)
    example = recommender.samples(frame, target, n=1)[0]
    if ROW_ID not in example.columns:
        example[ROW_ID] = np.arange(len(example))
    with mlflow.start_run(run_name="bench"):
        uri = log_pyfunc(Path(model), example)
    tracking.set_alias(tracking.register(uri), tracking.CHAMPION)
    return "models:/beyonder@champion"


# --------------------------------------------------------------------------- measuring


def _brute_force(frame, target: str, recommender, cv) -> dict[str, Any]:
    """Clean, then k-fold CV of every classifier on the whole table (one core)."""
    import numpy as np

    from beyonder.data.cleaning import clean_dataset
    from beyonder.labels.labelling import label_sample
    from beyonder.schema import ROW_ID, TARGET

    start = time.perf_counter()
    cleaned, _ = clean_dataset(frame.rename(columns={target: TARGET}), recommender.cleaning)
    cleaned[ROW_ID] = np.arange(len(cleaned), dtype=np.int64)
    records = label_sample(cleaned, recommender.estimator.config.classifiers, cv)
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "accuracy": {r["classifier"]: r["accuracy"] for r in records},
        "timeouts": [
            r["classifier"] for r in records if r["error"] and r["error"].startswith("timeout")
        ],
        "errors": {
            r["classifier"]: r["error"]
            for r in records
            if r["error"] and not r["error"].startswith("timeout")
        },
        "rows": len(cleaned),
    }


def _breakdown(recommender, frame, target: str) -> dict[str, float]:
    """Where one call's time goes: cleaning and sampling, encoding, the network (the steps
    of ``Recommender.predict``, timed apart)."""
    t0 = time.perf_counter()
    samples = recommender.samples(frame, target)
    t1 = time.perf_counter()
    encoded = recommender.encode(samples)
    t2 = time.perf_counter()
    recommender.estimator.predict(encoded)
    t3 = time.perf_counter()
    return {
        "clean_sample": 1000 * (t1 - t0),
        "encode": 1000 * (t2 - t1),
        "network": 1000 * (t3 - t2),
    }


def _process_env() -> dict[str, str]:
    """This environment, with this checkout first on the path (as the bench's own imports)."""
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p),
    }


def _cli_cold(path: Path, target: str, model: str, repeats: int) -> list[float]:
    """Seconds of each whole ``beyonder recommend PATH --json`` process."""
    command = [
        sys.executable,
        "-m",
        "beyonder.cli",
        "recommend",
        str(path),
        "--target",
        target,
        "--model",
        model,
        "--json",
    ]
    times = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=600, env=_process_env()
        )
        times.append(time.perf_counter() - start)
        if result.returncode != 0:
            raise RuntimeError(f"beyonder recommend failed: {result.stderr.strip()[-500:]}")
    return times


def _imports_tensorflow(path: Path) -> bool:
    """What ``python -c "import sys, beyonder; beyonder.recommend(PATH); print('tensorflow' in
    sys.modules)"`` prints, with the champion model."""
    code = f"import sys, beyonder; beyonder.recommend({str(path)!r}); print('tensorflow' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=600,
        env=_process_env(),
    )
    if result.returncode != 0:
        raise RuntimeError(f"beyonder.serving.recommend failed: {result.stderr.strip()[-500:]}")
    return result.stdout.strip().splitlines()[-1] == "True"


def _paths(args: argparse.Namespace) -> list[Path]:
    from beyonder.data.sources.local import SUFFIXES

    names = (
        [n.strip() for n in args.names.split(",")]
        if args.names
        else list(DEFAULT_DATASETS[: args.datasets])
    )
    found = []
    for name in names:
        candidates = [args.folder / f"{name}{suffix}" for suffix in SUFFIXES]
        path = next((p for p in candidates if p.is_file()), None)
        if path is None:
            raise SystemExit(f"recommend_latency: no dataset {name!r} in {args.folder}")
        found.append(path)
    return found


def run(args: argparse.Namespace) -> dict[str, Any]:
    import numpy as np

    from beyonder.params import Params, load_params
    from beyonder.serving.recommend import best_svm_kernel, load_recommender, read_table
    from beyonder.stages.label import cv_settings

    params = load_params(args.params) if args.params.is_file() else Params()
    frames = []
    for path in _paths(args):
        frame, target = read_table(path)
        frames.append((path.stem, frame, target, path))
    tmp = tempfile.TemporaryDirectory(prefix="recommend-latency-")
    model, kind = args.model, "given"
    if model is None:
        model, kind = registry_champion(), "registry champion"
    if model is None:
        print("no registered champion: training a stand-in model (timings only)", file=sys.stderr)
        model, kind = (
            _stand_in([f[:3] for f in frames], params, Path(tmp.name)),
            "stand-in (untrained)",
        )
    if not str(model).startswith("models:/"):
        model = _register(str(model), frames[0][1], frames[0][2], Path(tmp.name))

    start = time.perf_counter()
    recommender = load_recommender(model, cache=False)
    load_s = time.perf_counter() - start
    cv = cv_settings(params.label, params.seed)
    start = time.perf_counter()
    recommender.predict(frames[0][1], frames[0][2])  # warm-up: first calls fill caches
    warmup_s = time.perf_counter() - start

    rows = []
    for name, frame, target, _path in frames:
        times = []
        for _ in range(max(1, args.repeats)):
            start = time.perf_counter()
            ranked = recommender.predict(frame, target)
            times.append(time.perf_counter() - start)
        parts = _breakdown(recommender, frame, target)
        start = time.perf_counter()
        fresh = load_recommender(model, cache=False)
        fresh.predict(frame, target)
        cold_s = time.perf_counter() - start
        cold = [] if args.no_cli else _cli_cold(_path, target, model, args.cold_repeats)
        brute = _brute_force(frame, target, recommender, cv)
        pick = str(ranked.iloc[0]["classifier"])
        labelled = {c: a for c, a in brute["accuracy"].items() if a == a}  # drop NaN
        best = max(labelled, key=labelled.get) if labelled else None
        regret = (
            100 * (labelled[best] - labelled.get(pick, min(labelled.values())))
            if labelled
            else None
        )
        median_s = statistics.median(times)
        row = {
            "dataset": name,
            "rows": len(frame),
            "features": frame.shape[1] - 1,
            "recommend_ms": 1000 * median_s,
            "recommend_ms_all": [1000 * t for t in times],
            "breakdown_ms": parts,
            "load_and_recommend_s": cold_s,
            "cold_s": statistics.median(cold) if cold else None,
            "cold_s_all": cold,
            "cold_speedup": brute["seconds"] / statistics.median(cold) if cold else None,
            "brute_force_s": brute["seconds"],
            "speedup": brute["seconds"] / median_s,
            "brute_force_timeouts": brute["timeouts"],
            "brute_force_errors": brute["errors"],
            "pick": pick,
            "best": best,
            "regret_points": regret,
            "best_svm_kernel": best_svm_kernel(ranked),
        }
        rows.append(row)
        print(
            f"{name:<12} {row['rows']:>6} rows  cold {row['cold_s'] or float('nan'):5.2f} s  "
            f"warm {row['recommend_ms']:7.1f} ms  load+recommend {cold_s:6.2f} s  "
            f"brute force {brute['seconds']:8.2f} s  cold x{row['cold_speedup'] or float('nan'):,.1f}  "
            f"warm x{row['speedup']:,.0f}"
            + (f"  (timeouts: {', '.join(brute['timeouts'])})" if brute["timeouts"] else ""),
            flush=True,
        )
    tensorflow = None if args.no_cli else _imports_tensorflow(frames[0][3])

    speedups = [r["speedup"] for r in rows]
    large = [r["speedup"] for r in rows if r["rows"] > LARGE_ROWS]
    latencies = [r["recommend_ms"] for r in rows]
    colds = [r["cold_s"] for r in rows if r["cold_s"] is not None]
    # the median table: the one of median brute-force time (the lower middle one if even)
    by_brute = sorted(rows, key=lambda r: r["brute_force_s"])
    median_table = by_brute[(len(by_brute) - 1) // 2]
    summary = {
        "median_cold_s": statistics.median(colds) if colds else None,
        "median_recommend_ms": statistics.median(latencies),
        "max_recommend_ms": max(latencies),
        "median_table": median_table["dataset"],
        "median_table_cold_speedup": median_table["cold_speedup"],
        "median_cold_speedup": statistics.median([r["cold_speedup"] for r in rows])
        if colds
        else None,
        "tensorflow_imported": tensorflow,
        "median_speedup": statistics.median(speedups),
        "min_speedup_large": min(large) if large else None,
        "n_large": len(large),
        "mean_regret_points": float(
            np.mean([r["regret_points"] for r in rows if r["regret_points"] is not None])
        )
        if any(r["regret_points"] is not None for r in rows)
        else None,
        "targets": {
            f"median cold `beyonder recommend` <= {TARGET_COLD_S:.0f} s": statistics.median(colds)
            <= TARGET_COLD_S
            if colds
            else None,
            f"median warm recommend <= {TARGET_WARM_MS:.0f} ms": statistics.median(latencies)
            <= TARGET_WARM_MS,
            f"cold >= {TARGET_COLD_SPEEDUP:.0f}x faster than brute force on the median table": (
                median_table["cold_speedup"] >= TARGET_COLD_SPEEDUP
            )
            if median_table["cold_speedup"] is not None
            else None,
            "`beyonder.recommend(PATH)` imports no TensorFlow": None
            if tensorflow is None
            else not tensorflow,
        },
    }
    tmp.cleanup()
    config = recommender.estimator.config
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python bench/recommend_latency.py " + " ".join(sys.argv[1:]),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "model": {
            "uri": model if kind != "stand-in (untrained)" else "stand-in",
            "kind": kind,
            "classifiers": len(config.classifiers),
            "dim": config.dim,
            "blocks": config.blocks,
            "rows": config.rows,
            "max_features": config.max_features,
            "views": config.views,
            "sample_rows": recommender.sample_rows,
            "subsamples": recommender.subsamples,
        },
        "cv": {"n_folds": cv.n_folds, "fit_timeout": cv.fit_timeout},
        "model_load_s": load_s,
        "warmup_s": warmup_s,
        "cold_repeats": 0 if args.no_cli else max(1, args.cold_repeats),
        "datasets": rows,
        "summary": summary,
    }


# --------------------------------------------------------------------------- reporting


def markdown(result: dict[str, Any]) -> str:
    m, s = result["model"], result["summary"]
    lines = [
        f"`{result['command'].strip()}` on {result['date']} ({result['machine']['cpus']} CPUs; "
        f"model: {m['kind']}, {m['classifiers']} classifiers, dim {m['dim']}, {m['blocks']} blocks; "
        f"{m['subsamples']} subsamples of {m['sample_rows']} rows x {m['views']} views of "
        f"{m['rows']}x{m['max_features']}; brute force: {result['cv']['n_folds']}-fold CV on one core, "
        f"fit_timeout {result['cv']['fit_timeout']} s per fold).",
        "",
        "| dataset | rows | cold `beyonder recommend` (s) | warm recommend (ms) | of which clean+sample / encode / network (ms) | load + recommend in process (s) | brute force (s) | speed-up, cold | speed-up, warm | pick | CV best | regret (points) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---:|",
    ]
    for r in result["datasets"]:
        brute = f"{r['brute_force_s']:.1f}" + (" (timeouts)" if r["brute_force_timeouts"] else "")
        regret = "" if r["regret_points"] is None else f"{r['regret_points']:.1f}"
        cold = "" if r["cold_s"] is None else f"{r['cold_s']:.2f}"
        cold_speedup = "" if r["cold_speedup"] is None else f"{r['cold_speedup']:,.1f}x"
        lines.append(
            f"| {r['dataset']} | {r['rows']} | {cold} | {r['recommend_ms']:.0f} | "
            + " / ".join(
                f"{r['breakdown_ms'][k]:.0f}" for k in ("clean_sample", "encode", "network")
            )
            + f" | {r['load_and_recommend_s']:.2f} | "
            f"{brute} | {cold_speedup} | {r['speedup']:,.0f}x | {r['pick']} | {r['best']} | {regret} |"
        )
    lines += [
        "",
        f"Model load (in process, `models:/beyonder@champion`) {result['model_load_s'] * 1000:.0f} ms; "
        f"first call {result['warmup_s'] * 1000:.0f} ms. Cold: median of {result['cold_repeats']} whole processes "
        "per dataset; `python -c \"import sys, beyonder; beyonder.recommend(PATH); print('tensorflow' in "
        f'sys.modules)"` prints {s["tensorflow_imported"]}.',
        ("" if s["median_cold_s"] is None else f"Median cold {s['median_cold_s']:.2f} s; ")
        + (
            f"on the median table by brute-force time ({s['median_table']}) cold is {s['median_table_cold_speedup']:,.1f}x "
            f"faster than brute force (median over the tables {s['median_cold_speedup']:,.1f}x); "
            if s["median_table_cold_speedup"]
            else ""
        )
        + f"median warm recommend {s['median_recommend_ms']:.0f} ms (max {s['max_recommend_ms']:.0f} ms); median speed-up, warm, "
        f"{s['median_speedup']:,.0f}x"
        + (
            f"; smallest on > {LARGE_ROWS} rows: {s['min_speedup_large']:,.0f}x ({s['n_large']} datasets)"
            if s["min_speedup_large"]
            else ""
        )
        + ".",
        "",
        "Targets: "
        + "; ".join(
            f"{k}: {'n/a' if v is None else ('met' if v else 'NOT met')}"
            for k, v in s["targets"].items()
        )
        + ".",
    ]
    if m["kind"].startswith("stand-in"):
        lines.append(
            "The stand-in model is untrained: its timings are real, its picks and regrets are not."
        )
    return "\n".join(lines)


def update_results(path: Path, section: str) -> None:
    """Replace the text between the markers (create the file, or append the section)."""
    write_section(path, MARK, section, "## Recommendation latency (`bench/recommend_latency.py`)")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not args.folder.is_dir():
        print(f"recommend_latency: no datasets folder {args.folder}", file=sys.stderr)
        return 2
    result = run(args)
    print()
    print(markdown(result))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    if not args.no_results:
        update_results(args.results, markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
