"""``beyonder recommend | embed | finetune``: the commands that use a trained model.

They are not pipeline stages: no Prefect, no DVC. User errors (a missing target column, one
class, an unreadable file, no model) print one line to stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import warnings
from collections.abc import Iterator

import numpy as np

from beyonder.errors import MissingExtra, first_line

COMMANDS = ("recommend", "embed", "finetune")
DEFAULT_MODEL = "models:/beyonder@champion"
USER_ERROR = 2


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add the consumer commands to ``beyonder``'s sub-command parser."""
    model_help = f"MLflow model URI or model folder (default: {DEFAULT_MODEL})"
    target_help = "class column (default: class; ARFF: its CLASSINDEX attribute, else the last)"

    p = sub.add_parser("recommend", help="rank the classifier portfolio for a table")
    p.add_argument("path", help="CSV, ARFF or Parquet file")
    p.add_argument("--target", help=target_help)
    p.add_argument("--model", default=DEFAULT_MODEL, help=model_help)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument(
        "--time-budget",
        type=float,
        metavar="SECONDS",
        help="rank only the classifiers predicted to fit on the whole table within SECONDS",
    )
    p.add_argument(
        "--verify",
        type=int,
        default=0,
        metavar="K",
        help="cross-validate the top K on a sample of the table and rank them by measured accuracy",
    )
    p.add_argument(
        "--budget",
        metavar="SECONDS",
        help="CPU seconds to spend on measuring classifiers on subsamples of the table (chosen by "
        "expected gain per second), then rank by prediction combined with the measurements",
    )
    p.add_argument(
        "--plot",
        metavar="FILE",
        help="draw the answer (.png or .html): predicted accuracy with its interval against "
        "whole-table fit time, measured classifiers marked, the trade-off frontier",
    )
    p.add_argument(
        "--dask-address",
        help="Dask scheduler for --verify (default: $BEYONDER_DASK_ADDRESS; none: this process)",
    )
    p.add_argument(
        "--metric",
        default="accuracy",
        help="rank by the predicted value of this metric (scikit-learn scorer names: accuracy, "
        "balanced_accuracy, f1_macro, roc_auc_ovr, neg_log_loss; default accuracy)",
    )

    p = sub.add_parser("embed", help="the model's dataset embedding (learned meta-features)")
    p.add_argument("path", help="CSV, ARFF or Parquet file")
    p.add_argument("--target", help=target_help)
    p.add_argument("--model", default=DEFAULT_MODEL, help=model_help)
    p.add_argument("--json", action="store_true", help="print JSON instead of one line of numbers")

    p = sub.add_parser(
        "finetune",
        help="retrain a registered model's heads on your labels or a changed portfolio",
        description="Retrain the heads (encoder frozen) on a labels table and register the "
        "result as a new version of the model (alias --alias). See beyonder/selector/finetune.py.",
    )
    p.add_argument("--labels", required=True, help="labels table (CSV or Parquet)")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--datasets", help="folder of the labelled datasets (labels with a dataset column)"
    )
    source.add_argument(
        "--samples", help="sample index, e.g. data/samples/index.json (labels with sample_id)"
    )
    p.add_argument("--target", help=target_help + " (with --datasets)")
    p.add_argument("--model", default=DEFAULT_MODEL, help=model_help)
    p.add_argument("--classifiers", help="comma-separated portfolio after fine-tuning "
                   "(default: the model's, plus any new classifier of the labels)")  # fmt: skip
    p.add_argument("--epochs", type=int, default=10, help="epochs (default 10)")
    p.add_argument("--unfreeze", type=int, default=0, help="also train the last N encoder layers")
    p.add_argument("--learning-rate", type=float, default=1e-3, help="default 1e-3")
    p.add_argument(
        "--per-dataset", type=int, help="samples per dataset (default: the model's subsamples)"
    )
    p.add_argument(
        "--alias", default="challenger", help="alias of the new version (default challenger)"
    )
    p.add_argument(
        "--root", default=".", help="where mlflow.db and the sample files are (default .)"
    )
    p.add_argument("--json", action="store_true", help="print the summary as JSON")


def run(args: argparse.Namespace) -> int:
    """Run one consumer command; returns the exit status."""
    _quiet()
    from beyonder.serving.recommend import RecommendError

    try:
        if args.command == "recommend":
            return _recommend(args)
        if args.command == "embed":
            return _embed(args)
        return _finetune(args)
    except (RecommendError, MissingExtra) as exc:
        return _fail(args.command, str(exc))
    except Exception as exc:
        # only a loaded MLflow raises its errors (the light install has none)
        mlflow_errors = sys.modules.get("mlflow.exceptions")
        if mlflow_errors is not None and isinstance(exc, mlflow_errors.MlflowException):
            return _fail(args.command, first_line(exc.message) or "error")
        raise


def _fail(command: str, message: str) -> int:
    print(f"beyonder {command}: {first_line(message) or 'error'}", file=sys.stderr)
    return USER_ERROR


