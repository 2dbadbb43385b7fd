"""The typed params layer (``beyonder/params.py``): one home for every default, equal to the
shipped ``params.yaml``; typos and wrong types stop a command with one line that says where."""

from __future__ import annotations

import dataclasses
import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from beyonder.data.cleaning import CleaningConfig
from beyonder.data.sampling import bootstrap_samples
from beyonder.params import (
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
    assert {f.name: getattr(config, f.name) for f in dataclasses.fields(TrainParams)} == dataclasses.asdict(train)
    assert (config.epochs, config.views, config.dropout) == (SHIPPED["train"]["epochs"], SHIPPED["train"]["views"], SHIPPED["train"]["dropout"])
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
    params = parse_params({"train": {"epochs": 3, "learning_rate": 1}, "augment": {"noise": {"share": 0}}})
    assert params.train == dataclasses.replace(TrainParams(), epochs=3, learning_rate=1.0)
    assert isinstance(params.train.learning_rate, float)
    assert params.augment.noise == NoiseParams(share=0.0)
    assert params.sample == SampleParams()
    assert parse_params(None) == parse_params({}) == parse_params({"train": None}) == Params()


def test_an_unknown_key_is_one_line_naming_file_section_and_key() -> None:
    known = ", ".join(f.name for f in dataclasses.fields(TrainParams))
    assert _error({"train": {"epoch": 3}}) == f"params.yaml: train: unknown key 'epoch' (known: {known})"
    assert _error({"augment": {"noise": {"shares": 0.1}}}).startswith(
        "params.yaml: augment.noise: unknown key 'shares' (known: share, "
    )
    assert _error({"trian": {}}).startswith("params.yaml: unknown section 'trian' (known: seed, ingest, ")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"train": {"epochs": "forty"}}, "params.yaml: train: 'epochs' must be int, got str 'forty'"),
        ({"train": {"epochs": 2.5}}, "params.yaml: train: 'epochs' must be int, got float 2.5"),
        ({"train": {"prior_init": 1}}, "params.yaml: train: 'prior_init' must be bool, got int 1"),
        ({"sample": {"rows": True}}, "params.yaml: sample: 'rows' must be int, got bool True"),
        ({"label": {"classifiers": ["knn", 3]}}, "params.yaml: label: 'classifiers' must be a list of str, got list ['knn', 3]"),
        ({"label": {"n_folds": "3"}}, "params.yaml: label: 'n_folds' must be int, got str '3'"),
        ({"seed": "42"}, "params.yaml: 'seed' must be int, got str '42'"),
        ({"train": 5}, "params.yaml: train: expected a mapping, got int 5"),
        ({"ingest": {"openml": {"max_rows": "many"}}}, "params.yaml: ingest.openml: 'max_rows' must be int or null, got str 'many'"),
    ],
)
def test_a_wrong_type_is_one_line_naming_file_section_and_key(raw: dict, message: str) -> None:
    assert _error(raw) == message


def test_optional_values_take_null_and_unions_take_either() -> None:
    params = parse_params({"label": {"fit_timeout": None}, "compute": {"memory_limit": 4_000_000_000}})
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
    assert str(info.value).startswith(f"{tmp_path / 'odd.yaml'}: train: unknown key 'epoch' (known: rows, ")
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
