"""The package layout, as rules that fail on a new breach.

One installed package, ``beyonder``, whose folders follow the data flow: the base modules
(params, schema, storage, ...) under ``data`` (sources, cleaning, sampling) under ``labels``
(the portfolio and its cross-validation) under ``selector`` (the network that predicts the
labels) and ``imputer`` (a second network on the same blocks) under ``evaluation`` under
``serving`` (recommending from a saved model), with ``stages`` (one pipeline stage's work) and
``cli`` on top. A module imports only from its own layer or lower ones, and the import graph
has no circle. The Prefect flows live outside the package, in the project's ``flows/``
folder, and nothing in the package imports them or Prefect.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from helpers import imported_modules

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "beyonder"
FLOWS = REPO / "flows"

BASE = (
    "config",
    "errors",
    "interrupt",
    "params",
    "progress",
    "quiet",
    "registry",
    "schema",
    "storage",
    "tracking",
)
LAYERS = ("base", "data", "labels", "selector", "imputer", "evaluation", "serving", "stages", "cli")
"""Lowest first; a module may import its own layer and the layers before it."""


def _module(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1 or parts[1] in BASE:
        return "base"
    if parts[1] not in LAYERS:
        raise AssertionError(
            f"{module}: a new top-level module; put it in a layer's folder or add it to BASE"
        )
    return parts[1]


def _package_imports(path: Path, known: set[str]) -> set[str]:
    """The package modules ``path`` imports (a name taken from a module counts as that module)."""
    out = set()
    for name in imported_modules(path):
        if name.split(".")[0] != "beyonder":
            continue
        while name and name not in known:
            name = name.rpartition(".")[0]
        if name and name != "beyonder":
            out.add(name)
    return out


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {m: _package_imports(p, set(modules)) - {m} for m, p in modules.items()}


def test_only_beyonder_is_installed_and_flows_sit_at_the_top() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert project["tool"]["setuptools"]["packages"]["find"]["include"] == ["beyonder*"]
    assert (FLOWS / "__init__.py").is_file() and not (PACKAGE / "flows").exists()


def test_every_package_module_sits_in_a_layer() -> None:
    for module in _modules():
        layer(module)  # raises for a module outside every layer


def test_lower_layers_never_import_higher_ones() -> None:
    rank = {name: i for i, name in enumerate(LAYERS)}
    offenders = sorted(
        f"{m} ({layer(m)}) imports {d} ({layer(d)})"
        for m, deps in _graph().items()
        for d in deps
        if rank[layer(d)] > rank[layer(m)]
    )
    assert not offenders, "imports that run up the layers:\n" + "\n".join(offenders)


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the stack, 2: done

    def visit(node: str, stack: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt, [*stack, nxt])):
                return found
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start, [start])):
            return found
    return None


def test_the_import_graph_has_no_circle() -> None:
    found = _cycle(_graph())
    assert found is None, "import circle: " + " -> ".join(found or [])


def test_the_circle_check_finds_a_circle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_the_layer_check_sees_real_imports() -> None:
    graph = _graph()
    assert "beyonder.selector.encoding" in graph["beyonder.selector.estimator"]
    assert "beyonder.params" in graph["beyonder.data.cleaning"]
    assert layer("beyonder.serving.recommend") == "serving" and layer("beyonder.params") == "base"
    with pytest.raises(AssertionError, match="new top-level module"):
        layer("beyonder.somewhere")


def test_the_package_never_imports_flows_or_prefect() -> None:
    offenders = {
        str(path.relative_to(REPO)): sorted(bad)
        for path in _modules().values()
        if (
            bad := {
                m
                for m in imported_modules(path)
                if m.split(".")[0] in ("prefect", "prefect_dask", "flows")
            }
        )
    }
    assert not offenders, f"package modules import orchestration: {offenders}"
    assert "prefect" in imported_modules(FLOWS / "train.py")


def test_every_layer_folder_says_what_it_holds() -> None:
    for name in LAYERS[1:]:
        init = PACKAGE / name / "__init__.py"
        assert init.is_file(), f"{name}/ has no __init__.py"
        text = init.read_text()
        assert text.lstrip().startswith('"""') and len(text) > 200, (
            f"{name}/__init__.py needs its paragraph"
        )
