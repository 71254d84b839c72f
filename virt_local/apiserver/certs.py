"""The API server's certificates and the admin kubeconfig in its data directory.

Generated once and reused across restarts: the cluster CA (`ca.crt`), the serving certificate for
the listen address, the front-proxy CA and client certificate used for aggregation, and
`kubeconfig` with the admin bearer token.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import yaml

from virt_client.tls import KeyPair, generate_ca, issue_certificate, server_context

from .file_modes import private_dir, write_private


class ServerCertificates:
    def __init__(self, data_dir: Path, address: str) -> None:
        self.dir = data_dir / "pki"
        private_dir(self.dir)
        self.data_dir = data_dir
        self.ca = self._ca("ca", "virt-local-ca")
        self.front_proxy_ca = self._ca("front-proxy-ca", "virt-local-front-proxy-ca")
        self.serving = self._leaf("apiserver", self.ca, "kube-apiserver", server=True,
                                  dns=("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"),
                                  ips=tuple({"127.0.0.1", address}))
        self.front_proxy_client = self._leaf("front-proxy-client", self.front_proxy_ca, "front-proxy-client",
                                             client=True)

    def path(self, name: str) -> Path:
        return self.dir / name

    def _ca(self, name: str, cn: str) -> KeyPair:
        crt, key = self.dir / f"{name}.crt", self.dir / f"{name}.key"
        if crt.exists() and key.exists():
            return KeyPair.read(crt, key)
        pair = generate_ca(cn)
        pair.write(crt, key)
        return pair

    def _leaf(self, name: str, ca: KeyPair, cn: str, *, server: bool = False, client: bool = False,
              dns: tuple[str, ...] = (), ips: tuple[str, ...] = ()) -> KeyPair:
        crt, key = self.dir / f"{name}.crt", self.dir / f"{name}.key"
        if crt.exists() and key.exists():
            return KeyPair.read(crt, key)
        pair = issue_certificate(ca, cn, dns_names=dns, ip_addresses=ips, server=server, client=client)
        pair.write(crt, key)
        return pair

    def ssl_context(self) -> ssl.SSLContext:
        return server_context(self.dir / "apiserver.crt", self.dir / "apiserver.key",
                              client_ca_file=self.dir / "ca.crt")

    def write_kubeconfig(self, url: str, token: str, path: Path | None = None, *, user: str = "admin",
                         namespace: str = "default") -> Path:
        path = path or self.data_dir / "kubeconfig"
        cfg = {
            "apiVersion": "v1", "kind": "Config", "current-context": "virt-local",
            "clusters": [{"name": "virt-local", "cluster": {
                "server": url, "certificate-authority": str((self.dir / "ca.crt").resolve())}}],
            "users": [{"name": user, "user": {"token": token}}],
            "contexts": [{"name": "virt-local", "context": {"cluster": "virt-local", "user": user,
                                                            "namespace": namespace}}],
        }
        write_private(path, yaml.safe_dump(cfg, sort_keys=False).encode())
        return path
