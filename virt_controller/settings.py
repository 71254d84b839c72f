"""The configuration of virt-controller, parsed once from the command line into a frozen object.

Everything below the composition root (`main.run`) receives `Settings` (or the smaller
`LauncherConfig` it carries), never `argparse` results or environment variables.

Invariants: values are validated here (positive workers, qps, burst; lease timings ordered), so
the rest of the process can trust them.
"""

from __future__ import annotations

import argparse
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from virt_client.api.constants import DEFAULT_LAUNCHER_IMAGE


class Hypervisor(StrEnum):
    """How launchers run guests; rendered into every launcher Pod's arguments."""

    KVM = "kvm"
    EMULATION = "emulation"
    TEST = "test"


@dataclass(frozen=True)
class LauncherConfig:
    """What the launcher Pod rendering needs from the process configuration."""

    image: str = DEFAULT_LAUNCHER_IMAGE
    hypervisor: Hypervisor = Hypervisor.KVM


@dataclass(frozen=True)
class Settings:
    """virt-controller's configuration."""

    kubeconfig: str | None = None
    namespace: str = "kubevirt"
    launcher: LauncherConfig = field(default_factory=LauncherConfig)
    workers: int = 3
    vmi_workers: int = 10
    qps: float = 200.0
    burst: int = 400
    bind_address: str = "0.0.0.0"
    port: int = 8182
    identity: str = ""
    lease_name: str = "virt-controller"
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    log_level: str = "INFO"

    def __post_init__(self) -> None:
        if self.workers < 1 or self.vmi_workers < 1:
            raise ValueError("--workers and --vmi-workers must be at least 1")
        if self.qps <= 0 or self.burst < 1:
            raise ValueError("--qps must be > 0 and --burst >= 1")
        if not (self.lease_duration > self.renew_deadline > self.retry_period > 0):
            raise ValueError("need --lease-duration > --renew-deadline > --retry-period > 0")


def default_identity() -> str:
    """Pod name inside a cluster, else host name and process id (unique per replica)."""
    return os.environ.get("POD_NAME") or f"{socket.gethostname()}-{os.getpid()}"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="virt-controller", description="KubeVirt VM, VMI and VMIRS controllers")
    p.add_argument("--kubeconfig", help="kubeconfig file (default: in-cluster, then $KUBECONFIG)")
    p.add_argument("--namespace", default="kubevirt", help="namespace this controller runs in (its Lease)")
    p.add_argument("--launcher-image", default=DEFAULT_LAUNCHER_IMAGE, help="virt-launcher image")
    p.add_argument("--hypervisor", choices=[h.value for h in Hypervisor], default=Hypervisor.KVM.value,
                   help="hypervisor mode rendered into launcher Pods")
    p.add_argument("--workers", type=int, default=3, help="workers of the VM and VMIRS controllers")
    p.add_argument("--vmi-workers", type=int, default=10,
                   help="workers of the VMI controller (upstream's threadiness: it creates every launcher Pod)")
    p.add_argument("--qps", type=float, default=200.0, help="client-side API request rate")
    p.add_argument("--burst", type=int, default=400, help="client-side API request burst")
    p.add_argument("--bind-address", default="0.0.0.0", help="address of the health/metrics server")
    p.add_argument("--port", type=int, default=8182, help="port for /healthz, /leader and /metrics (0: any)")
    p.add_argument("--identity", default="", help="leader-election identity (default: host name and pid)")
    p.add_argument("--lease-duration", type=float, default=15.0, help="leader lease duration (s)")
    p.add_argument("--renew-deadline", type=float, default=10.0, help="leader renew deadline (s)")
    p.add_argument("--retry-period", type=float, default=2.0, help="leader retry period (s)")
    p.add_argument("--log-level", default="INFO")
    return p


def parse_settings(argv: Sequence[str] | None = None) -> Settings:
    """Parse command-line arguments into `Settings` (exits with a usage message on errors)."""
    parser = build_parser()
    a = parser.parse_args(argv)
    try:
        return Settings(
            kubeconfig=a.kubeconfig,
            namespace=a.namespace,
            launcher=LauncherConfig(image=a.launcher_image, hypervisor=Hypervisor(a.hypervisor)),
            workers=a.workers,
            vmi_workers=a.vmi_workers,
            qps=a.qps,
            burst=a.burst,
            bind_address=a.bind_address,
            port=a.port,
            identity=a.identity or default_identity(),
            lease_duration=a.lease_duration,
            renew_deadline=a.renew_deadline,
            retry_period=a.retry_period,
            log_level=a.log_level,
        )
    except ValueError as e:
        parser.error(str(e))
