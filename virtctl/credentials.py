"""Kubeconfig → the server URL, TLS context and auth headers of the chosen context's user.

A small reader instead of the full Kubernetes client keeps virtctl's start-up short. It merges a
`:`-separated list of files as kubectl does (first file defining a name wins, first
`current-context` wins) and supports what kubeconfigs carry in practice: `certificate-authority`
(`-data`), `insecure-skip-tls-verify`, `tls-server-name`, `client-certificate`/`client-key` (`-data`),
`token`, `tokenFile`, `username`/`password` and `exec` credential plugins
(`client.authentication.k8s.io`, token or client certificate). Relative paths are relative to the
file that names them. Not supported: `auth-provider` plugins and `proxy-url`.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from .errors import CommandError


@dataclass(frozen=True)
class Credentials:
    """Everything needed to reach the API server as the kubeconfig user."""

    server: str
    ssl_context: ssl.SSLContext | None
    headers: Mapping[str, str] = field(default_factory=dict)
    server_hostname: str | None = None


@dataclass
class MergedConfig:
    """The merged kubeconfig: named entries keep the directory of the file that defined them."""

    current_context: str | None = None
    contexts: dict[str, dict[str, Any]] = field(default_factory=dict)
    clusters: dict[str, tuple[dict[str, Any], str]] = field(default_factory=dict)
    users: dict[str, tuple[dict[str, Any], str]] = field(default_factory=dict)


def load_merged(paths: list[str]) -> MergedConfig:
    merged = MergedConfig()
    for path in paths:
        try:
            with open(path) as f:
                doc = yaml.safe_load(f) or {}
        except (OSError, yaml.YAMLError) as e:
            raise CommandError(f"error loading config file \"{path}\": {e}") from e
        base = os.path.dirname(os.path.abspath(path))
        if merged.current_context is None and doc.get("current-context"):
            merged.current_context = str(doc["current-context"])
        for item in doc.get("contexts") or []:
            merged.contexts.setdefault(str(item.get("name")), item.get("context") or {})
        for item in doc.get("clusters") or []:
            merged.clusters.setdefault(str(item.get("name")), (item.get("cluster") or {}, base))
        for item in doc.get("users") or []:
            merged.users.setdefault(str(item.get("name")), (item.get("user") or {}, base))
    return merged


def context_entries(config: MergedConfig) -> list[dict[str, Any]]:
    """The contexts as `[{name, context}]` (the shape `kubeconfig.namespace_of` reads)."""
    return [{"name": name, "context": ctx} for name, ctx in config.contexts.items()]


def _data_or_file(entry: Mapping[str, Any], key: str, base: str) -> bytes | None:
    if entry.get(f"{key}-data"):
        return base64.b64decode(entry[f"{key}-data"])
    if entry.get(key):
        with open(os.path.join(base, os.path.expanduser(str(entry[key]))), "rb") as f:
            return f.read()
    return None


def _load_client_cert(ctx: ssl.SSLContext, cert: bytes, key: bytes) -> None:
    # ssl only loads certificates from files: write them privately, load, remove.
    with tempfile.TemporaryDirectory(prefix="virtctl-") as tmp:
        cert_path, key_path = os.path.join(tmp, "tls.crt"), os.path.join(tmp, "tls.key")
        for path, data in ((cert_path, cert), (key_path, key)):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        ctx.load_cert_chain(cert_path, key_path)


def run_exec_plugin(spec: Mapping[str, Any], cluster_server: str) -> dict[str, Any]:
    """Run an `exec` credential plugin; returns the ExecCredential `status`."""
    env = {**os.environ, **{str(e["name"]): str(e["value"]) for e in spec.get("env") or []}}
    api_version = spec.get("apiVersion") or "client.authentication.k8s.io/v1"
    env["KUBERNETES_EXEC_INFO"] = json.dumps({"apiVersion": api_version, "kind": "ExecCredential",
                                              "spec": {"interactive": False, "cluster": {"server": cluster_server}}})
    try:
        out = subprocess.run([str(spec["command"]), *[str(a) for a in spec.get("args") or []]], env=env,
                             capture_output=True, check=True, timeout=60).stdout
        status: dict[str, Any] = json.loads(out)["status"]
    except (OSError, subprocess.SubprocessError, ValueError, KeyError) as e:
        raise CommandError(f"getting credentials: exec: {e}") from e
    return status


def credentials(config: MergedConfig, context_name: str | None) -> Credentials:
    """The credentials of `context_name` (default: the current context)."""
    name = context_name or config.current_context
    if not name:
        raise CommandError("invalid configuration: no configuration has been provided, "
                           "try setting KUBECONFIG or --kubeconfig")
    if name not in config.contexts:
        raise CommandError(f"context was not found for specified context: {name}")
    ctx_entry = config.contexts[name]
    cluster_name = str(ctx_entry.get("cluster") or "")
    if cluster_name not in config.clusters:
        raise CommandError(f'invalid configuration: context "{name}" has no cluster "{cluster_name}"')
    cluster, cluster_base = config.clusters[cluster_name]
    user, user_base = config.users.get(str(ctx_entry.get("user") or ""), ({}, cluster_base))
    server = str(cluster.get("server") or "").rstrip("/")
    if not server:
        raise CommandError(f'invalid configuration: cluster "{cluster_name}" has no server')
    headers: dict[str, str] = {}
    ssl_ctx: ssl.SSLContext | None = None
    if server.startswith("https://"):
        ca = _data_or_file(cluster, "certificate-authority", cluster_base)
        ssl_ctx = ssl.create_default_context(cadata=ca.decode() if ca else None)
        if cluster.get("insecure-skip-tls-verify"):
            ssl_ctx.check_hostname = False
            ssl_ctx.verify_mode = ssl.CERT_NONE
        cert = _data_or_file(user, "client-certificate", user_base)
        key = _data_or_file(user, "client-key", user_base)
        if cert and key:
            _load_client_cert(ssl_ctx, cert, key)
    token = user.get("token")
    if not token and user.get("tokenFile"):
        with open(os.path.join(user_base, str(user["tokenFile"]))) as f:
            token = f.read().strip()
    if not token and user.get("exec"):
        status = run_exec_plugin(user["exec"], server)
        token = status.get("token")
        if status.get("clientCertificateData") and ssl_ctx is not None:
            _load_client_cert(ssl_ctx, str(status["clientCertificateData"]).encode(),
                              str(status.get("clientKeyData") or "").encode())
    if user.get("auth-provider"):
        raise CommandError("auth-provider credential plugins are not supported; use an exec plugin or a token")
    if token:
        headers["Authorization"] = f"Bearer {token}"
    elif user.get("username"):
        basic = base64.b64encode(f"{user['username']}:{user.get('password', '')}".encode()).decode()
        headers["Authorization"] = f"Basic {basic}"
    return Credentials(server, ssl_ctx, headers, cluster.get("tls-server-name") or None)
