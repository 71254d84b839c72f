"""Table tests of authentication from the front-proxy certificate, SAR building, discovery and manifests."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from virt_api import discovery, manifests, rbac
from virt_api.authn import RequestHeaderConfig, authenticate
from virt_api.authz import decision, resource_attributes, subject_access_review
from virt_api.errors import PlainTextError
from virt_client.tls import generate_ca, issue_certificate

ROOT = Path(__file__).resolve().parents[3]
CA = generate_ca("front-proxy-ca")
GOOD = issue_certificate(CA, "front-proxy-client", client=True).cert_pem.decode()
OTHER_CN = issue_certificate(CA, "someone-else", client=True).cert_pem.decode()
CONFIGMAP = {"data": {"requestheader-client-ca-file": CA.cert_pem.decode(),
                      "requestheader-allowed-names": '["front-proxy-client"]',
                      "requestheader-username-headers": '["X-Remote-User"]',
                      "requestheader-group-headers": '["X-Remote-Group"]',
                      "requestheader-extra-headers-prefix": '["X-Remote-Extra-"]'}}
CONFIG = RequestHeaderConfig.from_configmap(CONFIGMAP)
HEADERS = [(b"x-remote-user", b"alice"), (b"x-remote-group", b"devs"), (b"x-remote-group", b"system:authenticated"),
           (b"x-remote-extra-scopes%2Fa", b"s1")]


def test_user_from_headers_with_the_certificate() -> None:
    user = authenticate(CONFIG, GOOD, HEADERS)
    assert user.username == "alice"
    assert user.groups == ("devs", "system:authenticated")
    assert user.extra == {"scopes/a": ("s1",)}


@pytest.mark.parametrize(("config", "cert", "headers"), [
    (CONFIG, None, HEADERS),
    (CONFIG, OTHER_CN, HEADERS),
    (CONFIG, GOOD, []),
    (None, GOOD, HEADERS),
], ids=["no-certificate", "cn-not-allowed", "no-user-header", "no-configuration"])
def test_unauthenticated(config: RequestHeaderConfig | None, cert: str | None,
                         headers: list[tuple[bytes, bytes]]) -> None:
    with pytest.raises(PlainTextError) as err:
        authenticate(config, cert, headers)
    assert err.value.code == 401 and err.value.message == "request is not authenticated"


def test_configmap_without_ca_is_an_error() -> None:
    with pytest.raises(ValueError):
        RequestHeaderConfig.from_configmap({"data": {}})


BASE = "/apis/subresources.kubevirt.io/v1/namespaces/demo"


@pytest.mark.parametrize(("method", "path", "want"), [
    ("PUT", f"{BASE}/virtualmachines/vm1/start",
     {"verb": "update", "resource": "virtualmachines", "subresource": "start", "name": "vm1"}),
    ("GET", f"{BASE}/virtualmachineinstances/vm1/console",
     {"verb": "get", "resource": "virtualmachineinstances", "subresource": "console", "name": "vm1"}),
    ("GET", f"{BASE}/virtualmachineinstances/vm1/vnc/screenshot",
     {"verb": "get", "resource": "virtualmachineinstances", "subresource": "vnc/screenshot", "name": "vm1"}),
    ("GET", f"{BASE}/virtualmachineinstances/vm1/portforward/22/tcp",
     {"verb": "get", "resource": "virtualmachineinstances", "subresource": "portforward", "name": "vm1"}),
    ("PUT", f"{BASE}/expand-vm-spec", {"verb": "update", "resource": "expand-vm-spec"}),
    ("PUT", f"{BASE}/pods/p/start", None),
    ("PUT", "/apis/other.io/v1/namespaces/demo/virtualmachines/vm1/start", None),
    ("PUT", f"{BASE}/virtualmachines", None),
], ids=["start", "console", "screenshot", "portforward", "expand-vm-spec", "bad-resource", "bad-group", "no-name"])
def test_resource_attributes(method: str, path: str, want: dict[str, str] | None) -> None:
    got = resource_attributes(method, path)
    if want is None:
        assert got is None
    else:
        assert got is not None
        assert {k: got[k] for k in want} == want
        assert got["group"] == "subresources.kubevirt.io" and got["namespace"] == "demo"


def test_subject_access_review_and_decision() -> None:
    user = authenticate(CONFIG, GOOD, HEADERS)
    attrs = resource_attributes("PUT", f"{BASE}/virtualmachines/vm1/start")
    assert attrs is not None
    sar = subject_access_review(user, attrs)
    assert sar["spec"]["user"] == "alice" and sar["spec"]["extra"] == {"scopes/a": ["s1"]}
    assert decision({"status": {"allowed": True}}) == (True, "")
    assert decision({**sar, "status": {"allowed": False}}) == (False, "")
    assert decision({"status": {"allowed": True, "denied": True}}) == (False, "")
    assert decision({"status": {"allowed": False, "reason": "no"}}) == (False, "no")


def test_discovery_quirks_kept() -> None:
    assert discovery.api_group()["name"] == "subresource.kubevirt.io"
    assert discovery.api_group()["preferredVersion"]["groupVersion"] == "subresources.kubevirt.io/v1"
    names = [r["name"] for r in discovery.api_resource_list("v1")["resources"]]
    assert "virtualmachines/start" in names and "expand-vm-spec" in names
    assert discovery.is_public("/apis/subresources.kubevirt.io/v1/healthz")
    assert not discovery.is_public(f"{BASE}/virtualmachines/vm1/start")


def test_manifest_file_is_the_rendered_one() -> None:
    assert (ROOT / "manifests" / "virt-api.yaml").read_text() == manifests.render()


def test_cluster_roles_as_upstream() -> None:
    roles = {r["metadata"]["name"]: r for r in rbac.cluster_roles()}
    assert set(roles) == {"kubevirt.io:admin", "kubevirt.io:edit", "kubevirt.io:view", "kubevirt.io:migrate"}

    def allows(role: str, verb: str, resource: str) -> bool:
        return any("subresources.kubevirt.io" in r["apiGroups"] and resource in r["resources"] and verb in r["verbs"]
                   for r in roles[role]["rules"])

    assert allows("kubevirt.io:edit", "update", "virtualmachines/start")
    assert allows("kubevirt.io:edit", "get", "virtualmachineinstances/console")
    assert not allows("kubevirt.io:edit", "update", "virtualmachines/migrate")
    assert allows("kubevirt.io:migrate", "update", "virtualmachines/migrate")
    assert not allows("kubevirt.io:view", "update", "virtualmachines/start")
    assert roles["kubevirt.io:view"]["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-view"] == "true"
    docs = list(yaml.safe_load_all((ROOT / "manifests" / "virt-api.yaml").read_text()))
    assert {d["metadata"]["name"] for d in docs if d["kind"] == "APIService"} == {
        "v1.subresources.kubevirt.io", "v1alpha3.subresources.kubevirt.io"}
