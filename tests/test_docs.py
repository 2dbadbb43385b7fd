"""The documentation speaks of the product as it is: every repository path it names exists,
and neither it nor the code names development history (ticket numbers, work stages)."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOCS = [
    REPO / "README.md",
    *sorted((REPO / "docs").glob("*.md")),
    REPO / "bench" / "RESULTS.md",
    REPO / "corpus" / "README.md",
]
ROOTS = ("beyonder/", "flows/", "tests/", "bench/", "docs/", "corpus/", ".ci/")
HISTORY = re.compile(r"\b(?:issue|stop)[- ]?\d+\b|\bissue's\b|\bthis stop\b", re.IGNORECASE)
"""A ticket or work-stage number, a ticket's bar, "this stop": the history of the work, not the product."""


def _backticked(text: str):
    for match in re.finditer(r"`([^`\s]+)`", text):
        yield text[: match.start()].count("\n") + 1, match.group(1).rstrip(",.;:")


def test_every_path_the_docs_name_exists() -> None:
    modules = {
        p.name
        for folder in ("beyonder", "flows", "bench", "tests")
        for p in (REPO / folder).rglob("*.py")
    }
    missing = []
    for doc in DOCS:
        for line, token in _backticked(doc.read_text()):
            where = f"{doc.relative_to(REPO)}:{line}: {token}"
            if token.startswith(ROOTS):
                path = re.split(r"::|[(:]", token)[0]
                if "<" not in path and "*" not in path and not (REPO / path).exists():
                    missing.append(where)
            elif re.fullmatch(r"\w+\.py", token) and token not in modules:
                missing.append(where)
    assert not missing, missing


def test_no_development_history_in_code_and_docs() -> None:
    files = [
        *DOCS,
        REPO / "params.yaml",
        REPO / "dvc.yaml",
        *(
            p
            for folder in ("beyonder", "flows", "tests", "bench")
            for p in (REPO / folder).rglob("*.py")
        ),
    ]
    found = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()[:80]}"
        for path in files
        if path != Path(__file__).resolve()  # this file names the patterns
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if HISTORY.search(line)
    ]
    assert not found, found
