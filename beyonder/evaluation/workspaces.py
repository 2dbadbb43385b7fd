"""Workspaces for ``beyonder evaluate --corpus DIR``: each corpus (one folder of dataset files,
or several read together) gets its own pipeline workspace under ``data/corpora/<name>``, with
its own ``params.yaml``, so the same stages prepare it and its labels are cached there.

The flows that prepare and score a workspace are in ``flows/crossval.py``; this
module holds what needs no Prefect: where a workspace is, its params, which corpus each
dataset came from, and cached meta-features.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pandas as pd

from beyonder.config import Layout
from beyonder.data.datasets import safe_name
from beyonder.params import IngestParams, Params
from beyonder.selector.baselines import meta_features
from beyonder.storage import write_json

Corpora = str | Path | list[str]
"""One corpus folder, or several read together."""


def corpus_folders(corpus: Corpora) -> list[str | Path]:
    return list(corpus) if isinstance(corpus, list | tuple) else [corpus]


def corpus_workspace(corpus: Corpora, params: Params, base: str | Path = "data/corpora") -> Path:
    """Workspace folder and params for one corpus (one folder, or several read together):
    only those local folders are ingested, with ``evaluate.corpus_samples`` bootstrap samples
    per dataset when set (more samples, less noisy test-side truth, without slowing the main
    pipeline's ``sample.per_dataset``)."""
    folders = [Path(c).resolve() for c in corpus_folders(corpus)]
    root = Path(base) / safe_name("-".join(f.name for f in folders))
    root.mkdir(parents=True, exist_ok=True)
    samples = params.evaluate.corpus_samples
    local = replace(params.ingest.local, enabled=True, folders=[str(f) for f in folders])
    derived = replace(
        params,
        sample=replace(params.sample, per_dataset=samples) if samples else params.sample,
        ingest=IngestParams(local=local),  # only these folders: the other sources stay off
    )
    (root / "params.yaml").write_text(derived.to_yaml())
    return root


def is_prepared(corpus: Corpora) -> bool:
    """A folder that already holds a labelled pipeline workspace (e.g. this repository after
    ``dvc repro``): its samples and labels are used as they are."""
    if len(corpus_folders(corpus)) != 1:
        return False
    path = Path(corpus_folders(corpus)[0])
    return (path / "data" / "samples" / "index.json").exists() and (
        path / "data" / "labels" / "labels.parquet"
    ).exists()


def corpus_groups(layout: Layout) -> dict[str, str]:
    """Dataset -> its corpus, from the ingest manifest: the folder a local file was read from
    (``corpus/uci/iris.parquet`` -> ``uci``), else the source (``sklearn``, ``openml``...)."""
    path = layout.raw / "manifest.json"
    if not path.exists():
        return {}
    return {
        e["name"]: Path(e["origin"]).parent.name if e["source"] == "local" else e["source"]
        for e in json.loads(path.read_text())
    }


def cached_meta_features(
    files: list[str], hashes: list[str], root: str | Path, seed: int
) -> list[dict]:
    """pymfe meta-features per sample file, cached by content hash under the workspace."""
    out = []
    for file, digest in zip(files, hashes, strict=True):
        path = Path(root) / "data" / "cache" / "meta" / f"{digest}.json"
        if path.exists():
            out.append(json.loads(path.read_text()))
            continue
        values = meta_features(pd.read_parquet(Path(root) / file), seed)
        write_json(values, path)
        out.append(values)
    return out
