"""Cleaning rules, one test per rule, plus hostile inputs and large frames (timed in
``bench/cleaning_speed.py``)."""

from __future__ import annotations

import importlib.util
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from beyonder.data.cleaning import OTHER, CleaningConfig, CleaningError, clean_dataset
from beyonder.schema import TARGET

REPO = Path(__file__).resolve().parents[1]


def make_frame(n: int = 60, seed: int = 0, **columns: object) -> pd.DataFrame:
    """A usable base frame (one numeric feature, 3 balanced classes) plus extra columns."""
    rng = np.random.default_rng(seed)
    data = {"x": rng.normal(size=n), **columns, TARGET: np.array(["a", "b", "c"] * n)[:n]}
    return pd.DataFrame(data)


def roundtrip(frame: pd.DataFrame) -> pd.DataFrame:
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    buf.seek(0)
    return pd.read_parquet(buf)


# --------------------------------------------------------------------------- target


def test_target_numbers_become_strings_and_int_float_agree():
    frame = make_frame(30)
    frame[TARGET] = [1, 1.0, 2.0, " 2 ", np.int64(3), 3.0] * 5
    frame[TARGET] = frame[TARGET].astype(object)
    out, report = clean_dataset(frame)
    assert out[TARGET].tolist()[:6] == ["1", "1", "2", "2", "3", "3"]
    assert report["n_classes"] == 3
    assert report["class_counts"] == {"1": 10, "2": 10, "3": 10}


def test_float_target_column():
    frame = make_frame(30)
    frame[TARGET] = np.tile([0.0, 1.0, 2.5], 10)
    out, _ = clean_dataset(frame)
    assert sorted(out[TARGET].unique()) == ["0", "1", "2.5"]


def test_rows_with_missing_target_are_dropped():
    frame = make_frame(30)
    frame[TARGET] = frame[TARGET].astype(object)
    frame.loc[[0, 1, 2], TARGET] = [None, np.nan, "?"]
    frame.loc[3, TARGET] = "   "
    out, report = clean_dataset(frame)
    assert report["dropped_missing_target"] == 4
    assert report["rows_in"] == 30 and report["rows_out"] == 26 == len(out)
    assert out.index.equals(pd.RangeIndex(26))
    assert out[TARGET].notna().all()


def test_all_missing_target_is_an_error():
    frame = make_frame(20)
    frame[TARGET] = np.nan
    with pytest.raises(CleaningError, match="missing in all 20 rows"):
        clean_dataset(frame)


def test_no_target_column_is_an_error():
    with pytest.raises(CleaningError, match="no target column"):
        clean_dataset(pd.DataFrame({"x": [1.0, 2.0]}))


def test_empty_frame_is_an_error():
    with pytest.raises(CleaningError, match="no rows"):
        clean_dataset(pd.DataFrame({"x": [], TARGET: []}))


def test_single_class_is_an_error():
    frame = make_frame(20)
    frame[TARGET] = "only"
    with pytest.raises(CleaningError, match="only one class"):
        clean_dataset(frame)


def test_rare_classes_are_dropped_and_reported():
    frame = make_frame(40)
    frame[TARGET] = ["a"] * 20 + ["b"] * 16 + ["c"] * 4
    out, report = clean_dataset(frame)
    assert report["dropped_classes"] == {"c": 4}
    assert report["rows_out"] == 36 and report["n_classes"] == 2
    assert set(out[TARGET]) == {"a", "b"}


def test_one_class_left_after_dropping_rare_classes():
    frame = make_frame(30)
    frame[TARGET] = ["a"] * 26 + ["b", "c", "d", "e"]
    with pytest.raises(CleaningError) as err:
        clean_dataset(frame)
    assert str(err.value) == "only one class left after dropping classes with fewer than 5 rows"
    assert "\n" not in str(err.value)


def test_classes_with_one_row_each():
    frame = make_frame(25)
    frame[TARGET] = [f"c{i}" for i in range(25)]
    with pytest.raises(CleaningError, match="no class has at least 5 rows"):
        clean_dataset(frame)


def test_n_folds_controls_the_class_minimum():
    frame = make_frame(40)
    frame[TARGET] = ["a"] * 20 + ["b"] * 17 + ["c"] * 3
    _, report = clean_dataset(frame, CleaningConfig(n_folds=3))
    assert report["dropped_classes"] == {} and report["n_classes"] == 3


