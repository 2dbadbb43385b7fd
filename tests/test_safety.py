"""Safety: no pickle or other code-carrying format is ever loaded by the project's code, Keras
models load in safe mode, and data files are read as data only.

The scan parses every module of ``beyonder/`` (its flows included; imports and aliases resolved) and
fails on: ``pickle``/``dill``/``cloudpickle``/``joblib``/``marshal``/``shelve`` loads,
``pandas.read_pickle``, ``numpy.load(..., allow_pickle=<anything but False>)``, Keras/TF
``load_model`` without ``safe_mode=True``, ``keras.config.enable_unsafe_deserialization``,
``yaml.load`` without a safe loader, ``torch.load`` without ``weights_only=True``, MLflow flavours
that unpickle (anything but ``mlflow.pyfunc.load_model``, which loads the project's own
models-from-code model), openml's pickle-caching ``get_data()``, and ``eval``/``exec``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCANNED = ("beyonder", "flows")

BANNED = {
    "pickle.load", "pickle.loads", "pickle.Unpickler", "_pickle.load", "_pickle.loads",
    "dill.load", "dill.loads", "cloudpickle.load", "cloudpickle.loads", "joblib.load",
    "marshal.load", "marshal.loads", "shelve.open", "pandas.read_pickle",
    "yaml.unsafe_load", "yaml.full_load", "yaml.unsafe_load_all",
    "keras.config.enable_unsafe_deserialization",
    "numpy.lib.format.read_array",
}  # fmt: skip
SAFE_YAML_LOADERS = {"SafeLoader", "CSafeLoader", "yaml.SafeLoader", "yaml.CSafeLoader"}


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _aliases(tree: ast.AST) -> dict[str, str]:
    """Local name -> fully qualified name, from every import in the module."""
    names: dict[str, str] = {"np": "numpy", "pd": "pandas", "tf": "tensorflow"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                names[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else alias.name.split(".")[0]
                )
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def _keyword(call: ast.Call, name: str) -> ast.AST | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _is_const(node: ast.AST | None, value: object) -> bool:
    return isinstance(node, ast.Constant) and node.value is value


def unsafe_calls(source: str, filename: str = "<string>") -> list[str]:
    """``file:line: call (why)`` for every unsafe load in ``source``."""
    tree = ast.parse(source, filename)
    aliases = _aliases(tree)
    imports_openml = any(v == "openml" or v.startswith("openml.") for v in aliases.values())
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        attr = node.func.attr if isinstance(node.func, ast.Attribute) else None
        if imports_openml and attr == "get_data":
            found.append(f"{filename}:{node.lineno}: .get_data() (openml caches and unpickles)")
            continue
        dotted = _dotted(node.func)
        if dotted is None:
            continue
        head, _, rest = dotted.partition(".")
        qualified = aliases.get(head, head) + (f".{rest}" if rest else "")
        why = None
        if qualified in BANNED or any(qualified.endswith("." + b) for b in ("read_pickle",)):
            why = "loads a code-carrying format"
        elif qualified in ("eval", "exec"):
            why = "evaluates code"
        elif qualified == "numpy.load" and not _is_const(_keyword(node, "allow_pickle"), False):
            if _keyword(node, "allow_pickle") is not None:
                why = "numpy.load with allow_pickle"
        elif qualified.split(".")[0] in ("keras", "tensorflow", "tf_keras") and qualified.endswith(
            "load_model"
        ):
            if not _is_const(_keyword(node, "safe_mode"), True):
                why = "Keras load_model without safe_mode=True"
        elif qualified == "yaml.load":
            loader = _keyword(node, "Loader")
            if loader is None and len(node.args) > 1:
                loader = node.args[1]
            if loader is None or _dotted(loader) not in SAFE_YAML_LOADERS:
                why = "yaml.load without SafeLoader"
        elif qualified == "torch.load" and not _is_const(_keyword(node, "weights_only"), True):
            why = "torch.load without weights_only=True"
        elif qualified.startswith("mlflow.") and qualified.endswith(".load_model"):
            if qualified != "mlflow.pyfunc.load_model":
                why = "MLflow flavour that unpickles"
        if why:
            found.append(f"{filename}:{node.lineno}: {qualified} ({why})")
    return found


def _modules() -> list[Path]:
    return sorted(p for folder in SCANNED for p in (REPO / folder).rglob("*.py"))


def test_the_scan_covers_the_code() -> None:
    files = {p.relative_to(REPO).as_posix() for p in _modules()}
    assert {
        "beyonder/selector/estimator.py",
        "beyonder/data/sources/local.py",
        "flows/ingest.py",
    } <= files


def test_no_unsafe_load_in_the_project_code() -> None:
    found = []
    for path in _modules():
        found += unsafe_calls(path.read_text(), str(path.relative_to(REPO)))
    assert found == [], "\n".join(found)


@pytest.mark.parametrize(
    "snippet",
    [
        "import pickle\npickle.load(f)",
        "import pickle as p\np.loads(b)",
        "from pickle import loads\nloads(b)",
        "import joblib\njoblib.load('m.joblib')",
        "import numpy as np\nnp.load('a.npy', allow_pickle=True)",
        "import pandas as pd\npd.read_pickle('x.pkl')",
        "import keras\nkeras.saving.load_model('m.keras')",
        "import keras\nkeras.models.load_model('m.keras', safe_mode=False)",
        "from keras.saving import load_model\nload_model('m.keras', compile=False)",
        "import tensorflow as tf\ntf.keras.models.load_model('m')",
        "import keras\nkeras.config.enable_unsafe_deserialization()",
        "import yaml\nyaml.load(text)",
        "import yaml\nyaml.load(text, Loader=yaml.Loader)",
        "import mlflow\nmlflow.sklearn.load_model(uri)",
        "import openml\nopenml.datasets.get_dataset(1).get_data()",
        "eval(text)",
    ],
)
def test_the_scan_finds_unsafe_loads(snippet: str) -> None:
    assert unsafe_calls(snippet), snippet


@pytest.mark.parametrize(
    "snippet",
    [
        "import numpy as np\nnp.load('a.npy')",
        "import numpy as np\nnp.load('a.npz', allow_pickle=False)",
        "import keras\nkeras.saving.load_model(p, compile=False, safe_mode=True)",
        "import yaml\nyaml.safe_load(text)",
        "import yaml\nyaml.load(text, Loader=yaml.SafeLoader)",
        "import mlflow\nmlflow.pyfunc.load_model(uri)",
        "import pandas as pd\npd.read_parquet(p)",
        "import json\njson.loads(text)",
    ],
)
def test_the_scan_accepts_safe_loads(snippet: str) -> None:
    assert unsafe_calls(snippet) == [], snippet
