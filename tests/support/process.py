"""Real processes under test: start with a log file, stop politely then firmly, find what they left.

`ManagedProcess` runs one command with stdout and stderr appended to a log file (or stdout piped,
for processes that announce readiness with a line) and `stop()`s it with a signal, then SIGKILL after
a grace period; every pipe it opened is closed on stop, so no file descriptor outlives the process.
`read_line_starting(...)` waits for a readiness line. `kubectl(...)` runs kubectl against a kubeconfig
with its discovery cache kept inside the test's directory. The `/proc` helpers find the processes a
stack left behind.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

VENV_BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def unbuffered_env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1", **extra}


@dataclass
class ManagedProcess:
    """One process of a stack: `args`, its log, and a stop that never leaves it (or its pipes) behind."""

    args: list[str]
    log: Path
    pipe_stdout: bool = False
    env: dict[str, str] = field(default_factory=unbuffered_env)
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ManagedProcess:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE if self.pipe_stdout else out,
                                         stderr=out, env=self.env)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM, grace: float = 15.0) -> int | None:
        """Send `sig`, wait up to `grace` seconds, then SIGKILL; return the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return self.proc.returncode

    def kill(self) -> int | None:
        return self.stop(signal.SIGKILL, grace=30.0)

    def tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def read_line_starting(self, prefix: str, timeout: float) -> tuple[str | None, str]:
        """Read piped stdout until a line starting with `prefix` (returned) or EOF, exit or `timeout`.

        Returns (the line or None, everything read).
        """
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        buf = b""
        while time.monotonic() < deadline:
            if select.select([fd], [], [], 0.2)[0]:
                chunk = os.read(fd, 4096)
                if not chunk:
                    break
                buf += chunk
                for line in buf.decode(errors="replace").splitlines():
                    if line.startswith(prefix):
                        return line, buf.decode(errors="replace")
            elif self.proc.poll() is not None:
                break
        return None, buf.decode(errors="replace")


def kubectl(kubeconfig: Path, cache_dir: Path, *args: str, input: str | None = None, check: bool = True,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`kubectl --kubeconfig KUBECONFIG ARGS`; with `check`, a non-zero exit fails with its output."""
    cmd = ["kubectl", "--kubeconfig", str(kubeconfig), *args]
    res = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout,
                         env={**os.environ, "KUBECACHEDIR": str(cache_dir)})
    if check and res.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
    return res


# --- what a stack left behind -------------------------------------------------------------------


def _children() -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        out.setdefault(ppid, []).append(int(entry.name))
    return out


def descendants(pid: int) -> set[int]:
    tree = _children()
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def processes_mentioning(needles: Iterable[str]) -> dict[int, str]:
    """pid → command line of every process whose command line contains one of `needles`."""
    wanted = [n for n in needles if n]
    out: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if any(n in cmdline for n in wanted):
            out[int(entry.name)] = cmdline.strip()
    return out


def command_line(pid: int) -> str:
    try:
        return (Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")).strip()
    except OSError:
        return ""


def kill_all(pids: Iterable[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
