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
`kubevirt-virt-handler-certs`, not the holder's.) Pure: `refusal(peercert, allowed)` reads the
dictionary `ssl.SSLSocket.getpeercert()` returns for a verified peer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

CLIENT_PREFIX = "kubevirt.io:system:client:"
HANDLER_SERVER_CN = "kubevirt.io:system:node:virt-handler"
VIRT_API_CLIENT_CN = CLIENT_PREFIX + "virt-handler"
MIGRATION_CLIENT_CN = CLIENT_PREFIX + "migration"

HANDLER_SERVER_PEERS = frozenset({VIRT_API_CLIENT_CN})
MIGRATION_PEERS = frozenset({MIGRATION_CLIENT_CN})


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
        return "no client certificate"
    name = common_name(peercert)
    if name in allowed:
        return None
    return f"common name is invalid, got {name!r}"
