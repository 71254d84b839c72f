"""A server on `AlertingEventLoop` tells a refused client why, with a TLS alert, over real TLS on loopback;
plain asyncio drops the connection instead (the behaviour this loop exists to fix)."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Callable
from pathlib import Path

import pytest

from virt_client import tls_alerts
from virt_client.tls import KeyPair, client_context, generate_ca, issue_certificate, server_context


def write(pair: KeyPair, directory: Path, name: str) -> tuple[Path, Path]:
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    pair.write(cert, key)
    return cert, key


def request(port: int, ctx: ssl.SSLContext) -> str:
    """What a client sees: the server's answer, or the TLS error's reason."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock, \
                ctx.wrap_socket(sock, server_hostname="127.0.0.1") as tls:
            tls.sendall(b"ping")
            return tls.recv(16).decode() or "EOF"
    except ssl.SSLError as exc:
        return str(exc.reason)


def serve_and_ask(run: Callable[..., str], server: ssl.SSLContext, client: ssl.SSLContext) -> str:
    async def main() -> str:
        async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read(4)
            writer.write(b"pong")
            await writer.drain()
            writer.close()

        srv = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=server)
        try:
            return await asyncio.to_thread(request, srv.sockets[0].getsockname()[1], client)
        finally:
            srv.close()
            await srv.wait_closed()

    return run(main())


@pytest.fixture
def contexts(tmp_path: Path) -> dict[str, ssl.SSLContext]:
    # a foreign CA, and an impostor CA of the same name (found as the issuer, its signature fails)
    ca, rogue, impostor = generate_ca("kubevirt.io"), generate_ca("rogue"), generate_ca("kubevirt.io")
    (tmp_path / "ca.crt").write_bytes(ca.cert_pem)
    cert, key = write(issue_certificate(ca, "server", ip_addresses=("127.0.0.1",), server=True), tmp_path, "srv")
    out = {"server": server_context(cert, key, client_ca_file=tmp_path / "ca.crt", require_client=True)}
    for name, issuer in (("ours", ca), ("foreign", rogue), ("impostor", impostor)):
        c, k = write(issue_certificate(issuer, "client", client=True), tmp_path, name)
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            ctx = client_context(tmp_path / "ca.crt", cert_file=c, key_file=k)
            ctx.maximum_version = version
            out[f"{name}-{version.name}"] = ctx
    none = client_context(tmp_path / "ca.crt")
    none.maximum_version = ssl.TLSVersion.TLSv1_2
    out["no-certificate"] = none
    return out


@pytest.mark.parametrize(("client", "want"), [
    ("ours-TLSv1_2", "pong"),
    ("ours-TLSv1_3", "pong"),
    ("foreign-TLSv1_2", "TLSV1_ALERT_UNKNOWN_CA"),
    ("foreign-TLSv1_3", "TLSV1_ALERT_UNKNOWN_CA"),
    ("impostor-TLSv1_2", "TLSV1_ALERT_DECRYPT_ERROR"),
    ("impostor-TLSv1_3", "TLSV1_ALERT_DECRYPT_ERROR"),
    ("no-certificate", "SSLV3_ALERT_HANDSHAKE_FAILURE"),
])
def test_refused_client_gets_the_alert(contexts: dict[str, ssl.SSLContext], client: str, want: str) -> None:
    assert serve_and_ask(tls_alerts.run, contexts["server"], contexts[client]) == want


def test_plain_asyncio_drops_the_alert(contexts: dict[str, ssl.SSLContext]) -> None:
    assert serve_and_ask(asyncio.run, contexts["server"], contexts["foreign-TLSv1_2"]) == "UNEXPECTED_EOF_WHILE_READING"
