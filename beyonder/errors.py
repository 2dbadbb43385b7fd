"""Errors as one line: what a log, a quarantine report, a label's ``error`` column or a
command's stderr shows. One home, so every place says a failure the same way."""

from __future__ import annotations

import re

MAX_CHARS = 300
_WHITESPACE = re.compile(r"\s+")


def one_line(text: object, limit: int = MAX_CHARS) -> str:
    """``text`` with its white space (newlines included) collapsed, at most ``limit`` characters."""
    line = _WHITESPACE.sub(" ", str(text)).strip()
    return line if len(line) <= limit else line[: limit - 3] + "..."


def first_line(text: object, limit: int = MAX_CHARS) -> str:
    """The first non-empty line of ``text`` (a long multi-line message, e.g. MLflow's, says
    what went wrong first), at most ``limit`` characters; empty for empty text."""
    lines = [line for line in str(text).splitlines() if line.strip()]
    return one_line(lines[0], limit) if lines else ""


def error_line(exc: BaseException, limit: int = MAX_CHARS) -> str:
    """``Type: first line of the message`` (or ``Type`` alone), at most ``limit`` characters."""
    message = first_line(exc, limit)
    return one_line(f"{type(exc).__name__}: {message}" if message else type(exc).__name__, limit)
