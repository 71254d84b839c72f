"""Who may call whom over the components' mutual TLS: certificate common names, as upstream issues them.

A certificate signed by the cluster CA proves only that the CA issued it; the common name says which
component holds it. Upstream (virt-operator's `secrets.go`, `pkg/util/tls/tls.go`) names them
`kubevirt.io:system:client:<type>` for clients and `kubevirt.io:system:node:virt-handler` for
virt-handler's serving certificate, and each server accepts only the client types it serves:

| server | accepted client common names |
| --- | --- |
| virt-handler's console/REST server (port 8186) | `kubevirt.io:system:client:virt-handler` (virt-api's client certificate) |
| virt-handler's migration listeners | `kubevirt.io:system:client:migration` (the source handler's client certificate) |

(Upstream's name for virt-api's client certificate, `…:client:virt-handler`, is the Secret's name
`kubevirt-virt-handler-certs`, not the holder's.) And a client of virt-handler (virt-api) accepts only
a server certificate named `kubevirt.io:system:node:virt-handler`, whatever address it dialled
(handlers are reached by Pod IP, so host names are not checked).

Pure: `refusal(peercert, allowed)` reads the dictionary `getpeercert()` returns for a verified peer.
`require_peer_names(ctx, allowed)` makes a client context fail the handshake
(`ssl.SSLCertVerificationError`) with any other server name, for asyncio connections (which wrap their
socket with `SSLContext.wrap_bio`, and so use `ctx.sslobject_class`).
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import Any, ClassVar

CLIENT_PREFIX = "kubevirt.io:system:client:"
HANDLER_SERVER_CN = "kubevirt.io:system:node:virt-handler"
VIRT_API_CLIENT_CN = CLIENT_PREFIX + "virt-handler"
MIGRATION_CLIENT_CN = CLIENT_PREFIX + "migration"

HANDLER_SERVER_PEERS = frozenset({VIRT_API_CLIENT_CN})
MIGRATION_PEERS = frozenset({MIGRATION_CLIENT_CN})
HANDLER_CLIENT_PEERS = frozenset({HANDLER_SERVER_CN})  # what virt-api accepts from a handler


def common_name(peercert: Mapping[str, Any] | None) -> str:
    """The subject CN of a peer certificate as `getpeercert()` returns it ('' when there is none)."""
    for rdn in (peercert or {}).get("subject") or ():
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return ""


def refusal(peercert: Mapping[str, Any] | None, allowed: frozenset[str]) -> str | None:
    """None when the peer may call, else why not (upstream's words: `common name is invalid, got <CN>`)."""
    if not peercert:
        return "no certificate"
    name = common_name(peercert)
    if name in allowed:
        return None
    return f"common name is invalid, got {name!r}"


class _NamedPeerObject(ssl.SSLObject):
    """An `SSLObject` that, once the handshake verified the chain, also checks the peer's name."""

    allowed: ClassVar[frozenset[str]] = frozenset()

    def do_handshake(self) -> None:
        super().do_handshake()
        why = refusal(self.getpeercert(), self.allowed)
        if why is not None:
            raise ssl.SSLCertVerificationError(ssl.SSL_ERROR_SSL, f"peer certificate refused: {why}")


def require_peer_names(ctx: ssl.SSLContext, allowed: frozenset[str]) -> ssl.SSLContext:
    """Make `ctx` (which verifies the peer's chain) also refuse a peer whose CN is not in `allowed`."""
    ctx.sslobject_class = type("NamedPeerObject", (_NamedPeerObject,), {"allowed": allowed})
    return ctx
