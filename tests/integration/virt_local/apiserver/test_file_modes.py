"""The API server's data directory is its owner's only: the directory 0700, the database with its WAL
and shared-memory files, the keys, the admin token and the kubeconfig 0600, whatever the umask,
and a directory an older version left readable is narrowed at the next start."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.apiserver import RunningApiServer, start_apiserver

SECRET = """
apiVersion: v1
kind: Secret
metadata: {name: precious}
stringData: {password: hunter2}
"""


@pytest.fixture
def open_umask() -> Iterator[None]:
    old = os.umask(0)  # the server inherits it: nothing may depend on a restrictive umask
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def server(tmp_path: Path, open_umask: None) -> Iterator[RunningApiServer]:
    srv = start_apiserver(tmp_path / "data")
    try:
        yield srv
    finally:
        srv.stop()


def wider_than_owner(data_dir: Path) -> dict[str, str]:
    """The server's paths in `data_dir` (itself included) whose mode lets anyone but its owner in."""
    out = {}
    for p in [data_dir, *data_dir.iterdir(), *(data_dir / "pki").iterdir()]:
        if p.name in ("apiserver.log", "kubecache") or p.suffix == ".crt":
            continue  # written by the test harness and kubectl; certificates are public
        mode = stat.S_IMODE(p.stat().st_mode)
        if mode & 0o077:
            out[str(p.relative_to(data_dir.parent))] = oct(mode)
    return out


def test_data_directory_and_files_are_owner_only(server: RunningApiServer) -> None:
    server.kubectl("apply", "-f", "-", input=SECRET)
    names = {p.name for p in server.data_dir.iterdir()}
    assert {"state.db", "state.db-wal", "state.db-shm", "sa.key", "admin.token", "kubeconfig", "pki"} <= names
    assert stat.S_IMODE(server.data_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((server.data_dir / "state.db-wal").stat().st_mode) == 0o600
    assert wider_than_owner(server.data_dir) == {}


def test_a_readable_data_directory_is_narrowed_at_start(server: RunningApiServer) -> None:
    server.kubectl("apply", "-f", "-", input=SECRET)
    server.stop()
    for p in [server.data_dir, *server.data_dir.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    server.start()
    server.kubectl("get", "secret", "precious")
    assert wider_than_owner(server.data_dir) == {}
