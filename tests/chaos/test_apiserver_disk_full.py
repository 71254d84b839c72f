"""The API server on a full disk: its data directory on a small tmpfs of its own, filled to the last byte.

While the disk is full a write that cannot be stored is answered 500 with a `Status` naming the
disk, and leaves no trace: get, list and watch do not show it, a retry is not a 409, an update
leaves the stored object as it was; reads keep being answered. Concurrent writes are answered one by
one (whatever was acknowledged is there, nothing else is). Once space returns, writes succeed again
without a restart, and after a restart exactly the acknowledged writes are found.
"""

from __future__ import annotations

import concurrent.futures
import os
import select
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.chaos.conftest import ChaosLedger
from tests.chaos.private_disk import PrivateDisk
from tests.support.apiserver import free_port

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the disk is a tmpfs in a private mount namespace: needs root")

VENV_BIN = Path(sys.executable).parent
CMS = "/api/v1/namespaces/default/configmaps"
BIG = "x" * (2 << 20)  # larger than any space SQLite's files have left over


@dataclass
class ApiServerOnDisk:
    disk: PrivateDisk
    data_dir: Path  # inside the disk's namespace
    log: Path
    port: int
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.proc = self.disk.run([str(VENV_BIN / "virt-local"), "apiserver", "--data-dir", str(self.data_dir),
                                       "--port", str(self.port)], stdout=subprocess.PIPE, stderr=log,
                                      env={**os.environ, "PYTHONUNBUFFERED": "1"})
        assert self.proc.stdout is not None
        deadline, buf = time.monotonic() + 60, b""
        while time.monotonic() < deadline and b"ready " not in buf and self.proc.poll() is None:
            if select.select([self.proc.stdout], [], [], 0.2)[0]:
                buf += os.read(self.proc.stdout.fileno(), 4096)
        if b"ready " not in buf:
            self.stop()
            raise AssertionError(f"the API server did not start: {buf!r}\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(30)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            if self.proc.stdout is not None:
                self.proc.stdout.close()
            self.proc = None

    def client(self) -> httpx.Client:
        ctx = ssl.create_default_context(cafile=str(self.disk.path(self.data_dir / "pki" / "ca.crt")))
        token = self.disk.path(self.data_dir / "admin.token").read_text().strip()
        return httpx.Client(base_url=f"https://127.0.0.1:{self.port}", verify=ctx, timeout=60,
                            headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
def disk() -> Iterator[PrivateDisk]:
    d = PrivateDisk.create("24m")
    try:
        yield d
    finally:
        d.close()


@pytest.fixture
def server(disk: PrivateDisk, tmp_path: Path) -> Iterator[ApiServerOnDisk]:
    srv = ApiServerOnDisk(disk, disk.mount / "data", tmp_path / "apiserver.log", free_port())
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def configmap(name: str, value: str = "v") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": value}}


def names(c: httpx.Client) -> set[str]:
    """The ConfigMaps this test wrote (the server makes `kube-root-ca.crt` in every namespace)."""
    return {i["metadata"]["name"] for i in c.get(CMS).json()["items"]} - {"kube-root-ca.crt"}


def assert_disk_full_status(resp: httpx.Response) -> None:
    status = resp.json()
    assert (resp.status_code, status.get("kind"), status.get("reason")) == (500, "Status", "InternalError"), status
    assert "no space left on the disk" in status["message"] and "state.db" in status["message"], status


def watched_since(c: httpx.Client, rv: str) -> list[tuple[str, str]]:
    """(type, name) of every event after `rv` (the stream ends after a second)."""
    with c.stream("GET", CMS, params={"watch": "1", "resourceVersion": rv, "timeoutSeconds": "1"}) as resp:
        events = [orjson.loads(line) for line in resp.iter_lines() if line.strip()]
    return [(e["type"], e["object"]["metadata"]["name"]) for e in events]


def test_writes_fail_cleanly_while_the_disk_is_full_and_succeed_when_space_returns(
        disk: PrivateDisk, server: ApiServerOnDisk, chaos: ChaosLedger) -> None:
    acknowledged: set[str] = set()
    with server.client() as c:
        assert c.post(CMS, json=configmap("before", "old")).status_code == 201
        acknowledged.add("before")
        rv = c.get(CMS).json()["metadata"]["resourceVersion"]

        disk.fill()
        chaos.fault("disk full")
        assert_disk_full_status(c.post(CMS, json=configmap("big", BIG)))
        assert c.get(f"{CMS}/big").status_code == 404
        assert "big" not in names(c)
        assert_disk_full_status(c.post(CMS, json=configmap("big", BIG)))  # a retry: still 500, not 409

        before = c.get(f"{CMS}/before").json()
        assert_disk_full_status(c.put(f"{CMS}/before", json={**before, "data": {"k": BIG}}))
        assert_disk_full_status(c.patch(f"{CMS}/before", json={"data": {"k": BIG}},
                                        headers={"Content-Type": "application/merge-patch+json"}))
        assert c.get(f"{CMS}/before").json() == before

        # reads keep being answered
        assert c.get("/api/v1/namespaces").status_code == 200
        assert c.get("/readyz").status_code == 200

        # concurrent writes: one that cannot fit, small ones that may; each gets its own answer
        wanted = {"huge": BIG, **{f"small-{i}": "s" for i in range(6)}}
        with concurrent.futures.ThreadPoolExecutor(len(wanted)) as pool:
            answers = dict(zip(wanted, pool.map(lambda n: c.post(CMS, json=configmap(n, wanted[n])).status_code,
                                                 wanted), strict=True))
        assert answers["huge"] == 500
        assert set(answers.values()) <= {201, 500}, answers
        acknowledged |= {n for n, code in answers.items() if code == 201}
        assert names(c) == acknowledged
        assert {n for t, n in watched_since(c, rv)} == acknowledged - {"before"}

        disk.free()
        assert c.post(CMS, json=configmap("big", BIG)).status_code == 201
        acknowledged.add("big")
        assert c.get(f"{CMS}/big").json()["data"]["k"] == BIG
        log = server.log.read_text()
        assert "no space left on the disk of" in log and "writes fail until this is fixed" in log
        assert "succeed again" in log

    server.stop()
    server.start()
    with server.client() as c:
        found = names(c)
    chaos.lost(acknowledged - found)
    assert found == acknowledged, f"lost: {acknowledged - found}; never acknowledged: {found - acknowledged}"
