"""Same params and seed, same labels and model: run a small real pipeline (``dvc repro train``)
in a copy of a checkout and write a digest of what it made, so two checkouts (say, before and
after a refactoring) can be compared.

The digest holds the label table's accuracies and spreads (fit seconds are wall-clock and
differ between runs), the label cache keys, and the trained network's weights. Fit seconds
are also a training target, so to compare models the second run reuses the first run's label
cache (``--cache``): equal keys read the same labels, and then equal weights mean equal code.

    python bench/reproduce.py --repo . --out /tmp/after.json [--cache /tmp/before/data/cache/labels]
    python bench/reproduce.py --digest KEPT_RUN_FOLDER --out DIGEST.json
    python bench/reproduce.py --compare /tmp/before.json /tmp/after.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

PROFILE = {  # a few minutes on 2 cores: three small real datasets, four classifiers, three epochs
    "folders": ["corpus/uci"],
    "datasets": ["iris", "wine", "glass", "heart.statlog", "ionosphere", "sonar", "vehicle", "zoo"],
    "classifiers": ["logreg", "knn", "decision_tree", "random_forest"],
    "epochs": 3,
}


def _params(repo: Path) -> dict:
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["ingest"]["local"]["folders"] = ["corpus_subset"]
    for section in ("sklearn", "synthetic", "openml"):
        params["ingest"][section]["enabled"] = False
    params["sample"]["per_dataset"] = 2
    params["label"]["classifiers"] = PROFILE["classifiers"]
    params["augment"]["noise"]["share"] = 0.25
    params["augment"]["synthetic"]["n_datasets"] = 1
    params["train"]["epochs"] = PROFILE["epochs"]
    return params


def _copy(repo: Path, dest: Path) -> dict[str, str]:
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=repo, capture_output=True, text=True, check=True,
    ).stdout.split("\0")  # fmt: skip
    for rel in filter(None, files):
        src = repo / rel
        if src.is_file() and Path(rel).parts[0] != "data":
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    subset = dest / "corpus_subset"
    subset.mkdir()
    for folder in PROFILE["folders"]:
        for name in PROFILE["datasets"]:
            for path in (repo / folder).glob(f"{name}.*"):
                shutil.copy2(path, subset / path.name)
    (dest / "data").mkdir(exist_ok=True)
    (dest / "params.yaml").write_text(yaml.safe_dump(_params(repo), sort_keys=False))
    env = dict(os.environ)
    for key in ("PREFECT_API_URL", "BEYONDER_DASK_ADDRESS", "MLFLOW_REGISTRY_URI"):
        env.pop(key, None)
    env.update(
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
        PYTHONPATH=str(dest), MLFLOW_TRACKING_URI=f"sqlite:///{dest / 'mlflow.db'}",
        PREFECT_HOME=str(dest / ".prefect"), PREFECT_SERVER_ANALYTICS_ENABLED="false",
        MLFLOW_DISABLE_TELEMETRY="true", DVC_NO_ANALYTICS="1", TF_CPP_MIN_LOG_LEVEL="2",
    )  # fmt: skip
    subprocess.run(["git", "init", "-q"], cwd=dest, env=env, check=True)
    return env


def _hash(values: object) -> str:
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()[:16]


def digest(work: Path) -> dict:
    labels = pd.read_parquet(work / "data" / "labels" / "labels.parquet")
    keep = [c for c in labels.columns if "time" not in c]
    rows = labels[keep].sort_values(keep[:2]).round(12).astype(str).values.tolist()
    weights = np.load(next((work / "data" / "model").rglob("network.npz")))
    return {
        "labels": len(labels),
        "label_columns": keep,
        "label_values": _hash(rows),
        "cache_keys": _hash(
            sorted(p.name for p in (work / "data" / "cache" / "labels").rglob("*.json"))
        ),
        "weights": {
            k: hashlib.sha256(np.ascontiguousarray(weights[k]).tobytes()).hexdigest()[:16]
            for k in sorted(weights.files)
        },
    }


def run(repo: Path, out: Path, cache: Path | None, keep: Path | None) -> dict:
    work = Path(keep or tempfile.mkdtemp(prefix="beyonder-reproduce-"))
    work.mkdir(parents=True, exist_ok=True)
    env = _copy(repo.resolve(), work)
    if cache is not None:
        shutil.copytree(cache, work / "data" / "cache" / "labels", dirs_exist_ok=True)
    subprocess.run(["dvc", "init", "-q", "--force"], cwd=work, env=env, check=True)
    subprocess.run(["dvc", "repro", "-q", "train"], cwd=work, env=env, check=True)
    result = digest(work)
    out.write_text(json.dumps(result, indent=1))
    print(json.dumps({k: v for k, v in result.items() if k != "weights"}, indent=1))
    return result


def compare(a: Path, b: Path) -> int:
    first, second = json.loads(a.read_text()), json.loads(b.read_text())
    same = {k: first[k] == second[k] for k in first}
    print(json.dumps(same, indent=1))
    return 0 if all(same.values()) else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", type=Path, default=Path("."))
    parser.add_argument("--out", type=Path)
    parser.add_argument("--cache", type=Path, help="label cache to start from (another run's)")
    parser.add_argument("--keep", type=Path, help="run in this folder and keep it")
    parser.add_argument("--compare", nargs=2, type=Path)
    parser.add_argument("--digest", type=Path, help="only write the digest of a kept run folder")
    args = parser.parse_args()
    if args.compare:
        return compare(*args.compare)
    if args.digest:
        args.out.write_text(json.dumps(digest(args.digest), indent=1))
        return 0
    run(args.repo, args.out, args.cache, args.keep)
    return 0


if __name__ == "__main__":
    sys.exit(main())
