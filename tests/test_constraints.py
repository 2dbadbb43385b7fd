"""The lock: ``constraints.txt`` pins every distribution of the full install, the README's first
command and ``.ci/run`` install with it, and its pins satisfy what ``pyproject.toml`` asks. The
label cache keys include the scikit-learn version, so the installed scikit-learn must be the
locked one, or cached and shipped labels would all be recomputed."""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
INSTALL = "pip install -c constraints.txt -e '.[pipeline,test]'"


def pins() -> dict[str, str]:
    found = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, sep, version = line.partition("==")
            assert sep and version, f"constraints.txt: {line!r} is not NAME==VERSION"
            found[canonicalize_name(name)] = version
    return found


def test_every_requirement_is_pinned_within_its_range() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    locked = pins()
    assert "beyonder" not in locked  # the project itself is installed from the tree
    for text in [
        *project["dependencies"],
        *(r for extra in project["optional-dependencies"].values() for r in extra),
    ]:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{requirement.name} is not in constraints.txt"
        assert requirement.specifier.contains(locked[name], prereleases=True), (text, locked[name])


def test_readme_and_ci_install_with_the_lock() -> None:
    assert INSTALL in (REPO / "README.md").read_text()
    assert (
        "pip install -q -c constraints.txt -e '.[pipeline,test]'"
        in (REPO / ".ci" / "run").read_text()
    )


def test_the_installed_scikit_learn_is_the_locked_one() -> None:
    assert metadata.version("scikit-learn") == pins()["scikit-learn"]
