"""`Session`: the one place where virtctl talks to the API server.

REST calls go through `virt_client.kube.KubeClient` (credentials, TLS and error mapping of the
kubeconfig user: bearer token, client certificate or exec plugin). Streams (console, VNC) are
websockets to the same server with subprotocol `plain.kubevirt.io`, the server's CA, the user's
client certificate and its `Authorization` header; the API server's aggregation forwards them to
virt-api. The client is opened lazily, so commands that need no server (`create vm`,
`version --client`) never read credentials.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from typing import Any

from kubernetes_asyncio.config import kube_config
from kubernetes_asyncio.config.config_exception import ConfigException
from websockets.asyncio.client import ClientConnection, connect

from virt_client.errors import ApiError, TransportError
from virt_client.kube import KubeClient

from .calls import Call
from .errors import CommandError
from .kubeconfig import ClientSettings, existing_paths, namespace_of, resolve_path

SUBPROTOCOL = "plain.kubevirt.io"
USER_AGENT = "virtctl"


class Session:
    """Lazily connected API access for one command run."""

    def __init__(self, settings: ClientSettings, environ: Mapping[str, str] | None = None) -> None:
        self.settings = settings
        self._path = resolve_path(settings.kubeconfig, os.environ if environ is None else environ)
        self._client: KubeClient | None = None
        self._namespace: str | None = None

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._client is not None:
            await self._client.close()

    def _check_config(self) -> None:
        if not existing_paths(self._path):
            if self.settings.kubeconfig:
                raise CommandError(f"stat {self._path}: no such file or directory")
            raise CommandError("invalid configuration: no configuration has been provided, "
                               "try setting KUBECONFIG or --kubeconfig")

    def namespace(self) -> str:
        """The namespace of this run (`-n`, else the context's, else `default`)."""
        if self._namespace is None:
            if self.settings.namespace:
                self._namespace = self.settings.namespace
            else:
                self._check_config()
                try:
                    contexts, active = kube_config.list_kube_config_contexts(self._path)
                except (ConfigException, OSError, ValueError) as e:
                    raise CommandError(f"invalid configuration: {e}") from e
                self._namespace = namespace_of(contexts, active, self.settings.context, None)
        return self._namespace

    async def client(self) -> KubeClient:
        if self._client is None:
            self._check_config()
            try:
                self._client = await KubeClient.from_kubeconfig(
                    self._path, self.settings.context, user_agent=USER_AGENT)
            except (ConfigException, OSError, ValueError) as e:
                raise CommandError(f"invalid configuration: {e}") from e
        return self._client

    async def send(self, call: Call) -> Any:
        """Perform `call`; returns the decoded answer. API and transport errors propagate."""
        client = await self.client()
        if call.body is None:
            return await client.request(call.method, call.path)
        return await client.request(call.method, call.path, body=call.body)

    async def open_stream(self, path: str, query: str = "", open_timeout: float = 30.0) -> ClientConnection:
        """A websocket to `path` on the API server. Rejections raise `websockets.InvalidStatus`."""
        client = await self.client()
        cfg = client.configuration
        url = client.host.replace("https://", "wss://", 1).replace("http://", "ws://", 1) + path
        if query:
            url += "?" + query
        headers: dict[str, str] = {"User-Agent": USER_AGENT}
        for setting in (await cfg.auth_settings()).values():
            if setting.get("in") == "header" and setting.get("value"):
                headers[str(setting["key"])] = str(setting["value"])
        return await connect(url, ssl=_ssl_context(cfg) if url.startswith("wss://") else None,
                             subprotocols=[SUBPROTOCOL],  # type: ignore[list-item]
                             additional_headers=headers, open_timeout=open_timeout,
                             max_size=None, ping_interval=None, user_agent_header=None)


def _ssl_context(cfg: Any) -> ssl.SSLContext:
    """TLS as the kubeconfig says: its CA (or the system's), its client certificate, or no checks."""
    ctx = ssl.create_default_context(cafile=cfg.ssl_ca_cert or None)
    if cfg.cert_file:
        ctx.load_cert_chain(cfg.cert_file, cfg.key_file or None)
    if not cfg.verify_ssl:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def describe(error: ApiError | TransportError) -> str:
    """The text upstream prints for a failed request: the Status message (or the plain-text body)."""
    if isinstance(error, ApiError):
        return error.message
    return str(error)