def _quiet() -> None:
    """No telemetry, no TensorFlow/MLflow chatter on stderr (errors still show)."""
    from beyonder.quiet import quiet_environment

    quiet_environment()
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    warnings.filterwarnings("ignore")
    for name in ("mlflow", "alembic", "absl", "tensorflow"):
        logging.getLogger(name).setLevel(logging.ERROR)


@contextlib.contextmanager
def _caps_on_stderr(args: argparse.Namespace) -> Iterator[None]:
    """Print each size cap that applied to the table (``CapWarning``) as one line on stderr:
    the answer on stdout stays as it was, and the user learns what the model did not read."""
    from beyonder.data.limits import CapWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CapWarning)
        yield
    for warning in caught:
        if issubclass(warning.category, CapWarning):
            print(
                f"beyonder {args.command}: warning: {args.path}: {warning.message}", file=sys.stderr
            )


def _read(args: argparse.Namespace):
    from beyonder.serving.recommend import read_table

    return read_table(args.path, args.target)


def _recommend(args: argparse.Namespace) -> int:
    from beyonder.evaluation.decisions import DecisionError, check_budget
    from beyonder.labels.metrics import DEFAULT_METRIC, check_metric
    from beyonder.serving.recommend import as_json, recommend

    budget = None
    try:  # a bad option fails before the file is read or the model loaded
        check_budget(args.time_budget)
        check_metric(args.metric)
        if args.verify < 0:
            raise DecisionError(
                f"verify must be between 0 and the portfolio's size, got {args.verify}"
            )
        if args.budget is not None:
            from beyonder.evaluation.budget import check_budget_value

            budget = check_budget_value(args.budget)
            if args.verify:
                raise DecisionError(
                    "give --budget or --verify, not both (--verify K is the budget's simple form)"
                )
            if args.metric != DEFAULT_METRIC:
                raise DecisionError(
                    f"--budget combines measured accuracy with the predicted one, so it ranks by accuracy, "
                    f"not {args.metric} (--verify K measures the top picks' {args.metric})"
                )
        if args.plot:
            from beyonder.serving.plot import check_plot_path

            check_plot_path(args.plot)
    except ValueError as exc:  # DecisionError, MetricError, BudgetError, a bad plot path
        return _fail(args.command, str(exc))
    frame, target = _read(args)  # a bad file fails before the model is loaded
    with _caps_on_stderr(args):
        table = recommend(
            frame, target=target, model=args.model, time_budget=args.time_budget, verify=args.verify,
            dask_address=args.dask_address, budget=budget, metric=args.metric,
        )  # fmt: skip
    table.attrs["model"] = args.model
    if args.plot:
        from beyonder.serving.plot import title_of, write_plot

        write_plot(table, args.plot, title_of(table, args.path))
    if args.json:
        print(
            json.dumps(
                {"path": args.path, **as_json(table), **({"plot": args.plot} if args.plot else {})},
                indent=2,
            )
        )
        return 0
    print(
        f"{args.path}: {len(frame)} rows, target {target!r}, "
        f"{table.attrs.get('subsamples')} subsamples averaged; model {args.model}"
    )
    coverage = table.attrs.get("interval_coverage")
    interval = f"{coverage:.0%} interval" if coverage else "interval"
    verified = "measured_accuracy" in table.columns
    combined = "estimated_accuracy" in table.columns
    metric = table.attrs.get("metric", DEFAULT_METRIC)
    ranked_by = f"predicted_{metric}" if metric != DEFAULT_METRIC else None
    header = (
        f"{'rank':>4}  {'classifier':<16}" + (f"{metric:>20}" if ranked_by else "")
        + f"{'accuracy':>10}{'spread':>9}{interval:>17}{'fit/fold':>11}{'whole table':>13}"
        + (f"{'estimate':>10}{'its ' + interval:>21}" if combined else "")
        + (f"{'measured (CV)':>16}" if verified else "")
        + (f"  {'on':<8}" if combined else "")
    )  # fmt: skip
    print(header)
    ranked = table[table["rank"] > 0]
    for row in ranked.itertuples(index=False):
        bounds = (
            "-"
            if np.isnan(row.accuracy_low)
            else f"[{row.accuracy_low:.3f}, {row.accuracy_high:.3f}]"
        )
        line = f"{row.rank:>4}  {row.classifier:<16}"
        if ranked_by:
            value = getattr(row, ranked_by)
            line += f"{'- (' + row.metric_note + ')' if np.isnan(value) else f'{value:.3f}':>20}"
        line += (
            f"{row.predicted_accuracy:>10.3f}{row.spread:>9.3f}{bounds:>17}"
            f"{_seconds(row.predicted_fit_time):>11}{_seconds(row.predicted_table_fit_time):>13}"
        )
        if combined:
            line += f"{row.estimated_accuracy:>10.3f}{f'[{row.estimated_low:.3f}, {row.estimated_high:.3f}]':>21}"
        if verified:
            measured = row.measured_accuracy
            line += (
                f"{'-' if np.isnan(measured) else f'{measured:.3f} +- {row.measured_std:.3f}':>16}"
            )
        if combined:
            line += f"  {row.measured_tier.split(',')[0] if row.measured_tier else '':<8}"
        print(line)
    if ranked_by:
        print(f"ranked by predicted {metric}")
    k = table.attrs.get("verified", 0)
    if table.attrs.get("budget") is not None:
        measurements = table.attrs.get("measurements") or []
        print(
            f"budget {table.attrs['budget']:g} CPU s: {len(measurements)} measurement(s) took "
            f"{table.attrs.get('budget_spent', 0.0):.2f} s (brute force, CV of every classifier on a "
            f"{table.attrs.get('sample_rows')}-row sample, is predicted to take "
            f"{table.attrs.get('brute_force_seconds', float('nan')):.2f} s); ranked by prediction combined with them"
        )
        from beyonder.evaluation.budget import STOPS

        if table.attrs.get("budget_stopped") in STOPS:
            print(f"stopped: {STOPS[table.attrs['budget_stopped']]}")
        for item in measurements:
            where = f"{item['rows']} rows ({item['folds']}-fold CV)"
            if item["error"]:
                print(f"could not measure {item['classifier']} on {where}: {item['error']}")
            else:
                print(
                    f"measured {item['classifier']} on {where}: {item['accuracy']:.3f} in {item['cv_seconds']:.2f} s"
                )
    elif k:
        seconds = float(np.nansum(table["measured_cv_seconds"]))
        how = (
            "every classifier ranked by its prediction combined with them"
            if combined
            else f"ranked by measured {metric}"
        )
        print(
            f"the top {k} were cross-validated on one sample ({seconds:.1f} s of single-threaded fits) and {how}"
        )
        for item in table.attrs.get("measurements") or []:
            if item["error"]:
                print(f"could not measure {item['classifier']}: {item['error']}")
    close = table.attrs.get("too_close_to_call") or []
    if len(close) > 1:
        print(
            f"too close to call by prediction: {', '.join(close)} (their intervals reach the top one's)"
        )
    for item in table.attrs.get("left_out") or []:
        print(f"left out: {item['classifier']}: {item['reason']}")
    kernel = table.attrs.get("best_svm_kernel")
    print(f"best SVM kernel: {kernel}" if kernel else "best SVM kernel: (no SVM in the portfolio)")
    for item in table.attrs.get("regularisation") or []:  # a model with regularisation heads
        if item["suggested_C"] is not None:
            print(
                f"{item['classifier']}: suggested C = {item['suggested_C']:g} (predicted accuracy "
                f"{item['predicted_accuracy']:.3f}; at the default C = 1: {item['predicted_accuracy_default']:.3f})"
            )
    if args.plot:
        print(f"plot: {args.plot}")
    return 0


