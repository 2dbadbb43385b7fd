"""Derived tasks: each transform changes the task as it says, one task is applied alike to
every sample of a dataset (so their labels can be averaged), and training averages each task
apart from the others."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from beyonder.data.derived import TRANSFORMS, choose_transforms, derive_task
from beyonder.data.sampling import bootstrap_samples
from beyonder.schema import ROW_ID, TARGET
from beyonder.selector.corpus import Corpus


def _dataset(n: int = 300, classes: int = 4, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(n, 6)), columns=[f"x{i}" for i in range(6)])
    frame["colour"] = rng.choice(["red", "green", "blue"], size=n)
    frame[TARGET] = pd.Series(rng.choice([f"c{k}" for k in range(classes)], size=n)).astype(
        "string"
    )
    return frame


def _samples(frame: pd.DataFrame) -> list[pd.DataFrame]:
    return [s for _, s in bootstrap_samples(frame, "demo", rows=200, per_dataset=2, seed=3)]


def _features(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c not in (TARGET, ROW_ID)]


def test_subset_keeps_part_of_the_features() -> None:
    sample = _samples(_dataset())[0]
    out = derive_task(sample, 1, "demo", 0, ["subset"])
    assert 0.4 * 7 - 1 <= len(_features(out)) <= 0.8 * 7 + 1 and len(_features(out)) < 7
    assert set(_features(out)) < set(_features(sample))
    assert out[TARGET].equals(sample[TARGET])


def test_irrelevant_features_are_noise_shared_by_copies_of_a_row() -> None:
    first, second = _samples(_dataset())
    a = derive_task(first, 1, "demo", 0, ["irrelevant"])
    b = derive_task(second, 1, "demo", 0, ["irrelevant"])
    added = [c for c in _features(a) if c.startswith("irrelevant_")]
    assert len(added) >= 3 and added == [c for c in _features(b) if c.startswith("irrelevant_")]
    merged = a[[ROW_ID, *added]].merge(b[[ROW_ID, *added]], on=ROW_ID, suffixes=("_a", "_b"))
    assert len(merged) > 0
    for c in added:  # the same source row has the same noise in both samples
        np.testing.assert_array_equal(merged[f"{c}_a"], merged[f"{c}_b"])
    copies = a.groupby(ROW_ID)[added[0]].nunique()
    assert (copies == 1).all()  # and bootstrap copies within a sample agree


def test_merge_makes_two_groups_of_whole_classes() -> None:
    sample = _samples(_dataset(classes=5))[0]
    out = derive_task(sample, 1, "demo", 0, ["merge"])
    assert set(out[TARGET]) == {"group_a", "group_b"}
    pairs = pd.crosstab(sample[TARGET], out[TARGET])
    assert ((pairs > 0).sum(axis=1) == 1).all()  # each class went wholly to one group


def test_few_rows_keeps_the_same_source_rows_in_every_sample() -> None:
    first, second = _samples(_dataset(n=400))
    a = derive_task(first, 1, "demo", 0, ["few_rows"])
    b = derive_task(second, 1, "demo", 0, ["few_rows"])
    assert 0.1 * len(first) < len(a) < 0.5 * len(first)
    kept_a, kept_b = set(a[ROW_ID]), set(b[ROW_ID])
    in_both = set(first[ROW_ID]) & set(second[ROW_ID])
    assert kept_a & in_both == kept_b & in_both  # one decision per source row


def test_label_noise_moves_some_rows_to_another_class_consistently() -> None:
    first, second = _samples(_dataset(classes=3))
    a = derive_task(first, 1, "demo", 0, ["label_noise"])
    b = derive_task(second, 1, "demo", 0, ["label_noise"])
    changed = (a[TARGET] != first[TARGET]).mean()
    assert 0.03 < changed < 0.4
    assert a.groupby(ROW_ID)[TARGET].nunique().max() == 1
    both = a[[ROW_ID, TARGET]].merge(b[[ROW_ID, TARGET]], on=ROW_ID).drop_duplicates()
    assert (both[f"{TARGET}_x"] == both[f"{TARGET}_y"]).all()


def test_transforms_are_chosen_from_the_seed_and_merge_needs_three_classes() -> None:
    binary = _samples(_dataset(classes=2))[0]
    picks = {tuple(choose_transforms(binary, s, "demo", 0)) for s in range(40)}
    assert all(len(p) == 2 and "merge" not in p for p in picks)
    assert len(picks) > 3
    multi = _samples(_dataset(classes=4))[0]
    assert any("merge" in choose_transforms(multi, s, "demo", 0) for s in range(40))
    assert choose_transforms(multi, 7, "demo", 1) == choose_transforms(multi, 7, "demo", 1)
    assert set().union(*picks) <= set(TRANSFORMS)


def test_a_task_left_with_one_class_is_refused() -> None:
    sample = _samples(_dataset(classes=2))[0]
    sample[TARGET] = pd.Series(["a"] * (len(sample) - 1) + ["b"], dtype="string")
    with pytest.raises(ValueError, match="two classes"):
        for seed in range(30):  # some seed keeps only the 'a' rows
            derive_task(sample, seed, "demo", 0, ["few_rows"])


def test_dataset_means_average_each_task_apart() -> None:
    index = pd.DataFrame(
        {
            "sample_id": [
                "d__s0",
                "d__s1",
                "d__s0__derived0",
                "d__s1__derived0",
                "d__s0__derived1",
            ],
            "dataset": ["d"] * 5,
            "kind": ["bootstrap", "bootstrap", "derived", "derived", "derived"],
            "task": [None, None, "d__derived0", "d__derived0", "d__derived1"],
        }
    )
    accuracy = np.array([[0.8], [0.6], [0.5], [0.3], [0.9]])
    means = Corpus(index, accuracy, accuracy, ["logreg"]).dataset_means().accuracy[:, 0]
    np.testing.assert_allclose(means, [0.7, 0.7, 0.4, 0.4, 0.9])


def test_augment_writes_one_task_per_dataset_over_all_its_samples(tmp_path) -> None:
    from beyonder.config import Layout
    from beyonder.params import DerivedParams
    from beyonder.stages.augment import derived_tasks

    layout = Layout(tmp_path)
    layout.samples.mkdir(parents=True)
    samples = []
    for k, sample in enumerate(_samples(_dataset(classes=3))):
        path = layout.samples / f"demo__s{k}.parquet"
        sample.to_parquet(path)
        samples.append({"sample_id": f"demo__s{k}", "dataset": "demo", "source": "local",
                        "file": str(path.relative_to(tmp_path))})  # fmt: skip
    (layout.augmented / "samples").mkdir(parents=True)
    assert derived_tasks(samples, layout, DerivedParams(per_dataset=0), seed=5) == []
    entries = derived_tasks(samples, layout, DerivedParams(per_dataset=2), seed=5)
    assert [e["sample_id"] for e in entries] == [
        "demo__s0__derived0", "demo__s0__derived1", "demo__s1__derived0", "demo__s1__derived1"
    ]  # fmt: skip
    assert {e["kind"] for e in entries} == {"derived"} and {e["dataset"] for e in entries} == {
        "demo"
    }
    by_task = {}
    for e in entries:
        by_task.setdefault(e["task"], []).append(e["transforms"])
        assert (tmp_path / e["file"]).exists()
    assert set(by_task) == {"demo__derived0", "demo__derived1"}
    assert all(len({tuple(t) for t in ts}) == 1 for ts in by_task.values())  # alike on every sample
