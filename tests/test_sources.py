"""Sources: hostile local files, scikit-learn sets, OpenML (faked, offline), synthetic data."""

from __future__ import annotations

import gzip
import json
import socket
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import openml
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from beyonder.data.datasets import LoadFailure, RawDataset
from beyonder.data.sources._arff import parse_arff
from beyonder.data.sources._common import SourceError
from beyonder.data.sources.local import load_local, sniff_delimiter
from beyonder.data.sources.openml_source import load_openml
from beyonder.data.sources.sklearn_sets import load_sklearn
from beyonder.data.sources.synthetic import (
    GENERATORS,
    SyntheticSpec,
    generate_dataset,
    load_synthetic,
)
from beyonder.storage import frame_hash

UCI = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "uci"

QUIRKY_ARFF = """% A Weka-era file with every quirk we know of
% CLASSINDEX: first
@relation 'quirky data'

@attribute 'Class Label' {'yes','no'}
@attribute size integer [1,10]
@attribute\tratio REAL [0,1]
@attribute 'free text' string
@attribute colour {'?',red,'dark blue'}
@attribute when date "yyyy-MM-dd"

@data
yes,3,0.5,'hello world',red,2020-01-01
no,?,0.25,?,'?',?
% a comment inside the data
'no',10,?,plain,'dark blue',2021-12-31
"""


def by_name(results: list) -> dict[str, RawDataset | LoadFailure]:
    return {r.name: r for r in results}


def write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


# --- local: ARFF ---------------------------------------------------------------------------


def test_quirky_arff_loads_with_classindex_first(tmp_path: Path) -> None:
    path = write(tmp_path, "quirky.arff", QUIRKY_ARFF)
    [result] = list(load_local(tmp_path))
    assert isinstance(result, RawDataset), result
    frame = result.frame
    assert result.name == "quirky"
    assert result.source == "local"
    assert result.target == "Class Label"
    assert result.origin == str(path)
    assert result.meta["format"] == "arff"
    assert result.meta["path"] == str(path)
    assert result.meta["target_rule"] == "classindex:first"
    assert list(frame.columns) == ["Class Label", "size", "ratio", "free text", "colour", "when"]
    assert frame.shape == (3, 6)
    assert frame["size"].dtype == np.float64 and frame["ratio"].dtype == np.float64
    assert frame["size"].isna().tolist() == [False, True, False]
    assert frame["free text"].tolist()[0] == "hello world"
    assert frame["free text"].isna().tolist() == [False, True, False]
    assert frame["colour"].tolist()[0] == "red" and frame["colour"].tolist()[2] == "dark blue"
    assert frame["colour"].isna().tolist() == [False, True, False]  # quoted '?' is missing too
    assert frame["when"].tolist()[0] == "2020-01-01"
    assert frame["Class Label"].tolist() == ["yes", "no", "no"]
    for column in ("Class Label", "free text", "colour", "when"):
        assert pd.api.types.is_string_dtype(frame[column].dtype)


def test_arff_target_defaults_to_last_and_classindex_no(tmp_path: Path) -> None:
    body = "@relation r\n@attribute a numeric\n@attribute b {x,y}\n@data\n1,x\n2,y\n"
    write(tmp_path, "plain.arff", body)
    write(tmp_path, "nope.arff", "% CLASSINDEX: no\n" + body)
    write(
        tmp_path,
        "second.arff",
        "% CLASSINDEX: second\n"
        + body.replace("@data", "@attribute c numeric\n@data")
        .replace("x\n", "x,0\n")
        .replace("y\n", "y,1\n"),
    )
    results = by_name(list(load_local(tmp_path)))
    assert results["plain"].target == "b"
    assert results["plain"].meta["target_rule"] == "last attribute"
    assert results["nope"].target == "b"
    assert results["second"].target == "b"
    assert results["second"].meta["target_rule"] == "classindex:second"


