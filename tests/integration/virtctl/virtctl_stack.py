"""`virt-local up --hypervisor test` as a real process, and running `virtctl` against it.

`start_stack(data_dir)` starts the whole stack (API server, node, virt-api, virt-controller,
virt-handler) and waits for its `ready` line; `Stack.virtctl(...)` runs the console script with the
stack's kubeconfig; `Stack.get`/`wait_for` read objects with kubectl. The libvirt test driver has no
serial console or VNC socket, so `fake_guest_sockets` binds stand-ins where libvirt would put them
(`<node root>/var/run/kubevirt/sockets/<vmi-uid>/{serial0,vnc}`): everything from virtctl to
virt-handler is real.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.virtlocal import VirtLocal, start_virt_local
from virt_client.unix_sockets import start_unix_server

VENV_BIN = Path(sys.executable).parent
VIRTCTL = str(VENV_BIN / "virtctl")
NODE = "node-1"
BANNER = b"\r\ntest guest ttyS0\r\nlogin: "
RFB_VERSION = b"RFB 003.008\n"


@dataclass
class Stack(VirtLocal):
    """`virt-local up --hypervisor test`, used the way a virtctl user would (KUBECONFIG in the env)."""

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig), "KUBECACHEDIR": str(self.data_dir / "kubecache")}

    def virtctl(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run virtctl (kubeconfig from $KUBECONFIG, as a user would)."""
        return subprocess.run([VIRTCTL, *args], input=input, capture_output=True, text=True, timeout=90, env=self.env)

    def get(self, kind: str, name: str, namespace: str = "default") -> dict[str, Any] | None:
        res = self.kubectl("get", kind, name, "-n", namespace, "-o", "json", check=False)
        return json.loads(res.stdout) if res.returncode == 0 else None

    def obj(self, kind: str, name: str, namespace: str = "default") -> dict[str, Any]:
        """The object, which must exist."""
        found = self.get(kind, name, namespace)
        assert found is not None, f"{kind} {namespace}/{name} not found"
        return found

    def socket_dir(self, vmi_uid: str) -> Path:
        return self.data_dir / "nodes" / NODE / "root" / "var" / "run" / "kubevirt" / "sockets" / vmi_uid


def start_stack(data_dir: Path) -> Stack:
    started = start_virt_local(data_dir, "test")
    return Stack(started.data_dir, started.proc, started.ready_line)


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
