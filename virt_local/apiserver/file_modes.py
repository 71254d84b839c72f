"""Owner-only modes for the API server's data directory and the files in it.

The data directory holds every Secret (in `state.db` and its WAL), the CA and service-account keys and
the admin token, so it is `0700` and each of those files `0600`. Files are created with that mode
(never written first and narrowed later), and `restrict_data_dir` narrows what an older version left
wider, so an existing installation is fixed by its next start. The process umask is left alone: the
pod runner in `virt-local up` creates files for Pods in the same process.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600
#: what the API server keeps in its data directory (`up` adds more: logs, nodes, Pods, images)
PRIVATE_FILES = ("state.db", "state.db-wal", "state.db-shm", "sa.key", "admin.token", "kubeconfig")
PRIVATE_DIRS = ("pki",)


def private_dir(path: Path) -> Path:
    """Create `path` (and parents) if needed and make it owner-only."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    path.chmod(DIR_MODE)
    return path


def create_private(path: Path) -> None:
    """Create `path` empty with mode 0600 unless it exists; narrow its mode either way."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE))
    path.chmod(FILE_MODE)


def write_private(path: Path, data: bytes) -> None:
    """Replace `path` atomically by `data`, readable by its owner only from the first byte."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    tmp.chmod(FILE_MODE)  # a leftover .tmp of a crashed write keeps its old mode through O_CREAT
    tmp.replace(path)


def restrict(path: Path) -> None:
    """Narrow an existing file to 0600 (a missing one is fine)."""
    with contextlib.suppress(FileNotFoundError):
        path.chmod(FILE_MODE)


def restrict_data_dir(data_dir: Path) -> None:
    """The data directory 0700, its credentials and database files 0600, `pki/` 0700 with 0600 files."""
    private_dir(data_dir)
    for name in PRIVATE_FILES:
        restrict(data_dir / name)
    for name in PRIVATE_DIRS:
        d = data_dir / name
        if d.is_dir():
            private_dir(d)
            for f in d.iterdir():
                if f.is_file():
                    restrict(f)
