"""What needs the ``pipeline`` extra says so in one line, before anything heavy is imported.

The whole light install is built and used in ``tests/test_light_install.py`` (slow); here the
missing modules are simulated by hiding them from ``importlib.util.find_spec``, so the quick
loop covers every command's check."""

from __future__ import annotations

import importlib.util

import pytest

from beyonder import errors
from beyonder.cli import NEEDS, PIPELINE_MODULES, STAGES, main

HIDDEN = set(PIPELINE_MODULES)


@pytest.fixture
def without_the_extra(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        errors.importlib.util,
        "find_spec",
        lambda name, *a: None if name in HIDDEN else real(name, *a),
    )


def test_every_stage_and_the_keras_commands_need_the_extra() -> None:
    assert all(NEEDS[stage] == PIPELINE_MODULES for stage in STAGES)
    assert {"tensorflow", "keras"} <= set(NEEDS["impute"]) and "mlflow" in NEEDS["finetune"]
    assert not {"recommend", "embed", "ship-labels"} & set(NEEDS)


@pytest.mark.parametrize(
    "argv",
    [
        ["train"],
        ["refit"],
        ["evaluate", "--corpus", "x"],
        ["impute", "t.csv"],
        ["finetune", "--labels", "l.csv", "--datasets", "d"],
    ],  # fmt: skip
    ids=lambda argv: " ".join(argv[:2]),
)
def test_a_command_without_its_extra_is_one_line(without_the_extra, capsys, argv) -> None:
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1
    assert err.startswith(f"beyonder {argv[0]}: this command needs the pipeline extra (")
    assert errors.PIPELINE_EXTRA in err


def test_require_extra_names_only_what_is_missing(without_the_extra) -> None:
    errors.require_extra("numpy", ["numpy", "pandas"])  # present: nothing raised
    with pytest.raises(
        errors.MissingExtra,
        match=r"the imputer needs the pipeline extra \(tensorflow not installed\)",
    ):
        errors.require_extra("the imputer", ["numpy", "tensorflow"])
