"""The label stage's engine: content-addressed cache, pending work, batching, assembly.

Labels must come out identical however the work is split, ordered or resumed.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from helpers import REPEATABLE_LABEL_COLUMNS, mixed_frame
from sklearn.datasets import load_iris

from beyonder.config import Layout
from beyonder.data.cleaning import clean_dataset
from beyonder.data.sampling import bootstrap_samples
from beyonder.labels.labelling import CVSettings, label_key
from beyonder.params import parse_params
from beyonder.schema import TARGET
from beyonder.stages.label import (
    LABEL_COLUMNS,
    Job,
    LabelCache,
    assemble_labels,
    batch_jobs,
    cv_settings,
    pending_jobs,
    run_job,
    sample_index,
    write_labels,
)
from beyonder.storage import _host as this_host
from beyonder.storage import (
    frame_hash,
    remove_orphan_temporaries,
    write_json,
    write_parquet,
)

CLASSIFIERS = ["logreg", "gaussian_nb", "decision_tree"]
CV = CVSettings(n_folds=3, seed=0, fit_timeout=None)
COMPARED = REPEATABLE_LABEL_COLUMNS


def _iris() -> pd.DataFrame:
    bunch = load_iris(as_frame=True)
    frame = bunch.data.copy()
    frame[TARGET] = np.asarray(bunch.target_names)[bunch.target]
    return frame


def _mixed(n: int = 120, seed: int = 0) -> pd.DataFrame:
    return mixed_frame(n, seed, target=TARGET)


def _write_samples(root, datasets: dict[str, pd.DataFrame], per_dataset: int = 1) -> list[dict]:
    """What the sample stage writes: cleaned bootstrap samples as Parquet plus index.json."""
    layout = Layout(root)
    entries = []
    for name, raw in datasets.items():
        cleaned, _ = clean_dataset(raw)
        for sample_id, sample in bootstrap_samples(
            cleaned, name, rows=60, per_dataset=per_dataset, seed=0
        ):
            path = layout.dataset_file(layout.samples, sample_id)
            write_parquet(sample, path)
            entries.append(
                {
                    "sample_id": sample_id,
                    "dataset": name,
                    "source": "test",
                    "kind": "bootstrap",
                    "rows": len(sample),
                    "hash": frame_hash(sample),
                    "file": str(path.relative_to(layout.root.resolve())),
                }
            )
    write_json(entries, layout.samples / "index.json")
    return entries


@pytest.fixture
def root(tmp_path):
    return tmp_path.resolve()


@pytest.fixture
def samples(root) -> list[dict]:
    return _write_samples(root, {"iris": _iris(), "mixed": _mixed(), "mixed2": _mixed(seed=1)})


def _cache(root) -> LabelCache:
    return LabelCache(Layout(root).label_cache)


def _run_all(jobs: list[Job], cache: LabelCache, root) -> int:
    return sum(run_job(job, CV, cache, root) for job in jobs)


def _numeric(table: pd.DataFrame) -> pd.DataFrame:
    return table[COMPARED].reset_index(drop=True)


# --- pending / run / cache ---------------------------------------------------------------------


def test_empty_cache_means_everything_is_pending(root, samples) -> None:
    jobs = pending_jobs(samples, CLASSIFIERS, CV, _cache(root))
    assert [j.sample_id for j in jobs] == [s["sample_id"] for s in samples]
    assert all(j.classifiers == CLASSIFIERS and j.fits == len(CLASSIFIERS) for j in jobs)
    assert [(j.file, j.hash) for j in jobs] == [(s["file"], s["hash"]) for s in samples]


def test_run_job_fills_the_cache_and_nothing_is_left(root, samples) -> None:
    cache = _cache(root)
    jobs = pending_jobs(samples, CLASSIFIERS, CV, cache)
    assert _run_all(jobs, cache, root) == len(samples) * len(CLASSIFIERS)
    for s in samples:
        for c in CLASSIFIERS:
            record = cache.get(label_key(s["hash"], c, CV))
            assert record is not None and record["classifier"] == c
            assert record["error"] is None and 0.0 <= record["accuracy"] <= 1.0
            assert record["n_folds"] == CV.n_folds
    files = list(cache.root.rglob("*.json"))
    assert len(files) == len(samples) * len(CLASSIFIERS)
    assert not list(cache.root.rglob("*.tmp"))  # atomic writes leave no temp files
    assert pending_jobs(samples, CLASSIFIERS, CV, cache) == []


KILLED_MID_WRITE = """
import sys, time
from pathlib import Path
from beyonder.storage import write_json