def test_too_few_rows_is_an_error():
    frame = make_frame(8)
    frame[TARGET] = ["a", "b"] * 4
    with pytest.raises(CleaningError, match="only 8 rows left"):
        clean_dataset(frame, CleaningConfig(n_folds=2))


# --------------------------------------------------------------------------- typing


def test_numeric_columns_become_float64_and_inf_becomes_nan():
    frame = make_frame(30, i=np.arange(30) % 4, f=np.linspace(0, 1, 30))
    frame.loc[[0, 5], "f"] = [np.inf, -np.inf]
    frame["nullable"] = pd.array([1, None, 3] * 10, dtype="Int64")
    out, report = clean_dataset(frame)
    for col in ("x", "i", "f", "nullable"):
        assert out[col].dtype == np.float64
    assert report["infinities_replaced"] == 2
    assert np.isnan(out.loc[0, "f"]) and np.isnan(out.loc[5, "f"])
    assert not np.isinf(out.select_dtypes("number").to_numpy()).any()
    assert out["nullable"].isna().sum() == 10


def test_numeric_text_is_parsed_and_leftovers_become_nan():
    values = [str(v) for v in np.linspace(0, 10, 40)]
    values[3] = "oops"  # 1 of 40 unparseable: 97.5% numeric
    values[7] = " 2.5 "
    values[9] = "?"  # a missing token, not an unparseable value
    frame = make_frame(40, txt=np.array(values, dtype=object))
    out, report = clean_dataset(frame)
    assert out["txt"].dtype == np.float64
    assert np.isnan(out.loc[3, "txt"]) and np.isnan(out.loc[9, "txt"])
    assert out.loc[7, "txt"] == 2.5
    assert report["coerced_to_numeric"] == {"txt": 1}
    assert "txt" in report["numeric_columns"]


def test_mixed_numbers_and_strings_stay_categorical():
    mixed = np.array([1, 1.0, "one", 2, "two", 2.0] * 10, dtype=object)
    frame = make_frame(60, mixed=mixed)
    out, report = clean_dataset(frame)
    assert "mixed" in report["categorical_columns"]
    assert out["mixed"].dtype == "str"
    assert set(out["mixed"]) == {"1", "one", "2", "two"}  # 1 and 1.0 are one level


def test_text_infinity_is_counted():
    frame = make_frame(40, t=np.array([f"{i}.5" for i in range(39)] + ["inf"], dtype=object))
    out, report = clean_dataset(frame)
    assert out["t"].dtype == np.float64
    assert report["infinities_replaced"] == 1 and np.isnan(out["t"].iloc[-1])


def test_bool_and_category_become_string_categoricals_with_nan():
    frame = make_frame(
        40,
        b=np.array([True, False] * 20),
        nb=pd.array([True, None, False, True] * 10, dtype="boolean"),
        cat=pd.Categorical(["x", "y", None, "z"] * 10),
        codes=pd.Categorical([0, 1, 2, 3] * 10),
        s=pd.Series([" a", "b ", None, "c"] * 10, dtype="str"),
    )
    out, report = clean_dataset(frame)
    for col in ("b", "nb", "cat", "codes", "s"):
        assert col in report["categorical_columns"]
        assert out[col].dtype == "str", col
    assert set(out["b"]) == {"True", "False"}
    assert out["nb"].isna().sum() == 10 and out["cat"].isna().sum() == 10
    assert set(out["s"].dropna()) == {"a", "b", "c"}
    assert set(out["codes"]) == {"0", "1", "2", "3"}


def test_output_round_trips_through_parquet_and_json():
    frame = make_frame(
        40,
        s=np.array(["u", None, "v", "w"] * 10, dtype=object),
        num=np.array([1.0, np.nan, np.inf, 4.0] * 10),
    )
    out, report = clean_dataset(frame)
    back = roundtrip(out)
    pd.testing.assert_frame_equal(out, back)
    assert json.loads(json.dumps(report)) == report


def test_column_order_features_then_target_last():
    frame = pd.DataFrame(
        {
            TARGET: ["a", "b"] * 15,
            "z": np.arange(30) % 3,
            "const": 0,
            "a": np.array(["p", "q", "r"] * 10, dtype=object),
            "m": np.linspace(0, 1, 30),
        }
    )
    out, _ = clean_dataset(frame)
    assert list(out.columns) == ["z", "a", "m", TARGET]


