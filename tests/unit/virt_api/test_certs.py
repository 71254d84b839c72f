"""The certificates an install mints carry the names virt-handler checks."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from virt_api import certs
from virt_client.peer_names import HANDLER_SERVER_CN, HANDLER_SERVER_PEERS, VIRT_API_CLIENT_CN
from virt_client.tls import certificate_subject

ROOT = Path(__file__).resolve().parents[3]


def test_virt_api_and_gen_certs_mint_upstreams_names(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("gen_certs", ROOT / "hack" / "gen-certs.py")
    assert spec is not None and spec.loader is not None
    gen_certs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen_certs)
    gen_certs.generate(tmp_path)
    client = certificate_subject((tmp_path / "handler-client.crt").read_bytes())[0]
    assert client == VIRT_API_CLIENT_CN and client in HANDLER_SERVER_PEERS
    assert certificate_subject((tmp_path / "handler-server.crt").read_bytes())[0] == HANDLER_SERVER_CN
    certs.generate(tmp_path, keep_ca=True)  # rotation keeps the name
    assert certificate_subject((tmp_path / "handler-client.crt").read_bytes())[0] == VIRT_API_CLIENT_CN
