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
import os
import shlex
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_section import write_section  # noqa: E402  (a sibling bench module)

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


def _beyonder() -> list[str]:
    script = Path(sys.executable).parent / "beyonder"
    return [str(script)] if script.exists() else [sys.executable, "-m", "beyonder.cli"]


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    env = dict(os.environ)
    if "MLFLOW_TRACKING_URI" not in env and (REPO / "mlflow.db").is_file():
        env["MLFLOW_TRACKING_URI"] = f"sqlite:///{REPO / 'mlflow.db'}"
    picture = Path(args.picture)
    model = [] if args.model == DEFAULT_MODEL else ["--model", args.model]
    shown = ["beyonder", "recommend", args.table, "--budget", f"{args.budget:g}", *model]
    shown += ["--plot", picture.name]
    command = [*_beyonder(), *shown[1:-1], str(REPO / picture)]
    (REPO / picture).parent.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        print(result.stdout + result.stderr, file=sys.stderr)
        return result.returncode
    output = result.stdout.replace(str(REPO / picture), picture.name).rstrip()
    body = (
        f"`python bench/readme_example.py` ran this (model: `{args.model}`, the champion `dvc repro` "
        "registers unless another is named):\n\n"
        f"```console\n$ {shlex.join(shown)}\n{output}\n```\n\n"
        f"![{picture.name}]({picture.as_posix()})"
    )
    write_section(args.readme, MARK, body, "## Example")
    print(body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
