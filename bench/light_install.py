"""The light install from the package index: what ``pip install .`` (no extras) brings, how long
it takes, and a recommendation from a saved model in that environment.

In a scratch folder outside the repository: a copy of the package (``pyproject.toml`` and
``beyonder/``; building must not write into the working tree), a fresh virtual environment,
then ``pip install --no-cache-dir SOURCE`` timed (downloads included: no pip cache), the
distributions it installed (``pip list``) and the size of its ``site-packages``, a check that
none of TensorFlow, Keras, Prefect, Dask, DVC or MLflow is there, and cold
``beyonder recommend TABLE --model MODEL`` processes in that environment, timed (``--repeats``). Needs the network (the
package index). Without ``--model``, a stand-in of the size ``params.yaml`` asks for is
trained for one epoch on random labels in this environment (``bench/recommend_latency.py``'s;
its timings are real, its picks are not). Results: stdout, ``--json PATH``, and the
``light_install`` section of ``bench/RESULTS.md``.

    python bench/light_install.py                                   # stand-in model, iris
    python bench/light_install.py --model data/model/beyonder --table corpus/uci/vehicle.parquet
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_section import write_section  # noqa: E402  (a sibling bench module)

REPO = Path(__file__).resolve().parents[1]
HEAVY = (
    "tensorflow",
    "tensorflow-cpu",
    "keras",
    "prefect",
    "prefect-dask",
    "dask",
    "distributed",
    "dvc",
    "mlflow",
)
MARK = "light_install"
TITLE = "## Light install (`bench/light_install.py`)"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--model",
        type=Path,
        help="a saved model folder (default: a stand-in of the configured size)",
    )
    p.add_argument(
        "--table",
        type=Path,
        default=REPO / "corpus" / "uci" / "iris.parquet",
        help="table to rank for",
    )
    p.add_argument("--target", default="class", help="its class column (default: class)")
    p.add_argument("--params", type=Path, default=REPO / "params.yaml", help="for the stand-in")
    p.add_argument(
        "--repeats", type=int, default=3, help="cold `beyonder recommend` processes (default 3)"
    )
    p.add_argument(
        "--python", default=sys.executable, help="interpreter of the new venv (default: this one's)"
    )
    p.add_argument(
        "--workdir", type=Path, help="scratch folder, kept (default: a temporary one, removed)"
    )
    p.add_argument("--json", type=Path, help="write the results here")
    p.add_argument(
        "--results", type=Path, default=REPO / "bench" / "RESULTS.md", help="markdown results file"
    )
    p.add_argument(
        "--no-results", action="store_true", help="do not touch the markdown results file"
    )
    return p


def _timed(command: list[str], **kwargs: Any) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, command[:3]))} ...: {result.stderr.strip()[-800:]}")
    return seconds, result


def _stand_in(table: Path, target: str, params_path: Path, directory: Path) -> Path:
    """A model of the configured size, trained one epoch on random labels (timings only)."""
    sys.path.insert(0, str(Path(__file__).parent))
    from recommend_latency import _stand_in as stand_in

    from beyonder.params import load_params
    from beyonder.serving.recommend import read_table

    frame, target = read_table(table, target)
    return Path(stand_in([(table.stem, frame, target)], load_params(params_path), directory))


def _site_packages(venv: Path) -> Path:
    (site,) = (venv / "lib").glob("python*/site-packages")
    return site


def _megabytes(folder: Path) -> float:
    return (
        sum(f.stat().st_size for f in folder.rglob("*") if f.is_file() and not f.is_symlink())
        / 2**20
    )


def _largest(site: Path, n: int = 5) -> dict[str, float]:
    """The ``n`` largest top-level folders of ``site-packages``, in MB."""
    sizes = {
        p.name: _megabytes(p) for p in site.iterdir() if p.is_dir() and not p.name.endswith("-info")
    }
    return {name: round(mb, 1) for name, mb in sorted(sizes.items(), key=lambda kv: -kv[1])[:n]}


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    load = os.getloadavg()[0]
    source = work / "source"
    source.mkdir()
    shutil.copy(REPO / "pyproject.toml", source)
    shutil.copytree(
        REPO / "beyonder", source / "beyonder", ignore=shutil.ignore_patterns("__pycache__")
    )
    model = (
        args.model.resolve()
        if args.model
        else _stand_in(args.table, args.target, args.params, work)
    )
    venv = work / "venv"
    venv_seconds, _ = _timed([args.python, "-m", "venv", str(venv)], timeout=300)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", "--no-input"]
    install_seconds, _ = _timed(
        [*pip, "install", "-q", "--no-cache-dir", str(source)], timeout=1800
    )
    _, listed = _timed([*pip, "list", "--format", "json"], timeout=120)
    seeded = {"pip", "setuptools"}  # what `python -m venv` puts in every venv
    installed = {
        d["name"].lower(): d["version"]
        for d in json.loads(listed.stdout)
        if d["name"].lower() not in seeded
    }
    heavy = sorted(set(installed) & set(HEAVY))
    beyonder = str(venv / "bin" / "beyonder")
    command = [
        beyonder,
        "recommend",
        str(args.table.resolve()),
        "--target",
        args.target,
        "--model",
        str(model),
    ]
    runs = [_timed(command, cwd=work, timeout=600) for _ in range(max(1, args.repeats))]
    answer = runs[0][1]
    recommend_seconds = sorted(seconds for seconds, _ in runs)
    _, tf = _timed(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import importlib.util as u; print(u.find_spec('tensorflow') is not None)",
        ]
    )
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "python": platform.python_version(),
        "machine": f"{platform.system()} {platform.machine()}",
        "command": "pip install --no-cache-dir . (no extras), in a fresh venv",
        "venv_seconds": round(venv_seconds, 1),
        "install_seconds": round(install_seconds, 1),
        "installed": installed,
        "site_packages_mb": round(_megabytes(_site_packages(venv)), 1),
        "largest_mb": _largest(_site_packages(venv)),
        "load_average": round(load, 2),
        "cores": os.cpu_count(),
        "heavy_installed": heavy,
        "tensorflow_importable": tf.stdout.strip() == "True",
        "model": "stand-in (untrained, configured size)" if args.model is None else str(args.model),
        "table": str(args.table.resolve().relative_to(REPO))
        if args.table.resolve().is_relative_to(REPO)
        else str(args.table),
        "recommend_seconds": [round(seconds, 2) for seconds in recommend_seconds],
        "recommend_output": answer.stdout.strip().splitlines(),
    }


def markdown(result: dict[str, Any]) -> str:
    names = ", ".join(f"{name} {version}" for name, version in sorted(result["installed"].items()))
    largest = ", ".join(f"{name} {mb:g}" for name, mb in result["largest_mb"].items())
    lines = [
        f"`python bench/light_install.py` on {result['date']} (Python {result['python']}, {result['machine']}, "
        f"{result['cores']} cores, load average {result['load_average']:g} at the start):",
        "",
        f"- `{result['command']}`: {result['install_seconds']} s (downloads included, no pip cache; "
        f"creating the venv: {result['venv_seconds']} s), {len(result['installed'])} distributions "
        f"besides the venv's own pip and setuptools, {result['site_packages_mb']} MB in `site-packages` "
        f"(largest, MB: {largest}).",
        f"- Pipeline distributions installed: {', '.join(result['heavy_installed']) or 'none'}; "
        f"TensorFlow importable: {'yes' if result['tensorflow_importable'] else 'no'}.",
        f"- A cold `beyonder recommend {result['table']} --model MODEL` there ({result['model']}), "
        f"the whole process, {len(result['recommend_seconds'])} runs: median "
        f"{statistics.median(result['recommend_seconds']):.2f} s (all: "
        f"{', '.join(f'{s:.2f}' for s in result['recommend_seconds'])} s).",
        f"- Installed: {names}.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not args.table.is_file():
        print(f"light_install: no table {args.table}", file=sys.stderr)
        return 2
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=False)
        result = run(args, args.workdir.resolve())
    else:
        with tempfile.TemporaryDirectory(prefix="beyonder-light-") as tmp:
            result = run(args, Path(tmp))
    print("\n".join(result["recommend_output"]))
    print()
    print(markdown(result))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    if not args.no_results:
        write_section(args.results, MARK, markdown(result), TITLE)
    return 0 if not result["heavy_installed"] and not result["tensorflow_importable"] else 1


if __name__ == "__main__":
    sys.exit(main())
