"""A corpus of hostile inputs, written by the tests (nothing is downloaded).

``write_hostile_corpus(folder)`` writes every file and returns, per dataset name (the file
stem, which is what the local source calls the dataset), what must happen to it:
``Expect(usable=True)`` when the pipeline should clean it and keep it, or
``Expect(usable=False, reason=..., stage=...)`` when it must be refused with a one-line reason
containing ``reason`` (case-insensitive), at ``stage`` ``"ingest"`` (``data/raw/failures.json``)
or ``"clean"`` (``data/clean/quarantine.json``).

Names with path separators or ``..`` cannot be file names, so they are tested through the
sources/ingest API directly (``HOSTILE_NAMES``).

Good datasets (``GOOD``) are written by ``write_good_corpus``, alone or next to the hostile
ones, so a test can check that the hostile files change nothing about them.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from helpers import mixed_frame


@dataclass(frozen=True)
class Expect:
    usable: bool
    reason: str = ""  # substring of the one-line reason (rejected inputs)
    stage: str = ""  # "ingest" or "clean" (rejected inputs)
    what: str = ""  # the hostile input, in words (for the figures table)
    check: str = ""  # usable inputs: a key of the clean report that must show the fix


HOSTILE_NAMES = ["../../evil", "a/b", "..", "../", "/etc/passwd", "a\\..\\..\\b", "", "./.hidden"]
"""Dataset names that must never escape ``data/`` (tested through the API, not as files)."""

GOOD = ("good_iris", "good_weather", "good_mixed")


def _iris() -> pd.DataFrame:
    from sklearn.datasets import load_iris

    bunch = load_iris(as_frame=True)
    frame = bunch.data.copy()
    frame.columns = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    frame["class"] = np.asarray(bunch.target_names)[bunch.target]
    return frame


def _numeric(n: int, d: int, seed: int = 0, classes: int = 2) -> pd.DataFrame:
    """``n`` rows of ``d`` informative-ish numeric features plus a balanced ``class``."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    x = rng.normal(size=(n, d)) + y[:, None] * 0.5
    frame = pd.DataFrame(x, columns=[f"f{j}" for j in range(d)])
    frame["class"] = np.array([f"c{k}" for k in range(classes)])[y]
    return frame


_WEATHER_ARFF = """% a good ARFF file (Weka's weather, repeated to have rows enough for 5 folds)
@relation weather
@attribute outlook {sunny, overcast, rainy}
@attribute temperature numeric
@attribute humidity real
@attribute windy {TRUE, FALSE}
@attribute play {yes, no}
@data
"""


