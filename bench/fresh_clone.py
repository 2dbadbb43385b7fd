"""The README's first command on a fresh clone: install, then the whole default pipeline,
timed per stage, with the peak memory of the whole process tree; then the no-op rerun.

    python bench/fresh_clone.py [--repo .] [--workdir /tmp/beyonder-fresh] [--no-shipped-labels]
        [--json bench/fresh_clone/result.json]

It clones the repository (committed files only, as a user gets them), runs the README's first
command as written there, and reads each stage's start from ``dvc repro``'s "Running stage"
lines. ``--no-shipped-labels`` empties ``label.shipped`` in the clone first: the from-scratch
time, every label computed. The output of both runs is kept in the workdir (``repro.log``,
``rerun.log``). Nothing is shared with this checkout (no label cache, no
``mlflow.db``); pip may use its own download cache.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from label_throughput import PeakRSS  # noqa: E402  (a sibling bench script)

STAGE = re.compile(r"Running stage '([\w-]+)'")


def readme_command(readme: Path) -> str:
    """The first fenced bash block of the README: the set-up-and-run command."""
    match = re.search(r"```bash\n(.+?)\n```", readme.read_text(), re.S)
    if not match:
        raise SystemExit(f"{readme}: no ```bash block")
    return match.group(1).strip()


def split_command(command: str) -> tuple[str, str]:
    """(install part, pipeline part): the pipeline part is the last ``&&`` step (``dvc repro``)."""
    install, _, pipeline = command.rpartition("&&")
    return install.strip(), pipeline.strip()


def run_timed(command: str, cwd: Path, env: dict[str, str], log: Path | None = None) -> dict:
    """Run ``command`` in a shell, with the stage start times of its output and the peak RSS
    summed over the process tree; its output goes to ``log`` (when given) as it comes."""
    stages: list[tuple[str, float]] = []
    start = time.perf_counter()
    with PeakRSS() as memory:
        proc = subprocess.Popen(
            command,
            shell=True,
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert proc.stdout is not None
        sink = log.open("w") if log else None
        for line in proc.stdout:
            if sink:
                sink.write(line)
                sink.flush()
            if match := STAGE.search(line):
                stages.append((match.group(1), time.perf_counter() - start))
        proc.wait()
        if sink:
            sink.close()
    total = time.perf_counter() - start
    bounds = [t for _, t in stages] + [total]
    return {
        "command": command,
        "returncode": proc.returncode,
        "seconds": round(total, 1),
        "peak_rss_gb": round(memory.peak / 2**30, 2),
        "memory_method": memory.method,
        "stages": {name: round(bounds[i + 1] - t, 1) for i, (name, t) in enumerate(stages)},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", type=Path, default=Path("."))
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/beyonder-fresh"))
    parser.add_argument(
        "--no-shipped-labels", action="store_true", help="compute every label (from scratch)"
    )
    parser.add_argument("--json", type=Path, help="write the result here")
    args = parser.parse_args(argv)

    shutil.rmtree(args.workdir, ignore_errors=True)
    subprocess.run(["git", "clone", "-q", str(args.repo.resolve()), str(args.workdir)], check=True)
    if args.no_shipped_labels:
        params = args.workdir / "params.yaml"
        params.write_text(re.sub(r"(\n  shipped:) \S+", r"\1 null", params.read_text()))
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MLFLOW_", "PREFECT_", "BEYONDER_", "VIRTUAL_ENV"))
    }
    install, pipeline = split_command(readme_command(args.workdir / "README.md"))
    result = {
        "commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=args.workdir,
            capture_output=True,
            text=True,
        ).stdout.strip(),
        "shipped_labels": not args.no_shipped_labels,
        "cores": os.cpu_count(),
        "load_before": os.getloadavg()[0],
        "install": run_timed(install, args.workdir, env),
    }
    result["pipeline"] = run_timed(pipeline, args.workdir, env, args.workdir / "repro.log")
    result["rerun"] = run_timed(pipeline, args.workdir, env, args.workdir / "rerun.log")
    result["load_after"] = os.getloadavg()[0]
    datasets = (
        json.loads((args.workdir / "data" / "clean" / "reports.json").read_text())
        if (args.workdir / "data" / "clean" / "reports.json").exists()
        else []
    )
    result["datasets_after_cleaning"] = len(datasets)
    text = json.dumps(result, indent=1)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    return 0 if result["pipeline"]["returncode"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
