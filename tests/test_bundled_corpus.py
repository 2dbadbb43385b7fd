"""The real corpus bundled in ``corpus/``: complete, readable by the pipeline's own local
source, faithful to its sources, and split by family."""

from __future__ import annotations

import json
from itertools import combinations
from pathlib import Path

import pandas as pd
import pytest
import yaml

from beyonder.data.datasets import RawDataset
from beyonder.data.sources.bundle import TARGET_COLUMN, build_bundle, bundled_frame
from beyonder.data.sources.local import load_local
from beyonder.data.splits import family_of

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "corpus"
SHARED = REPO.parent / "shared" / "datasets"
PARAMS = yaml.safe_load((REPO / "params.yaml").read_text())
FAMILIES = tuple(PARAMS["split"]["families"])


def _manifest(name: str) -> list[dict]:
    return json.loads((CORPUS / name / "manifest.json").read_text())


def test_default_ingest_reads_the_bundle() -> None:
    local = PARAMS["ingest"]["local"]
    assert local["enabled"] and local["folders"] == ["corpus/uci", "corpus/statlib_binarized"]
    assert not any(PARAMS["ingest"][s]["enabled"] for s in ("sklearn", "synthetic", "openml"))


@pytest.mark.parametrize(("folder", "count"), [("uci", 67), ("statlib_binarized", 173)])
def test_every_bundled_file_loads_with_its_target_last(folder: str, count: int) -> None:
    manifest = {e["name"]: e for e in _manifest(folder)}
    loaded = list(load_local(CORPUS / folder, TARGET_COLUMN))
    assert len(loaded) == len(manifest) == count
    for dataset in loaded:
        assert isinstance(dataset, RawDataset), dataset
        entry = manifest[dataset.name]
        assert dataset.target == TARGET_COLUMN == dataset.frame.columns[-1]
        assert dataset.frame.shape == (entry["rows"], entry["features"] + 1)
        assert dataset.frame[TARGET_COLUMN].nunique() == entry["classes"] >= 1


def test_statlib_families_stay_whole_under_the_split_patterns() -> None:
    """Two tables of one manifest family must land in one split family (a coarser grouping
    is allowed: it only holds out more together), and ``autoprice`` goes with UCI ``autos``."""
    entries = _manifest("statlib_binarized")
    assert all("family" in e for e in entries)
    for a, b in combinations(entries, 2):
        if a["family"] == b["family"]:
            assert family_of(a["name"], FAMILIES) == family_of(b["name"], FAMILIES), (a, b)
    assert family_of("autoprice", FAMILIES) == family_of("autos", FAMILIES)
    uci = {e["name"] for e in _manifest("uci")}
    for entry in entries:  # no StatLib table is put in a family with an unrelated UCI set
        family = family_of(entry["name"], FAMILIES)
        assert all(family_of(u, FAMILIES) != family for u in uci - {"autos"}), entry["name"]


def test_target_override_and_a_feature_named_class(tmp_path: Path) -> None:
    """The target chosen at bundling time becomes ``class``; a feature already called so is
    renamed instead of being mistaken for the target."""
    source = tmp_path / "src"
    source.mkdir()
    pd.DataFrame({"class": [1, 2, 3, 4], "religion": ["a", "b", "a", "b"], "x": [0.1, 0.2, 0.3, 0.4]}).to_csv(
        source / "flags.csv", index=False
    )
    entries, failures = build_bundle(source, tmp_path / "out", {"flags": "demo"}, {"flags": "religion"})
    assert not failures and entries[0]["source_target"] == "religion" and entries[0]["family"] == "demo"
    [dataset] = list(load_local(tmp_path / "out"))
    assert list(dataset.frame.columns) == ["class_feature", "x", "class"]
    assert dataset.frame["class"].tolist() == ["a", "b", "a", "b"]


@pytest.mark.needs_shared
@pytest.mark.skipif(not SHARED.is_dir(), reason="needs ../shared/datasets (the bundle's sources)")
@pytest.mark.parametrize(
    ("folder", "overrides"), [("uci", {"flags": "religion"}), ("statlib_binarized", {})]
)
def test_bundle_equals_its_sources(folder: str, overrides: dict[str, str]) -> None:
    """Reading the sources (ARFF/CSV) and reading the bundle give the same frames, dtypes
    included: the bundle is a faithful, compact copy."""
    sources = {d.name: d for d in load_local(SHARED / folder, TARGET_COLUMN, overrides)}
    bundled = {d.name: d for d in load_local(CORPUS / folder, TARGET_COLUMN)}
    assert sources.keys() == bundled.keys()
    for name, dataset in sources.items():
        pd.testing.assert_frame_equal(bundled_frame(dataset), bundled[name].frame)
