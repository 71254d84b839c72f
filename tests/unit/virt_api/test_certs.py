"""The certificates an install mints carry the names virt-handler checks."""

from __future__ import annotations

import base64
import importlib.util
from pathlib import Path

from virt_api import certs
from virt_api.manifests import CERT_SECRET
from virt_client.kube_fake import FakeKube
from virt_client.peer_names import HANDLER_SERVER_CN, HANDLER_SERVER_PEERS, VIRT_API_CLIENT_CN
from virt_client.resources import SECRETS
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


async def test_apply_publishes_the_secret_and_the_ca_bundles(tmp_path: Path) -> None:
    kube = FakeKube()
    ca = certs.generate(tmp_path)
    bundle = base64.b64encode(ca.cert_pem).decode()
    kube.seed(certs.APISERVICES, {"metadata": {"name": "v1.subresources.kubevirt.io"}, "spec": {"caBundle": ""}})
    kube.seed(certs.MUTATING, {"metadata": {"name": "virt-api-mutator"},
                               "webhooks": [{"name": "a", "clientConfig": {"caBundle": ""}},
                                            {"name": "b", "clientConfig": {"caBundle": ""}}]})
    await certs.apply(kube, tmp_path)
    secret = kube.stored(SECRETS, CERT_SECRET, "kubevirt")
    assert secret is not None and secret["data"]["ca.crt"] == bundle and secret["type"] == "kubernetes.io/tls"
    apiservice = kube.stored(certs.APISERVICES, "v1.subresources.kubevirt.io")
    assert apiservice is not None and apiservice["spec"]["caBundle"] == bundle
    mutator = kube.stored(certs.MUTATING, "virt-api-mutator")
    assert mutator is not None and [w["clientConfig"]["caBundle"] for w in mutator["webhooks"]] == [bundle, bundle]
    # The missing APIService (v1alpha3) and validating configuration are skipped, not created.
    assert [(w.verb, w.name) for w in kube.writes] == [
        ("create", CERT_SECRET), ("patch", "v1.subresources.kubevirt.io"), ("patch", "virt-api-mutator")]
    await certs.apply(kube, tmp_path)  # a second apply replaces the Secret in place
    assert [w.verb for w in kube.writes_of(ref=SECRETS)] == ["create", "update"]
