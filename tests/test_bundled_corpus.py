"""The corpus bundled in ``corpus/``: complete, readable by the pipeline's own local source,
usable by the cleaning stage, faithful to its sources, split by family, and with the synthetic
tasks in a folder of their own."""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from itertools import combinations
from pathlib import Path

import pandas as pd
import pytest
import yaml

from beyonder.data.cleaning import CleaningError, clean_dataset
from beyonder.data.datasets import LoadFailure, RawDataset
from beyonder.data.sources.bundle import (
    TARGET_COLUMN,
    build_bundle,
    read_manifest,
)
from beyonder.data.sources.local import load_local
from beyonder.data.splits import family_of
from beyonder.params import CleaningConfig
from beyonder.stages.ingest import storable

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "corpus"
SHARED = REPO.parent / "shared" / "datasets"
PARAMS = yaml.safe_load((REPO / "params.yaml").read_text())
FAMILIES = tuple(PARAMS["split"]["families"])
FOLDERS = {"uci": 67, "statlib_binarized": 173, "extra": 186, "extra_synthetic": 21}
EXTRA = ("extra", "extra_synthetic")
THYROID = {"hypothyroid", "sick", "pmlb__ann_thyroid"}
"""The one cross-corpus family of the extra tasks: the same Garvan thyroid patients."""


def _manifest(name: str) -> list[dict]:
    return json.loads((CORPUS / name / "manifest.json").read_text())


def test_default_ingest_reads_the_bundle() -> None:
    local = PARAMS["ingest"]["local"]
    assert local["enabled"] and local["folders"] == [f"corpus/{f}" for f in FOLDERS]
    assert not any(PARAMS["ingest"][s]["enabled"] for s in ("sklearn", "synthetic", "openml"))


@pytest.mark.parametrize(("folder", "count"), list(FOLDERS.items()))
def test_every_bundled_file_loads_and_cleans(folder: str, count: int) -> None:
    """Every file loads with its target last, as text, and the cleaning stage either cleans it
    or refuses it with a one-line reason. The extra tasks all clean with every class kept:
    their classes have at least 5 rows by construction, and a class called ``none`` is a class."""
    manifest = {e["name"]: e for e in _manifest(folder)}
    loaded = list(load_local(CORPUS / folder, TARGET_COLUMN))
    assert len(loaded) == len(manifest) == count
    assert len(list((CORPUS / folder).glob("*.parquet"))) == count
    for dataset in loaded:
        assert isinstance(dataset, RawDataset), dataset
        entry = manifest[dataset.name]
        assert dataset.target == TARGET_COLUMN == dataset.frame.columns[-1]
        assert dataset.frame.shape == (entry["rows"], entry["features"] + 1)
        assert isinstance(dataset.frame[TARGET_COLUMN].dtype, pd.StringDtype)
        assert dataset.frame[TARGET_COLUMN].nunique() == entry["classes"] >= 1
        try:
            _, report = clean_dataset(storable(dataset), CleaningConfig())
        except CleaningError as exc:
            assert folder not in EXTRA, (dataset.name, str(exc))
            assert str(exc) and "\n" not in str(exc)
            continue
        if folder in EXTRA:
            assert report["n_classes"] == entry["classes"], dataset.name
            assert report["rows_out"] == entry["rows"], dataset.name


def test_synthetic_tasks_are_exactly_those_of_extra_synthetic() -> None:
    """Reports keep synthetic tasks apart by folder, so the flag and the folder must agree,
    and a family never straddles the two folders."""
    real, synthetic = _manifest("extra"), _manifest("extra_synthetic")
    assert all(e["synthetic"] is False for e in real)
    assert all(e["synthetic"] is True for e in synthetic)
    assert not {e["family"] for e in real} & {e["family"] for e in synthetic}
    assert not {e["name"] for e in real} & {e["name"] for e in synthetic}
    for entry in real + synthetic:  # provenance travels with every file
        assert (
            entry["source_repo"] and entry["licence"] and entry["source_file"].endswith(".csv.gz")
        )