def _weather_rows(n: int = 60, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        outlook = ["sunny", "overcast", "rainy"][i % 3]
        temp = int(rng.integers(60, 90))
        humidity = round(float(rng.uniform(60, 99)), 1)
        windy = "TRUE" if rng.random() < 0.4 else "FALSE"
        play = "yes" if (outlook == "overcast" or humidity < 80) else "no"
        rows.append(f"{outlook},{temp},{humidity},{windy},{play}")
    return rows


def write_good_corpus(folder: str | Path) -> dict[str, Expect]:
    """The good datasets: an iris CSV, a Weka ARFF and a mixed-type Parquet."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    _iris().to_csv(folder / "good_iris.csv", index=False)
    (folder / "good_weather.arff").write_text(_WEATHER_ARFF + "\n".join(_weather_rows()) + "\n")
    mixed_frame().to_parquet(folder / "good_mixed.parquet", index=False)
    return {name: Expect(True, what="good dataset") for name in GOOD}


def write_hostile_corpus(folder: str | Path, good: bool = True) -> dict[str, Expect]:
    """Write every hostile file (and, with ``good``, the good datasets) into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    expect: dict[str, Expect] = write_good_corpus(folder) if good else {}

    def csv(name: str, frame: pd.DataFrame, expectation: Expect, **kwargs) -> None:
        frame.to_csv(folder / f"{name}.csv", index=False, **kwargs)
        expect[name] = expectation

    def text(name: str, suffix: str, body: str | bytes, expectation: Expect) -> None:
        path = folder / f"{name}{suffix}"
        if isinstance(body, bytes):
            path.write_bytes(body)
        else:
            path.write_text(body)
        expect[name] = expectation

    rejected_ingest = lambda reason, what: Expect(False, reason, "ingest", what)  # noqa: E731
    rejected_clean = lambda reason, what: Expect(False, reason, "clean", what)  # noqa: E731
    usable = lambda what, check="": Expect(True, what=what, check=check)  # noqa: E731

    # --- unreadable files: refused at ingest -------------------------------------------------
    text("empty", ".csv", b"", rejected_ingest("empty file", "an empty file"))
    text("blank_lines", ".csv", "\n\n  \n", rejected_ingest("empty file", "only whitespace"))
    text("header_only", ".csv", "a,b,class\n", rejected_ingest("header only", "a header only"))
    csv(
        "no_target",
        _numeric(40, 3).rename(columns={"class": "label"}),
        rejected_ingest("no target column 'class'", "no target column"),
    )
    text(
        "binary",
        ".csv",
        b"PK\x03\x04\x00\x00\x08\x00" + bytes(range(256)) * 4,
        rejected_ingest("not UTF-8", "binary bytes (a zip file named .csv)"),
    )
    frame = _numeric(40, 2)
    table = pa.table([frame["f0"], frame["class"], frame["class"]], names=["f0", "class", "class"])
    pq.write_table(table, folder / "duplicate_target.parquet")
    expect["duplicate_target"] = rejected_ingest(
        "target column 'class' appears 2 times", "two columns named like the target (Parquet)"
    )
    text(
        "duplicate_target_csv",
        ".csv",
        "x,class,class\n" + "".join(f"{i % 7},{'ab'[i % 2]},{'ab'[i % 2]}\n" for i in range(40)),
        rejected_ingest(
            "target column 'class' appears 2 times", "two columns named like the target (CSV)"
        ),
    )
    good_parquet = io.BytesIO()
    mixed_frame(200, seed=3).to_parquet(good_parquet, index=False)
    data = good_parquet.getvalue()
    text(
        "truncated_parquet",
        ".parquet",
        data[: len(data) // 2],
        rejected_ingest("unreadable Parquet", "a truncated Parquet file"),
    )
    text(
        "parquet_garbage",
        ".parquet",
        b"this is not a parquet file at all\n" * 20,
        rejected_ingest("unreadable Parquet", "text named .parquet"),
    )
    arff_text = _WEATHER_ARFF + "\n".join(_weather_rows(40, seed=1))
    text(
        "truncated_arff",
        ".arff",
        arff_text[: arff_text.rindex(",") - 3],  # cut inside the last row
        rejected_ingest("truncated ARFF", "a truncated ARFF file (cut mid-row)"),
    )
    text(
        "truncated_arff_header",
        ".arff",
        _WEATHER_ARFF.split("@attribute windy")[0],
        rejected_ingest("no @data section", "an ARFF file cut inside its header"),
    )
    text(
        "arff_relational",
        ".arff",
        "@relation r\n@attribute bag relational\n@attribute x numeric\n@end bag\n"
        "@attribute class {a,b}\n@data\n",
        rejected_ingest("relational attribute", "a multi-instance (relational) ARFF file"),
    )
    text(
        "ragged",
        ".csv",
        "a,b,class\n1,2,x\n3,4,y,5,6,7\n" + "1,2,x\n" * 30,
        rejected_ingest("malformed CSV", "rows with more fields than the header"),
    )

    # --- readable but unusable: quarantined by clean ----------------------------------------
    csv(
        "one_class",
        _numeric(40, 3).assign(**{"class": "only"}),
        rejected_clean("only one class", "one class"),
    )
    csv(
        "target_all_missing",
        _numeric(40, 3).assign(**{"class": np.nan}),
        rejected_clean("missing in all 40 rows", "a target that is all missing"),
    )
    singletons = _numeric(30, 3)
    singletons["class"] = [f"k{i}" for i in range(30)]
    csv(
        "one_row_per_class",
        singletons,
        rejected_clean("no class has at least 5 rows", "classes with one row each"),
    )
    csv(
        "too_few_rows",
        _numeric(12, 3, classes=2).iloc[:12],
        rejected_clean("rows left", "12 rows (fewer than min_rows)"),
    )
    all_missing = _numeric(40, 3)
    for column in ("f0", "f1", "f2"):
        all_missing[column] = np.nan
    csv(
        "all_features_missing",
        all_missing,
        rejected_clean("no feature columns left", "every feature missing"),
    )

    # --- hostile but usable after cleaning --------------------------------------------------
    frame = _numeric(60, 3)
    frame["empty"] = np.nan
    csv("column_all_missing", frame, usable("a column that is all missing", "dropped_columns"))
    frame = _numeric(60, 3)
    frame.loc[::7, "f0"] = np.inf
    frame.loc[::5, "f1"] = -np.inf
    frame["all_inf"] = np.inf
    csv("infinities", frame, usable("+inf / -inf values, a column of inf", "infinities_replaced"))
    csv("single_feature", _numeric(60, 1), usable("a single feature"))
    csv("wide_2000", _numeric(40, 2000), usable("2,000 features", "dropped_columns"))
    n = 100_000
    rng = np.random.default_rng(5)
    levels = np.arange(n) % 50_000
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "level": [f"L{v:05d}" for v in rng.permutation(levels)],
            "class": np.where(np.arange(n) % 3 == 0, "a", "b"),
        }
    )
    csv("levels_50000", frame, usable("a categorical with 50,000 levels", "capped_categoricals"))
    text(
        "duplicate_columns",
        ".csv",
        "a,a,b,b,class\n"
        + "".join(f"{i % 6},{i % 3},{i % 5},{-(i % 4)},{'xy'[i % 2]}\n" for i in range(40)),
        usable("duplicate column names (CSV)", "numeric_columns"),
    )
    frame = _numeric(40, 2)
    table = pa.table(
        [frame["f0"], frame["f0"], frame["f1"], frame["class"]], names=["f", "f", "g", "class"]
    )
    pq.write_table(table, folder / "duplicate_columns_parquet.parquet")
    expect["duplicate_columns_parquet"] = usable("duplicate column names (Parquet)")
    cities = ["Zürich", "Köln", "Málaga", "Øslo", "Besançon"]
    body = "city,x,class\n" + "".join(
        f"{cities[i % 5]},{i * 0.5},{'ja' if i % 2 else 'nein'}\n" for i in range(40)
    )
    text(
        "latin1",
        ".csv",
        body.encode("latin-1"),
        usable("bytes that are not UTF-8 (latin-1 text)", "categorical_columns"),
    )
    body = "x,class\n" + "".join(f"{i % 7},{'ab'[i % 2]}\n" for i in range(40))
    text(
        "invalid_utf8",
        ".csv",
        body.encode() + b"\xff\xfe\x80,a\n",
        usable("invalid UTF-8 bytes in a row"),
    )
    frame = _numeric(60, 2)
    frame["mixed"] = [i if i % 4 else f"s{i % 3}" for i in range(60)]
    frame["mostly_numbers"] = [str(i * 1.5) if i % 40 else "n/a?" for i in range(60)]
    csv("mixed_column", frame, usable("a column of mixed numbers and strings", "numeric_columns"))
    frame = mixed_frame(80, seed=2)
    frame["x"] = frame["x"].map(lambda v: f"{v:.3f}".replace(".", ","))
    csv(
        "semicolons",
        frame,
        usable("a CSV delimited by ';' with decimal commas", "numeric_columns"),
        sep=";",
    )
    csv("tabs", _numeric(40, 3), usable("a tab-delimited CSV"), sep="\t")
    rows = [
        f"'note {i}: \"quoted\", with comma',{i % 4},'{'id-' + str(i)}',{'ab'[i % 2]}"
        for i in range(40)
    ]
    text(
        "arff_strings",
        ".arff",
        "@relation strings\n@attribute note string\n@attribute n numeric\n"
        "@attribute id string\n@attribute class {a,b}\n@data\n" + "\n".join(rows) + "\n",
        usable("an ARFF file with string attributes", "dropped_columns"),
    )
    frame = _numeric(40, 2)
    nested = pa.table(
        {
            "f0": frame["f0"],
            "lists": pa.array([[i, i + 1] for i in range(40)], pa.list_(pa.int64())),
            "structs": pa.array([{"a": i % 3, "b": "x"} for i in range(40)]),
            "blob": pa.array([bytes([i % 4, 255]) for i in range(40)], pa.binary()),
            "when": pa.array(pd.date_range("2020-01-01", periods=40, freq="D", tz="UTC")),
            "class": frame["class"],
        }
    )
    pq.write_table(nested, folder / "parquet_nested.parquet")
    expect["parquet_nested"] = usable("Parquet list, struct, binary and timestamp columns")
    frame = _numeric(40, 3)
    frame["class"] = frame["class"].where(np.arange(40) % 9 != 0, "?")
    csv(
        "target_some_missing",
        frame,
        usable("a target with some '?' values", "dropped_missing_target"),
    )
    frame = _numeric(60, 3)
    frame.columns = ["__target__", "__row_id__", "f2", "class"]
    csv("reserved_names", frame, usable("feature columns named like the pipeline's own"))
    return expect


def corpus_summary(
    expect: dict[str, Expect], outcome: dict[str, dict], crashes: int = 0
) -> dict[str, int]:
    """Counts for the figures: ``outcome[name]`` is ``{"status": "ok"|"failed"|"quarantined"|
    "missing", "reason": ...}`` as observed; a hostile input is *handled* when it is cleaned
    while expected usable, or refused with a one-line reason naming the expected problem."""
    hostile = {n: e for n, e in expect.items() if n not in GOOD}
    handled = 0
    for name, e in hostile.items():
        got = outcome.get(name, {"status": "missing"})
        if e.usable:
            handled += got["status"] == "ok"
        else:
            reason = str(got.get("reason", ""))
            handled += (
                got["status"] in ("failed", "quarantined")
                and "\n" not in reason
                and e.reason.lower() in reason.lower()
            )
    lost = sum(outcome.get(n, {"status": "missing"})["status"] == "missing" for n in expect) + sum(
        outcome.get(n, {}).get("status") != "ok" for n in GOOD if n in expect
    )
    return {
        "tried": len(hostile),
        "handled": handled,
        "crashes": crashes,
        "lost": lost,
    }
