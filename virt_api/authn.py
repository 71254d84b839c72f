"""Who is calling: the front-proxy (requestheader) client certificate and the X-Remote-* headers.

Upstream (`pkg/virt-api/api.go`): the ConfigMap `kube-system/extension-apiserver-authentication`
names the CA that signs the aggregator's client certificate, the allowed common names and the header
names. TLS asks for a client certificate but does not require it (the aggregator's availability
probe sends none); every non-public request must then carry a verified certificate whose CN is
allowed, and only then are the identity headers believed. A forged `X-Remote-User` without the
certificate is never read.

Pure: `RequestHeaderConfig.from_configmap` parses the ConfigMap; `authenticate` decides from the
peer certificate and the headers.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from cryptography import x509
from cryptography.x509.oid import NameOID

from .errors import PlainTextError

CONFIGMAP_NAMESPACE = "kube-system"
CONFIGMAP_NAME = "extension-apiserver-authentication"
DEFAULT_USER_HEADERS = ("X-Remote-User",)
DEFAULT_GROUP_HEADERS = ("X-Remote-Group",)
DEFAULT_EXTRA_PREFIXES = ("X-Remote-Extra-",)
NOT_AUTHENTICATED = "request is not authenticated"


@dataclass(frozen=True)
class UserInfo:
    """The user a request acts for, as the aggregator told us."""

    username: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    extra: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class RequestHeaderConfig:
    """The parsed `extension-apiserver-authentication` ConfigMap."""

    client_ca_pem: str
    allowed_names: tuple[str, ...] = ()
    username_headers: tuple[str, ...] = DEFAULT_USER_HEADERS
    group_headers: tuple[str, ...] = DEFAULT_GROUP_HEADERS
    extra_prefixes: tuple[str, ...] = DEFAULT_EXTRA_PREFIXES

    @classmethod
    def from_configmap(cls, cm: Mapping[str, Any]) -> RequestHeaderConfig:
        """Parse the ConfigMap; a missing `requestheader-client-ca-file` is an error, as upstream."""
        data = cm.get("data") or {}
        ca = data.get("requestheader-client-ca-file")
        if not ca:
            raise ValueError(f"{CONFIGMAP_NAMESPACE}/{CONFIGMAP_NAME} has no requestheader-client-ca-file")
        return cls(
            client_ca_pem=str(ca),
            allowed_names=_json_list(data.get("requestheader-allowed-names")),
            username_headers=_merge(DEFAULT_USER_HEADERS, _json_list(data.get("requestheader-username-headers"))),
            group_headers=_merge(DEFAULT_GROUP_HEADERS, _json_list(data.get("requestheader-group-headers"))),
            extra_prefixes=_merge(DEFAULT_EXTRA_PREFIXES,
                                  _json_list(data.get("requestheader-extra-headers-prefix"))),
        )


def _json_list(raw: Any) -> tuple[str, ...]:
    if not raw:
        return ()
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError:
        return ()
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def _merge(defaults: tuple[str, ...], more: Iterable[str]) -> tuple[str, ...]:
    out = list(defaults)
    for h in more:
        if h.lower() not in (o.lower() for o in out):
            out.append(h)
    return tuple(out)


@functools.lru_cache(maxsize=64)
def certificate_common_name(cert_pem: str) -> str:
    """The CN of a PEM certificate ('' when it has none); remembered, as the same few front-proxy
    certificates arrive on every request."""
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else ""


def peer_certificate(scope: Mapping[str, Any]) -> str | None:
    """The verified client certificate of the connection (ASGI TLS extension), PEM, or None."""
    tls = (scope.get("extensions") or {}).get("tls") or {}
    chain = tls.get("client_cert_chain") or []
    return str(chain[0]) if chain else None


def authenticate(config: RequestHeaderConfig | None, cert_pem: str | None,
                 headers: Iterable[tuple[bytes, bytes]]) -> UserInfo:
    """The user of a request, or 401 when the front-proxy certificate is missing or not allowed.

    The certificate was verified against the requestheader CA during the TLS handshake; here only
    its presence and common name are checked.
    """
    if config is None or cert_pem is None:
        raise PlainTextError(401, NOT_AUTHENTICATED)
    if config.allowed_names and certificate_common_name(cert_pem) not in config.allowed_names:
        raise PlainTextError(401, NOT_AUTHENTICATED)
    decoded = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in headers]
    user = ""
    for name in config.username_headers:
        user = next((v for k, v in decoded if k == name.lower() and v), "")
        if user:
            break
    if not user:
        raise PlainTextError(401, NOT_AUTHENTICATED)
    group_names = {g.lower() for g in config.group_headers}
    groups = tuple(v for k, v in decoded if k in group_names)
    extra: dict[str, list[str]] = {}
    for k, v in decoded:
        for prefix in config.extra_prefixes:
            if k.startswith(prefix.lower()) and len(k) > len(prefix):
                extra.setdefault(unquote(k[len(prefix):]).lower(), []).append(v)
                break
    uid = next((v for k, v in decoded if k == "x-remote-uid"), "")
    return UserInfo(user, groups, uid, {k: tuple(v) for k, v in extra.items()})
