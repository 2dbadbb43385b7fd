"""The package layout: one installed package, ``beyonder``, whose library never reaches up into
the orchestration. Only the command line (``beyonder/cli*.py``) may import the flows
(``beyonder/flows/``), and nothing but the flows imports Prefect or the pipeline stages' flows,
so the library stays usable and testable without a Prefect API."""

from __future__ import annotations

import tomllib
from pathlib import Path

from helpers import imported_modules

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "beyonder"
FLOWS = PACKAGE / "flows"


def _library_modules() -> list[Path]:
    return sorted(
        p
        for p in PACKAGE.rglob("*.py")
        if FLOWS not in p.parents and not p.name.startswith("cli")
    )


def test_only_beyonder_is_installed_at_top_level() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert project["tool"]["setuptools"]["packages"]["find"]["include"] == ["beyonder*"]
    assert not (REPO / "flows").exists()


def test_the_library_never_imports_flows_or_prefect() -> None:
    offenders = {
        str(path.relative_to(REPO)): sorted(bad)
        for path in _library_modules()
        if (bad := {m for m in imported_modules(path) if m.split(".")[0] == "prefect" or m.startswith("beyonder.flows")})
    }
    assert not offenders, f"library modules import orchestration: {offenders}"


def test_the_scan_sees_the_library_and_a_real_import() -> None:
    scanned = {str(p.relative_to(REPO)) for p in _library_modules()}
    assert {"beyonder/estimator.py", "beyonder/stages/train.py"} <= scanned
    assert "beyonder/cli.py" not in scanned and "beyonder/flows/train.py" not in scanned
    assert "prefect" in imported_modules(FLOWS / "train.py")