def test_truncated_arff_is_a_failure_naming_the_line(tmp_path: Path) -> None:
    body = "@relation r\n@attribute a numeric\n@attribute b numeric\n@attribute c {x,y}\n@data\n1,2,x\n3,4,y\n5,6"
    write(tmp_path, "cut.arff", body)
    write(tmp_path, "headcut.arff", "@relation r\n@attribute a numeric\n@attri")
    write(tmp_path, "good.csv", "a,class\n1,x\n2,y\n")
    results = by_name(list(load_local(tmp_path)))
    cut = results["cut"]
    assert isinstance(cut, LoadFailure)
    assert cut.reason.startswith("truncated ARFF: line 8:"), cut.reason
    assert "\n" not in cut.reason
    assert isinstance(results["headcut"], LoadFailure)
    assert "ARFF" in results["headcut"].reason
    assert isinstance(results["good"], RawDataset)  # the bad files did not stop it


def test_malformed_arff_reasons(tmp_path: Path) -> None:
    header = "@relation r\n@attribute a numeric\n@attribute c {x,y}\n@data\n"
    write(tmp_path, "undeclared.arff", header + "1,x\n2,z\n")
    write(tmp_path, "badnum.arff", header + "1,x\nabc,y\n")
    write(tmp_path, "badtype.arff", "@relation r\n@attribute a blob\n@data\n1\n")
    write(tmp_path, "nodata.arff", "@relation r\n@attribute a numeric\n@attribute c {x,y}\n")
    write(tmp_path, "rows0.arff", header)
    results = by_name(list(load_local(tmp_path)))
    assert all(isinstance(r, LoadFailure) for r in results.values()), results
    assert results["undeclared"].reason.startswith("malformed ARFF: line 6:")
    assert "'z'" in results["undeclared"].reason
    assert results["badnum"].reason.startswith("malformed ARFF: line 6: invalid numeric")
    assert "unknown type 'blob'" in results["badtype"].reason
    assert results["nodata"].reason.startswith("truncated ARFF: no @data")
    assert results["rows0"].reason.startswith("no data rows")


def test_arff_duplicate_attribute_names_are_suffixed(tmp_path: Path) -> None:
    write(
        tmp_path,
        "dup.arff",
        "@relation r\n@attribute a numeric\n@attribute a numeric\n@attribute 'a' {p,q}\n@data\n1,2,p\n",
    )
    [result] = list(load_local(tmp_path))
    assert isinstance(result, RawDataset), result
    assert list(result.frame.columns) == ["a", "a.1", "a.2"]
    assert result.target == "a.2"


def test_arff_fast_path_matches_liac() -> None:
    header = (
        "@relation r\n@attribute n numeric\n@attribute k {a,b,'?'}\n@attribute s string\n@data\n"
    )
    plain = header + "1.5,a,x\n?,?,?\n , b ,y\n3e2,,z\n% comment\n0.1,a,w\n"
    fast = parse_arff(plain, fast=True).frame
    pd.testing.assert_frame_equal(fast, parse_arff(plain, fast=False).frame, check_exact=True)
    assert fast["n"].isna().tolist() == [False, True, True, False, False]
    assert fast["k"].tolist()[2] == "b"
    with pytest.raises(SourceError, match="line 7: value 'c'"):
        parse_arff(header + "1,a,x\n2,c,y\n")  # the fast path defers errors to liac-arff


# --- local: CSV ----------------------------------------------------------------------------