class Slow:  # serialised only when the write has started: a writer stuck mid-write
    def item(self):
        print("writing", flush=True)
        time.sleep(600)

write_json({"accuracy": Slow()}, Path(sys.argv[1]))
"""


def test_a_writer_killed_mid_write_leaves_a_temporary_file_that_is_swept(tmp_path) -> None:
    """``kill -9`` mid-write leaves the write's temporary file; the sweep removes it and only
    it: not a live writer's, not another host's, not a name it does not know."""
    target = tmp_path / "cache" / "ab" / "abcd.json"
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_MID_WRITE, str(target)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "writing"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    (orphan,) = target.parent.glob(".*.tmp")
    assert not target.exists() and str(proc.pid) in orphan.name
    live = target.parent / f".live.json.{this_host()}-{os.getpid()}.k2x9ab.tmp"
    remote = target.parent / f".remote.json.otherhost-{proc.pid}.k2x9ab.tmp"
    unknown = target.parent / ".hand.json.k2x9ab.tmp"
    for path in (live, remote, unknown):
        path.write_text("")
    assert remove_orphan_temporaries(tmp_path / "cache") == [orphan]
    assert sorted(target.parent.glob(".*.tmp")) == sorted([live, remote, unknown])
    assert remove_orphan_temporaries(tmp_path / "missing") == []


def test_a_new_classifier_is_the_only_pending_work(root, samples) -> None:
    cache = _cache(root)
    _run_all(pending_jobs(samples, CLASSIFIERS, CV, cache), cache, root)
    jobs = pending_jobs(samples, [*CLASSIFIERS, "knn"], CV, cache)
    assert [j.sample_id for j in jobs] == [s["sample_id"] for s in samples]
    assert all(j.classifiers == ["knn"] for j in jobs)
    _run_all(jobs, cache, root)
    assert pending_jobs(samples, [*CLASSIFIERS, "knn"], CV, cache) == []


def test_other_cv_settings_or_sample_content_are_other_labels(root, samples) -> None:
    cache = _cache(root)
    _run_all(pending_jobs(samples, CLASSIFIERS, CV, cache), cache, root)
    other_cv = CVSettings(n_folds=4, seed=0)
    assert len(pending_jobs(samples, CLASSIFIERS, other_cv, cache)) == len(samples)
    changed = [{**samples[0], "hash": "0" * 16}, *samples[1:]]
    jobs = pending_jobs(changed, CLASSIFIERS, CV, cache)
    assert [j.sample_id for j in jobs] == [samples[0]["sample_id"]]


def test_a_new_sample_is_the_only_pending_work(root, samples) -> None:
    cache = _cache(root)
    _run_all(pending_jobs(samples, CLASSIFIERS, CV, cache), cache, root)
    extra = _write_samples(root, {"mixed3": _mixed(seed=3)})
    jobs = pending_jobs(samples + extra, CLASSIFIERS, CV, cache)
    assert [j.sample_id for j in jobs] == [extra[0]["sample_id"]]


@pytest.mark.parametrize(
    "content",
    ['{"classifier": "logreg", "accur', "", "{", "not json at all"],
    ids=["truncated", "empty", "brace", "text"],
)
def test_corrupt_cache_file_is_recomputed(root, samples, content: str) -> None:
    cache = _cache(root)
    _run_all(pending_jobs(samples, CLASSIFIERS, CV, cache), cache, root)
    key = label_key(samples[1]["hash"], "gaussian_nb", CV)
    good = cache.get(key)
    cache.path(key).write_text(content)
    assert cache.get(key) is None
    jobs = pending_jobs(samples, CLASSIFIERS, CV, cache)
    assert [(j.sample_id, j.classifiers) for j in jobs] == [
        (samples[1]["sample_id"], ["gaussian_nb"])
    ]
    table = assemble_labels(samples, CLASSIFIERS, CV, cache)  # never read as a label
    row = table[
        (table["sample_id"] == samples[1]["sample_id"]) & (table["classifier"] == "gaussian_nb")
    ]
    assert row["error"].item() == "not labelled" and math.isnan(row["accuracy"].item())
    _run_all(jobs, cache, root)
    recomputed = json.loads(cache.path(key).read_text())
    assert {k: v for k, v in recomputed.items() if not k.endswith("_time")} == {
        k: v for k, v in good.items() if not k.endswith("_time")
    }


@pytest.mark.parametrize(
    "content",
    [b"\xff\xfe\x00garbage", b"[]", b"null", b'{"not": "a label"}'],
    ids=["binary", "list", "null", "other-dict"],
)
def test_unusable_cache_file_is_treated_as_missing(root, samples, content: bytes) -> None:
    cache = _cache(root)
    key = label_key(samples[0]["hash"], "logreg", CV)
    cache.path(key).parent.mkdir(parents=True)
    cache.path(key).write_bytes(content)
    assert cache.get(key) is None
    table = assemble_labels(samples[:1], ["logreg"], CV, cache)
    assert table["error"].tolist() == ["not labelled"]
    run_job(pending_jobs(samples[:1], ["logreg"], CV, cache)[0], CV, cache, root)
    assert cache.get(key)["classifier"] == "logreg"


# --- assembly ----------------------------------------------------------------------------------


def test_assemble_labels_long_table(root, samples) -> None:
    cache = _cache(root)
    _run_all(pending_jobs(samples, CLASSIFIERS, CV, cache), cache, root)
    table = assemble_labels(samples, [*CLASSIFIERS, "knn"], CV, cache)
    assert list(table.columns) == LABEL_COLUMNS
    assert len(table) == len(samples) * (len(CLASSIFIERS) + 1)
    ids = sorted(s["sample_id"] for s in samples)
    assert table["sample_id"].tolist() == [i for i in ids for _ in range(len(CLASSIFIERS) + 1)]
    assert table["classifier"].tolist() == [*CLASSIFIERS, "knn"] * len(samples)
    assert set(table["kind"]) == {"bootstrap"}
    by_id = {s["sample_id"]: s["dataset"] for s in samples}
    assert (table["dataset"] == table["sample_id"].map(by_id)).all()

    done = table[table["classifier"] != "knn"]
    assert done["error"].isna().all()
    assert done["accuracy"].between(0, 1).all() and (done["n_folds"] == CV.n_folds).all()
    assert (done["fit_time"] > 0).all() and (done["predict_time"] > 0).all()
    missing = table[table["classifier"] == "knn"]
    assert (missing["error"] == "not labelled").all()
    assert missing["accuracy"].isna().all() and missing["fit_time"].isna().all()
    assert (missing["n_folds"] == 0).all()
    iris = table[(table["dataset"] == "iris") & (table["classifier"] == "logreg")]
    assert iris["accuracy"].item() > 0.8


def test_write_labels_round_trip_and_summary(root, samples) -> None:
    cache = _cache(root)
    _run_all(pending_jobs(samples, CLASSIFIERS[:1], CV, cache), cache, root)
    table = assemble_labels(samples, CLASSIFIERS[:2], CV, cache)
    path = Layout(root).labels / "labels.parquet"
    summary = write_labels(table, path)
    pd.testing.assert_frame_equal(pd.read_parquet(path), table)
    assert summary["samples"] == len(samples)
    assert summary["labels"] == 2 * len(samples)
    assert summary["missing_labels"] == len(samples)
    assert {e["classifier"] for e in summary["errors"]} == {CLASSIFIERS[1]}
    assert json.loads(path.with_suffix(".summary.json").read_text()) == summary
    assert sample_index(Layout(root)) == samples


def test_failing_sample_is_recorded_not_raised(root) -> None:
    entries = _write_samples(root, {"iris": _iris()})
    bad = pd.read_parquet(root / entries[0]["file"]).drop(columns=[TARGET])  # unlabelable
    write_parquet(bad, root / entries[0]["file"])
    cache = _cache(root)
    _run_all(pending_jobs(entries, CLASSIFIERS, CV, cache), cache, root)
    table = assemble_labels(entries, CLASSIFIERS, CV, cache)
    assert table["accuracy"].isna().all()
    assert table["error"].str.contains("reserved").all()
    assert pending_jobs(entries, CLASSIFIERS, CV, cache) == []  # failures are cached too


# --- batching and determinism --------------------------------------------------------------------


def _job(i: int, fits: int) -> Job:
    return Job(f"s{i}", f"f{i}", f"h{i}", [f"c{k}" for k in range(fits)])


def test_batch_jobs_groups_by_fit_count() -> None:
    jobs = [_job(i, f) for i, f in enumerate([3, 3, 3, 1, 5, 2])]
    batches = batch_jobs(jobs, 6)
    assert [[j.sample_id for j in b] for b in batches] == [["s0", "s1"], ["s2", "s3", "s4"], ["s5"]]
    assert [j for b in batches for j in b] == jobs  # order kept, nothing lost or repeated
    assert all(sum(j.fits for j in b) >= 6 for b in batches[:-1])
    assert all(sum(j.fits for j in b[:-1]) < 6 for b in batches)  # closed as soon as full
    assert batch_jobs(jobs, 1) == [[j] for j in jobs]
    assert batch_jobs(jobs, 1000) == [jobs]
    assert batch_jobs([], 20) == []


def test_labels_do_not_depend_on_order_or_batching(tmp_path) -> None:
    root_a, root_b = (tmp_path / "a").resolve(), (tmp_path / "b").resolve()
    datasets = {"iris": _iris(), "mixed": _mixed()}
    samples_a = _write_samples(root_a, datasets, per_dataset=2)
    samples_b = _write_samples(root_b, datasets, per_dataset=2)
    assert [s["hash"] for s in samples_a] == [s["hash"] for s in samples_b]
    cache_a, cache_b = _cache(root_a), _cache(root_b)

    # a: one job per sample, all classifiers at once, in index order
    _run_all(pending_jobs(samples_a, CLASSIFIERS, CV, cache_a), cache_a, root_a)
    # b: samples reversed, one classifier at a time in reverse, half of it "interrupted" and resumed
    for c in reversed(CLASSIFIERS):
        jobs = pending_jobs(list(reversed(samples_b)), [c], CV, cache_b)
        for batch in batch_jobs(jobs, 1)[:2]:
            _run_all(batch, cache_b, root_b)
    for batch in batch_jobs(pending_jobs(samples_b, CLASSIFIERS, CV, cache_b), 2):
        _run_all(batch, cache_b, root_b)

    table_a = assemble_labels(samples_a, CLASSIFIERS, CV, cache_a)
    table_b = assemble_labels(list(reversed(samples_b)), CLASSIFIERS, CV, cache_b)
    pd.testing.assert_frame_equal(_numeric(table_a), _numeric(table_b))
    assert table_a["accuracy"].notna().all()


@pytest.mark.parametrize(
    ("cfg", "expected"),
    [
        ({"n_folds": 5, "fit_timeout": 60}, CVSettings(5, 42, 60.0)),
        ({}, CVSettings(5, 42, 60.0)),
        ({"n_folds": 3, "fit_timeout": None}, CVSettings(3, 42, None)),
        ({"fit_timeout": 0}, CVSettings(5, 42, None)),
    ],
)
def test_cv_settings(cfg: dict, expected: CVSettings) -> None:
    assert cv_settings(parse_params({"label": cfg}).label, 42) == expected


def test_cv_settings_keys_labels_alike_however_the_timeout_is_written() -> None:
    """The CV settings are part of every label's cache key: a timeout of 60 and of 60.0 must
    find the same cached labels."""
    from beyonder.params import LabelParams

    assert cv_settings(LabelParams(fit_timeout=60), 0) == cv_settings(
        LabelParams(fit_timeout=60.0), 0
    )
    assert label_key("h", "knn", cv_settings(LabelParams(fit_timeout=60), 0)) == label_key(
        "h", "knn", CVSettings(5, 0, 60.0)
    )
