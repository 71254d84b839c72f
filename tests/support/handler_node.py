"""A node for virt-handler tests, on layer 1 of the test stack: the embedded API server with the VMI
CRD and a Node, a short run dir (unix socket paths are limited to 108 bytes), a test PKI, and the real
`virt-handler` and `virt-launcher` processes (the launcher in `--hypervisor test` mode, libvirt's
test driver). The test plays virt-controller: it creates VMIs already Scheduled and starts their
launchers. `handler_node(apiserver, short_dir)` yields one and stops every process it started."""

from __future__ import annotations

import shutil
import ssl
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from tests.support.apiserver import RunningApiServer
from tests.support.process import VENV_BIN, ManagedProcess, free_port
from tests.support.wait import wait_for_async
from virt_client.errors import NotFound
from virt_client.kube import KubeClient
from virt_client.peer_names import VIRT_API_CLIENT_CN
from virt_client.resources import NODES, VMIS
from virt_client.tls import KeyPair, client_context, generate_ca, issue_certificate

NODE = "node01"
FINALIZER = "kubevirt.io/foregroundDeleteVirtualMachine"


def condition(vmi: dict[str, Any], ctype: str) -> dict[str, Any] | None:
    for c in (vmi.get("status") or {}).get("conditions") or ():
        if c.get("type") == ctype:
            return dict(c)
    return None


@dataclass
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path

    def client_ssl(self, with_cert: bool = True) -> ssl.SSLContext:
        if with_cert:
            return client_context(self.ca, cert_file=self.client_cert, key_file=self.client_key)
        return client_context(self.ca)


@dataclass
class HandlerNode:
    apiserver: RunningApiServer
    kube: KubeClient
    run_dir: Path
    pki: Pki
    port: int = field(default_factory=free_port)
    health_port: int = field(default_factory=free_port)
    handler: ManagedProcess | None = None
    launchers: list[ManagedProcess] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.port}/v1/namespaces/default/virtualmachineinstances"

    async def start_handler(self) -> ManagedProcess:
        args = [str(VENV_BIN / "virt-handler"), "--kubeconfig", str(self.apiserver.kubeconfig), "--node-name", NODE,
                "--run-dir", str(self.run_dir), "--hypervisor", "test", "--address", "127.0.0.1",
                "--port", str(self.port), "--health-port", str(self.health_port),
                "--tls-cert", str(self.pki.server_cert), "--tls-key", str(self.pki.server_key),
                "--client-ca", str(self.pki.ca), "--resync-period", "2", "--heartbeat-interval", "1"]
        self.handler = ManagedProcess(args, self.run_dir.parent / "handler.log").start()
        await wait_for_async(self._healthy, message="virt-handler /healthz")
        return self.handler

    async def _healthy(self) -> bool:
        assert self.handler is not None
        if not self.handler.alive():
            raise AssertionError(f"virt-handler exited:\n{self.handler.tail()}")
        try:
            async with aiohttp.ClientSession() as session, \
                    session.get(f"http://127.0.0.1:{self.health_port}/healthz") as resp:
                return resp.status == 200
        except aiohttp.ClientError:
            return False

    async def metrics(self) -> str:
        async with aiohttp.ClientSession() as session, \
                session.get(f"http://127.0.0.1:{self.health_port}/metrics") as resp:
            return await resp.text()

    def start_launcher(self, uid: str) -> ManagedProcess:
        launcher_dir = self.run_dir / "sockets" / uid
        proc = ManagedProcess([str(VENV_BIN / "virt-launcher"), "--dir", str(launcher_dir), "--hypervisor", "test",
                     "--notify-socket", str(self.run_dir / "handler" / "notify.sock")],
                    self.run_dir.parent / f"launcher-{uid}.log").start()
        self.launchers.append(proc)
        return proc

    async def create_scheduled_vmi(self, name: str, *, grace: int = 5, **spec: Any) -> dict[str, Any]:
        """Create a VMI the way virt-controller leaves it: Scheduled, labelled for this node, with its finalizer."""
        body = {
            "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
            "metadata": {"name": name, "namespace": "default", "labels": {"kubevirt.io/nodeName": NODE},
                         "finalizers": [FINALIZER]},
            "spec": {"terminationGracePeriodSeconds": grace,
                     "domain": {"devices": {"disks": [{"name": "root", "disk": {"bus": "virtio"}}]},
                                "resources": {"requests": {"memory": "64Mi"}}},
                     "volumes": [{"name": "root", "containerDisk": {"image": "example/disk:latest"}}], **spec},
            "status": {"phase": "Scheduled", "nodeName": NODE,
                       "phaseTransitionTimestamps": [{"phase": "Scheduled",
                                                      "phaseTransitionTimestamp": "2024-01-01T00:00:00Z"}]},
        }
        vmi = await self.kube.create(VMIS, body)
        if (vmi.get("status") or {}).get("phase") != "Scheduled":
            vmi = await self.kube.patch(VMIS, name, {"status": body["status"]}, "default")
        return vmi

    async def vmi(self, name: str) -> dict[str, Any]:
        return await self.kube.get(VMIS, name, "default")

    async def wait_vmi(self, name: str, check: Callable[[dict[str, Any]], bool], what: str,
                       timeout: float = 30.0) -> dict[str, Any]:  # noqa: ASYNC109
        async def probe() -> dict[str, Any] | None:
            vmi = await self.vmi(name)
            return vmi if check(vmi) else None
        try:
            result: dict[str, Any] | None = await wait_for_async(probe, timeout=timeout, message=what)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- handler log ---\n{self.handler.tail() if self.handler else ''}") from None
        assert result is not None
        return result

    async def delete_vmi(self, name: str) -> None:
        await self.kube.delete(VMIS, name, "default")

    async def release_vmi(self, name: str) -> None:
        """Drop the finalizer (virt-controller's part once the VMI is final)."""
        try:
            await self.kube.patch(VMIS, name, {"metadata": {"finalizers": None}}, "default")
        except NotFound:
            pass


def make_pki(directory: Path) -> Pki:
    ca = generate_ca("kubevirt-test-ca")
    server = issue_certificate(ca, "virt-handler", dns_names=("localhost",), ip_addresses=("127.0.0.1",), server=True)
    client = issue_certificate(ca, VIRT_API_CLIENT_CN, client=True)
    pki = Pki(directory / "ca.crt", directory / "tls.crt", directory / "tls.key",
              directory / "client.crt", directory / "client.key")
    ca.write(pki.ca, directory / "ca.key")  # the key lets a test mint other certificates of this CA
    server.write(pki.server_cert, pki.server_key)
    KeyPair(client.cert_pem, client.key_pem).write(pki.client_cert, pki.client_key)
    return pki


@contextmanager
def short_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="vh-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@asynccontextmanager
async def handler_node(apiserver: RunningApiServer, directory: Path) -> AsyncIterator[HandlerNode]:
    """A Node on `apiserver` with its run dir and PKI under `directory` (no handler started yet)."""
    apiserver.apply_crds("virtualmachineinstances.kubevirt.io.yaml")
    kube = await KubeClient.from_kubeconfig(str(apiserver.kubeconfig))
    try:
        await kube.create(NODES, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": NODE}})
        run_dir = directory / "run"
        run_dir.mkdir()
        pki_dir = directory / "pki"
        pki_dir.mkdir()
        node = HandlerNode(apiserver, kube, run_dir, make_pki(pki_dir))
        try:
            yield node
        finally:
            for launcher in node.launchers:
                launcher.kill()
            if node.handler is not None:
                node.handler.stop()
    finally:
        await kube.close()
