"""Errors as one line: what a log, a quarantine report, a label's ``error`` column or a
command's stderr shows. One home, so every place says a failure the same way."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Sequence

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


PIPELINE_EXTRA = "pip install 'beyonder[pipeline]'"
"""How to get what the light install leaves out: training, the pipeline, MLflow, Keras."""


class MissingExtra(ImportError):
    """A feature needs a module of the ``pipeline`` extra that is not installed; the message is
    one line naming the modules and the install command."""


def require_extra(what: str, modules: Sequence[str]) -> None:
    """Raise ``MissingExtra`` unless every module in ``modules`` can be imported. The light
    install (the package without extras) recommends from a saved model with NumPy alone; training,
    the Keras imputer and MLflow registries other than a local SQLite file need the extra, and
    a user should read which one, not a ``ModuleNotFoundError`` traceback."""
    missing = [name for name in modules if importlib.util.find_spec(name) is None]
    if missing:
        raise MissingExtra(
            f"{what} needs the pipeline extra ({', '.join(missing)} not installed): {PIPELINE_EXTRA}"
        )
