"""virt-api configuration: parsed once from the command line into one frozen object.

Invariants: the serving certificate and key go together, and so do the handler client certificate
and key; `kubevirt_users` are the usernames allowed to change VMI spec and status (KubeVirt's own
service accounts by default).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .handler import DEFAULT_TIMEOUT as DEFAULT_HANDLER_TIMEOUT
from .handler import HandlerTLS, parse_addresses
from .review_cache import CacheTTL

DEFAULT_KUBEVIRT_USERS = (
    "system:serviceaccount:kubevirt:kubevirt-controller",
    "system:serviceaccount:kubevirt:kubevirt-handler",
    "system:serviceaccount:kubevirt:kubevirt-apiserver",
)


@dataclass(frozen=True)
class Settings:
    kubeconfig: str | None = None
    address: str = "0.0.0.0"
    port: int = 8443
    tls_cert: Path | None = None
    tls_key: Path | None = None
    handler_tls: HandlerTLS = field(default_factory=HandlerTLS)
    handler_addresses: dict[str, str] = field(default_factory=dict)
    handler_timeout: float = DEFAULT_HANDLER_TIMEOUT
    namespace: str = "kubevirt"
    kubevirt_users: tuple[str, ...] = DEFAULT_KUBEVIRT_USERS
    default_network_interface: str = "masquerade"
    shutdown_delay: float = 5.0
    auth_refresh: float = 30.0
    qps: float = 200.0
    burst: int = 400
    log_level: str = "INFO"
    review_cache_ttl: CacheTTL = field(default_factory=CacheTTL)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="virt-api", description="KubeVirt subresource API and admission webhooks.")
    p.add_argument("--kubeconfig", help="kubeconfig file (default: in-cluster, then $KUBECONFIG)")
    p.add_argument("--address", default="0.0.0.0", help="listen address")
    p.add_argument("--port", type=int, default=8443, help="HTTPS port")
    p.add_argument("--tls-cert", type=Path, required=True, help="serving certificate (re-read when it changes)")
    p.add_argument("--tls-key", type=Path, required=True, help="serving key (re-read when it changes)")
    p.add_argument("--handler-client-cert", type=Path, help="client certificate presented to virt-handler")
    p.add_argument("--handler-client-key", type=Path, help="key of the handler client certificate")
    p.add_argument("--handler-ca", type=Path, help="CA that signs virt-handler serving certificates")
    p.add_argument("--handler-address", action="append", default=[], metavar="NODE=HOST:PORT",
                   help="address of the virt-handler of NODE (repeatable); else Node annotation, else Pod lookup")
    p.add_argument("--handler-timeout", type=float, default=DEFAULT_HANDLER_TIMEOUT, metavar="SECONDS",
                   help="how long a call to virt-handler, or opening a console/VNC stream to it, may take")
    p.add_argument("--namespace", default="kubevirt", help="install namespace (virt-handler Pods)")
    p.add_argument("--kubevirt-user", action="append", default=[], metavar="USERNAME",
                   help="a user allowed to change VMI spec/status (repeatable; default: KubeVirt's service accounts)")
    p.add_argument("--default-network-interface", choices=["masquerade"], default="masquerade",
                   help="binding of the pod network interface added to VMIs that declare none "
                        "(bridge on the pod network is not implemented)")
    p.add_argument("--shutdown-delay", type=float, default=5.0, help="seconds unready before stopping on SIGTERM")
    p.add_argument("--authorization-webhook-cache-authorized-ttl", type=float, default=10.0, metavar="SECONDS",
                   help="how long an allowing SubjectAccessReview answer is reused (0: never)")
    p.add_argument("--authorization-webhook-cache-unauthorized-ttl", type=float, default=10.0, metavar="SECONDS",
                   help="how long a denying SubjectAccessReview answer is reused (0: never)")
    p.add_argument("--qps", type=float, default=200.0)
    p.add_argument("--burst", type=int, default=400)
    p.add_argument("--log-level", default="INFO")
    return p


def parse_args(argv: Sequence[str] | None = None) -> Settings:
    p = parser()
    a = p.parse_args(argv)
    if (a.handler_client_cert is None) != (a.handler_client_key is None):
        p.error("--handler-client-cert and --handler-client-key go together")
    try:
        addresses = parse_addresses(a.handler_address)
    except ValueError as e:
        p.error(str(e))
    return Settings(
        kubeconfig=a.kubeconfig, address=a.address, port=a.port, tls_cert=a.tls_cert, tls_key=a.tls_key,
        handler_tls=HandlerTLS(a.handler_client_cert, a.handler_client_key, a.handler_ca),
        handler_addresses=addresses, handler_timeout=max(1.0, a.handler_timeout), namespace=a.namespace,
        kubevirt_users=tuple(a.kubevirt_user) or DEFAULT_KUBEVIRT_USERS,
        default_network_interface=a.default_network_interface, shutdown_delay=max(0.0, a.shutdown_delay),
        qps=a.qps, burst=a.burst, log_level=a.log_level,
        review_cache_ttl=CacheTTL(allowed=max(0.0, a.authorization_webhook_cache_authorized_ttl),
                                  denied=max(0.0, a.authorization_webhook_cache_unauthorized_ttl)))