def test_statlib_families_stay_whole_under_the_split_patterns() -> None:
    """Two tables of one manifest family must land in one split family (a coarser grouping
    is allowed: it only holds out more together); tables of one study with a UCI set go with it."""
    entries = _manifest("statlib_binarized")
    assert all("family" in e for e in entries)
    for a, b in combinations(entries, 2):
        if a["family"] == b["family"]:
            assert family_of(a["name"], FAMILIES) == family_of(b["name"], FAMILIES), (a, b)
    # tables drawn from the same study as a UCI set are held out with it
    same_study = {
        "autoprice": "autos",
        "autohorse": "autos",
        "breasttumor": "breast.cancer",
        "cholesterol": "heart.c",
    }
    for statlib, uci_name in same_study.items():
        assert family_of(statlib, FAMILIES) == family_of(uci_name, FAMILIES), statlib
    uci = {e["name"] for e in _manifest("uci")}
    for entry in entries:  # no StatLib table is put in a family with an unrelated UCI set
        family = family_of(entry["name"], FAMILIES)
        if entry["name"] not in same_study:
            assert all(family_of(u, FAMILIES) != family for u in uci), entry["name"]


def test_extra_families_map_one_to_one_onto_split_families() -> None:
    """Each family of the extra manifests is exactly one split family: its tasks are held out
    together, and no pattern joins it to another extra family or to an unrelated UCI or StatLib
    table. The one cross-corpus family is the thyroid patients of UCI hypothyroid and sick."""
    extra = [e for folder in EXTRA for e in _manifest(folder)]
    groups: dict[str, set[str]] = defaultdict(set)
    for entry in extra:
        groups[entry["family"]].add(entry["name"])
    split_of = {e["name"]: family_of(e["name"], FAMILIES) for e in extra}
    for family, members in groups.items():
        assert len({split_of[m] for m in members}) == 1, (family, members)
    assert len({split_of[next(iter(m))] for m in groups.values()}) == len(groups)
    others = [e["name"] for folder in ("uci", "statlib_binarized") for e in _manifest(folder)]
    joined = {o for o in others if family_of(o, FAMILIES) in set(split_of.values())}
    assert joined == {"hypothyroid", "sick"}
    assert len({family_of(n, FAMILIES) for n in THYROID}) == 1
    assert family_of("local.pmlb__ann_thyroid", FAMILIES) == family_of("sick", FAMILIES)


def test_target_override_and_a_feature_named_class(tmp_path: Path) -> None:
    """The target chosen at bundling time becomes ``class``; a feature already called so is
    renamed instead of being mistaken for the target."""
    source = tmp_path / "src"
    source.mkdir()
    pd.DataFrame(
        {"class": [1, 2, 3, 4], "religion": ["a", "b", "a", "b"], "x": [0.1, 0.2, 0.3, 0.4]}
    ).to_csv(source / "flags.csv", index=False)
    manifest = [{"name": "flags", "family": "demo"}]
    entries, failures = build_bundle(source, tmp_path / "out", manifest, {"flags": "religion"})
    assert (
        not failures
        and entries[0]["source_target"] == "religion"
        and entries[0]["family"] == "demo"
    )
    [dataset] = list(load_local(tmp_path / "out"))
    assert list(dataset.frame.columns) == ["class_feature", "x", "class"]
    assert dataset.frame["class"].tolist() == ["a", "b", "a", "b"]


