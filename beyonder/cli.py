"""``beyonder <stage>``: run one pipeline stage's Prefect flow (what ``dvc repro`` calls)."""

from __future__ import annotations

import argparse
import importlib
import sys

STAGES = ("ingest", "clean", "sample", "label", "augment", "train", "evaluate")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="beyonder", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for stage in STAGES:
        p = sub.add_parser(stage, help=f"run the {stage} stage")
        p.add_argument("--params", default="params.yaml", help="params file (default: params.yaml)")
        p.add_argument("--root", default=".", help="repository root holding data/ (default: .)")
    return parser


def run_stage(stage: str, params: str = "params.yaml", root: str = ".") -> dict:
    """Run one stage's flow against a Prefect API (a temporary local one if none is set)."""
    from flows.runtime import prefect_api, quiet_environment

    quiet_environment()
    flow = getattr(importlib.import_module(f"flows.{stage}"), f"{stage}_flow")
    with prefect_api():
        return flow(params_path=params, root=root)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from beyonder.config import ParamsError

    try:
        result = run_stage(args.command, args.params, args.root)
    except (ParamsError, FileNotFoundError) as exc:
        print(f"beyonder {args.command}: {exc}", file=sys.stderr)
        return 2
    print(f"beyonder {args.command}: {result}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
