"""``dvc.yaml`` names every code file a stage runs: the modules its flow imports, followed
through the whole import graph of this repository (imports inside functions too), so editing
any of them reruns the stage and nothing stale survives a ``dvc repro``."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from helpers import imported_modules

REPO = Path(__file__).resolve().parents[1]
FLOWS = REPO / "flows"
STAGES = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]


def _module_file(name: str) -> Path | None:
    path = REPO.joinpath(*name.split("."))
    if (path / "__init__.py").is_file():
        return path / "__init__.py"
    return path.with_suffix(".py") if path.with_suffix(".py").is_file() else None


def _imports(path: Path) -> set[str]:
    return {n for n in imported_modules(path) if n.split(".")[0] in ("beyonder", "flows")}


def code_closure(start: Path) -> set[Path]:
    """Every repository module ``start`` reaches through imports (itself included)."""
    seen: set[Path] = set()
    todo = [start]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        todo += [f for f in map(_module_file, _imports(path)) if f is not None and f not in seen]
    return seen


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_every_module_a_stage_runs_is_a_dependency(stage: str) -> None:
    deps = [REPO / d for d in STAGES[stage]["deps"]]
    closure = code_closure(FLOWS / f"{stage}.py")
    missing = sorted(
        str(f.relative_to(REPO))
        for f in closure
        if f.name != "__init__.py" and not any(f == d or d in f.parents for d in deps)
    )
    assert not missing, f"dvc.yaml stage {stage!r} misses deps: {missing}"


def test_the_closure_follows_imports_inside_functions() -> None:
    closure = {str(p.relative_to(REPO)) for p in code_closure(FLOWS / "ingest.py")}
    assert {
        "beyonder/stages/ingest.py",
        "beyonder/data/sources/local.py",
        "beyonder/data/sources/openml_source.py",
    } <= closure


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_every_params_entry_of_a_stage_names_a_real_knob(stage: str) -> None:
    """``dvc.yaml``'s ``params`` of each stage name sections or keys that ``Params`` has, so
    a renamed knob cannot leave a stage depending on nothing."""
    from beyonder.params import Params

    for entry in STAGES[stage].get("params", []):
        node: object = Params()
        for part in entry.split("."):
            assert hasattr(node, part), (
                f"dvc.yaml stage {stage!r}: params entry {entry!r} is not a knob"
            )
            node = getattr(node, part)
