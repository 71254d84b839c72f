"""Layer 1 of the test stack: the embedded API server as a real process.

`start_apiserver(data_dir)` runs `virt-local apiserver` on a free loopback port, waits for its
`ready <url>` line and returns a handle with the kubeconfig path, URL, admin token and CA file;
`stop()` (SIGTERM), `kill()` (SIGKILL) and `restart()` keep the same data dir and port.
`api_server(data_dir)` is the same as a context manager; the layers above (`tests.support.virt_api`,
`tests.support.controller`, `tests.support.handler_node`) take a running one.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.process import REPO, VENV_BIN, ManagedProcess, free_port, kubectl

__all__ = ["REPO", "VENV_BIN", "RunningApiServer", "api_server", "free_port", "start_apiserver"]


@dataclass
class RunningApiServer:
    data_dir: Path
    port: int
    extra_args: list[str] = field(default_factory=list)
    process: ManagedProcess | None = None
    url: str = ""

    @property
    def kubeconfig(self) -> Path:
        return self.data_dir / "kubeconfig"

    @property
    def ca_file(self) -> Path:
        return self.data_dir / "pki" / "ca.crt"

    @property
    def token(self) -> str:
        return (self.data_dir / "admin.token").read_text().strip()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def log(self) -> Path:
        return self.data_dir / "apiserver.log"

    def start(self, timeout: float = 60.0) -> None:
        binary = os.environ.get("VIRT_LOCAL_BIN", str(VENV_BIN / "virt-local"))
        self.process = ManagedProcess(
            [binary, "apiserver", "--data-dir", str(self.data_dir), "--port", str(self.port), *self.extra_args],
            self.log, pipe_stdout=True).start()
        line, out = self.process.read_line_starting("ready ", timeout)
        if line is None:
            self.kill()
            raise AssertionError(f"virt-local apiserver did not become ready within {timeout:g}s: {out!r}\n"
                                 f"{self.process.tail(3000)}")
        self.url = line.split(" ", 1)[1].strip()

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()

    def restart(self) -> None:
        self.stop()
        self.start()

    def kubectl(self, *args: str, input: str | None = None, check: bool = True,
                timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return kubectl(self.kubeconfig, self.data_dir / "kubecache", *args, input=input, check=check,
                       timeout=timeout)

    def apply_crds(self, *names: str) -> None:
        """Apply the KubeVirt CRDs (all of them, or the named files under manifests/crds)."""
        crds = REPO / "manifests" / "crds"
        for path in [crds / n for n in names] or [crds]:
            self.kubectl("apply", "-f", str(path))


def start_apiserver(data_dir: Path, *extra_args: str, port: int | None = None) -> RunningApiServer:
    data_dir.mkdir(parents=True, exist_ok=True)
    srv = RunningApiServer(data_dir, port or free_port(), list(extra_args))
    srv.start()
    return srv


@contextmanager
def api_server(data_dir: Path, *extra_args: str, port: int | None = None) -> Iterator[RunningApiServer]:
    srv = start_apiserver(data_dir, *extra_args, port=port)
    try:
        yield srv
    finally:
        srv.stop()
