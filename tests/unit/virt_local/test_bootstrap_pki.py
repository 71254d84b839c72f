"""virt-local's PKI mints the names virt-handler checks, reuses certificates, and re-issues one whose
name an older version got wrong."""

from __future__ import annotations

from pathlib import Path

from virt_client.peer_names import HANDLER_SERVER_CN, HANDLER_SERVER_PEERS
from virt_client.tls import KeyPair, certificate_subject, generate_ca, issue_certificate
from virt_local.bootstrap import Pki


def pki(tmp_path: Path) -> Pki:
    (tmp_path / "pki").mkdir()
    generate_ca("virt-local").write(tmp_path / "pki" / "ca.crt", tmp_path / "pki" / "ca.key")
    return Pki(tmp_path)


def test_handler_certificates_carry_upstreams_names(tmp_path: Path) -> None:
    p = pki(tmp_path)
    crt, _ = p.virt_api_handler_client()
    assert certificate_subject(crt.read_bytes())[0] in HANDLER_SERVER_PEERS
    serving, _ = p.handler_serving("node-1")
    assert certificate_subject(serving.read_bytes())[0] == HANDLER_SERVER_CN


def test_certificates_are_reused_unless_their_name_is_wrong(tmp_path: Path) -> None:
    p = pki(tmp_path)
    crt, key = p.handler_serving("node-1")
    first = crt.read_bytes()
    assert p.handler_serving("node-1")[0].read_bytes() == first  # reused on restart
    issue_certificate(p.ca, "kubevirt.io:system:node:node-1", server=True).write(crt, key)  # an older version's
    p.handler_serving("node-1")
    assert certificate_subject(crt.read_bytes())[0] == HANDLER_SERVER_CN
    assert KeyPair.read(crt, key).cert_pem != first
