"""Service → backend address, for the aggregation proxy, the APIService availability checks and
admission webhooks.

There is no service network on one machine: a Service port resolves to a static mapping from
`<data-dir>/services.yaml` (`"<namespace>/<name>:<port>": "127.0.0.1:<port>"`, re-read when it
changes) or `--service` flags (which win), else to a ready address of the Service's Endpoints
(kube-apiserver's `--enable-aggregator-routing`), taken in turn. An unknown Service or one without
ready endpoints is a 503 Status, as kube-apiserver answers.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from . import errors
from .store import Store

log = logging.getLogger("virt_local.apiserver.service_resolver")


def service_endpoint(svc: dict[str, Any], endpoints: dict[str, Any] | None, port: int, turn: int) -> str | None:
    """A ready `ip:port` of the Service's Endpoints for its port `port` (round robin by `turn`)."""
    svc_port = next((p for p in (svc.get("spec") or {}).get("ports") or []
                     if isinstance(p, dict) and p.get("port") == port), None)
    if svc_port is None:
        return None
    wanted = svc_port.get("name") or ""
    choices = []
    for subset in (endpoints or {}).get("subsets") or []:
        ep_port = next((p for p in subset.get("ports") or [] if (p.get("name") or "") == wanted), None)
        if ep_port is None:
            continue
        choices += [f"{a['ip']}:{ep_port['port']}" for a in subset.get("addresses") or [] if a.get("ip")]
    if not choices:
        return None
    choices.sort()
    return choices[turn % len(choices)]


class ServiceResolver:
    """Resolves `<namespace>/<name>:<port>` with the static map first, then the store's Endpoints."""

    def __init__(self, *, store: Store, services_file: Path, static_map: Mapping[str, str]) -> None:
        self._store = store
        self._file = services_file
        self._static = dict(static_map)
        self._file_stamp = -1.0
        self._file_map: dict[str, str] = {}
        self._rotation = 0

    def _service_map(self) -> dict[str, str]:
        try:
            stamp = self._file.stat().st_mtime
        except FileNotFoundError:
            stamp = 0.0
            self._file_map = {}
        if stamp and stamp != self._file_stamp:
            try:
                data = yaml.safe_load(self._file.read_text()) or {}
                self._file_map = {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
            except (OSError, yaml.YAMLError):
                log.warning("cannot read %s", self._file)
        self._file_stamp = stamp
        return {**self._file_map, **self._static}

    def resolve(self, namespace: str, name: str, port: int) -> str:
        """`host:port` behind a Service port: a static mapping, else a ready endpoint of the Service."""
        target = self._service_map().get(f"{namespace}/{name}:{port}")
        if target is not None:
            return target
        svc = self._store.get(("", "services"), namespace, name)
        if svc is None:
            raise errors.service_unavailable(f'service "{namespace}/{name}" not found')
        eps = self._store.get(("", "endpoints"), namespace, name)
        target = service_endpoint(svc.obj(), eps.obj() if eps else None, port, self._rotation)
        self._rotation += 1
        if target is None:
            raise errors.service_unavailable(f'no endpoints available for service "{namespace}/{name}" '
                                             f"(port {port})")
        return target

    def webhook_url(self, client_config: dict[str, Any]) -> tuple[str, str]:
        """URL to call a webhook (`clientConfig.url`, else its Service) and the TLS name to verify."""
        if client_config.get("url"):
            return str(client_config["url"]), ""
        svc = client_config.get("service") or {}
        ns, name, port = svc.get("namespace", ""), svc.get("name", ""), int(svc.get("port") or 443)
        target = self.resolve(ns, name, port)
        path = svc.get("path") or "/"
        return f"https://{target}{path}", f"{name}.{ns}.svc"