# --------------------------------------------------------------------------- dropped columns


def test_constant_and_missing_columns_are_dropped():
    n = 40
    mostly = np.full(n, np.nan)
    mostly[:1] = 1.0  # 97.5% missing
    frame = make_frame(
        n,
        const=np.full(n, 7.0),
        const_txt=np.array(["k"] * n, dtype=object),
        const_with_nan=np.array([1.0, np.nan] * (n // 2)),
        empty=np.full(n, np.nan),
        empty_txt=np.array([None, "?", "", "nan"] * (n // 4), dtype=object),
        mostly=mostly,
        half=np.array([1.0, np.nan, 2.0, np.nan] * (n // 4)),
    )
    out, report = clean_dataset(frame)
    assert report["dropped_columns"] == {
        "const": "constant",
        "const_txt": "constant",
        "const_with_nan": "constant",
        "empty": "all_missing",
        "empty_txt": "all_missing",
        "mostly": "mostly_missing",
    }
    assert list(out.columns) == ["x", "half", TARGET]


def test_id_like_columns_are_dropped():
    n = 60
    rng = np.random.default_rng(3)
    frame = make_frame(
        n,
        index0=np.arange(n),
        index1_float=np.arange(1, n + 1, dtype=float),
        shuffled_int=rng.permutation(n) * 7,
        uuid=np.array([f"id-{i:04d}" for i in rng.permutation(n)], dtype=object),
        code_text=np.array([f"{i:05d}" for i in range(n)], dtype=object),
        small_int=rng.integers(0, 5, n),
        continuous=rng.normal(size=n),  # float: unique values are normal, never an ID
    )
    out, report = clean_dataset(frame)
    dropped = report["dropped_columns"]
    for col in ("index0", "index1_float", "shuffled_int", "uuid", "code_text"):
        assert dropped[col] == "id_like", col
    assert {"small_int", "continuous"} <= set(out.columns)


def test_index_column_with_holes_after_row_drops_is_still_an_id():
    n = 60
    frame = make_frame(n, row=np.arange(n).astype(float))
    frame[TARGET] = ["a"] * 28 + ["b"] * 28 + ["c"] * 4  # class c dropped: holes at the end
    frame.loc[10, TARGET] = None
    out, report = clean_dataset(frame)
    assert report["dropped_columns"]["row"] == "id_like"


def test_high_cardinality_categorical_is_capped():
    n = 300
    rng = np.random.default_rng(0)
    levels = np.array([f"L{i:03d}" for i in range(120)])
    # L000..L019 frequent, the rest rare: distinct share stays far below the ID threshold
    values = np.where(
        rng.random(n) < 0.7, levels[rng.integers(0, 20, n)], levels[rng.integers(0, 120, n)]
    )
    frame = make_frame(n, hc=values.astype(object))
    out, report = clean_dataset(frame, CleaningConfig(max_categories=10))
    assert report["capped_categoricals"] == {"hc": len(set(values))}
    # kept: the 9 most frequent levels (ties: smaller label first), the rest is __other__
    counts = pd.Series(values).value_counts()
    ranked = sorted(counts.index, key=lambda level: (-counts[level], level))
    assert set(out["hc"]) == set(ranked[:9]) | {OTHER}
    assert (out["hc"] == OTHER).sum() == counts[ranked[9:]].sum()
    assert (out["hc"] == ranked[0]).sum() == counts[ranked[0]]


def test_max_features_drops_the_most_missing_first():
    n = 40
    rng = np.random.default_rng(1)

    def with_missing(k: int) -> np.ndarray:
        v = rng.normal(size=n)
        v[:k] = np.nan
        return v

    frame = make_frame(n, m10=with_missing(10), m0=with_missing(0), m20=with_missing(20))
    out, report = clean_dataset(frame, CleaningConfig(max_features=2))
    assert list(out.columns) == ["x", "m0", TARGET]
    assert report["dropped_columns"] == {"m10": "max_features", "m20": "max_features"}


def test_no_feature_left_is_an_error():
    frame = pd.DataFrame({"id": np.arange(30), "c": 1.0, TARGET: ["a", "b"] * 15})
    with pytest.raises(CleaningError, match="no feature columns left.*1 constant, 1 id_like"):
        clean_dataset(frame)


def test_target_only_frame_is_an_error():
    with pytest.raises(CleaningError, match="no feature columns left"):
        clean_dataset(pd.DataFrame({TARGET: ["a", "b"] * 15}))


# --------------------------------------------------------------------------- hostile inputs


def test_single_feature():
    out, report = clean_dataset(make_frame(30))
    assert list(out.columns) == ["x", TARGET] and report["columns_out"] == 1


def test_duplicate_and_odd_column_names():
    rng = np.random.default_rng(2)
    data = rng.normal(size=(30, 4))
    frame = pd.DataFrame(data, columns=["a", "a", 5, "__row_id__"])
    frame[TARGET] = ["p", "q", "r"] * 10
    out, report = clean_dataset(frame)
    assert list(out.columns) == ["a", "a.1", "5", "__row_id__.1", TARGET]
    assert report["renamed_columns"] == [["a", "a.1"], ["__row_id__", "__row_id__.1"]]
    np.testing.assert_array_equal(out["a.1"].to_numpy(), data[:, 1])
    roundtrip(out)


def test_duplicate_target_column_is_an_error():
    frame = pd.DataFrame([[1, "a", "b"]], columns=["x", TARGET, TARGET])
    with pytest.raises(CleaningError, match="named"):
        clean_dataset(frame)


def test_duplicate_junk_columns_are_kept_or_dropped_by_the_same_rules():
    n = 30
    frame = make_frame(n)
    for k in range(5):
        frame[f"junk{k}"] = np.array(["?"] * (n - 1) + ["x"], dtype=object)  # 97% missing
        frame[f"copy{k}"] = frame["x"]
    out, report = clean_dataset(frame)
    assert all(report["dropped_columns"][f"junk{k}"] == "mostly_missing" for k in range(5))
    assert [c for c in out.columns if c.startswith("copy")] == [f"copy{k}" for k in range(5)]


def test_bytes_and_unhashable_values():
    n = 30
    frame = make_frame(
        n,
        raw=np.array([b"yes", b"no", b" yes"] * 10, dtype=object),
        lists=pd.Series([[1], [2], [1]] * 10, dtype=object),
    )
    out, _ = clean_dataset(frame)
    assert set(out["raw"]) == {"yes", "no"}
    assert out["lists"].nunique() == 2


def test_datetime_becomes_numeric_seconds():
    n = 30
    frame = make_frame(n, when=pd.to_datetime(["2020-01-01", "2021-01-01", None] * 10))
    out, _ = clean_dataset(frame)
    assert out["when"].dtype == np.float64
    assert out["when"].iloc[0] == pd.Timestamp("2020-01-01").timestamp()
    assert out["when"].isna().sum() == 10


def test_input_is_not_modified_and_output_is_deterministic():
    frame = make_frame(
        40, f=np.array([1.0, np.inf, 2.0, 3.0] * 10), s=np.array(list("abcd") * 10, dtype=object)
    )
    before = frame.copy()
    out1, rep1 = clean_dataset(frame)
    out2, rep2 = clean_dataset(frame)
    pd.testing.assert_frame_equal(frame, before)
    pd.testing.assert_frame_equal(out1, out2)
    assert rep1 == rep2


# --------------------------------------------------------------------------- large frames
# The frames of bench/cleaning_speed.py, which times them (timing depends on the machine).

spec = importlib.util.spec_from_file_location(
    "cleaning_speed", REPO / "bench" / "cleaning_speed.py"
)
speed = importlib.util.module_from_spec(spec)
spec.loader.exec_module(speed)


def test_wide_frame_keeps_every_column_but_the_id():
    frame = speed.wide_frame()
    out, report = clean_dataset(frame, CleaningConfig(max_features=None))  # every column kept
    assert out.shape == (len(frame) - 5, frame.shape[1] - 1)  # the ID column dropped
    assert report["dropped_columns"] == {"ints": "id_like"}


def test_fifty_thousand_level_categorical_is_capped_and_the_id_dropped():
    out, report = clean_dataset(speed.many_levels_frame())
    assert report["capped_categoricals"] == {"c": 50_000}
    assert report["dropped_columns"] == {"u": "id_like"}
    # all counts tie at 2: the 49 smallest labels are kept, deterministically
    assert set(out["c"]) == {f"v{i:05d}" for i in range(49)} | {OTHER}
