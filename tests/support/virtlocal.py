"""A whole `virt-local up` (API server, nodes, virt-api, virt-controller, virt-handler) as a test fixture.

`start_virt_local(data_dir, hypervisor)` runs the real process and waits for its `ready` line;
`VirtLocal` drives it with kubectl, reads a VMI's serial console through virt-api's aggregated
websocket (as `virtctl console` does), and `stop()` sends Ctrl-C (SIGINT) and reports every process it
left behind: descendants of `up`, and any process whose command line names the data dir or the uid of
a VMI the test saw (launchers, their libvirtd and QEMU run under `/var/run/kubevirt/sockets/<uid>`).
"""

from __future__ import annotations

import json
import os
import select
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

VENV_BIN = Path(sys.executable).parent


def wait_for(what: str, check: Callable[[], Any], seconds: float = 30.0, interval: float = 0.2) -> Any:
    """Poll `check` until it returns something truthy; fail naming `what` and the last value."""
    deadline = time.monotonic() + seconds
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {seconds:.0f}s waiting for {what}; last value: {last!r}")


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


@dataclass
class VirtLocal:
    data_dir: Path
    proc: subprocess.Popen[bytes]
    ready_line: str
    vmi_uids: set[str] = field(default_factory=set)

    @property
    def kubeconfig(self) -> Path:
        return self.data_dir / "kubeconfig"

    def kubectl(self, *args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        res = subprocess.run(["kubectl", "--kubeconfig", str(self.kubeconfig), *args], input=input,
                             capture_output=True, text=True, timeout=60,
                             env={**os.environ, "KUBECACHEDIR": str(self.data_dir / "kubecache")})
        if check and res.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed:\n{res.stdout}\n{res.stderr}")
        return res

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        res = self.kubectl("get", kind, name, "-o", "json", check=False)
        if res.returncode != 0:
            return None
        obj: dict[str, Any] = json.loads(res.stdout)
        if kind.startswith("vmi") or kind.startswith("virtualmachineinstance"):
            self.vmi_uids.add(obj["metadata"]["uid"])
        return obj

    def list(self, kind: str, *selector: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = json.loads(self.kubectl("get", kind, *selector, "-o", "json").stdout)["items"]
        return items

    def phase(self, kind: str, name: str) -> str:
        obj = self.get(kind, name)
        return str(((obj or {}).get("status") or {}).get("phase") or ("" if obj else "<gone>"))

    def virt_local(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run another `virt-local` command (e.g. `images list`) next to the running `up`."""
        return subprocess.run([str(VENV_BIN / "virt-local"), *args], capture_output=True, text=True, timeout=60)

    def images_import(self, name: str, path: Path, directory: bool) -> None:
        args = [str(VENV_BIN / "virt-local"), "images", "import", name, str(path), "--data-dir", str(self.data_dir)]
        res = subprocess.run(args + (["--dir"] if directory else []), capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, f"virt-local images import failed: {res.stdout}{res.stderr}"

    # --- console -------------------------------------------------------------------------

    def _server_and_token(self) -> tuple[str, str, ssl.SSLContext]:
        cfg = yaml.safe_load(self.kubeconfig.read_text())
        cluster = cfg["clusters"][0]["cluster"]
        ctx = ssl.create_default_context(cafile=cluster["certificate-authority"])
        ctx.check_hostname = False
        return cluster["server"], cfg["users"][0]["user"]["token"], ctx

    def read_console(self, vmi: str, marker: str, seconds: float = 60.0, namespace: str = "default") -> str:
        """Serial console output of `vmi` through virt-api's websocket, up to and including `marker`.

        Connects as soon as the stream is available (the server answers 400 until the VMI runs) so that
        boot output is not missed; fails if the marker does not appear within `seconds`.
        """
        server, token, ctx = self._server_and_token()
        url = (server.replace("https://", "wss://") + f"/apis/subresources.kubevirt.io/v1/namespaces/{namespace}"
               f"/virtualmachineinstances/{vmi}/console")
        deadline = time.monotonic() + seconds
        seen = b""
        while time.monotonic() < deadline:
            try:
                with connect(url, ssl=ctx, subprotocols=["plain.kubevirt.io"],  # type: ignore[list-item]
                             additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=10) as ws:
                    while time.monotonic() < deadline:
                        try:
                            frame = ws.recv(timeout=max(0.1, deadline - time.monotonic()))
                        except TimeoutError:
                            break
                        seen += frame if isinstance(frame, bytes) else frame.encode()
                        if marker.encode() in seen:
                            text = seen.decode(errors="replace")
                            return text[: text.index(marker) + len(marker)]
            except (InvalidStatus, ConnectionClosed, OSError):
                time.sleep(0.2)
        raise AssertionError(f"no {marker!r} on the console of {vmi} within {seconds:.0f}s; got:\n"
                             f"{seen.decode(errors='replace')[-2000:]}")

    # --- stop ----------------------------------------------------------------------------

    def stop(self, seconds: float = 90.0) -> dict[int, str]:
        """Ctrl-C `up`, wait for it, and return the processes it left behind (pid → command line)."""
        tracked = descendants(self.proc.pid)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(seconds)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        left = {pid: command_line(pid) for pid in tracked if Path(f"/proc/{pid}").exists()}
        left.update(processes_mentioning([str(self.data_dir), *self.vmi_uids]))
        return {pid: cmd for pid, cmd in left.items() if cmd}

    def kill_leftovers(self, pids: Iterable[int]) -> None:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _read_ready(proc: subprocess.Popen[bytes], seconds: float) -> str:
    assert proc.stdout is not None
    buf = b""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and b"\nready " not in b"\n" + buf:
        r, _, _ = select.select([proc.stdout], [], [], 0.2)
        if r:
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                break
            buf += chunk
        if proc.poll() is not None:
            break
    return buf.decode(errors="replace")


def start_virt_local(data_dir: Path, hypervisor: str, *extra: str, seconds: float = 90.0) -> VirtLocal:
    """`virt-local up` on `data_dir`, returned once it printed `ready` (its stderr goes to `up.log`)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir.parent / f"{data_dir.name}-up.log", "wb") as log:
        proc = subprocess.Popen([str(VENV_BIN / "virt-local"), "up", "--data-dir", str(data_dir),
                                 "--hypervisor", hypervisor, *extra],
                                stdout=subprocess.PIPE, stderr=log, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    out = _read_ready(proc, seconds)
    if "ready " not in out:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log_text = (data_dir.parent / f"{data_dir.name}-up.log").read_text(errors="replace")
        raise AssertionError(f"virt-local up did not become ready: {out}\n{log_text[-3000:]}")
    ready = next(line for line in out.splitlines() if line.startswith("ready "))
    return VirtLocal(data_dir, proc, ready)
