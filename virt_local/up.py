"""`virt-local up`: the whole stack on one machine.

Order: choose the hypervisor mode → start the API server (child process, port remembered in
`<data-dir>/up.json` so a restart resumes with the same kubeconfig) → register nodes and the default
StorageClass, start the scheduler, workload controllers, pod runners and provisioner (in this
process) → unless `--no-kubevirt`: apply the CRDs and manifests, issue certificates, write
`services.yaml` → start virt-api, virt-controller and one virt-handler per node (child processes,
each with its own kubeconfig and log in `<data-dir>/logs/`) → wait until each answers its health
check → print `ready …`. With `--no-kubevirt` nothing of KubeVirt is applied or started: the install
is the cluster one (`kubectl apply -k manifests/`), run by the workload controllers and pod runners. Children that die are restarted with
backoff. SIGINT/SIGTERM stops everything in reverse order: KubeVirt components, then every Pod (each
container gets SIGTERM and its Pod's `terminationGracePeriodSeconds`, capped by the shutdown grace
period, before its cgroup is killed; a launcher shuts its guest down through ACPI meanwhile; their
final status posted), then the nodes, then the API server; nothing is left running. A second
SIGINT/SIGTERM during the stop kills the Pods' processes at once.
A component whose package is not installed is skipped with a log line.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import logging
import signal
import socket
import ssl
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from virt_client.api.constants import DEFAULT_LAUNCHER_IMAGE
from virt_client.kube import KubeClient

from . import bootstrap, hypervisor
from .nodes import NodeCapacity
from .podrunner.imagemap import ImageEntry, ImageMap
from .podrunner.termination import DEFAULT_SHUTDOWN_GRACE_SECONDS
from .stack import NodeStack, StackSettings, node_root
from .supervisor import Child

log = logging.getLogger("virt_local.up")

VENV_BIN = Path(sys.executable).parent
DEFAULT_MANIFESTS = Path(__file__).resolve().parent.parent / "manifests"
READY_SECONDS = 60.0


@dataclass(frozen=True)
class UpSettings:
    data_dir: Path
    nodes: int = 1
    hypervisor: str = "auto"
    port: int = 0
    image_map: tuple[ImageEntry, ...] = ()
    kubevirt: bool = True
    manifests: Path = DEFAULT_MANIFESTS
    launcher_image: str = DEFAULT_LAUNCHER_IMAGE
    log_level: str = "info"
    capacity: NodeCapacity = field(default_factory=NodeCapacity.of_machine)
    #: the longest wait before a child that exited is started again
    restart_backoff_max: float = 30.0
    #: the longest any Pod's containers get to stop on Ctrl-C
    shutdown_grace: float = DEFAULT_SHUTDOWN_GRACE_SECONDS


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class Ports:
    """Loopback ports by role, remembered in `<data-dir>/up.json` across restarts."""

    def __init__(self, data_dir: Path) -> None:
        self.file = data_dir / "up.json"
        try:
            self.ports: dict[str, int] = json.loads(self.file.read_text()).get("ports", {})
        except (OSError, ValueError):
            self.ports = {}

    def get(self, role: str, wanted: int = 0) -> int:
        port = wanted or self.ports.get(role, 0)
        if not port or (not wanted and not _port_free(port)):
            port = free_port()
        self.ports[role] = port
        self.file.write_text(json.dumps({"ports": self.ports}, indent=2))
        return port


def _component_installed(name: str) -> bool:
    module = name.replace("-", "_") + ".main"
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def _http_ready(url: str, *, verify: ssl.SSLContext | bool = False) -> Callable[[Child], Awaitable[bool]]:
    async def check(child: Child) -> bool:
        try:
            async with httpx.AsyncClient(verify=verify, timeout=2.0) as http:
                resp = await http.get(url)
            return resp.status_code == 200
        except httpx.HTTPError:
            return False
    return check


class Up:
    def __init__(self, settings: UpSettings) -> None:
        self.s = settings
        self.data_dir = settings.data_dir
        self.logs = self.data_dir / "logs"
        self.ports = Ports(self.data_dir)
        self.components: list[Child] = []
        self.apiserver: Child | None = None
        self.mode = settings.hypervisor

    # ---- pieces ----------------------------------------------------------------------------------
    async def _start_apiserver(self) -> str:
        port = self.ports.get("apiserver", self.s.port)
        url = f"https://127.0.0.1:{port}"
        self.apiserver = Child("apiserver", [str(VENV_BIN / "virt-local"), "apiserver", "--data-dir",
                                             str(self.data_dir), "--port", str(port)],
                               self.logs / "apiserver.log", ready=_http_ready(url + "/readyz"),
                               backoff_max=self.s.restart_backoff_max)
        await self.apiserver.start()
        if not await self.apiserver.wait_ready(READY_SECONDS):
            raise RuntimeError(f"the API server did not become ready; see {self.logs / 'apiserver.log'}")
        log.info("API server ready at %s (pid %s)", url, self.apiserver.pid)
        return url

    def _components(self, url: str, node_names: list[str], masters: dict[str, bool]) -> list[Child]:
        pki = bootstrap.Pki(self.data_dir)
        level = self.s.log_level
        out: list[Child] = []
        handler_ports = {n: (self.ports.get(f"virt-handler/{n}"), self.ports.get(f"virt-handler/{n}/health"))
                         for n in node_names}
        if _component_installed("virt-api"):
            api_port = self.ports.get("virt-api")
            bootstrap.write_services(self.data_dir, {"kubevirt/virt-api:443": f"127.0.0.1:{api_port}"})
            crt, key = pki.virt_api_serving()
            ccrt, ckey = pki.virt_api_handler_client()
            argv = [str(VENV_BIN / "virt-api"), "--kubeconfig",
                    str(pki.component_kubeconfig("virt-api", url, masters["virt-api"])),
                    "--address", "127.0.0.1", "--port", str(api_port), "--tls-cert", str(crt), "--tls-key", str(key),
                    "--handler-client-cert", str(ccrt), "--handler-client-key", str(ckey),
                    "--handler-ca", str(pki.ca_file), "--shutdown-delay", "0", "--log-level", level]
            for n, (hport, _) in handler_ports.items():
                argv += ["--handler-address", f"{n}=127.0.0.1:{hport}"]
            ctx = ssl.create_default_context(cafile=str(pki.ca_file))
            out.append(Child("virt-api", argv, self.logs / "virt-api.log", backoff_max=self.s.restart_backoff_max,
                             ready=_http_ready(f"https://127.0.0.1:{api_port}/apis/subresources.kubevirt.io/v1/healthz",
                                               verify=ctx)))
        else:
            log.warning("virt-api is not installed (no virt_api.main): skipping it")
        if _component_installed("virt-controller"):
            cport = self.ports.get("virt-controller/health")
            argv = [str(VENV_BIN / "virt-controller"), "--kubeconfig",
                    str(pki.component_kubeconfig("virt-controller", url, masters["virt-controller"])),
                    "--hypervisor", self.mode, "--launcher-image", self.s.launcher_image,
                    "--bind-address", "127.0.0.1", "--port", str(cport), "--log-level", level]
            out.append(Child("virt-controller", argv, self.logs / "virt-controller.log",
                             backoff_max=self.s.restart_backoff_max,
                             ready=_http_ready(f"http://127.0.0.1:{cport}/healthz")))
        else:
            log.warning("virt-controller is not installed (no virt_controller.main): skipping it")
        if _component_installed("virt-handler"):
            kubeconfig = pki.component_kubeconfig("virt-handler", url, masters["virt-handler"])
            for n, (hport, health) in handler_ports.items():
                crt, key = pki.handler_serving(n)
                run_dir = node_root(self.data_dir, n) / "var" / "run" / "kubevirt"
                run_dir.mkdir(parents=True, exist_ok=True)
                argv = [str(VENV_BIN / "virt-handler"), "--kubeconfig", str(kubeconfig), "--node-name", n,
                        "--run-dir", str(run_dir), "--hypervisor", self.mode, "--address", "127.0.0.1",
                        "--port", str(hport), "--health-port", str(health), "--tls-cert", str(crt),
                        "--tls-key", str(key), "--client-ca", str(pki.ca_file)]
                out.append(Child(f"virt-handler/{n}", argv, self.logs / f"virt-handler-{n}.log",
                                 backoff_max=self.s.restart_backoff_max,
                                 ready=_http_ready(f"http://127.0.0.1:{health}/healthz")))
        else:
            log.warning("virt-handler is not installed (no virt_handler.main): skipping it")
        return out

    async def _bootstrap_kubevirt(self, client: KubeClient, url: str, node_names: list[str]) -> None:
        ca_pem = (self.data_dir / "pki" / "ca.crt").read_bytes()
        docs = await bootstrap.apply_manifests(client, self.s.manifests, ca_pem)
        masters = {}
        for component, sa in bootstrap.SERVICE_ACCOUNTS.items():
            masters[component] = not bootstrap.has_rbac_for(docs, sa)
            if masters[component]:
                log.info("%s: no RBAC for service account %s in %s; it runs as %s in group system:masters",
                         component, sa, self.s.manifests, bootstrap.sa_user(component))
        self.components = self._components(url, node_names, masters)
        for child in self.components:
            await child.start()
        for child in self.components:
            if await child.wait_ready(READY_SECONDS):
                log.info("%s ready (pid %s)", child.name, child.pid)
            else:
                log.warning("%s is not ready after %.0fs; it stays supervised (log: %s)", child.name,
                            READY_SECONDS, child.log_file)

    # ---- main ------------------------------------------------------------------------------------
    async def run(self, ready: Callable[[str], None]) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        stack: NodeStack | None = None

        def on_signal() -> None:
            if not stop.is_set():
                stop.set()
            elif stack is not None:
                log.warning("second stop signal: killing every Pod's processes now")
                stack.kill_now()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal)
        loop.add_signal_handler(signal.SIGUSR1, _dump_tasks)
        choice = await hypervisor.choose(self.s.hypervisor, self.data_dir)
        self.mode = choice.mode
        log.info("hypervisor: %s (%s)", choice.mode, choice.why)
        url = await self._start_apiserver()
        assert self.apiserver is not None
        client = await KubeClient.from_kubeconfig(str(self.data_dir / "kubeconfig"), qps=500, burst=1000,
                                                  user_agent="virt-local")
        stack = NodeStack(client, StackSettings(data_dir=self.data_dir, nodes=self.s.nodes,
                                                image_map=ImageMap.default(self.s.image_map),
                                                api_port=int(url.rsplit(":", 1)[1]), capacity=self.s.capacity,
                                                shutdown_grace=self.s.shutdown_grace))
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self.apiserver.supervise())
                await stack.start()
                stack_task = tg.create_task(stack.run())

                async def start_kubevirt() -> None:
                    if self.s.kubevirt:
                        await self._bootstrap_kubevirt(client, url, stack.node_names)
                    for child in self.components:
                        tg.create_task(child.supervise())
                    ready(self._ready_message(choice))
                startup = tg.create_task(start_kubevirt())
                await stop.wait()
                log.info("stopping")
                startup.cancel()
                await asyncio.wait([startup])
                await asyncio.gather(*(child.stop() for child in self.components))
                log.info("stopping Pods: each gets its grace period (at most %.0fs); Ctrl-C again to kill them now",
                         self.s.shutdown_grace)
                await stack.stop()
                stack_task.cancel()
                await asyncio.wait([stack_task])
                with contextlib.suppress(Exception):
                    await client.close()
                await self.apiserver.stop()
        finally:
            for child in self.components:
                await child.stop(grace=2)
            with contextlib.suppress(Exception):
                await client.close()
            await self.apiserver.stop()
            log.info("stopped")

    def _ready_message(self, choice: hypervisor.Choice) -> str:
        kubeconfig = self.data_dir / "kubeconfig"
        names = ", ".join(c.name for c in self.components) or "no KubeVirt components"
        install = "" if self.s.kubevirt else \
            "  install KubeVirt as on a cluster: kubectl apply -k manifests/ (docs/operations.md)\n"
        return (f"ready kubeconfig={kubeconfig} hypervisor={choice.mode} nodes={self.s.nodes}\n"
                f"  running: API server, scheduler, workload controllers, pod runners, volume provisioner; "
                f"{names}\n{install}"
                f"  export KUBECONFIG={kubeconfig}\n"
                f"  kubectl get nodes; kubectl apply -f vmi.yaml; virtctl console <vmi>\n"
                f"  logs in {self.logs}; stop with Ctrl-C")


def _dump_tasks() -> None:
    """`kill -USR1 <pid>`: print the stack of every task to stderr (for diagnosing a stuck stop)."""
    for task in asyncio.all_tasks():
        print(f"--- {task.get_name()}", file=sys.stderr)
        task.print_stack(file=sys.stderr)


async def run(settings: UpSettings, ready: Callable[[str], None]) -> None:
    await Up(settings).run(ready)
