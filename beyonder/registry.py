"""Finding a registered model's files without importing MLflow.

``import mlflow`` costs about a second, ``mlflow.pyfunc.load_model`` more: most of a
recommendation's cold start once the network runs in NumPy. For the common case (a SQLite
registry, the pipeline's ``mlflow.db``, whose artifacts are local files) the registry is read
here directly, with the same rules MLflow's ``SqlAlchemyStore`` applies: the alias (or version
number) of the registered model in the active workspace, a version not deleted, its
``storage_location`` (else its ``source``). The registry stays the source of truth; nothing is
cached outside it.

Anything else (another kind of registry, remote artifacts, ``runs:/`` URIs, the ``latest``
alias, stages, a schema without the expected tables, a missing row) returns ``None``, and the
caller asks MLflow itself, which also gives its usual error messages.
"""

from __future__ import annotations

import os
import re
import sqlite3
from contextlib import closing
from pathlib import Path
from urllib.parse import unquote, urlparse

MLMODEL = "MLmodel"
DEFAULT_WORKSPACE = "default"
DELETED_STAGE = "Deleted_Internal"  # MLflow's mark for a deleted model version
_MODEL_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/]+)|/(?P<version>\d+))/?$")


def sqlite_path(registry_uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI (relative or absolute), or None."""
    if not registry_uri.startswith("sqlite:///") or "?" in registry_uri:
        return None
    path = Path(registry_uri[len("sqlite:///") :])
    return path if path.is_file() else None


def model_version_location(model_uri: str, registry_uri: str) -> str | None:
    """Where the files of ``models:/NAME@ALIAS`` or ``models:/NAME/VERSION`` are, read from a
    SQLite registry; None where MLflow should be asked instead (see the module docstring)."""
    match = _MODEL_URI.match(model_uri)
    database = sqlite_path(registry_uri)
    if match is None or database is None or (match["alias"] or "").lower() == "latest":
        return None
    workspace = (os.environ.get("MLFLOW_WORKSPACE") or "").strip() or DEFAULT_WORKSPACE
    try:
        with closing(sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True)) as db:
            return _location(db, match["name"], match["alias"], match["version"], workspace)
    except sqlite3.Error:
        return None


def _location(
    db: sqlite3.Connection, name: str, alias: str | None, version: str | None, workspace: str
) -> str | None:
    def in_workspace(table: str) -> tuple[str, tuple]:
        columns = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        if not columns:
            raise sqlite3.OperationalError(f"no table {table}")
        if "workspace" in columns:
            return " AND workspace = ?", (workspace,)
        if workspace != DEFAULT_WORKSPACE:  # a registry without workspaces has only the default
            raise sqlite3.OperationalError("no workspaces")
        return "", ()

    clause, args = in_workspace("registered_models")
    if (
        db.execute(
            f"SELECT 1 FROM registered_models WHERE name = ?{clause}", (name, *args)
        ).fetchone()
        is None
    ):
        return None
    if alias is not None:
        clause, args = in_workspace("registered_model_aliases")
        row = db.execute(
            f"SELECT version FROM registered_model_aliases WHERE name = ? AND alias = ?{clause}",
            (name, alias, *args),
        ).fetchone()
        if row is None:
            return None
        version = row[0]
    clause, args = in_workspace("model_versions")
    row = db.execute(
        f"SELECT storage_location, source FROM model_versions WHERE name = ? AND version = ? AND current_stage != ?{clause}",
        (name, int(version), DELETED_STAGE, *args),
    ).fetchone()
    return None if row is None else (row[0] or row[1])


def local_folder(location: str) -> Path | None:
    """A ``file://`` URI or a plain path as a local folder, or None (a remote store)."""
    parsed = urlparse(location)
    if parsed.scheme == "file" and parsed.netloc in ("", "localhost"):
        folder = Path(unquote(parsed.path))
    elif parsed.scheme == "" and location:
        folder = Path(location)
    else:
        return None
    return folder if folder.is_dir() else None


def pyfunc_artifact(model_folder: Path, artifact: str) -> Path | None:
    """The local folder of a pyfunc model's ``artifact`` (as ``mlflow.pyfunc.log_model``'s
    ``artifacts=`` wrote it), read from its ``MLmodel`` file; None if it has no such one."""
    mlmodel = model_folder / MLMODEL
    if not mlmodel.is_file():
        return None
    import yaml

    try:
        spec = yaml.safe_load(mlmodel.read_text()) or {}
        relative = spec["flavors"]["python_function"]["artifacts"][artifact]["path"]
    except (yaml.YAMLError, KeyError, TypeError):
        return None
    folder = (model_folder / str(relative)).resolve()
    return folder if folder.is_dir() and folder.is_relative_to(model_folder.resolve()) else None


def registered_artifact(model_uri: str, registry_uri: str, artifact: str) -> Path | None:
    """The local folder of ``artifact`` in the registered model ``model_uri``, found without
    MLflow; None where MLflow must resolve it."""
    location = model_version_location(model_uri, registry_uri)
    folder = local_folder(location) if location else None
    return pyfunc_artifact(folder, artifact) if folder else None
