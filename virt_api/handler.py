"""Reaching the virt-handler of a VMI's node over mutual TLS (reference §1.6, Appendix B).

Address lookup, first match wins:
1. the settings map `--handler-address NODE=HOST:PORT` (virt-local: one handler per node on loopback);
2. the Node annotation `kubevirt.io/virt-handler-address` (`HOST:PORT`), which a handler may publish;
3. upstream's lookup: the one Pod labelled `kubevirt.io=virt-handler` in the install namespace with
   `spec.nodeName=<node>`, at its pod IP and port 8186.

TLS: virt-api presents its client certificate and verifies the handler's certificate chain against
the handler CA, and its common name (`kubevirt.io:system:node:virt-handler`, `virt_client.peer_names`).
Host names are not checked (handlers are reached by pod IP), as upstream.
Request/response calls time out after 10 s; websocket streams are opened with the subprotocol
`plain.kubevirt.io`.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
from websockets.asyncio.client import ClientConnection, connect

from virt_client.api.constants import STREAM_SUBPROTOCOL
from virt_client.api.views import NodeView, PodView
from virt_client.errors import ApiError, TransportError
from virt_client.kube_api import KubeApi
from virt_client.peer_names import HANDLER_CLIENT_PEERS, require_peer_names
from virt_client.resources import NODES, PODS

from .errors import BadRequestError, InternalError

HANDLER_ADDRESS_ANNOTATION = "kubevirt.io/virt-handler-address"
HANDLER_PORT = 8186
DEFAULT_TIMEOUT = 60.0  # a call to a handler, or the opening of a stream to it, on a machine that may be busy


@dataclass(frozen=True)
class HandlerTLS:
    """Client certificate of virt-api and the CA of the handlers' serving certificates."""

    cert_file: Path | None = None
    key_file: Path | None = None
    ca_file: Path | None = None

    def context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.check_hostname = False
        if self.ca_file is not None:
            ctx.load_verify_locations(cafile=str(self.ca_file))
            ctx.verify_mode = ssl.CERT_REQUIRED
            require_peer_names(ctx, HANDLER_CLIENT_PEERS)
        else:
            ctx.verify_mode = ssl.CERT_NONE
        if self.cert_file is not None and self.key_file is not None:
            ctx.load_cert_chain(str(self.cert_file), str(self.key_file))
        return ctx


class HandlerConnector:
    """Finds the handler of a node and talks to it."""

    def __init__(self, kube: KubeApi, *, addresses: Mapping[str, str], tls: HandlerTLS,
                 namespace: str = "kubevirt", timeout: float = DEFAULT_TIMEOUT,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._kube = kube
        self._addresses = dict(addresses)
        self._tls = tls
        self._namespace = namespace
        self._ssl = tls.context()
        self._timeout = timeout
        # `transport` replaces the network in unit tests (an ASGI app standing in for the handlers).
        self._http = httpx.AsyncClient(verify=self._ssl, timeout=timeout, trust_env=False, transport=transport)

    async def close(self) -> None:
        await self._http.aclose()

    async def address(self, node: str) -> str:
        """`host:port` of the handler serving `node`; 400 when there is none, as upstream."""
        if node in self._addresses:
            return self._addresses[node]
        try:
            annotated = NodeView(await self._kube.get(NODES, node)).annotations.get(HANDLER_ADDRESS_ANNOTATION)
            if annotated:
                return annotated
        except ApiError:
            pass
        except TransportError as e:
            raise InternalError(str(e)) from None
        try:
            pods = await self._kube.list(PODS, self._namespace, label_selector="kubevirt.io in (virt-handler)",
                                         field_selector=f"spec.nodeName={node}")
        except (ApiError, TransportError) as e:
            raise InternalError(str(e)) from None
        ips = [ip for ip in (PodView(p).status.pod_ip for p in pods.get("items") or []) if ip]
        if len(ips) != 1:
            raise BadRequestError(f"No virt-handler on node {node} found")
        ip = ips[0]
        return f"[{ip}]:{HANDLER_PORT}" if ":" in ip else f"{ip}:{HANDLER_PORT}"

    @staticmethod
    def path(namespace: str, name: str, action: str) -> str:
        return f"/v1/namespaces/{namespace}/virtualmachineinstances/{name}/{action}"

    async def call(self, node: str, method: str, namespace: str, name: str, action: str, *,
                   body: bytes = b"", query: Mapping[str, str] | None = None) -> httpx.Response:
        """One request/response call; a non-2xx answer becomes 500 with upstream's wording."""
        address = await self.address(node)
        url = f"https://{address}{self.path(namespace, name, action)}"
        try:
            resp = await self._http.request(method, url, content=body or None, params=dict(query or {}))
        except httpx.HTTPError as e:
            raise InternalError(f"error talking to virt-handler at {address}: {type(e).__name__}: {e}") from None
        if resp.status_code // 100 != 2:
            text = resp.text.strip()
            raise InternalError(f"unexpected return code {resp.status_code} ({resp.reason_phrase}), message: {text}")
        return resp

    async def stream(self, node: str, namespace: str, name: str, action: str,
                     query: Mapping[str, str] | None = None) -> ClientConnection:
        """Open the handler's websocket for a console/VNC stream."""
        address = await self.address(node)
        qs = "&".join(f"{k}={v}" for k, v in (query or {}).items())
        url = f"wss://{address}{self.path(namespace, name, action)}" + (f"?{qs}" if qs else "")
        try:
            return await connect(url, ssl=self._ssl, subprotocols=[STREAM_SUBPROTOCOL],  # type: ignore[list-item]
                                 open_timeout=self._timeout, ping_interval=None, max_size=None,
                                 server_hostname="virt-handler")
        except TimeoutError:
            raise InternalError(f"error dialing virt-handler at {address}: no handshake within {self._timeout:g}s") from None
        except (OSError, ssl.SSLError) as e:
            raise InternalError(f"error dialing virt-handler at {address}: {e}") from None
        except Exception as e:  # websockets raises InvalidStatus / InvalidHandshake subclasses
            raise InternalError(f"virt-handler refused the stream: {e}") from None


def parse_addresses(values: list[str]) -> dict[str, str]:
    """`NODE=HOST:PORT` flags to a map."""
    out: dict[str, str] = {}
    for v in values:
        node, sep, addr = v.partition("=")
        if not sep or not node or ":" not in addr:
            raise ValueError(f"--handler-address wants NODE=HOST:PORT, got {v!r}")
        out[node] = addr
    return out
