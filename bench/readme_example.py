"""The README's worked example of ``--budget`` and ``--plot``, produced by running it.

It runs ``beyonder recommend TABLE --budget SECONDS --plot PICTURE`` as a user would (a fresh
process, the model from the registry), and writes the command, what it printed and the
picture into the README between ``<!-- budget-example -->`` and ``<!-- /budget-example -->``,
so the example in the README is always one this repository produced.

    python bench/readme_example.py                        # the registry's champion (./mlflow.db)
    python bench/readme_example.py --model data/model --table corpus/uci/vehicle.parquet

The registry is ``$MLFLOW_TRACKING_URI`` or ``./mlflow.db`` (what ``dvc repro`` writes).
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from recommend_latency import registry_champion  # noqa: E402  (sibling bench modules)
from results_section import write_section  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
MARK = "budget-example"
DEFAULT_MODEL = "models:/beyonder@champion"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--table", default="corpus/uci/vehicle.parquet", help="relative to the repo")
    p.add_argument("--budget", type=float, default=3.0, help="CPU seconds (default 3)")
    p.add_argument(
        "--model", default=DEFAULT_MODEL, help="model URI or folder (relative to the repo)"
    )
    p.add_argument("--picture", default="docs/budget_example.png", help="relative to the repo")
    p.add_argument("--readme", type=Path, default=REPO / "README.md")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.model == DEFAULT_MODEL and registry_champion() is None:
        print("no registry with models:/beyonder@champion: run `dvc repro` first", file=sys.stderr)
        return 1
    model = [] if args.model == DEFAULT_MODEL else ["--model", args.model]
    shown = ["beyonder", "recommend", args.table, "--budget", f"{args.budget:g}", *model]
    shown += ["--plot", args.picture]
    (REPO / args.picture).parent.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [sys.executable, "-m", "beyonder.cli", *shown[1:]], cwd=REPO, capture_output=True, text=True
    )
    if result.returncode != 0:
        print(result.stdout + result.stderr, file=sys.stderr)
        return result.returncode
    body = (
        f"`python bench/readme_example.py` ran this (model: `{args.model}`):\n\n"
        f"```console\n$ {shlex.join(shown)}\n{result.stdout.rstrip()}\n```\n\n"
        f"![{Path(args.picture).name}]({args.picture})"
    )
    write_section(args.readme, MARK, body, "## Example")
    print(body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
