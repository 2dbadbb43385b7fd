"""The ``beyonder`` command.

``beyonder <stage>`` runs one pipeline stage's Prefect flow, ``flows/<stage>.py`` of the project
at ``--root`` (what ``dvc repro`` calls; the flows are the project's files, not part of the
installed package, and need the ``pipeline`` extra); ``beyonder recommend | embed |
finetune`` use a trained model (``consumers``) and ``beyonder impute`` fills missing cells
(``impute``): these need no Prefect."""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from types import ModuleType

from beyonder.errors import MissingExtra, require_extra

STAGES = ("ingest", "clean", "sample", "label", "augment", "train", "evaluate", "refit", "imputer")
KERAS_COMMANDS = ("train", "evaluate", "refit", "finetune", "impute", "imputer")
"""Commands that train or load the Keras network: TensorFlow is imported first, quietly
(``beyonder.quiet``). ``recommend`` and ``embed`` run the network in NumPy
(``beyonder/selector/network.py``) and never import TensorFlow."""


def _parser() -> argparse.ArgumentParser:
    from beyonder import __version__

    parser = argparse.ArgumentParser(prog="beyonder", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for stage in STAGES:
        p = sub.add_parser(stage, help=f"run the {stage} stage")
        p.add_argument("--params", default="params.yaml", help="params file (default: params.yaml)")
        p.add_argument("--root", default=".", help="repository root holding data/ (default: .)")
        if stage == "evaluate":
            p.add_argument(
                "--corpus",
                nargs="+",
                help="grouped K-fold over the datasets of this folder, or of several folders "
                "together (scored per folder too), or of a labelled workspace",
            )
            p.add_argument("--train-corpus", help="train on this folder's datasets ...")
            p.add_argument("--test-corpus", help="... and test on this folder's")
            p.add_argument("--folds", type=int, default=5, help="folds for --corpus (default 5)")
            p.add_argument(
                "--set",
                dest="overrides",
                action="append",
                metavar="SECTION.KEY=VALUE",
                help="with --corpus or --train-corpus: this run's setting instead of the params "
                "file's (e.g. --set train.epochs=12); repeatable",
            )
            p.add_argument(
                "--pretrain-corpus",
                help="pretrain Beyonder on this folder or labelled workspace (e.g. synthetic "
                "datasets), then fine-tune it on each fold's training datasets",
            )
            p.add_argument(
                "--seeds",
                type=int,
                default=1,
                help="train Beyonder with this many seeds per fold: each one's score, and their "
                "average as beyonder_ensemble (default 1)",
            )
            p.add_argument(
                "--variant",
                nargs="+",
                action="append",
                metavar=("NAME", "KEY=VALUE"),
                help="an ablation trained on the same folds, scored as beyonder_NAME: train "
                "settings (e.g. --variant wide rows=128 max_features=32), train_groups=uci (train "
                "only on those corpora's datasets), train_kinds=bootstrap,noise (only those "
                "kinds of samples), finetune=all|heads|none (with --pretrain-corpus: fine-tune "
                "all layers, the heads only, or start fresh), seed_offset=1000 (the fold's seed plus "
                "this: 1000 is --seeds' second member, so a variant can be paired seed by seed), "
                "pretrain=cells [pretrain_epochs=N] (start from an encoder pre-trained to fill "
                "hidden cells of the fold's training samples), refit=true (the refit stage's "
                "protocol: trained again on every training dataset for the epochs validation "
                "chose; with nothing else changed, from the plain member's fit); repeatable",
            )
            p.add_argument("--json", dest="json_path", help="write the report as JSON here")
            p.add_argument(
                "--methods",
                default="beyonder,landmark_ridge,pymfe_rf,pymfe_knn,random",
                help="comma-separated methods to compare (SBS and oracle always come along)",
            )
    ship = sub.add_parser(
        "ship-labels",
        help="write the labels of the last run (samples, augmented samples, measurements) as the "
        "shipped labels file that label.shipped names, so a fresh clone need not recompute them",
    )
    ship.add_argument("--params", default="params.yaml", help="params file (default: params.yaml)")
    ship.add_argument("--root", default=".", help="repository root holding data/ (default: .)")
    ship.add_argument("--out", help="where to write (default: label.shipped)")
    from beyonder.cli.consumers import add_commands

    add_commands(sub)  # recommend, embed, finetune: use a trained model, no Prefect
    from beyonder.cli.impute import add_command

    add_command(sub)  # impute: fill missing cells with the trained imputer, no Prefect
    return parser


PIPELINE_MODULES = (
    "prefect",
    "prefect_dask",
    "distributed",
    "tensorflow",
    "keras",
    "mlflow",
    "dvc",
)
"""What the stage commands import (the flows, Dask, training, the registry); the light install
(the package without extras) has none of them."""
NEEDS = {
    **{stage: PIPELINE_MODULES for stage in STAGES},
    "finetune": ("tensorflow", "keras", "mlflow"),
    "impute": ("tensorflow", "keras"),
}
"""Modules each command needs beyond the light install, checked before anything is imported,
so a command run without the extra says so in one line (``recommend``, ``embed`` and
``ship-labels`` need none)."""


class PipelineError(RuntimeError):
    """The pipeline cannot run here: there is no ``flows/`` folder."""


def load_flows(root: str | Path = ".") -> ModuleType:
    """The project's Prefect flows (the project's own code, as ``dvc.yaml`` and
    ``prefect.yaml`` name it; never installed with the package): the ``flows/`` folder at
    ``root``, else the one of the current folder or already on ``sys.path`` (a workspace root
    holding only ``data/``, run from the project)."""
    require_extra("the pipeline", PIPELINE_MODULES)
    for folder in dict.fromkeys([Path(root).resolve(), Path.cwd()]):
        if (folder / "flows" / "__init__.py").is_file():
            if str(folder) not in sys.path:
                sys.path.insert(0, str(folder))
            break
    else:
        if importlib.util.find_spec("flows") is None:
            raise PipelineError(
                f"{Path(root).resolve() / 'flows'}: no pipeline flows here; run from the project root"
            )
    return importlib.import_module("flows")


def run_stage(stage: str, params: str = "params.yaml", root: str = ".") -> dict:
    """Run one stage's flow (``flows/<stage>.py`` under ``root``) against a Prefect API. The
    params file is checked first: a typo in it is one line before anything starts."""
    from beyonder.params import load_params

    load_params(params)
    load_flows(root)
    return importlib.import_module("flows.runtime").run_stage(stage, params, root)


def ship_run_labels(params_path: str, root: str, out: str | None) -> dict:
    """``beyonder ship-labels``: the last run's labels into the shipped labels file."""
    from beyonder.config import Layout
    from beyonder.params import load_params
    from beyonder.stages.label import label_cache, run_label_keys, ship_labels

    params = load_params(params_path)
    target = out or params.label.shipped
    if not target:
        raise ValueError("give --out, or set label.shipped in the params file")
    layout = Layout(root)
    keys = run_label_keys(params, layout)
    return ship_labels(keys, label_cache(params, root), Path(root) / target)


def run_crossval(args: argparse.Namespace) -> dict:
    """``beyonder evaluate --corpus DIR`` or ``--train-corpus A --test-corpus B``."""
    from beyonder.evaluation.variants import parse_variants
    from beyonder.params import load_params
    from beyonder.quiet import quiet_environment

    if not args.corpus and not (args.train_corpus and args.test_corpus):
        raise ValueError("give --corpus DIR, or both --train-corpus and --test-corpus")
    variants = parse_variants(args.variant or [])  # refused here, before hours of training
    overrides = tuple(args.overrides or ())
    load_params(args.params, overrides)
    quiet_environment()
    load_flows(args.root)
    crossval_flow = importlib.import_module("flows.crossval").crossval_flow
    prefect_api = importlib.import_module("flows.runtime").prefect_api

    with prefect_api():
        result = crossval_flow(
            corpus=args.corpus,
            train_corpus=args.train_corpus,
            test_corpus=args.test_corpus,
            folds=args.folds,
            json_path=args.json_path,
            params_path=args.params,
            methods=tuple(m for m in args.methods.split(",") if m),
            pretrain_corpus=args.pretrain_corpus,
            seeds=args.seeds,
            variants=variants,
            overrides=overrides,
        )
    return {"n_datasets": result["n_datasets"], "methods": result["methods"]}


def main(argv: list[str] | None = None) -> int:
    """The ``beyonder`` command; Ctrl-C or SIGTERM stop it cleanly (``beyonder.interrupt``)."""
    from beyonder.interrupt import run_interruptibly

    return run_interruptibly(lambda: _main(argv))


def _main(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    try:
        require_extra("this command", NEEDS.get(args.command, ()))
    except MissingExtra as exc:
        print(f"beyonder {args.command}: {exc}", file=sys.stderr)
        return 2
    if args.command in KERAS_COMMANDS:
        from beyonder.quiet import import_tensorflow

        import_tensorflow()
    from beyonder.cli.consumers import COMMANDS, run

    if args.command == "impute":
        from beyonder.cli.impute import run_impute

        return run_impute(args)
    if args.command in COMMANDS:
        return run(args)
    from beyonder.params import ParamsError

    try:
        if args.command == "ship-labels":
            result = ship_run_labels(args.params, args.root, args.out)
        elif args.command == "evaluate" and (args.corpus or args.train_corpus or args.test_corpus):
            result = run_crossval(args)
        elif getattr(args, "overrides", None):
            raise ValueError(
                "--set is for --corpus or --train-corpus runs; the stage reads "
                "its settings from the params file only (dvc tracks it)"
            )
        else:
            result = run_stage(args.command, args.params, args.root)
    except (ParamsError, PipelineError, MissingExtra, FileNotFoundError, ValueError) as exc:
        print(f"beyonder {args.command}: {exc}", file=sys.stderr)
        return 2
    print(f"beyonder {args.command}: {result}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
