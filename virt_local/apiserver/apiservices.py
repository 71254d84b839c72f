"""The APIServices with `spec.service`: which group versions are aggregated, where their backend is
and how to reach it.

The proxy and the availability checks read the same registry, so they agree on the backend and
share its keep-alive connections: a backend is verified with the APIService's `caBundle` (or not at
all with `insecureSkipTLSVerify`, or against the system CAs without either) under the name
`<name>.<namespace>.svc`, and the API server presents the front-proxy client certificate, as
kube-apiserver does. `refresh` rebuilds the registry from the store when APIServices change.
"""

from __future__ import annotations

import base64
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .backend_pool import BackendPool, BackendPools, split_host_port


@dataclass(frozen=True)
class ClientCertificate:
    """The front-proxy client certificate the API server presents to aggregated backends."""

    cert: Path
    key: Path


@dataclass(frozen=True)
class Backend:
    """The Service behind an APIService and the TLS name its certificate must carry."""

    namespace: str
    name: str
    port: int

    @property
    def server_name(self) -> str:
        return f"{self.name}.{self.namespace}.svc"


def backend(apiservice: dict[str, Any]) -> Backend:
    svc = apiservice["spec"]["service"]
    return Backend(svc.get("namespace", ""), svc.get("name", ""), int(svc.get("port") or 443))


class APIServices:
    def __init__(self, *, pools: BackendPools, client_cert: ClientCertificate) -> None:
        self._pools = pools
        self._client_cert = client_cert
        self.by_group_version: dict[tuple[str, str], dict[str, Any]] = {}

    def refresh(self, apiservices: Iterable[dict[str, Any]]) -> list[tuple[str, str, int, int]]:
        """Take the aggregated APIServices; return (group, version, groupPriorityMinimum,
        versionPriority) of each, for discovery."""
        self.by_group_version = {}
        out = []
        for obj in apiservices:
            spec = obj.get("spec") or {}
            if not spec.get("service"):
                continue
            g, v = spec.get("group", ""), spec.get("version", "")
            self.by_group_version[(g, v)] = obj
            out.append((g, v, int(spec.get("groupPriorityMinimum") or 1000), int(spec.get("versionPriority") or 15)))
        return out

    def handles(self, group: str, version: str) -> bool:
        return bool(group) and (group, version) in self.by_group_version

    def get(self, group: str, version: str) -> dict[str, Any] | None:
        return self.by_group_version.get((group, version))

    def ssl_context(self, apiservice: dict[str, Any]) -> ssl.SSLContext:
        spec = apiservice.get("spec") or {}
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if spec.get("insecureSkipTLSVerify"):
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        elif spec.get("caBundle"):
            ctx.load_verify_locations(cadata=base64.b64decode(spec["caBundle"]).decode())
        else:
            ctx.load_default_certs()
        ctx.load_cert_chain(str(self._client_cert.cert), str(self._client_cert.key))
        return ctx

    def pool(self, apiservice: dict[str, Any], target: str, sni: str) -> BackendPool:
        """The keep-alive pool to `target` (`host:port`) for this APIService's TLS settings."""
        spec = apiservice.get("spec") or {}
        host, port = split_host_port(target)
        return self._pools.get(f"apiservice|{spec.get('caBundle')}|{spec.get('insecureSkipTLSVerify')}",
                               host, port, sni, lambda: self.ssl_context(apiservice))