def test_semicolon_csv_with_decimal_commas(tmp_path: Path) -> None:
    write(tmp_path, "semi.csv", "width;height;colour;class\n1,5;2;red;a\n2,25;?;;b\n3;4;blue;a\n")
    [result] = list(load_local(tmp_path))
    assert isinstance(result, RawDataset), result
    frame = result.frame
    assert result.meta["delimiter"] == ";"
    assert result.meta["format"] == "csv"
    assert list(frame.columns) == ["width", "height", "colour", "class"]
    assert frame["width"].tolist() == [1.5, 2.25, 3.0]
    assert frame["height"].isna().tolist() == [False, True, False]
    assert frame["colour"].isna().tolist() == [False, True, False]
    assert result.target == "class"


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_csv_delimiters_are_sniffed(tmp_path: Path, delimiter: str) -> None:
    rows = [["a", "b b", "class"], ["1", "x", "p"], ["2", "y", "q"], ["3", "z", "p"]]
    write(tmp_path, "d.csv", "\n".join(delimiter.join(r) for r in rows) + "\n")
    [result] = list(load_local(tmp_path))
    assert isinstance(result, RawDataset), result
    assert list(result.frame.columns) == ["a", "b b", "class"]
    assert result.frame["a"].tolist() == [1, 2, 3]


def test_sniff_delimiter_edge_cases() -> None:
    assert sniff_delimiter("class\na\nb\n") == ","  # one column: nothing to sniff
    assert sniff_delimiter("a;b;class\n1,5;2,5;x\n") == ";"  # decimal commas do not fool it
    assert sniff_delimiter("a|b\n1|2\n") == "|"


def test_csv_failures_are_one_line(tmp_path: Path) -> None:
    write(tmp_path, "notarget.csv", "a,b,c\n1,2,3\n")
    write(tmp_path, "empty.csv", "")
    write(tmp_path, "blank.csv", "\n  \n")
    write(tmp_path, "headeronly.csv", "a,b,class\n")
    write(tmp_path, "binary.csv", b"a,class\n\x00\x01\xff\xfe,x\n")
    write(tmp_path, "ragged.csv", 'a,class\n1,x\n"2,y\n3,z,4,5\n')
    results = by_name(list(load_local(tmp_path)))
    assert all(isinstance(r, LoadFailure) for r in results.values()), results
    assert results["notarget"].reason == "no target column 'class' (columns: a, b, c)"
    assert results["empty"].reason == "empty file"
    assert results["blank"].reason.startswith("empty file")
    assert results["headeronly"].reason == "no data rows (header only)"
    assert results["binary"].reason.startswith("not UTF-8")
    assert all("\n" not in r.reason for r in results.values())
    assert all(r.source == "local" and r.origin.endswith(".csv") for r in results.values())


def test_non_utf8_csv_is_decoded_with_a_note(tmp_path: Path) -> None:
    write(tmp_path, "latin.csv", "city,class\nS\xe3o Paulo,a\nK\xf6ln,b\n".encode("cp1252"))
    [result] = list(load_local(tmp_path))
    assert isinstance(result, RawDataset), result
    assert result.frame["city"].tolist() == ["São Paulo", "Köln"]
    assert result.meta["encoding"] == "cp1252"
    assert "not UTF-8" in result.meta["note"]


def test_gzip_csv_and_arff(tmp_path: Path) -> None:
    """``x.csv.gz`` reads as ``x.csv`` would, named without both suffixes (dots inside the name
    kept); a damaged archive is a one-line failure; a gzipped Parquet file is not listed."""
    write(
        tmp_path,
        "sem_HS.data.csv.gz",
        gzip.compress("city,class\nS\xe3o Paulo,a\nK\xf6ln,b\n".encode("cp1252")),
    )
    write(
        tmp_path,
        "r.ARFF.GZ",
        gzip.compress(
            b"@relation r\n@attribute x {1,2}\n@attribute class {p,q}\n@data\n1,p\n2,q\n"
        ),
    )
    write(tmp_path, "broken.csv.gz", gzip.compress(b"a,class\n1,x\n" * 50)[:-4])  # truncated
    write(tmp_path, "plain.csv.gz", b"a,class\n1,x\n")  # not compressed despite its name
    write(tmp_path, "t.parquet.gz", b"ignored")
    write(tmp_path, "notes.gz", b"ignored")
    results = by_name(list(load_local(tmp_path)))
    assert sorted(results) == ["broken", "plain", "r", "sem_HS.data"]
    csv_gz, arff_gz = results["sem_HS.data"], results["r"]
    assert isinstance(csv_gz, RawDataset) and isinstance(arff_gz, RawDataset)
    assert (
        csv_gz.frame["city"].tolist() == ["São Paulo", "Köln"]
        and csv_gz.meta["encoding"] == "cp1252"
    )
    assert (csv_gz.meta["format"], csv_gz.meta["compression"]) == ("csv", "gzip")
    assert arff_gz.meta["format"] == "arff" and arff_gz.frame["x"].tolist() == ["1", "2"]
    for name in ("broken", "plain"):
        failure = results[name]
        assert isinstance(failure, LoadFailure) and failure.reason.startswith(
            "not a readable gzip file"
        )
        assert "\n" not in failure.reason
    write(tmp_path, "sem_HS.data.csv", "city,class\nx,a\n")  # the same name twice: first wins
    again = [r for r in load_local(tmp_path) if r.name == "sem_HS.data"]
    assert isinstance(again[0], RawDataset) and again[0].origin.endswith(".csv")
    assert (
        isinstance(again[1], LoadFailure) and "already used by sem_HS.data.csv" in again[1].reason
    )


