"""Which client certificates a component's mutual-TLS server serves, by common name."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path
from typing import Any

import pytest

from virt_client.peer_names import (
    HANDLER_CLIENT_PEERS,
    HANDLER_SERVER_CN,
    HANDLER_SERVER_PEERS,
    MIGRATION_CLIENT_CN,
    MIGRATION_PEERS,
    VIRT_API_CLIENT_CN,
    common_name,
    refusal,
    require_peer_names,
)
from virt_client.tls import client_context, generate_ca, issue_certificate, server_context


def peercert(cn: str, org: str = "") -> dict[str, Any]:
    subject = ((("organizationName", org),),) if org else ()
    return {"subject": subject + ((("commonName", cn),),)}


@pytest.mark.parametrize(("cert", "allowed", "want"), [
    (peercert(VIRT_API_CLIENT_CN), HANDLER_SERVER_PEERS, None),
    (peercert(VIRT_API_CLIENT_CN, "system:masters"), HANDLER_SERVER_PEERS, None),
    (peercert("alice"), HANDLER_SERVER_PEERS, "common name is invalid, got 'alice'"),
    (peercert(MIGRATION_CLIENT_CN), HANDLER_SERVER_PEERS,
     "common name is invalid, got 'kubevirt.io:system:client:migration'"),
    (peercert("kubevirt.io:system:node:virt-handler"), HANDLER_SERVER_PEERS,
     "common name is invalid, got 'kubevirt.io:system:node:virt-handler'"),
    (peercert(MIGRATION_CLIENT_CN), MIGRATION_PEERS, None),
    (peercert(VIRT_API_CLIENT_CN), MIGRATION_PEERS, "common name is invalid, got 'kubevirt.io:system:client:virt-handler'"),
    ({"subject": ()}, HANDLER_SERVER_PEERS, "common name is invalid, got ''"),
    (None, HANDLER_SERVER_PEERS, "no certificate"),
    ({}, HANDLER_SERVER_PEERS, "no certificate"),
], ids=["virt-api", "virt-api-with-org", "other-user", "migration-on-8186", "handler-server-cert",
        "migration-peer", "virt-api-on-migration", "no-cn", "none", "empty"])
def test_refusal(cert: dict[str, Any] | None, allowed: frozenset[str], want: str | None) -> None:
    assert refusal(cert, allowed) == want


def test_common_name_of_a_real_peer_certificate() -> None:
    assert common_name(peercert("x", "o")) == "x"
    assert common_name(None) == ""


@pytest.mark.parametrize(("server_cn", "refused"), [
    (HANDLER_SERVER_CN, None),
    ("virt-handler", "peer certificate refused: common name is invalid, got 'virt-handler'"),
    (VIRT_API_CLIENT_CN, "peer certificate refused: common name is invalid, got 'kubevirt.io:system:client:virt-handler'"),
], ids=["handler", "other-name", "a-client-name"])
def test_client_refuses_a_server_of_another_name(tmp_path: Path, server_cn: str, refused: str | None) -> None:
    ca = generate_ca("kubevirt.io")
    (tmp_path / "ca.crt").write_bytes(ca.cert_pem)
    issue_certificate(ca, server_cn, server=True).write(tmp_path / "s.crt", tmp_path / "s.key")
    server = server_context(tmp_path / "s.crt", tmp_path / "s.key")
    client = client_context(tmp_path / "ca.crt")
    client.check_hostname = False  # handlers are dialled by Pod IP: the name is checked instead
    require_peer_names(client, HANDLER_CLIENT_PEERS)

    async def main() -> str | None:
        async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.close()

        srv = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=server)
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", srv.sockets[0].getsockname()[1], ssl=client)
            writer.close()
            return None
        except ssl.SSLCertVerificationError as exc:
            return str(exc)
        finally:
            srv.close()
            await srv.wait_closed()

    assert asyncio.run(main()) == refused
