"""One section of ``bench/RESULTS.md``, rewritten by the benchmark that measures it.

A benchmark's figures live between ``<!-- MARK -->`` and ``<!-- /MARK -->``; a run replaces
that text and leaves the rest of the file alone, or appends the section under ``title`` the
first time. The file is written atomically (a temporary file, then a rename).
"""

from __future__ import annotations

from pathlib import Path


def write_section(path: Path, mark: str, body: str, title: str) -> None:
    """Put ``body`` between the ``mark`` markers of ``path`` (append it under ``title`` if absent)."""
    begin, end = f"<!-- {mark} -->", f"<!-- /{mark} -->"
    block = f"{begin}\n{body}\n{end}"
    text = path.read_text() if path.is_file() else ""
    if begin in text and end in text and text.index(begin) < text.index(end):
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = (
            text.rstrip() + "\n\n" if text.strip() else "# Benchmark results\n\n"
        ) + f"{title}\n\n{block}\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)