def test_manifest_driven_bundle(tmp_path: Path) -> None:
    """A source manifest keyed by file: integer-coded categories and numeric-looking nominal
    columns become text (codes read back as floats included), the target becomes text, the
    provenance fields travel, and the synthetic flag picks the datasets of each bundle."""
    source = tmp_path / "src"
    source.mkdir()
    (source / "pmlb__real.csv.gz").write_bytes(
        gzip.compress(b"code,day,x,class\n1,5,0.5,0\n2,,1.5,1\n1,6,2.5,1\n")
    )
    (source / "pmlb__gen.csv.gz").write_bytes(gzip.compress(b"a,class\n1,p\n0,q\n"))
    (source / "unlisted.csv").write_text("a,class\n1,p\n")
    manifest = [
        {"name": "real", "file": "pmlb__real.csv.gz", "synthetic": False, "family": "r",
         "licence": "MIT", "source_repo": "o/r", "categorical": ["day"],
         "categorical_integer_coded": ["code"]},
        {"name": "gen", "file": "pmlb__gen.csv.gz", "synthetic": True, "family": "g"},
    ]  # fmt: skip
    entries, failures = build_bundle(source, tmp_path / "real", manifest, synthetic=False)
    assert [e["name"] for e in entries] == ["pmlb__real"]
    assert [f["name"] for f in failures] == ["unlisted"] and "synthetic" in failures[0]["reason"]
    entry = entries[0]
    assert (entry["family"], entry["licence"], entry["source_repo"], entry["synthetic"]) == (
        "r",
        "MIT",
        "o/r",
        False,
    )
    assert (
        entry["categorical_integer_coded"] == ["code"]
        and entry["source_file"] == "pmlb__real.csv.gz"
    )
    [dataset] = list(load_local(tmp_path / "real"))
    frame = dataset.frame
    assert frame["code"].tolist() == ["1", "2", "1"] and frame["x"].dtype == float
    assert frame["day"].tolist()[::2] == ["5", "6"] and pd.isna(frame["day"][1])  # not "5.0"
    assert frame["class"].tolist() == ["0", "1", "1"]
    entries, _ = build_bundle(source, tmp_path / "gen", manifest, synthetic=True)
    assert [e["name"] for e in entries] == ["pmlb__gen"] and entries[0]["synthetic"] is True
    entries, failures = build_bundle(source, tmp_path / "all", manifest)
    assert len(entries) == 3 and not failures
    bad = [{**manifest[0], "categorical": ["nope"]}]
    entries, failures = build_bundle(source, tmp_path / "real", bad, synthetic=False)
    reasons = {f["name"]: f["reason"] for f in failures}
    assert not entries and reasons["pmlb__real"] == "nominal column(s) not in the file: nope"
    assert not list((tmp_path / "real").glob("*.parquet"))  # the stale file went with it


def _sources(folder: str) -> tuple[Path, dict[str, str], list[dict] | None, bool | None]:
    """The bundle command of each folder (corpus/README.md): source, overrides, manifest, choice."""
    if folder == "uci":
        return SHARED / "uci", {"flags": "religion"}, None, None
    if folder == "statlib_binarized":
        return SHARED / folder, {}, read_manifest(SHARED / folder / "manifest.json"), None
    return (
        SHARED / "extra",
        {},
        read_manifest(SHARED / "extra" / "manifest.json"),
        folder == "extra_synthetic",
    )


@pytest.mark.slow  # rebuilds the whole bundle from its sources
@pytest.mark.needs_shared
@pytest.mark.skipif(not SHARED.is_dir(), reason="needs ../shared/datasets (the bundle's sources)")
@pytest.mark.parametrize("folder", list(FOLDERS))
def test_bundle_equals_its_sources(folder: str, tmp_path: Path) -> None:
    """Bundling the sources again gives the same manifest and the same frames, dtypes
    included: the bundle is a faithful, compact copy."""
    source, overrides, manifest, synthetic = _sources(folder)
    entries, failures = build_bundle(source, tmp_path, manifest, overrides, synthetic)
    assert not failures
    assert json.loads((tmp_path / "manifest.json").read_text()) == _manifest(folder)
    described = {e.get("file", e["name"]): e for e in manifest or []}
    for entry in entries if manifest else []:  # the shapes the source's manifest promises
        expected = described.get(entry["source_file"]) or described[entry["name"]]
        assert [entry[k] for k in ("rows", "features")] == [
            expected[k] for k in ("rows", "features")
        ]
        assert entry["classes"] == expected.get("classes", entry["classes"])
    rebuilt = {d.name: d for d in load_local(tmp_path, TARGET_COLUMN)}
    bundled = {d.name: d for d in load_local(CORPUS / folder, TARGET_COLUMN)}
    assert rebuilt.keys() == bundled.keys() == {e["name"] for e in entries}
    for name, dataset in bundled.items():
        assert not isinstance(dataset, LoadFailure)
        pd.testing.assert_frame_equal(rebuilt[name].frame, dataset.frame)