def test_csv_duplicate_columns_and_target_case(tmp_path: Path) -> None:
    write(tmp_path, "dup.csv", "a,a,b,Class\n1,2,3,x\n4,5,6,y\n")
    [result] = list(load_local(tmp_path))
    assert isinstance(result, RawDataset), result
    assert list(result.frame.columns) == ["a", "a.1", "b", "Class"]
    assert result.target == "Class"  # unique case-insensitive match of 'class'


def test_overrides_and_custom_target(tmp_path: Path) -> None:
    write(
        tmp_path,
        "w.arff",
        "@relation r\n@attribute kind {p,q}\n@attribute a numeric\n@data\np,1\nq,2\n",
    )
    write(tmp_path, "c.csv", "label,a\nx,1\ny,2\n")
    write(tmp_path, "bad.csv", "label,a\nx,1\n")
    results = by_name(
        list(load_local(tmp_path, target="label", overrides={"w": "kind", "bad": "nope"}))
    )
    assert results["w"].target == "kind" and results["w"].meta["target_rule"] == "override"
    assert results["c"].target == "label"
    assert results["bad"].reason == "no target column 'nope' (columns: label, a)"


def test_folder_listing_rules(tmp_path: Path) -> None:
    write(tmp_path, "b.csv", "a,class\n1,x\n")
    write(tmp_path, "a.csv", "a,class\n1,x\n")
    write(tmp_path, "a.arff", "@relation r\n@attribute class {x}\n@data\nx\n")
    write(tmp_path, "notes.txt", "ignored")
    write(tmp_path, "my data!.CSV", "a,class\n1,x\n")
    (tmp_path / "sub").mkdir()
    write(tmp_path / "sub", "deep.csv", "a,class\n1,x\n")
    results = list(load_local(tmp_path))
    assert [r.name for r in results] == ["a", "a", "b", "my_data"]
    assert isinstance(results[0], RawDataset) and results[0].meta["format"] == "arff"
    assert isinstance(results[1], LoadFailure)
    assert results[1].reason == "duplicate dataset name 'a' (already used by a.arff)"
    with pytest.raises(FileNotFoundError):
        list(load_local(tmp_path / "missing"))


# --- local: Parquet ------------------------------------------------------------------------


