"""The typed params layer (``beyonder/params.py``): one home for every default, equal to the
shipped ``params.yaml``; typos and wrong types stop a command with one line that says where."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from beyonder import params as params_module
from beyonder.data.cleaning import CleaningConfig
from beyonder.data.sampling import bootstrap_samples
from beyonder.params import (
    ImputeParams,
    ImputerParams,
    NoiseParams,
    Params,
    ParamsError,
    SampleParams,
    TrainParams,
    load_params,
    parse_params,
)
from beyonder.selector.inference import CONFIG_FILE, BeyonderConfig, read_config, write_config
from beyonder.serving.recommend import Recommender

REPO = Path(__file__).resolve().parents[1]
SHIPPED = yaml.safe_load((REPO / "params.yaml").read_text())


def _error(raw: dict) -> str:
    with pytest.raises(ParamsError) as info:
        parse_params(raw)
    return str(info.value)


def test_the_defaults_are_the_shipped_params_and_every_knob_is_written_there() -> None:
    """Equal as plain data: the same keys both ways and the same values, so a default can
    neither drift from ``params.yaml`` nor hide from it."""
    assert dataclasses.asdict(Params()) == SHIPPED
    assert load_params(REPO / "params.yaml") == Params()


def test_library_defaults_follow_the_params_sections() -> None:
    """The classes other code builds directly take their defaults from the same dataclasses."""
    train = TrainParams()
    config = BeyonderConfig()
    assert {
        f.name: getattr(config, f.name) for f in dataclasses.fields(TrainParams)
    } == dataclasses.asdict(train)
    assert (config.epochs, config.views, config.dropout) == (
        SHIPPED["train"]["epochs"],
        SHIPPED["train"]["views"],
        SHIPPED["train"]["dropout"],
    )
    assert dataclasses.asdict(CleaningConfig()) == SHIPPED["clean"]
    recommender = Recommender(estimator=None)
    assert (recommender.sample_rows, recommender.replace, recommender.subsamples) == (
        SHIPPED["sample"]["rows"], SHIPPED["sample"]["replace"], SHIPPED["sample"]["subsamples"],
    )  # fmt: skip
    defaults = {p.name: p.default for p in inspect.signature(bootstrap_samples).parameters.values()}
    assert (defaults["rows"], defaults["per_dataset"], defaults["replace"]) == (
        SampleParams.rows, SampleParams.per_dataset, SampleParams.replace,
    )  # fmt: skip


def test_a_partial_section_keeps_the_other_defaults_and_ints_pass_for_floats() -> None:
    params = parse_params(
        {"train": {"epochs": 3, "learning_rate": 1}, "augment": {"noise": {"share": 0}}}
    )
    assert params.train == dataclasses.replace(TrainParams(), epochs=3, learning_rate=1.0)
    assert isinstance(params.train.learning_rate, float)
    assert params.augment.noise == NoiseParams(share=0.0)
    assert params.sample == SampleParams()
    assert parse_params(None) == parse_params({}) == parse_params({"train": None}) == Params()


def test_an_unknown_key_is_one_line_naming_file_section_and_key() -> None:
    known = ", ".join(f.name for f in dataclasses.fields(TrainParams))
    assert (
        _error({"train": {"epoch": 3}})
        == f"params.yaml: train: unknown key 'epoch' (known: {known})"
    )
    assert _error({"augment": {"noise": {"shares": 0.1}}}).startswith(
        "params.yaml: augment.noise: unknown key 'shares' (known: share, "
    )
    assert _error({"trian": {}}).startswith(
        "params.yaml: unknown section 'trian' (known: seed, ingest, "
    )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            {"train": {"epochs": "forty"}},
            "params.yaml: train: 'epochs' must be int, got str 'forty'",
        ),
        ({"train": {"epochs": 2.5}}, "params.yaml: train: 'epochs' must be int, got float 2.5"),
        ({"train": {"prior_init": 1}}, "params.yaml: train: 'prior_init' must be bool, got int 1"),
        ({"sample": {"rows": True}}, "params.yaml: sample: 'rows' must be int, got bool True"),
        (
            {"label": {"classifiers": ["knn", 3]}},
            "params.yaml: label: 'classifiers' must be a list of str, got list ['knn', 3]",
        ),
        ({"label": {"n_folds": "3"}}, "params.yaml: label: 'n_folds' must be int, got str '3'"),
        ({"seed": "42"}, "params.yaml: 'seed' must be int, got str '42'"),
        ({"train": 5}, "params.yaml: train: expected a mapping, got int 5"),
        (
            {"ingest": {"openml": {"max_rows": "many"}}},
            "params.yaml: ingest.openml: 'max_rows' must be int or null, got str 'many'",
        ),
    ],
)
def test_a_wrong_type_is_one_line_naming_file_section_and_key(raw: dict, message: str) -> None:
    assert _error(raw) == message


def test_optional_values_take_null_and_unions_take_either() -> None:
    params = parse_params(
        {"label": {"fit_timeout": None}, "compute": {"memory_limit": 4_000_000_000}}
    )
    assert params.label.fit_timeout is None
    assert params.compute.memory_limit == 4_000_000_000
    assert parse_params({"ingest": {"openml": {"suite": 99}}}).ingest.openml.suite == 99


def test_load_params_names_the_file_and_reads_what_dvc_exp_run_set_writes(tmp_path) -> None:
    """``dvc exp run -S train.epochs=3`` rewrites ``params.yaml``: the parser sees a file."""
    edited = yaml.safe_load((REPO / "params.yaml").read_text())
    edited["train"]["epochs"] = 3
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(edited))
    assert load_params(path).train.epochs == 3
    (tmp_path / "odd.yaml").write_text("train:\n  epoch: 3\n")
    with pytest.raises(ParamsError) as info:
        load_params(tmp_path / "odd.yaml")
    assert str(info.value).startswith(
        f"{tmp_path / 'odd.yaml'}: train: unknown key 'epoch' (known: rows, "
    )
    (tmp_path / "list.yaml").write_text("- 1\n")
    with pytest.raises(ParamsError) as info:
        load_params(tmp_path / "list.yaml")
    assert str(info.value) == f"{tmp_path / 'list.yaml'}: expected a mapping at the top level"
    (tmp_path / "broken.yaml").write_text("train: [1,\n")
    with pytest.raises(ParamsError) as info:
        load_params(tmp_path / "broken.yaml")
    assert str(info.value).startswith(f"{tmp_path / 'broken.yaml'}: not valid YAML: ")
    assert "\n" not in str(info.value)


def test_to_yaml_round_trips() -> None:
    params = parse_params({"sample": {"per_dataset": 4}, "ingest": {"local": {"folders": ["a"]}}})
    assert parse_params(yaml.safe_load(params.to_yaml())) == params


def test_a_saved_config_without_newer_knobs_still_loads(tmp_path) -> None:
    """``read_config`` on a model saved before ``landmarks``, ``prior_init`` and
    ``dataset_targets`` existed: they take their defaults, the saved values stay."""
    config = BeyonderConfig(epochs=7, views=4, dropout=0.0, classifiers=["knn"], seed=3)
    write_config(config, tmp_path)
    saved = json.loads((tmp_path / CONFIG_FILE).read_text())
    for newer in ("landmarks", "prior_init", "dataset_targets"):
        saved.pop(newer)
    (tmp_path / CONFIG_FILE).write_text(json.dumps(saved))
    assert read_config(tmp_path) == config


def test_the_command_prints_one_line_for_a_bad_params_file(tmp_path) -> None:
    """Checked before any Prefect server starts: one line on stderr, exit status 2."""
    bad = tmp_path / "params.yaml"
    bad.write_text("sample:\n  row: 500\n")
    result = subprocess.run(
        [sys.executable, "-m", "beyonder.cli", "sample", "--params", str(bad), "--root", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"beyonder sample: {bad}: sample: unknown key 'row' (known: rows, per_dataset, min_rows, replace, subsamples)"
    ]
    assert "Traceback" not in result.stdout + result.stderr


# --------------------------------------------------------------------------- one home per default

SECTIONS = [
    c for c in vars(params_module).values()
    if isinstance(c, type) and dataclasses.is_dataclass(c) and c.__module__ == params_module.__name__
]  # fmt: skip
"""Every dataclass of ``beyonder/params.py``: the sections and their parts."""

CODE = sorted(p for folder in ("beyonder", "flows", "bench") for p in (REPO / folder).rglob("*.py"))

OWN_DEFAULTS = {
    (
        "beyonder/selector/model.py",
        "AttentionBlock.__init__",
        "dropout",
    ): "a Keras layer's own default",
    ("beyonder/selector/model.py", "AxialBlock.__init__", "dropout"): "a Keras layer's own default",
    (
        "beyonder/selector/model.py",
        "build_model",
        "dropout",
    ): "no dropout unless asked; Beyonder passes its config's",
    (
        "beyonder/imputer/imputation.py",
        "_layers.CellBlock.__init__",
        "dropout",
    ): "a Keras layer's own default",
    (
        "beyonder/selector/finetune.py",
        "finetune_estimator",
        "learning_rate",
    ): "fine-tuning's own knob",
    ("beyonder/serving/finetune.py", "finetune", "learning_rate"): "fine-tuning's own knob",
    (
        "beyonder/serving/finetune.py",
        "register_finetuned",
        "learning_rate",
    ): "fine-tuning's own knob",
}
"""Literal defaults that share a name and value with a params field but are another knob."""


def _literal_defaults(path: Path) -> list[tuple[str, str, object, int]]:
    """(enclosing function or class, name, value, line) of every literal default in ``path``:
    function parameters, dataclass-style class fields and ``mapping.get("key", value)``."""
    found = []

    def visit(node: ast.AST, where: str) -> None:
        pairs: list[tuple[str, ast.AST]] = []
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            where = f"{where}.{node.name}" if where else node.name
            args = node.args
            positional = args.posonlyargs + args.args
            pairs += zip(
                (a.arg for a in positional[len(positional) - len(args.defaults) :]),
                args.defaults,
                strict=True,
            )
            pairs += [
                (a.arg, d)
                for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)
                if d is not None
            ]
        elif isinstance(node, ast.ClassDef):
            where = f"{where}.{node.name}" if where else node.name
            pairs += [
                (s.target.id, s.value) for s in node.body
                if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name) and s.value is not None
            ]  # fmt: skip
        elif (
            isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get"
            and len(node.args) == 2 and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
        ):  # fmt: skip
            pairs.append((node.args[0].value, node.args[1]))
        for name, value in pairs:
            if isinstance(value, ast.Constant) and value.value is not None:
                found.append((where, name, value.value, value.lineno))
        for child in ast.iter_child_nodes(node):
            visit(child, where)

    visit(ast.parse(path.read_text()), "")
    return found


def test_no_other_module_repeats_a_params_default() -> None:
    """A default lives in ``beyonder/params.py`` only: elsewhere a parameter, a field or a
    ``.get(key, default)`` that is the same knob names it (``EvaluateParams.n_boot``), so
    changing it there changes it everywhere. Flagged: a literal default under a params
    field's name with that field's value (``OWN_DEFAULTS``: the same value for another knob)."""
    defaults: dict[str, set] = {}
    for section in SECTIONS:
        for f in dataclasses.fields(section):
            if f.default is not dataclasses.MISSING and f.default is not None:
                defaults.setdefault(f.name, set()).add(f.default)
    repeated = []
    for path in CODE:
        relative = path.relative_to(REPO).as_posix()
        if relative == "beyonder/params.py":
            continue
        for where, name, value, line in _literal_defaults(path):
            if (relative, where, name) in OWN_DEFAULTS or value not in defaults.get(name, ()):
                continue
            if any(type(value) is type(d) for d in defaults[name] if d == value):
                repeated.append(f"{relative}:{line} {where}: {name}={value!r}")
    assert repeated == []


def test_a_class_that_extends_a_params_section_keeps_its_defaults() -> None:
    """``BeyonderConfig`` extends ``TrainParams``, ``ImputerConfig`` extends ``ImputerParams``:
    what a saved model also needs is theirs, every inherited knob keeps the section's default.
    Checked on every class of the code whose base is a params dataclass, and no dataclass
    elsewhere mirrors a section (three or more of its fields) without extending it."""
    from beyonder.imputer.imputation import ImputerConfig

    sections = {s.__name__: s for s in SECTIONS}
    extending = []
    for path in CODE:
        if path.relative_to(REPO).as_posix() == "beyonder/params.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ClassDef):
                continue
            bases = {
                b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases
            }
            own = {
                s.target.id
                for s in node.body
                if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name)
            }
            for name, section in sections.items():
                inherited = own & {f.name for f in dataclasses.fields(section)}
                if name in bases:
                    extending.append(node.name)
                    assert not inherited, (
                        f"{path.name}: {node.name} redefines {sorted(inherited)} of {name}"
                    )
                elif len(inherited) >= 3 and not bases & set(sections):
                    pytest.fail(
                        f"{path.name}: {node.name} repeats {sorted(inherited)} of {name} without extending it"
                    )
    assert {"BeyonderConfig", "ImputerConfig"} <= set(extending)
    assert issubclass(
        ImputeParams, ImputerParams
    )  # the section: the imputer's knobs and the stage's
    assert not set(vars(ImputeParams)["__annotations__"]) & {
        f.name for f in dataclasses.fields(ImputerParams)
    }
    for config, section, shipped in ((BeyonderConfig(), TrainParams, SHIPPED["train"]),
                                     (ImputerConfig(), ImputerParams, SHIPPED["impute"])):  # fmt: skip
        names = [f.name for f in dataclasses.fields(section)]
        assert {n: getattr(config, n) for n in names} == {n: shipped[n] for n in names}
    assert set(ImputeParams().imputer()) == {f.name for f in dataclasses.fields(ImputerParams)}
    assert {f.name for f in dataclasses.fields(ImputerConfig)} - {
        f.name for f in dataclasses.fields(ImputerParams)
    } == {"seed"}


def test_overrides_replace_the_files_values_and_are_checked_like_them(tmp_path) -> None:
    """``--set train.epochs=12``: the file's other values stay; a bad key or value is the same
    one-line error as in the file, naming the override."""
    from beyonder.params import ParamsError, apply_overrides, load_params

    path = tmp_path / "params.yaml"
    path.write_text("seed: 3\ntrain:\n  epochs: 40\n  patience: 4\n")
    params = load_params(path, ["train.epochs=12", "measure.folds=5"])
    assert (params.train.epochs, params.train.patience, params.seed) == (12, 4, 3)
    assert params.measure.folds == 5
    assert load_params(path).train.epochs == 40  # the file itself is untouched
    assert apply_overrides(None, ["train.epochs=2"]) == {"train": {"epochs": 2}}
    with pytest.raises(ParamsError, match="is not SECTION.KEY=VALUE"):
        load_params(path, ["epochs"])
    with pytest.raises(ParamsError, match="with train.epocs=12.*epocs"):
        load_params(path, ["train.epocs=12"])
    with pytest.raises(ParamsError, match="train.epochs=many"):
        load_params(path, ["train.epochs=many"])
