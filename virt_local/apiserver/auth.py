"""Who is calling: bearer tokens, client certificates, service-account tokens, impersonation.

The admin token and the token-signing key live in the data directory. Service-account tokens are
JWTs signed with ES256 (as kube-apiserver issues them: issuer, subject
`system:serviceaccount:<ns>:<name>`, audiences, expiry, the bound ServiceAccount's uid); a token
whose ServiceAccount was deleted or recreated stops working.
"""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from .file_modes import write_private
from .rbac import UserInfo

ISSUER = "https://kubernetes.default.svc.cluster.local"
AUDIENCE = "https://kubernetes.default.svc.cluster.local"
ADMIN = UserInfo("kubernetes-admin", ("system:masters", "system:authenticated"))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenAuthority:
    """Issues and verifies service-account JWTs; keeps the admin bearer token."""

    def __init__(self, data_dir: Path) -> None:
        key_file = data_dir / "sa.key"
        if key_file.exists():
            key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
            assert isinstance(key, ec.EllipticCurvePrivateKey)
        else:
            key = ec.generate_private_key(ec.SECP256R1())
            write_private(key_file, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                      serialization.NoEncryption()))
        self._key = key
        self._pub = key.public_key()
        token_file = data_dir / "admin.token"
        if not token_file.exists():
            write_private(token_file, secrets.token_urlsafe(32).encode())
        self.admin_token = token_file.read_text().strip()

    def issue(self, namespace: str, name: str, sa_uid: str, *, expiration_seconds: int = 3600,
              audiences: list[str] | None = None, bound: dict[str, Any] | None = None,
              now: float | None = None) -> tuple[str, int]:
        iat = int(now if now is not None else time.time())
        exp = iat + max(600, expiration_seconds)
        claims: dict[str, Any] = {
            "iss": ISSUER, "sub": f"system:serviceaccount:{namespace}:{name}", "aud": audiences or [AUDIENCE],
            "iat": iat, "nbf": iat, "exp": exp, "jti": secrets.token_hex(8),
            "kubernetes.io": {"namespace": namespace, "serviceaccount": {"name": name, "uid": sa_uid}},
        }
        if bound:
            claims["kubernetes.io"].update(bound)
        header = _b64(orjson.dumps({"alg": "ES256", "typ": "JWT", "kid": "virt-local"}))
        payload = _b64(orjson.dumps(claims))
        der = self._key.sign(f"{header}.{payload}".encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return f"{header}.{payload}.{_b64(sig)}", exp

    def verify(self, token: str, *, now: float | None = None) -> dict[str, Any] | None:
        parts = token.split(".")
        if len(parts) != 3:
            return None
        try:
            sig = _unb64(parts[2])
            if len(sig) != 64:
                return None
            der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
            self._pub.verify(der, f"{parts[0]}.{parts[1]}".encode(), ec.ECDSA(hashes.SHA256()))
            claims: dict[str, Any] = orjson.loads(_unb64(parts[1]))
        except (InvalidSignature, ValueError, orjson.JSONDecodeError):
            return None
        if claims.get("iss") != ISSUER:
            return None
        if float(claims.get("exp", 0)) < (now if now is not None else time.time()):
            return None
        return claims


class Authenticator:
    """Maps a request's credentials to a user; `sa_uid(ns, name)` looks up a live ServiceAccount."""

    def __init__(self, tokens: TokenAuthority, sa_uid: Callable[[str, str], str | None]) -> None:
        self.tokens = tokens
        self.sa_uid = sa_uid

    def from_token(self, token: str) -> UserInfo | None:
        if secrets.compare_digest(token, self.tokens.admin_token):
            return ADMIN
        claims = self.tokens.verify(token)
        if claims is None:
            return None
        kio = claims.get("kubernetes.io") or {}
        ns = kio.get("namespace", "")
        sa = kio.get("serviceaccount") or {}
        if self.sa_uid(ns, sa.get("name", "")) != sa.get("uid"):
            return None
        return UserInfo(f"system:serviceaccount:{ns}:{sa.get('name', '')}",
                        ("system:serviceaccounts", f"system:serviceaccounts:{ns}", "system:authenticated"),
                        uid=sa.get("uid", ""))

    def authenticate(self, headers: dict[str, str], peer_cert: dict[str, Any] | None) -> UserInfo | None:
        auth = headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":
            return self.from_token(auth[7:].strip())
        if peer_cert:
            cn, orgs = "", []
            for rdn in peer_cert.get("subject", ()):
                for k, v in rdn:
                    if k == "commonName":
                        cn = v
                    elif k == "organizationName":
                        orgs.append(v)
            if cn:
                groups = tuple(orgs) + (("system:authenticated",) if "system:authenticated" not in orgs else ())
                return UserInfo(cn, groups)
        return None


def impersonation(headers: dict[str, str], header_list: list[tuple[str, str]]) -> UserInfo | None:
    """The user asked for with Impersonate-* headers, or None when the request does not impersonate."""
    user = headers.get("impersonate-user")
    if not user:
        return None
    groups = [v for k, v in header_list if k == "impersonate-group"]
    extra: dict[str, tuple[str, ...]] = {}
    for k, v in header_list:
        if k.startswith("impersonate-extra-"):
            key = k[len("impersonate-extra-"):]
            extra[key] = extra.get(key, ()) + (v,)
    if user.startswith("system:serviceaccount:"):
        ns = user.split(":")[2] if user.count(":") >= 3 else ""
        groups += ["system:serviceaccounts", f"system:serviceaccounts:{ns}"]
    if "system:authenticated" not in groups:
        groups.append("system:authenticated")
    return UserInfo(user, tuple(groups), uid=headers.get("impersonate-uid", ""), extra=extra)
