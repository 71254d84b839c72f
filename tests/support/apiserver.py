"""Start the embedded API server as a real process for tests and benchmarks.

`start_apiserver(data_dir)` runs `virt-local apiserver` on a free loopback port, waits for its
`ready <url>` line and returns a handle with the kubeconfig path, URL, admin token and CA file;
`stop()` (SIGTERM), `kill()` (SIGKILL) and `restart()` keep the same data dir and port.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RunningApiServer:
    data_dir: Path
    port: int
    extra_args: list[str] = field(default_factory=list)
    proc: subprocess.Popen[bytes] | None = None
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

    def start(self, timeout: float = 30.0) -> None:
        log = open(self.data_dir / "apiserver.log", "ab")  # noqa: SIM115 - owned by the process
        self.proc = subprocess.Popen(
            [os.environ.get("VIRT_LOCAL_BIN", str(VENV_BIN / "virt-local")), "apiserver", "--data-dir", str(self.data_dir), "--port", str(self.port),
             *self.extra_args],
            stdout=subprocess.PIPE, stderr=log, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        log.close()
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        buf = b""
        while time.monotonic() < deadline:
            r, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if r:
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                if not chunk:
                    break
                buf += chunk
                for line in buf.decode(errors="replace").splitlines():
                    if line.startswith("ready "):
                        self.url = line.split(" ", 1)[1].strip()
                        return
            if self.proc.poll() is not None:
                break
        self.kill()
        tail = (self.data_dir / "apiserver.log").read_text(errors="replace")[-3000:]
        raise RuntimeError(f"virt-local apiserver did not become ready: {buf!r}\n{tail}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._close()

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._close()

    def _close(self) -> None:
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()

    def restart(self) -> None:
        self.stop()
        self.start()

    def kubectl(self, *args: str, input: str | None = None, check: bool = True,
                timeout: float = 60) -> subprocess.CompletedProcess[str]:
        cmd = ["kubectl", "--kubeconfig", str(self.kubeconfig), *args]
        res = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout,
                             env={**os.environ, "KUBECACHEDIR": str(self.data_dir / "kubecache")})
        if check and res.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
        return res


def start_apiserver(data_dir: Path, *extra_args: str, port: int | None = None) -> RunningApiServer:
    data_dir.mkdir(parents=True, exist_ok=True)
    srv = RunningApiServer(data_dir, port or free_port(), list(extra_args))
    srv.start()
    return srv
