"""`Session`: the one place where virtctl talks to the API server.

REST calls are plain HTTPS requests (stdlib `http.client`, run in a worker thread) with the
kubeconfig user's credentials (`credentials.py`); non-2xx answers become `virt_client.errors`
exceptions (`ApiError` with the Status message, or the plain-text body), connection failures
`TransportError`. Streams (console, VNC) are websockets to the same server with subprotocol
`plain.kubevirt.io`, the same TLS context and `Authorization` header; the API server's aggregation
forwards them to virt-api. Credentials are read lazily, so commands that need no server
(`create vm`, `version --client`) never read them.
"""

from __future__ import annotations

import asyncio
import http.client
import os
import socket
import ssl
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson

from virt_client.api.constants import STREAM_SUBPROTOCOL
from virt_client.errors import ApiError, TransportError, error_from_response

from .calls import Call
from .credentials import Credentials, context_entries, credentials, load_merged
from .errors import CommandError
from .kubeconfig import ClientSettings, existing_paths, namespace_of, resolve_path

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection

USER_AGENT = "virtctl"
REQUEST_TIMEOUT = 60.0


class _HTTPSConnection(http.client.HTTPSConnection):
    """An HTTPS connection whose TLS server name may differ from the host dialed (`tls-server-name`)."""

    def __init__(self, host: str, port: int | None, *, context: ssl.SSLContext, sni: str | None,
                 timeout: float) -> None:
        super().__init__(host, port, context=context, timeout=timeout)
        self._sni = sni
        self._ctx = context

    def connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._ctx.wrap_socket(sock, server_hostname=self._sni or self.host)


class Session:
    """Lazily connected API access for one command run."""

    def __init__(self, settings: ClientSettings, environ: Mapping[str, str] | None = None) -> None:
        self.settings = settings
        self._path = resolve_path(settings.kubeconfig, os.environ if environ is None else environ)
        self._credentials: Credentials | None = None
        self._namespace: str | None = None

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def _config_paths(self) -> list[str]:
        paths = existing_paths(self._path)
        if not paths:
            if self.settings.kubeconfig:
                raise CommandError(f"stat {self._path}: no such file or directory")
            raise CommandError("invalid configuration: no configuration has been provided, "
                               "try setting KUBECONFIG or --kubeconfig")
        return paths

    def namespace(self) -> str:
        """The namespace of this run (`-n`, else the context's, else `default`)."""
        if self._namespace is None:
            if self.settings.namespace:
                self._namespace = self.settings.namespace
            else:
                config = load_merged(self._config_paths())
                active = config.contexts.get(config.current_context or "")
                self._namespace = namespace_of(
                    context_entries(config), {"context": active} if active is not None else None,
                    self.settings.context, None)
        return self._namespace

    def credentials(self) -> Credentials:
        if self._credentials is None:
            self._credentials = credentials(load_merged(self._config_paths()), self.settings.context)
        return self._credentials

    async def send(self, call: Call) -> Any:
        """Perform `call`; returns the decoded JSON answer (None when empty). Raises ApiError/TransportError."""
        creds = self.credentials()
        body = None if call.body is None else orjson.dumps(call.body)
        status, data = await asyncio.to_thread(_request, creds, call.method, call.path, body)
        if status >= 400:
            raise error_from_response(status, data)
        try:
            return orjson.loads(data) if data else None
        except orjson.JSONDecodeError as e:
            raise TransportError(f"{call.method} {call.path}: undecodable answer: {e}") from e

    async def open_stream(self, path: str, query: str = "", open_timeout: float = 60.0) -> ClientConnection:
        """A websocket to `path` on the API server. Rejections raise `websockets.InvalidStatus`."""
        from websockets.asyncio.client import connect  # only streams pay for the import

        creds = self.credentials()
        url = creds.server.replace("https://", "wss://", 1).replace("http://", "ws://", 1) + path
        if query:
            url += "?" + query
        extra: dict[str, Any] = {}
        if creds.ssl_context is not None:
            extra["ssl"] = creds.ssl_context
            if creds.server_hostname:
                extra["server_hostname"] = creds.server_hostname
        return await connect(url, subprotocols=[STREAM_SUBPROTOCOL],  # type: ignore[list-item]
                             additional_headers={"User-Agent": USER_AGENT, **creds.headers},
                             user_agent_header=None, open_timeout=open_timeout, max_size=None,
                             ping_interval=None, **extra)


def _request(creds: Credentials, method: str, path: str, body: bytes | None) -> tuple[int, bytes]:
    """One blocking HTTP exchange; returns (status, body)."""
    url = urlsplit(creds.server)
    conn: http.client.HTTPConnection
    if url.scheme == "https":
        assert creds.ssl_context is not None
        conn = _HTTPSConnection(url.hostname or "", url.port, context=creds.ssl_context, sni=creds.server_hostname,
                                timeout=REQUEST_TIMEOUT)
    else:
        conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=REQUEST_TIMEOUT)
    headers = {"Accept": "application/json", "User-Agent": USER_AGENT, **creds.headers}
    if body is not None:
        headers["Content-Type"] = "application/json"
    try:
        conn.request(method, url.path.rstrip("/") + path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    except (OSError, http.client.HTTPException) as e:
        raise TransportError(f"{method} {creds.server}{path}: {type(e).__name__}: {e}") from e
    finally:
        conn.close()


def describe(error: ApiError | TransportError) -> str:
    """The text upstream prints for a failed request: the Status message (or the plain-text body)."""
    if isinstance(error, ApiError):
        return error.message
    return str(error)
