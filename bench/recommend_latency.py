"""Recommendation latency against brute force, side by side in one run.

For each dataset (default: 10 UCI sets of ``../shared/datasets/uci`` from 150 to 11,000 rows):

* ``recommend`` with the model already loaded: ``Recommender.predict`` on the table in memory
  (cleaning, bootstrap subsamples, encoding, test-time ensembling), median of ``--repeats``
  calls after one warm-up call on the first dataset (TensorFlow traces the graph once);
* ``recommend`` including load: loading the model afresh plus the first call (graph tracing
  included), per dataset; and once, the whole ``beyonder recommend --json`` command
  (interpreter, imports, load, predict) on the first dataset;
* brute force: cleaning plus k-fold CV of the model's whole portfolio on the whole cleaned
  table with the label stage's engine (``labelling.label_sample``: one core, the pipeline's
  folds and ``fit_timeout``; a timed-out classifier makes the time a lower bound).

It also reports the regret of the recommended pick against the brute-force best. Without
``--model``, it uses ``models:/beyonder@champion`` if a registry has one, else trains a
stand-in of the size ``params.yaml`` asks for for one epoch on random labels (its timings are
real, its picks are not). Results: stdout, ``--json PATH``, and the ``recommend_latency``
section of ``bench/RESULTS.md``.

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
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_FOLDER = REPO.parent / "shared" / "datasets" / "uci"
DEFAULT_DATASETS = (  # by size; the last three have more than 5,000 rows
    "iris", "sonar", "ionosphere", "diabetes", "vehicle", "credit.g", "segment",
    "optdigits", "mushroom", "pendigits",
)  # fmt: skip
LARGE_ROWS = 5000
TARGET_MS = 200.0
TARGET_MEDIAN_SPEEDUP = 20.0
TARGET_LARGE_SPEEDUP = 100.0
BEGIN, END = "<!-- recommend_latency -->", "<!-- /recommend_latency -->"

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
    p.add_argument("--datasets", type=int, default=len(DEFAULT_DATASETS), help="the first N of the default list")
    p.add_argument("--names", help="comma-separated dataset names (file stems) instead of the default list")
    p.add_argument("--model", help="model URI or folder (default: the registry's champion, else a stand-in)")
    p.add_argument("--repeats", type=int, default=5, help="timed calls per dataset, model loaded")
    p.add_argument("--params", type=Path, default=REPO / "params.yaml", help="for the stand-in and CV")
    p.add_argument("--json", type=Path, help="write the results here")
    p.add_argument("--results", type=Path, default=REPO / "bench" / "RESULTS.md", help="markdown results file")
    p.add_argument("--no-results", action="store_true", help="do not touch the markdown results file")
    p.add_argument("--no-cli", action="store_true", help="skip the cold `beyonder recommend` run")
    return p


# --------------------------------------------------------------------------- the model


def _registry_champion() -> str | None:
    """``models:/beyonder@champion`` if a registry (env or ./mlflow.db) has that alias."""
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        db = REPO / "mlflow.db"
        if not db.is_file():
            return None
        uri = f"sqlite:///{db}"
    from mlflow.tracking import MlflowClient

    try:
        MlflowClient(tracking_uri=uri, registry_uri=uri).get_model_version_by_alias("beyonder", "champion")
    except Exception:
        return None
    os.environ["MLFLOW_TRACKING_URI"] = uri
    return "models:/beyonder@champion"


def _stand_in(frames: list[tuple[str, Any, str]], params: dict, directory: Path) -> str:
    """A model of the configured size, trained one epoch on random labels; returns its folder."""
    import numpy as np

    from beyonder.encoding import encode_sample
    from beyonder.estimator import Beyonder
    from beyonder.recommend import Recommender
    from beyonder.schema import PORTFOLIO
    from beyonder.stages.clean import cleaning_config
    from beyonder.stages.train import model_config

    classifiers = list((params.get("label") or {}).get("classifiers") or PORTFOLIO)
    config = model_config(params, classifiers)
    config.epochs = 1
    sample = params.get("sample") or {}
    recommender = Recommender(
        Beyonder(config), cleaning_config(params), int(sample.get("rows", 500)),
        bool(sample.get("replace", True)), int(sample.get("subsamples", 4)), int(params.get("seed", 0)),
    )  # fmt: skip
    samples = [s for name, frame, target in frames for s in recommender.samples(frame, target, name=name, n=2)]
    rng = np.random.default_rng(0)
    accuracy = rng.uniform(0.5, 1.0, size=(len(samples), len(classifiers)))
    fit_time = rng.uniform(0.001, 1.0, size=(len(samples), len(classifiers)))
    recommender.estimator.fit([encode_sample(s) for s in samples], accuracy, fit_time)
    return str(recommender.save(directory / "stand_in"))


# --------------------------------------------------------------------------- measuring


def _brute_force(frame, target: str, recommender, cv) -> dict[str, Any]:
    """Clean, then k-fold CV of every classifier on the whole table (one core)."""
    import numpy as np

    from beyonder.cleaning import clean_dataset
    from beyonder.labelling import label_sample
    from beyonder.schema import ROW_ID, TARGET

    start = time.perf_counter()
    cleaned, _ = clean_dataset(frame.rename(columns={target: TARGET}), recommender.cleaning)
    cleaned[ROW_ID] = np.arange(len(cleaned), dtype=np.int64)
    records = label_sample(cleaned, recommender.estimator.config.classifiers, cv)
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "accuracy": {r["classifier"]: r["accuracy"] for r in records},
        "timeouts": [r["classifier"] for r in records if r["error"] and r["error"].startswith("timeout")],
        "errors": {r["classifier"]: r["error"] for r in records if r["error"] and not r["error"].startswith("timeout")},
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
    return {"clean_sample": 1000 * (t1 - t0), "encode": 1000 * (t2 - t1), "network": 1000 * (t3 - t2)}


def _cli_cold(path: Path, target: str, model: str) -> float:
    script = Path(sys.executable).parent / "beyonder"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "beyonder.cli"]
    start = time.perf_counter()
    result = subprocess.run(
        [*command, "recommend", str(path), "--target", target, "--model", model, "--json"],
        capture_output=True, text=True, timeout=600, env=dict(os.environ),
    )  # fmt: skip
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"beyonder recommend failed: {result.stderr.strip()[-500:]}")
    return elapsed


def _paths(args: argparse.Namespace) -> list[Path]:
    from beyonder.sources.local import SUFFIXES

    names = [n.strip() for n in args.names.split(",")] if args.names else list(DEFAULT_DATASETS[: args.datasets])
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
    import yaml

    from beyonder.labelling import CVSettings
    from beyonder.recommend import best_svm_kernel, load_recommender, read_table

    params = yaml.safe_load(args.params.read_text()) if args.params.is_file() else {}
    frames = []
    for path in _paths(args):
        frame, target = read_table(path)
        frames.append((path.stem, frame, target, path))
    tmp = tempfile.TemporaryDirectory(prefix="recommend-latency-")
    model, kind = args.model, "given"
    if model is None:
        model, kind = _registry_champion(), "registry champion"
    if model is None:
        print("no registered champion: training a stand-in model (timings only)", file=sys.stderr)
        model, kind = _stand_in([f[:3] for f in frames], params, Path(tmp.name)), "stand-in (untrained)"

    start = time.perf_counter()
    recommender = load_recommender(model, cache=False)
    load_s = time.perf_counter() - start
    label = params.get("label") or {}
    timeout = label.get("fit_timeout")
    cv = CVSettings(
        n_folds=int(label.get("n_folds", 5)),
        seed=int(params.get("seed", 0)),
        fit_timeout=float(timeout) if timeout else None,
    )
    start = time.perf_counter()
    recommender.predict(frames[0][1], frames[0][2])  # warm-up: TensorFlow traces the graph
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
        brute = _brute_force(frame, target, recommender, cv)
        pick = str(ranked.iloc[0]["classifier"])
        labelled = {c: a for c, a in brute["accuracy"].items() if a == a}  # drop NaN
        best = max(labelled, key=labelled.get) if labelled else None
        regret = 100 * (labelled[best] - labelled.get(pick, min(labelled.values()))) if labelled else None
        median_s = statistics.median(times)
        row = {
            "dataset": name,
            "rows": len(frame),
            "features": frame.shape[1] - 1,
            "recommend_ms": 1000 * median_s,
            "recommend_ms_all": [1000 * t for t in times],
            "breakdown_ms": parts,
            "load_and_recommend_s": cold_s,
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
            f"{name:<12} {row['rows']:>6} rows  recommend {row['recommend_ms']:7.1f} ms  "
            f"load+recommend {cold_s:6.2f} s  brute force {brute['seconds']:8.2f} s  "
            f"x{row['speedup']:,.0f}" + (f"  (timeouts: {', '.join(brute['timeouts'])})" if brute["timeouts"] else ""),
            flush=True,
        )
    cli_s = None
    if not args.no_cli:
        cli_s = _cli_cold(frames[0][3], frames[0][2], model)

    speedups = [r["speedup"] for r in rows]
    large = [r["speedup"] for r in rows if r["rows"] > LARGE_ROWS]
    latencies = [r["recommend_ms"] for r in rows]
    summary = {
        "median_recommend_ms": statistics.median(latencies),
        "max_recommend_ms": max(latencies),
        "median_speedup": statistics.median(speedups),
        "min_speedup_large": min(large) if large else None,
        "n_large": len(large),
        "mean_regret_points": float(np.mean([r["regret_points"] for r in rows if r["regret_points"] is not None]))
        if any(r["regret_points"] is not None for r in rows)
        else None,
        "targets": {
            f"max recommend <= {TARGET_MS:.0f} ms (model loaded)": max(latencies) <= TARGET_MS,
            f"median speed-up >= {TARGET_MEDIAN_SPEEDUP:.0f}x": statistics.median(speedups) >= TARGET_MEDIAN_SPEEDUP,
            f"speed-up >= {TARGET_LARGE_SPEEDUP:.0f}x on > {LARGE_ROWS} rows": (min(large) >= TARGET_LARGE_SPEEDUP)
            if large
            else None,
        },
    }
    tmp.cleanup()
    config = recommender.estimator.config
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python bench/recommend_latency.py " + " ".join(sys.argv[1:]),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
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
        "cli_cold_s": cli_s,
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
        "| dataset | rows | recommend, loaded (ms) | of which clean+sample / encode / network (ms) | load + recommend (s) | brute force (s) | speed-up | pick | CV best | regret (points) |",
        "|---|---:|---:|---:|---:|---:|---:|---|---|---:|",
    ]
    for r in result["datasets"]:
        brute = f"{r['brute_force_s']:.1f}" + (" (timeouts)" if r["brute_force_timeouts"] else "")
        regret = "" if r["regret_points"] is None else f"{r['regret_points']:.1f}"
        lines.append(
            f"| {r['dataset']} | {r['rows']} | {r['recommend_ms']:.0f} | "
            + " / ".join(f"{r['breakdown_ms'][k]:.0f}" for k in ("clean_sample", "encode", "network"))
            + f" | {r['load_and_recommend_s']:.2f} | "
            f"{brute} | {r['speedup']:,.0f}x | {r['pick']} | {r['best']} | {regret} |"
        )
    lines += [
        "",
        f"Model load {result['model_load_s']:.2f} s; first call (graph tracing) {result['warmup_s']:.2f} s"
        + (f"; `beyonder recommend --json` cold, whole process: {result['cli_cold_s']:.1f} s." if result["cli_cold_s"] else "."),
        f"Median recommend {s['median_recommend_ms']:.0f} ms (max {s['max_recommend_ms']:.0f} ms); median speed-up "
        f"{s['median_speedup']:,.0f}x"
        + (f"; smallest on > {LARGE_ROWS} rows: {s['min_speedup_large']:,.0f}x ({s['n_large']} datasets)" if s["min_speedup_large"] else "")
        + ".",
        "",
        "Targets: " + "; ".join(f"{k}: {'n/a' if v is None else ('met' if v else 'NOT met')}" for k, v in s["targets"].items()) + ".",
    ]
    if m["kind"].startswith("stand-in"):
        lines.append("The stand-in model is untrained: its timings are real, its picks and regrets are not.")
    return "\n".join(lines)


def update_results(path: Path, section: str) -> None:
    """Replace the text between the markers (create the file, or append the section)."""
    block = f"{BEGIN}\n{section}\n{END}"
    text = path.read_text() if path.is_file() else ""
    if BEGIN in text and END in text and text.index(BEGIN) < text.index(END):
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        text = head + block + tail
    else:
        title = "## Recommendation latency (`bench/recommend_latency.py`)"
        text = (text.rstrip() + "\n\n" if text.strip() else "# Benchmark results\n\n") + f"{title}\n\n{block}\n"
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


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
