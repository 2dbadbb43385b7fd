"""The light install: the package without extras recommends from a saved model.

A consumer who only ranks classifiers for tables runs the network in NumPy and reads the
registry's champion straight from ``mlflow.db``; the package without extras must not bring
TensorFlow, Keras, Prefect, Dask, DVC or MLflow. Here a fresh virtual environment gets the
project's wheel (built from a copy of the package, without the network) and exactly the
distributions that ``[project].dependencies`` names, with their own requirements, linked from
this environment: nothing else is importable there. What needs the ``pipeline`` extra says so
in one line.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from helpers import tiny_recommender, tiny_registry

pytestmark = pytest.mark.slow  # builds a wheel and a venv, registers a model: about a minute

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
"""Distributions the light install must not have."""
EXTRA = "beyonder[pipeline]"


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;(]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def light_distributions() -> set[str]:
    """The project's own requirements (no extras) and, recursively, theirs, as installed here."""
    from packaging.requirements import Requirement

    todo = [
        _name(r)
        for r in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    ]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for text in metadata.distribution(name).requires or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(_name(requirement.name))
    return seen


def _site_packages(venv: Path) -> Path:
    return (
        venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    )


def _link_distribution(name: str, site: Path) -> None:
    """Symlink the top-level files and folders of an installed distribution into ``site``."""
    dist = metadata.distribution(name)
    root = Path(dist.locate_file(""))
    tops = {Path(str(f)).parts[0] for f in dist.files or [] if not str(f).startswith("..")}
    assert tops, f"{name}: no RECORD of its files"
    for top in tops:
        if top == "__pycache__" or top.endswith(".pth") or (site / top).exists():
            continue
        (site / top).symlink_to(root / top)


@pytest.fixture(scope="module")
def light_venv(tmp_path_factory) -> Path:
    """A venv holding the project's wheel and only its light requirements; returns its folder."""
    tmp = tmp_path_factory.mktemp("light")
    source = tmp / "source"  # a copy: building must not write into the working tree
    source.mkdir()
    shutil.copy(REPO / "pyproject.toml", source)
    shutil.copytree(
        REPO / "beyonder", source / "beyonder", ignore=shutil.ignore_patterns("__pycache__")
    )
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    subprocess.run([*pip, "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index", "-w", tmp / "wheel",
                    source], check=True, capture_output=True, timeout=300)  # fmt: skip
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True, timeout=120)
    (wheel,) = (tmp / "wheel").glob("beyonder-*.whl")
    subprocess.run([*pip, "--python", venv / "bin" / "python", "install", "-q", "--no-deps", "--no-index", wheel],
                   check=True, capture_output=True, timeout=300)  # fmt: skip
    site = _site_packages(venv)
    for name in sorted(light_distributions()):
        _link_distribution(name, site)
    return venv


def _run(venv: Path, args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTHON", "MLFLOW_", "VIRTUAL_ENV"))
    }
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_light_venv_has_no_pipeline_distribution(light_venv, tmp_path) -> None:
    code = (
        "import importlib.metadata as m, importlib.util as u, json, beyonder\n"
        "print(json.dumps({'dists': sorted(d.metadata['Name'].lower() for d in m.distributions()),\n"
        "  'tensorflow': u.find_spec('tensorflow') is not None, 'beyonder': beyonder.__file__}))\n"
    )
    result = _run(light_venv, [str(light_venv / "bin" / "python"), "-c", code], tmp_path)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert "beyonder" in found["dists"] and "scikit-learn" in found["dists"]
    assert not set(found["dists"]) & set(HEAVY), set(found["dists"]) & set(HEAVY)
    assert not found["tensorflow"]
    assert Path(found["beyonder"]).is_relative_to(light_venv)  # the wheel, not the working tree
    result = _run(
        light_venv, [str(light_venv / "bin" / "python"), "-c", "import tensorflow"], tmp_path
    )
    assert result.returncode != 0 and "ModuleNotFoundError" in result.stderr


def test_light_install_recommends_from_a_folder_and_the_registry(light_venv, tmp_path) -> None:
    from beyonder.serving.recommend import recommend

    with tiny_registry(tmp_path / "registry") as registry:
        folder = tiny_recommender().save(tmp_path / "model")
        expected = recommend(str(registry.csv), target="class", model=folder)
        beyonder = str(light_venv / "bin" / "beyonder")
        by_folder = _run(
            light_venv,
            [beyonder, "recommend", str(registry.csv), "--model", str(folder), "--json"],
            tmp_path,
        )
        assert by_folder.returncode == 0, by_folder.stderr
        answer = json.loads(by_folder.stdout)
        ranked = [row["classifier"] for row in answer["ranking"]]
        assert ranked == list(expected["classifier"])
        assert [row["predicted_accuracy"] for row in answer["ranking"]] == pytest.approx(
            list(expected["predicted_accuracy"]), abs=1e-6
        )
        # the champion of mlflow.db in the current folder, read without MLflow
        champion = _run(
            light_venv, [beyonder, "recommend", str(registry.csv), "--verify", "1"], registry.dir
        )
        assert champion.returncode == 0, champion.stderr
        assert (
            "models:/beyonder@champion" in champion.stdout and "best SVM kernel" in champion.stdout
        )
        embedded = _run(
            light_venv, [beyonder, "embed", str(registry.csv), "--model", str(folder)], tmp_path
        )
        assert embedded.returncode == 0, embedded.stderr
        code = (
            "import beyonder, pandas as pd, sys\n"
            f"ranking = beyonder.recommend(pd.read_csv({str(registry.csv)!r}), target='class', model={str(folder)!r})\n"
            "print(ranking['classifier'].iloc[0]); assert 'tensorflow' not in sys.modules\n"
        )
        python_api = _run(light_venv, [str(light_venv / "bin" / "python"), "-c", code], tmp_path)
        assert python_api.returncode == 0, python_api.stderr
        assert python_api.stdout.strip() == expected["classifier"].iloc[0]


def test_what_needs_the_extra_says_so_in_one_line(light_venv, tmp_path) -> None:
    table = tmp_path / "table.csv"
    table.write_text("a,b,class\n1,,x\n2,3,y\n3,4,x\n4,5,y\n")
    (tmp_path / "mlflow.db").touch()  # a registry here: a runs:/ URI then needs MLflow itself
    beyonder = str(light_venv / "bin" / "beyonder")
    commands = {
        "train": [beyonder, "train"],
        "evaluate --corpus": [beyonder, "evaluate", "--corpus", str(tmp_path)],
        "impute": [beyonder, "impute", str(table)],
        "finetune": [beyonder, "finetune", "--labels", str(table), "--datasets", str(tmp_path)],
        "recommend runs:/": [beyonder, "recommend", str(table), "--model", "runs:/0123/model"],
    }
    for what, argv in commands.items():
        result = _run(light_venv, argv, tmp_path)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2, (what, result.stderr)
        assert len(lines) == 1 and EXTRA in lines[0] and "not installed" in lines[0], (
            what,
            result.stderr,
        )
    code = (
        "import beyonder, pandas as pd\n"
        "try:\n    beyonder.impute(pd.DataFrame({'a': [1.0, None, 3.0], 'b': [1.0, 2.0, None]}))\n"
        "except ImportError as exc:\n    print(exc)\n"
    )
    result = _run(light_venv, [str(light_venv / "bin" / "python"), "-c", code], tmp_path)
    assert result.returncode == 0 and EXTRA in result.stdout and "tensorflow" in result.stdout, (
        result.stderr
    )
