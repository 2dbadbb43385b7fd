"""The ``beyonder`` command itself: its version."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import beyonder
from beyonder.cli import main

REPO = Path(__file__).resolve().parents[1]


def test_version_prints_the_package_version(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"beyonder {beyonder.__version__}"


def test_version_in_a_real_process_and_one_home_for_it() -> None:
    """The command answers without importing the heavy stack; ``pyproject.toml`` takes the
    version from ``beyonder.__version__`` (no second copy to forget)."""
    result = subprocess.run(
        [sys.executable, "-m", "beyonder.cli", "--version"],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"beyonder {beyonder.__version__}"
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "beyonder.__version__"}


def test_declared_dependencies_cover_matplotlib() -> None:
    """``beyonder/evaluation/report.py`` draws the evaluation figures with matplotlib, a part of
    the pipeline (the light install recommends without it)."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert any(
        dep.startswith("matplotlib")
        for dep in project["project"]["optional-dependencies"]["pipeline"]
    )
    assert not any(dep.startswith("matplotlib") for dep in project["project"]["dependencies"])
