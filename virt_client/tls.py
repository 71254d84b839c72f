"""TLS material for every component: a CA, serving and client certificates, SSL contexts.

Keys are ECDSA P-256 (fast to generate, accepted by Go and Python clients). Certificates are PEM
bytes; nothing here touches the network. `CertificateFiles` watches a certificate/key pair on disk so
servers can pick up a rotated certificate without a restart.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class KeyPair:
    cert_pem: bytes
    key_pem: bytes

    def write(self, cert_path: Path, key_path: Path) -> None:
        cert_path.write_bytes(self.cert_pem)
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(self.key_pem)

    @classmethod
    def read(cls, cert_path: Path, key_path: Path) -> KeyPair:
        return cls(cert_path.read_bytes(), key_path.read_bytes())


def _name(common_name: str, organizations: tuple[str, ...] = ()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attrs)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def generate_ca(common_name: str, *, days: int = 3650) -> KeyPair:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    name = _name(common_name)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return KeyPair(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def issue_certificate(
    ca: KeyPair,
    common_name: str,
    *,
    organizations: tuple[str, ...] = (),
    dns_names: tuple[str, ...] = (),
    ip_addresses: tuple[str, ...] = (),
    server: bool = False,
    client: bool = False,
    days: int = 365,
) -> KeyPair:
    """Issue a leaf certificate signed by `ca` for serving and/or client authentication."""
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem)
    ca_key = serialization.load_pem_private_key(ca.key_pem, password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    usages = []
    if server:
        usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
    if client:
        usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name, organizations))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    )
    sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns_names]
    sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in ip_addresses]
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    return KeyPair(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def certificate_subject(cert_pem: bytes) -> tuple[str, tuple[str, ...]]:
    """Common name and organizations of a PEM certificate (Kubernetes' user and groups)."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    cn = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    orgs = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    return (str(cn[0]) if cn else "", tuple(str(o) for o in orgs))


def server_context(
    cert_file: Path, key_file: Path, *, client_ca_file: Path | None = None, require_client: bool = False
) -> ssl.SSLContext:
    """An SSL context for a server; asks for (or requires) client certificates signed by a CA."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(str(cert_file), str(key_file))
    if client_ca_file is not None:
        ctx.load_verify_locations(cafile=str(client_ca_file))
        ctx.verify_mode = ssl.CERT_REQUIRED if require_client else ssl.CERT_OPTIONAL
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def client_context(
    ca_file: Path | None = None, *, ca_pem: bytes | None = None,
    cert_file: Path | None = None, key_file: Path | None = None,
) -> ssl.SSLContext:
    """An SSL context for a client that trusts `ca_file`/`ca_pem` and optionally presents a certificate."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if ca_file is not None:
        ctx.load_verify_locations(cafile=str(ca_file))
    if ca_pem is not None:
        ctx.load_verify_locations(cadata=ca_pem.decode())
    if cert_file is not None and key_file is not None:
        ctx.load_cert_chain(str(cert_file), str(key_file))
    return ctx


class CertificateFiles:
    """A certificate/key pair on disk whose SSL context is rebuilt when the files change."""

    def __init__(self, cert_file: Path, key_file: Path, *, client_ca_file: Path | None = None,
                 require_client: bool = False) -> None:
        self.cert_file = cert_file
        self.key_file = key_file
        self.client_ca_file = client_ca_file
        self.require_client = require_client
        self._stamp: tuple[float, ...] = ()
        self._ctx: ssl.SSLContext | None = None

    def _current_stamp(self) -> tuple[float, ...]:
        files = [self.cert_file, self.key_file] + ([self.client_ca_file] if self.client_ca_file else [])
        return tuple(f.stat().st_mtime for f in files)

    def context(self) -> ssl.SSLContext:
        stamp = self._current_stamp()
        if self._ctx is None or stamp != self._stamp:
            self._ctx = server_context(self.cert_file, self.key_file, client_ca_file=self.client_ca_file,
                                       require_client=self.require_client)
            self._stamp = stamp
        return self._ctx

    def reload_if_changed(self, ctx: ssl.SSLContext) -> bool:
        """Load the files into `ctx` in place when they changed; new handshakes then use them."""
        stamp = self._current_stamp()
        if stamp == self._stamp:
            return False
        ctx.load_cert_chain(str(self.cert_file), str(self.key_file))
        if self.client_ca_file is not None:
            ctx.load_verify_locations(cafile=str(self.client_ca_file))
        self._stamp = stamp
        return True