def test_parquet_truncated_duplicate_and_categorical(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {"a": [1.0, 2.0, 3.0], "kind": pd.Categorical(["u", None, "v"]), "class": ["x", "y", "x"]}
    )
    frame.to_parquet(tmp_path / "good.parquet")
    data = (tmp_path / "good.parquet").read_bytes()
    write(tmp_path, "cut.parquet", data[: len(data) // 2])
    write(tmp_path, "zero.parquet", b"")
    table = pa.Table.from_arrays(
        [pa.array([1, 2]), pa.array([3, 4]), pa.array(["x", "y"])], names=["v", "v", "class"]
    )
    pq.write_table(table, tmp_path / "dup.parquet")
    frame.iloc[:0].to_parquet(tmp_path / "norows.parquet")
    results = by_name(list(load_local(tmp_path)))
    good = results["good"]
    assert isinstance(good, RawDataset), good
    assert good.meta == {"format": "parquet", "path": str(tmp_path / "good.parquet")}
    assert pd.api.types.is_string_dtype(good.frame["kind"].dtype)
    assert good.frame["kind"].isna().tolist() == [False, True, False]
    assert results["cut"].reason.startswith("unreadable Parquet:")
    assert results["zero"].reason == "empty file"
    assert list(results["dup"].frame.columns) == ["v", "v.1", "class"]
    assert results["norows"].reason == "no data rows"


# --- scikit-learn --------------------------------------------------------------------------


def test_sklearn_sets_use_class_names() -> None:
    results = by_name(list(load_sklearn()))
    assert set(results) == {
        "sklearn.iris",
        "sklearn.wine",
        "sklearn.breast_cancer",
        "sklearn.digits",
    }
    iris = results["sklearn.iris"]
    assert iris.target == "target" and iris.source == "sklearn"
    assert iris.frame.shape == (150, 5)
    assert set(iris.frame["target"]) == {"setosa", "versicolor", "virginica"}
    assert set(results["sklearn.breast_cancer"].frame["target"]) == {"malignant", "benign"}
    assert results["sklearn.digits"].frame["target"].nunique() == 10
    [failure] = list(load_sklearn(["nope"]))
    assert (
        isinstance(failure, LoadFailure) and "unknown scikit-learn dataset 'nope'" in failure.reason
    )


# --- OpenML (no network: fakes, and openml's own code on a pre-filled cache) ---------------


@pytest.fixture
def offline_openml(monkeypatch: pytest.MonkeyPatch) -> None:
    """Block every connection and restore openml's global config after the test."""

    def no_network(*args: object, **kwargs: object) -> None:
        raise ConnectionError("network access in a test")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setattr(openml.config, "_root_cache_directory", openml.config._root_cache_directory)
    monkeypatch.setattr(openml.config, "connection_n_retries", openml.config.connection_n_retries)


def fake_dataset(
    tmp_path: Path, dataset_id: int, frame: pd.DataFrame, **attrs: object
) -> SimpleNamespace:
    path = tmp_path / f"{dataset_id}.pq"
    frame.to_parquet(path)

    def get_data(*args: object, **kwargs: object) -> None:
        raise AssertionError("get_data unpickles its cache; it must not be called")

    defaults = {
        "name": f"set {dataset_id}",
        "version": 1,
        "default_target_attribute": "class",
        "row_id_attribute": None,
        "ignore_attribute": None,
        "data_file": None,
    }
    return SimpleNamespace(parquet_file=str(path), get_data=get_data, **{**defaults, **attrs})


def test_openml_with_fakes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, offline_openml: None
) -> None:
    frames = {
        31: pd.DataFrame(
            {
                "id": [1, 2, 3],
                "a": [0.1, 0.2, 0.3],
                "junk": ["u", "v", "w"],
                "class": pd.Categorical(["good", "bad", "good"]),
            }
        ),
        40: pd.DataFrame({"b": [1, 2], "y": ["p", "q"]}),
        41: pd.DataFrame({"b": [1, 2], "y": ["p", "q"]}),
    }
    attrs = {
        31: {"name": "credit-g", "row_id_attribute": "id", "ignore_attribute": ["junk"]},
        40: {"default_target_attribute": "missing_col"},
        41: {"default_target_attribute": "b,y"},
    }
    calls = []

    def get_dataset(dataset_id: int, **kwargs: object) -> SimpleNamespace:
        calls.append((dataset_id, kwargs))
        if dataset_id == 99:
            raise ConnectionError("Max retries exceeded with url: /api/v1/xml/data/99")
        return fake_dataset(tmp_path, dataset_id, frames[dataset_id], **attrs[dataset_id])

    monkeypatch.setattr(openml.datasets, "get_dataset", get_dataset)
    monkeypatch.setattr(openml.study, "get_suite", lambda suite: SimpleNamespace(data=[40, 31, 41]))
    cache = tmp_path / "cache"
    results = list(load_openml([31, 99], suite=271, cache_dir=cache))
    assert [r.name for r in results] == [
        "openml.31.credit-g",
        "openml.99",
        "openml.40.set_40",
        "openml.41.set_41",
    ]
    good, offline, no_target, multi = results
    assert isinstance(good, RawDataset), good
    assert good.target == "class" and good.source == "openml"
    assert list(good.frame.columns) == ["a", "class"]  # row id and ignored column dropped
    assert pd.api.types.is_string_dtype(good.frame["class"].dtype)
    assert good.meta["openml_id"] == 31
    assert isinstance(offline, LoadFailure)
    assert offline.reason.startswith("openml id 99: ConnectionError")
    assert "no target column 'missing_col'" in no_target.reason
    assert "several default targets" in multi.reason
    assert [c[0] for c in calls] == [31, 99, 40, 41]
    assert all(c[1]["download_data"] is True for c in calls)
    assert openml.config.connection_n_retries == 1
    assert Path(openml.config._root_cache_directory) == cache.resolve()


def test_openml_suite_failure_and_max_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, offline_openml: None
) -> None:
    big = pd.DataFrame({"a": np.arange(50.0), "class": ["x", "y"] * 25})
    monkeypatch.setattr(
        openml.datasets, "get_dataset", lambda i, **k: fake_dataset(tmp_path, i, big)
    )

    def broken_suite(suite: object) -> None:
        raise ConnectionError("offline")

    monkeypatch.setattr(openml.study, "get_suite", broken_suite)
    suite_failure, first = list(
        load_openml([7], suite="OpenML-CC18", cache_dir=tmp_path, max_rows=10)
    )
    [again] = list(load_openml([7], cache_dir=tmp_path, max_rows=10))
    assert isinstance(suite_failure, LoadFailure), suite_failure
    assert suite_failure.name == "openml.suite.OpenML-CC18"
    assert suite_failure.reason == "cannot fetch suite 'OpenML-CC18': ConnectionError: offline"
    assert isinstance(first, RawDataset) and len(first.frame) == 10
    assert first.meta["rows_total"] == 50
    assert first.frame.equals(again.frame)  # seeded subsample
    assert first.frame["a"].is_monotonic_increasing  # original order kept


