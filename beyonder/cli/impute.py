"""``beyonder impute PATH [--target COL] [-o OUT]``: fill a table's missing cells with the
trained imputer (``beyonder/imputer/api.py``); no Prefect. Bad input is one line on stderr and
exit status 2, and nothing is written (outputs are written whole, atomically, or not at all).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from beyonder.errors import error_line


def add_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "impute",
        help="fill the missing cells of a CSV, ARFF or Parquet table (same format out)",
        description="Fill the missing cells of a table with the pre-trained imputer; every "
        "non-missing cell is kept; the target column is never used unless --use-target.",
    )
    p.add_argument("path", help="CSV, ARFF or Parquet file")
    p.add_argument("--target", help="the class column: not read to fill the features (default: "
                   "'class' if the file has it, an ARFF file's class attribute)")  # fmt: skip
    p.add_argument(
        "--use-target", action="store_true", help="use the target as one more column (and fill it)"
    )
    p.add_argument(
        "-o",
        "--output",
        help="output file, same format (default: PATH with .imputed before the suffix)",
    )
    p.add_argument("--model", default=None, help="imputer: models:/NAME@ALIAS, or a folder (default: "
                   "models:/beyonder-imputer@champion, else data/imputer)")  # fmt: skip
    p.add_argument("--seed", type=int, default=0, help="seed of the views (default 0)")


def run_impute(args: argparse.Namespace) -> int:
    from beyonder.imputer.api import (
        DEFAULT_MODEL,
        FORMATS,
        ImputeError,
        default_output,
        impute,
        read_table,
        write_table,
    )

    path = Path(args.path)
    try:
        frame, target = read_table(path, args.target)
        fmt = FORMATS[path.suffix.lower()]
        out = Path(args.output) if args.output else default_output(path)
        if out.suffix.lower() in FORMATS and FORMATS[out.suffix.lower()] != fmt:
            raise ImputeError(
                f"{out}: the output is written as {fmt}, like the input; give a .{fmt} name"
            )
        features = frame if (target is None or args.use_target) else frame.drop(columns=[target])
        if not features.isna().to_numpy().any():
            _copy(path, out)
            note = (
                f" (the target {target!r} keeps its missing cells)"
                if frame.isna().to_numpy().any()
                else ""
            )
            print(f"beyonder impute: {path}: no missing cell to fill{note}; wrote an unchanged copy to {out}",
                  file=sys.stderr)  # fmt: skip
            return 0
        model = args.model or _default_model(DEFAULT_MODEL)
        filled = impute(
            frame,
            target=target,
            use_target=args.use_target,
            model=model,
            seed=args.seed,
            name=str(path),
        )
        write_table(filled, out, fmt, relation=path.stem)
    except (ImputeError, OSError) as exc:
        message = (
            str(exc)
            if isinstance(exc, ImputeError)
            else f"{args.output or path}: {error_line(exc)}"
        )
        print(f"beyonder impute: {message}", file=sys.stderr)
        return 2
    print(f"beyonder impute: filled {filled.attrs.get('filled', 0)} cell(s) of {path}; wrote {out}")
    return 0


def _default_model(registered: str) -> str:
    """The registered champion if the registry has one, else the pipeline's ``data/imputer``."""
    from beyonder.registry import registered_artifact
    from beyonder.tracking import tracking_uri

    if (
        registered_artifact(registered, tracking_uri("."), "imputer") is None
        and Path("data/imputer").is_dir()
    ):
        return "data/imputer"
    return registered


def _copy(source: Path, target: Path) -> None:
    """Byte-for-byte copy, atomically (a temporary file in the target's folder, then rename)."""
    from beyonder.storage import _atomic

    _atomic(target, lambda tmp: shutil.copyfile(source, tmp))
