"""virt-handler configuration: parsed once from the command line into one frozen object.

Paths follow the node contract in docs/architecture.md: `<run-dir>/sockets/<vmi-uid>/launcher.sock`
is a launcher's command socket and `<run-dir>/handler/notify.sock` is the handler's notify socket.
"""

from __future__ import annotations

import argparse
import dataclasses
from enum import StrEnum
from pathlib import Path

from virt_client.launcher_protocol import LAUNCHER_SOCKET_NAME

DEFAULT_RUN_DIR = Path("/var/run/kubevirt")


class Hypervisor(StrEnum):
    """How launchers on this node run guests (a node setting, mirrored into node labels)."""

    KVM = "kvm"
    EMULATION = "emulation"
    TEST = "test"


@dataclasses.dataclass(frozen=True)
class HandlerSettings:
    node_name: str
    kubeconfig: str | None = None
    run_dir: Path = DEFAULT_RUN_DIR
    hypervisor: Hypervisor = Hypervisor.KVM
    address: str = "0.0.0.0"
    port: int = 8186
    health_port: int = 8185
    tls_cert: Path | None = None
    tls_key: Path | None = None
    client_ca: Path | None = None
    resync_period: float = 30.0
    heartbeat_interval: float = 60.0
    workers: int = 4
    device_capacity: int = 1000

    @property
    def sockets_dir(self) -> Path:
        return self.run_dir / "sockets"

    @property
    def notify_socket(self) -> Path:
        return self.run_dir / "handler" / "notify.sock"

    def launcher_dir(self, uid: str) -> Path:
        return self.sockets_dir / uid

    def launcher_socket(self, uid: str) -> Path:
        return self.launcher_dir(uid) / LAUNCHER_SOCKET_NAME

    @property
    def serves_https(self) -> bool:
        return self.tls_cert is not None and self.tls_key is not None


def parse_args(argv: list[str] | None = None) -> HandlerSettings:
    p = argparse.ArgumentParser(prog="virt-handler",
                                description="Per-node agent: runs each VMI scheduled here through its launcher.")
    p.add_argument("--kubeconfig", help="kubeconfig file (default: in-cluster, then $KUBECONFIG)")
    p.add_argument("--node-name", required=True, help="the Node this handler serves")
    p.add_argument("--run-dir", type=Path, default=DEFAULT_RUN_DIR, help="node runtime dir shared with launchers")
    p.add_argument("--hypervisor", choices=[h.value for h in Hypervisor], default=Hypervisor.KVM.value)
    p.add_argument("--address", default="0.0.0.0", help="listen address of the HTTPS and health servers")
    p.add_argument("--port", type=int, default=8186, help="HTTPS port for virt-api (mutual TLS)")
    p.add_argument("--health-port", type=int, default=8185, help="port of /healthz and /metrics")
    p.add_argument("--tls-cert", type=Path, help="serving certificate of the HTTPS server")
    p.add_argument("--tls-key", type=Path, help="key of the serving certificate")
    p.add_argument("--client-ca", type=Path, help="CA that signs virt-api's client certificate")
    p.add_argument("--resync-period", type=float, default=30.0, help="seconds between full resyncs of every VMI")
    p.add_argument("--heartbeat-interval", type=float, default=60.0, help="seconds between node heartbeats")
    p.add_argument("--workers", type=int, default=4, help="VMIs reconciled concurrently")
    a = p.parse_args(argv)
    if (a.tls_cert is None) != (a.tls_key is None):
        p.error("--tls-cert and --tls-key go together")
    if a.tls_cert is not None and a.client_ca is None:
        p.error("--client-ca is required with --tls-cert: the HTTPS server only accepts virt-api's client certificate")
    return HandlerSettings(
        node_name=a.node_name, kubeconfig=a.kubeconfig, run_dir=a.run_dir.absolute(), hypervisor=Hypervisor(a.hypervisor),
        address=a.address, port=a.port, health_port=a.health_port, tls_cert=a.tls_cert, tls_key=a.tls_key,
        client_ca=a.client_ca, resync_period=a.resync_period, heartbeat_interval=a.heartbeat_interval,
        workers=max(1, a.workers))