def test_openml_real_package_on_prefilled_cache(tmp_path: Path, offline_openml: None) -> None:
    """openml's own get_dataset reads a cached description + ARFF; nothing is pickled."""
    folder = tmp_path / "org" / "openml" / "www" / "datasets" / "4242"
    folder.mkdir(parents=True)
    (folder / "description.xml").write_text(
        '<oml:data_set_description xmlns:oml="http://openml.org/openml">'
        "<oml:id>4242</oml:id><oml:name>tiny</oml:name><oml:version>1</oml:version>"
        "<oml:format>ARFF</oml:format><oml:url>https://example.invalid/4242.arff</oml:url>"
        "<oml:default_target_attribute>class</oml:default_target_attribute>"
        "<oml:row_id_attribute>rid</oml:row_id_attribute>"
        "<oml:status>active</oml:status></oml:data_set_description>"
    )
    (folder / "dataset.arff").write_text(
        "@relation t\n@attribute rid numeric\n@attribute a integer [0,9]\n"
        "@attribute class {x,y}\n@data\n1,5,x\n2,?,y\n3,7,x\n"
    )
    [result] = list(load_openml([4242], cache_dir=tmp_path))
    assert isinstance(result, RawDataset), result
    assert result.name == "openml.4242.tiny"
    assert list(result.frame.columns) == ["a", "class"]
    assert result.frame["a"].isna().tolist() == [False, True, False]
    assert not [p for p in tmp_path.rglob("*") if "pkl" in p.name]


