"""Atomic writes and content hashes: a reader never sees a half-written file."""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

TEMPORARY = re.compile(r"^\.(?P<name>.+)\.(?P<host>[^.]+)-(?P<pid>\d+)\.[^.]+\.tmp$")
"""An atomic write's temporary file: ``.<name>.<host>-<pid>.<random>.tmp``, named after its
writer so that one whose writer died (``kill -9``, or a Dask worker killed with its process
group) can be told from one being written (``remove_orphan_temporaries``)."""


def _host() -> str:
    return socket.gethostname().split(".")[0].replace("-", "_") or "host"


def _atomic(path: Path, write: Callable[[Path], None]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = f"{_host()}-{os.getpid()}"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{writer}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, dead but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:  # gone meanwhile, or no /proc: the kernel's answer stands
        return True


def remove_orphan_temporaries(root: str | Path) -> list[Path]:
    """Delete the temporary files under ``root`` whose writer, a process of this host, is
    gone; return them. A writer killed outright never reaches the clean-up of ``_atomic``
    (readers never open such files, but they pile up); files being written by a live process,
    or by another host's (a remote Dask worker sharing the folder), are left alone."""
    host, removed = _host(), []
    for path in Path(root).rglob(".*.tmp"):
        match = TEMPORARY.match(path.name)
        if match and match["host"] == host and not _alive(int(match["pid"])):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def write_parquet(frame: pd.DataFrame, path: Path, compression: str = "snappy") -> None:
    _atomic(path, lambda tmp: frame.to_parquet(tmp, index=False, compression=compression))


def write_json(obj: Any, path: Path) -> None:
    def write(tmp: Path) -> None:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")

    _atomic(path, write)


def write_text(text: str, path: Path) -> None:
    _atomic(path, lambda tmp: tmp.write_text(text))


def write_bytes(data: bytes, path: Path) -> None:
    _atomic(path, lambda tmp: tmp.write_bytes(data))


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text())


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def frame_hash(frame: pd.DataFrame) -> str:
    """Content hash of a frame: column names, dtypes and values (row order matters)."""
    digest = hashlib.sha256()
    digest.update(json.dumps([str(c) for c in frame.columns]).encode())
    digest.update(json.dumps([str(t) for t in frame.dtypes]).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).values.tobytes())
    return digest.hexdigest()[:16]
