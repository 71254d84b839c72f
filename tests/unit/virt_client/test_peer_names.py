"""Which client certificates a component's mutual-TLS server serves, by common name."""

from __future__ import annotations

from typing import Any

import pytest

from virt_client.peer_names import (
    HANDLER_SERVER_PEERS,
    MIGRATION_CLIENT_CN,
    MIGRATION_PEERS,
    VIRT_API_CLIENT_CN,
    common_name,
    refusal,
)


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
    (None, HANDLER_SERVER_PEERS, "no client certificate"),
    ({}, HANDLER_SERVER_PEERS, "no client certificate"),
], ids=["virt-api", "virt-api-with-org", "other-user", "migration-on-8186", "handler-server-cert",
        "migration-peer", "virt-api-on-migration", "no-cn", "none", "empty"])
def test_refusal(cert: dict[str, Any] | None, allowed: frozenset[str], want: str | None) -> None:
    assert refusal(cert, allowed) == want


def test_common_name_of_a_real_peer_certificate() -> None:
    assert common_name(peercert("x", "o")) == "x"
    assert common_name(None) == ""