def _seconds(value: float) -> str:
    if np.isnan(value):
        return "-"
    return (
        f"{value * 1000:.1f} ms"
        if value < 1
        else f"{value:.2f} s"
        if value < 600
        else f"{value / 60:.0f} min"
    )


def _embed(args: argparse.Namespace) -> int:
    from beyonder.serving.recommend import load_recommender

    frame, target = _read(args)
    with _caps_on_stderr(args):
        vector = load_recommender(args.model).embed(frame, target)
    if args.json:
        payload = {
            "path": args.path,
            "target": target,
            "rows": len(frame),
            "model": args.model,
            "dim": int(vector.shape[0]),
            "embedding": [float(v) for v in vector],
        }
        print(json.dumps(payload))
    else:
        print(" ".join(f"{v:.6g}" for v in vector))
    return 0


def _finetune(args: argparse.Namespace) -> int:
    from beyonder.serving import finetune as ft
    from beyonder.serving.recommend import load_recommender

    labels = ft.read_labels(args.labels)
    if args.datasets and "dataset" not in labels.columns:
        raise ft.FinetuneError("--datasets needs labels with a dataset column")
    if args.samples and "sample_id" not in labels.columns:
        raise ft.FinetuneError("--samples needs labels with a sample_id column")
    if args.unfreeze < 0:
        raise ft.FinetuneError("--unfreeze must be 0 or more")
    requested = (
        [c.strip() for c in args.classifiers.split(",") if c.strip()] if args.classifiers else None
    )
    base = load_recommender(args.model, cache=False)
    classifiers = ft.portfolio(
        base.estimator.config.classifiers, list(labels["classifier"]), requested
    )
    if args.datasets:
        data = ft.from_datasets(
            labels, args.datasets, base, classifiers, args.target, args.per_dataset
        )
    else:
        data = ft.from_sample_index(labels, args.samples, classifiers, args.root)
    summary = ft.register_finetuned(
        base,
        data,
        base_model=args.model,
        labels_path=args.labels,
        epochs=args.epochs,
        unfreeze=args.unfreeze,
        learning_rate=args.learning_rate,
        alias=args.alias,
        root=args.root,
    )
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        loss = summary["loss"][-1] if summary["loss"] else float("nan")
        print(
            f"beyonder finetune: registered {summary['name']} version {summary['version']} as "
            f"{summary['alias']} ({summary['samples']} samples of {summary['groups']} datasets, "
            f"{len(summary['classifiers'])} classifiers, {summary['epochs']} epochs, "
            f"final loss {loss:.4f}; trained: {', '.join(summary['trainable_layers'])})"
        )
    return 0