# --- synthetic -----------------------------------------------------------------------------


def test_synthetic_is_deterministic_and_prefix_stable() -> None:
    first = list(load_synthetic(6, seed=5))
    again = list(load_synthetic(8, seed=5))[:6]
    other = list(load_synthetic(6, seed=6))
    assert [frame_hash(d.frame) for d in first] == [frame_hash(d.frame) for d in again]
    assert [d.meta for d in first] == [d.meta for d in again]
    assert [d.name for d in first] == [f"synthetic.{i:04d}" for i in range(6)]
    assert {frame_hash(d.frame) for d in first}.isdisjoint(frame_hash(d.frame) for d in other)


def test_synthetic_variety() -> None:
    spec = SyntheticSpec()
    datasets = list(load_synthetic(20, seed=0, spec=spec, prefix="syn"))
    class_counts = {d.frame["class"].nunique() for d in datasets}
    assert len(class_counts) >= 3
    assert len({d.meta["generator"] for d in datasets}) >= 4
    assert any(d.meta["categorical_columns"] for d in datasets)
    assert any(not d.meta["categorical_columns"] for d in datasets)
    assert any(d.frame.drop(columns="class").isna().any().any() for d in datasets)
    assert len({d.frame.shape for d in datasets}) >= 15
    for d in datasets:
        assert d.target == "class" and d.source == "synthetic" and d.name.startswith("syn.")
        assert spec.rows[0] <= len(d.frame) <= spec.rows[1]
        assert spec.features[0] <= d.frame.shape[1] - 1 <= spec.features[1]
        assert pd.api.types.is_string_dtype(d.frame["class"].dtype)
        assert not d.frame["class"].isna().any()
        for column in d.meta["categorical_columns"]:
            assert pd.api.types.is_string_dtype(d.frame[column].dtype)
            assert set(d.frame[column].dropna()) <= {f"c{i}" for i in range(10)}
        numeric = d.frame.drop(columns=["class", *d.meta["categorical_columns"]])
        assert all(dtype == np.float64 for dtype in numeric.dtypes)
        assert np.isfinite(numeric.to_numpy(dtype=float)[~numeric.isna().to_numpy()]).all()
        json.dumps(d.meta)


@pytest.mark.parametrize("kind", GENERATORS)
def test_every_generator_kind(kind: str) -> None:
    spec = SyntheticSpec(rows=(100, 300), features=(3, 12), classes=(2, 5), generators=(kind,))
    for i in range(3):
        d = generate_dataset(np.random.default_rng([1, i]), spec, f"k/{kind}")
        assert d.name == f"k_{kind}"
        assert d.meta["generator"] in (kind, "prototype")  # make_classification may fall back
        counts = d.frame["class"].value_counts()
        assert len(counts) == d.meta["n_classes"] >= 2
        assert 100 <= len(d.frame) <= 300


def test_synthetic_spec_is_validated() -> None:
    with pytest.raises(ValueError):
        SyntheticSpec(classes=(1, 3))
    with pytest.raises(ValueError):
        SyntheticSpec(missing_share=(0.2, 0.1))
    with pytest.raises(ValueError):
        SyntheticSpec(generators=("magic",))


# --- the 67 UCI files beside the repository ------------------------------------------------


@pytest.mark.needs_shared
def test_all_uci_files_load() -> None:
    if not UCI.is_dir():
        pytest.skip(f"shared UCI datasets not found at {UCI}")
    results = by_name(list(load_local(UCI)))
    failures = {n: r.reason for n, r in results.items() if isinstance(r, LoadFailure)}
    assert failures == {}
    assert len(results) == 67
    wine = results["wine"]
    assert wine.target == wine.frame.columns[0] == "class"
    assert results["spectrometer"].target == "LRS-class"
    assert results["breast.w"].frame["Clump_Thickness"].dtype == np.float64
    assert results["anneal"].frame["family"].isna().any()  # quoted '?' is missing
