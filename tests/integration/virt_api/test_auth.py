"""Authentication and authorization of virt-api: front-proxy certificate, X-Remote-*, RBAC via SAR."""

from __future__ import annotations

import socket
import ssl
import subprocess
from collections.abc import Iterator

import httpx
import pytest

from tests.support.virt_api import VirtApiStack, virt_api_stack, vm
from tests.support.wait import wait_for
from virt_api import certs
from virt_client.tls import generate_ca, issue_certificate

BASE = "/apis/subresources.kubevirt.io/v1/namespaces/demo"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VirtApiStack]:
    with virt_api_stack(tmp_path_factory.mktemp("virtapi-auth")) as s:
        yield s


def direct(stack: VirtApiStack, cert: tuple[str, str] | None = None) -> httpx.Client:
    ctx = ssl.create_default_context(cafile=str(stack.cert_dir / "ca.crt"))
    if cert is not None:
        ctx.load_cert_chain(*cert)
    return httpx.Client(base_url=f"https://127.0.0.1:{stack.port}", verify=ctx, trust_env=False)


def test_request_without_front_proxy_certificate_is_401(stack: VirtApiStack) -> None:
    stack.apply(vm("auth1", run_strategy="Halted"))
    with direct(stack) as client:
        resp = client.put(f"{BASE}/virtualmachines/auth1/start")
        assert resp.status_code == 401
        assert resp.text == "request is not authenticated"
        forged = client.put(f"{BASE}/virtualmachines/auth1/start",
                            headers={"X-Remote-User": "system:admin", "X-Remote-Group": "system:masters"})
        assert forged.status_code == 401
        assert client.get("/apis/subresources.kubevirt.io/v1").status_code == 200  # public discovery
    assert stack.get_json("vm", "-n", "demo", "auth1")["spec"]["runStrategy"] == "Halted"


def test_certificate_from_another_ca_gets_a_tls_alert(stack: VirtApiStack, tmp_path_factory: pytest.TempPathFactory) -> None:
    d = tmp_path_factory.mktemp("rogue")
    rogue = issue_certificate(generate_ca("rogue"), "front-proxy-client", client=True)
    rogue.write(d / "c.crt", d / "c.key")
    for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        ctx = ssl.create_default_context(cafile=str(stack.cert_dir / "ca.crt"))
        ctx.load_cert_chain(str(d / "c.crt"), str(d / "c.key"))
        ctx.maximum_version = version
        with pytest.raises(ssl.SSLError) as refused, socket.create_connection(("127.0.0.1", stack.port)) as sock, \
                ctx.wrap_socket(sock, server_hostname="virt-api.kubevirt.svc") as tls:
            tls.sendall(f"PUT {BASE}/virtualmachines/auth1/start HTTP/1.1\r\nHost: virt-api\r\n"
                        "X-Remote-User: system:admin\r\nContent-Length: 0\r\n\r\n".encode())
            tls.recv(100)
        assert refused.value.reason == "TLSV1_ALERT_UNKNOWN_CA", (version, refused.value)


def _kubectl_as(stack: VirtApiStack, token: str, *args: str, body: str = "{}") -> subprocess.CompletedProcess[str]:
    return stack.api.kubectl("--token", token, *args, input=body, check=False)


def test_rbac_denies_then_allows_through_aggregation(stack: VirtApiStack) -> None:
    stack.apply(vm("auth2", run_strategy="Halted"))
    stack.api.kubectl("create", "serviceaccount", "bob", "-n", "demo")
    token = stack.api.kubectl("create", "token", "bob", "-n", "demo").stdout.strip()
    denied = _kubectl_as(stack, token, "replace", "--raw", f"{BASE}/virtualmachines/auth2/start", "-f", "-")
    assert denied.returncode != 0 and "Forbidden" in denied.stderr  # the aggregator authorizes first
    # virt-api authorizes on its own too: the front-proxy certificate with bob's identity is refused.
    pki = stack.api.data_dir / "pki"
    with direct(stack, cert=(str(pki / "front-proxy-client.crt"), str(pki / "front-proxy-client.key"))) as client:
        headers = {"X-Remote-User": "system:serviceaccount:demo:bob", "X-Remote-Group": "system:authenticated"}
        resp = client.put(f"{BASE}/virtualmachines/auth2/start", headers=headers)
        assert resp.status_code == 403, resp.text
        assert resp.json()["reason"] == "Forbidden" and resp.json()["kind"] == "Status"
        assert resp.json()["message"] == (
            'virtualmachines.subresources.kubevirt.io "auth2" is forbidden: User "system:serviceaccount:demo:bob" '
            'cannot update resource "virtualmachines/start" in API group "subresources.kubevirt.io" in the '
            'namespace "demo"')
        headers["X-Remote-User"] = "kubernetes-admin"
        headers["X-Remote-Group"] = "system:masters"
        dry = client.put(f"{BASE}/virtualmachines/auth2/start", headers=headers, content=b'{"dryRun":["All"]}')
        assert dry.status_code == 202
    assert stack.get_json("vm", "-n", "demo", "auth2")["spec"]["runStrategy"] == "Halted"
    stack.api.kubectl("create", "rolebinding", "bob-edit", "-n", "demo", "--clusterrole", "kubevirt.io:edit",
                      "--serviceaccount", "demo:bob")

    def started() -> bool:
        res = _kubectl_as(stack, token, "replace", "--raw", f"{BASE}/virtualmachines/auth2/start", "-f", "-")
        return res.returncode == 0

    # virt-api reuses bob's denial for up to 10 s (--authorization-webhook-cache-unauthorized-ttl).
    wait_for(started, timeout=25, message="the edit role to take effect")
    assert stack.get_json("vm", "-n", "demo", "auth2")["spec"]["runStrategy"] == "Always"
    migrate = _kubectl_as(stack, token, "replace", "--raw", f"{BASE}/virtualmachines/auth2/migrate", "-f", "-")
    assert migrate.returncode != 0 and "Forbidden" in migrate.stderr  # migrate is in kubevirt.io:migrate only


def test_serving_certificate_rotates_without_restart(stack: VirtApiStack) -> None:
    def serial() -> int:
        ctx = ssl.create_default_context(cafile=str(stack.cert_dir / "ca.crt"))
        import socket

        with socket.create_connection(("127.0.0.1", stack.port)) as sock, \
                ctx.wrap_socket(sock, server_hostname="virt-api.kubevirt.svc") as tls:
            cert = tls.getpeercert()
            assert cert is not None
            return int(str(cert["serialNumber"]), 16)

    before = serial()
    certs.generate(stack.cert_dir, keep_ca=True)
    wait_for(lambda: serial() != before, timeout=10, message="the new serving certificate")
    assert stack.raw("get", "/apis/subresources.kubevirt.io/v1").returncode == 0
