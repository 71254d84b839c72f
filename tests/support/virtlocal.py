"""Layer 4 of the test stack: a whole `virt-local up` (API server, nodes, virt-api, virt-controller,
virt-handler) as a real process.

`virt_local_up(data_dir, hypervisor)` runs it and waits for its `ready` line; `VirtLocal` drives it
with kubectl and virtctl (the kubeconfig in the environment, as a user would), reads a VMI's serial
console through virt-api's aggregated websocket (as `virtctl console` does), and `stop()` sends
Ctrl-C (SIGINT) and reports every process it left behind: descendants of `up`, and any process whose
command line names the data dir or the uid of a VMI the test saw (launchers, their libvirtd and QEMU
run under `/var/run/kubevirt/sockets/<uid>`). The context manager fails the test if any is left.

The libvirt test driver has no serial console or VNC socket, so `fake_guest_sockets` binds stand-ins
where libvirt would put them (`<node root>/var/run/kubevirt/sockets/<vmi-uid>/{serial0,vnc}`).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import ssl
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.sync.client import connect

from tests.support.process import (
    VENV_BIN,
    ManagedProcess,
    command_line,
    descendants,
    kill_all,
    kubectl,
    processes_mentioning,
)
from virt_client.unix_sockets import start_unix_server

VIRTCTL = str(VENV_BIN / "virtctl")
NODE = "node-1"
BANNER = b"\r\ntest guest ttyS0\r\nlogin: "
RFB_VERSION = b"RFB 003.008\n"


@dataclass
class VirtLocal:
    data_dir: Path
    process: ManagedProcess
    ready_line: str
    vmi_uids: set[str] = field(default_factory=set)

    @property
    def kubeconfig(self) -> Path:
        return self.data_dir / "kubeconfig"

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def env(self) -> dict[str, str]:
        """The environment of a user of this cluster (KUBECONFIG set)."""
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig), "KUBECACHEDIR": str(self.data_dir / "kubecache")}

    def kubectl(self, *args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        return kubectl(self.kubeconfig, self.data_dir / "kubecache", *args, input=input, check=check)

    def virtctl(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run virtctl (kubeconfig from $KUBECONFIG, as a user would)."""
        return subprocess.run([VIRTCTL, *args], input=input, capture_output=True, text=True, timeout=120, env=self.env)

    def get(self, kind: str, name: str, namespace: str = "default") -> dict[str, Any] | None:
        res = self.kubectl("get", kind, name, "-n", namespace, "-o", "json", check=False)
        if res.returncode != 0:
            return None
        obj: dict[str, Any] = json.loads(res.stdout)
        if kind.startswith("vmi") or kind.startswith("virtualmachineinstance"):
            self.vmi_uids.add(obj["metadata"]["uid"])
        return obj

    def obj(self, kind: str, name: str, namespace: str = "default") -> dict[str, Any]:
        """The object, which must exist."""
        found = self.get(kind, name, namespace)
        assert found is not None, f"{kind} {namespace}/{name} not found"
        return found

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
        res = subprocess.run(args + (["--dir"] if directory else []), capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, f"virt-local images import failed: {res.stdout}{res.stderr}"

    def socket_dir(self, vmi_uid: str) -> Path:
        return self.data_dir / "nodes" / NODE / "root" / "var" / "run" / "kubevirt" / "sockets" / vmi_uid

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
        boot output is not missed. Every step (the handshake included) is bounded by what is left of
        the `seconds` deadline, never by a shorter fixed timeout, so a slow machine only makes it slower;
        past the deadline it fails saying what the last attempt ended with and what the console showed.
        """
        server, token, ctx = self._server_and_token()
        url = (server.replace("https://", "wss://") + f"/apis/subresources.kubevirt.io/v1/namespaces/{namespace}"
               f"/virtualmachineinstances/{vmi}/console")
        deadline = time.monotonic() + seconds
        seen = b""
        last_error = "no attempt"
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                with connect(url, ssl=ctx, subprotocols=["plain.kubevirt.io"],  # type: ignore[list-item]
                             additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=remaining,
                             close_timeout=1) as ws:
                    while (remaining := deadline - time.monotonic()) > 0:
                        try:
                            frame = ws.recv(timeout=remaining)
                        except TimeoutError:
                            break
                        seen += frame if isinstance(frame, bytes) else frame.encode()
                        if marker.encode() in seen:
                            text = seen.decode(errors="replace")
                            return text[: text.index(marker) + len(marker)]
                    last_error = "the stream stayed open without the marker"
            except InvalidStatus as e:
                last_error = f"answered {e.response.status_code}"
            except (InvalidHandshake, ConnectionClosed, OSError) as e:  # TimeoutError is an OSError
                last_error = f"{type(e).__name__}: {e}"
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
        raise AssertionError(f"no {marker!r} on the console of {vmi} within {seconds:g}s (last attempt: "
                             f"{last_error}); got:\n{seen.decode(errors='replace')[-2000:]}")

    # --- stop ----------------------------------------------------------------------------

    def stop(self, seconds: float = 90.0) -> dict[int, str]:
        """Ctrl-C `up`, wait for it, and return the processes it left behind (pid → command line)."""
        tracked = descendants(self.process.pid)
        self.process.stop(signal.SIGINT, grace=seconds)
        left = {pid: command_line(pid) for pid in tracked if Path(f"/proc/{pid}").exists()}
        left.update(processes_mentioning([str(self.data_dir), *self.vmi_uids]))
        return {pid: cmd for pid, cmd in left.items() if cmd}


def start_virt_local(data_dir: Path, hypervisor: str, *extra: str, seconds: float = 120.0) -> VirtLocal:
    """`virt-local up` on `data_dir`, returned once it printed `ready` (its stderr goes to `<dir>-up.log`)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    process = ManagedProcess([str(VENV_BIN / "virt-local"), "up", "--data-dir", str(data_dir),
                              "--hypervisor", hypervisor, *extra],
                             data_dir.parent / f"{data_dir.name}-up.log", pipe_stdout=True).start()
    ready, out = process.read_line_starting("ready ", seconds)
    if ready is None:
        process.stop(signal.SIGINT, grace=30.0)
        raise AssertionError(f"virt-local up did not become ready within {seconds:g}s: {out}\n{process.tail(3000)}")
    return VirtLocal(data_dir, process, ready)


@contextmanager
def virt_local_up(data_dir: Path, hypervisor: str, *extra: str, seconds: float = 120.0,
                  stop_seconds: float = 90.0) -> Iterator[VirtLocal]:
    """The whole stack for the duration of the block; on exit no process of it may be left."""
    vl = start_virt_local(data_dir, hypervisor, *extra, seconds=seconds)
    left: dict[int, str] = {}
    try:
        yield vl
    finally:
        left = vl.stop(stop_seconds)
        kill_all(left)
    assert not left, f"processes left behind by virt-local up: {json.dumps(left, indent=1)}"


def vm_manifest(name: str, run_strategy: str, namespace: str = "default", labels: dict[str, str] | None = None) -> str:
    return json.dumps({
        "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"runStrategy": run_strategy, "template": {
            "metadata": {"labels": labels or {"app": name}},
            "spec": {"domain": {"devices": {}, "resources": {"requests": {"memory": "64Mi"}}},
                     "terminationGracePeriodSeconds": 5}}},
    })


def condition(obj: dict[str, Any] | None, kind: str) -> str | None:
    for c in ((obj or {}).get("status") or {}).get("conditions") or []:
        if c.get("type") == kind:
            return str(c.get("status"))
    return None


async def fake_guest_sockets(directory: Path, received: asyncio.Queue[bytes]) -> list[asyncio.AbstractServer]:
    """Serial console (banner, then echo) and VNC (RFB greeting, then echo) sockets in `directory`."""

    def echo_server(greeting: bytes) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Any]:
        async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(greeting)
            await writer.drain()
            while data := await reader.read(1024):
                await received.put(data)
                writer.write(data.upper())
                await writer.drain()
            writer.close()
        return on_connect

    await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
    return [await start_unix_server(echo_server(BANNER), str(directory / "serial0")),
            await start_unix_server(echo_server(RFB_VERSION), str(directory / "vnc"))]
