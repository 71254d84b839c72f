"""Admission webhooks and API aggregation through `virt-local apiserver`, with real HTTPS
backends on loopback; garbage collection, namespaces and graceful pod deletion."""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
import websockets
import yaml
from fastapi import FastAPI, Request, WebSocket

from tests.support.apiserver import RunningApiServer, free_port, start_apiserver
from tests.support.wait import wait_for, wait_for_async
from virt_client.tls import generate_ca, issue_certificate


def backend_app(seen: list[dict[str, Any]]) -> FastAPI:
    app = FastAPI()

    @app.post("/mutate")
    async def mutate(req: Request) -> dict[str, Any]:
        review = await req.json()
        r = review["request"]
        seen.append(r)
        patch = [{"op": "add", "path": "/data/mutated", "value": r["userInfo"]["username"]}]
        return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                "response": {"uid": r["uid"], "allowed": True, "patchType": "JSONPatch",
                             "patch": base64.b64encode(json.dumps(patch).encode()).decode(),
                             "warnings": ["mutated by test"]}}

    @app.post("/validate")
    async def validate(req: Request) -> dict[str, Any]:
        r = (await req.json())["request"]
        deny = (r.get("object") or {}).get("data", {}).get("deny") == "yes"
        resp: dict[str, Any] = {"uid": r["uid"], "allowed": not deny}
        if deny:
            resp["status"] = {"code": 422, "reason": "Invalid", "message": "data.deny: Forbidden: not allowed"}
        return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": resp}

    @app.get("/apis/demo.example.com/v1")
    async def discovery() -> dict[str, Any]:
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "demo.example.com/v1",
                "resources": [{"name": "things/echo", "singularName": "", "namespaced": True, "kind": "Echo",
                               "verbs": ["get"]}]}

    @app.get("/apis/demo.example.com/v1/namespaces/{ns}/things/{name}/echo")
    async def echo(ns: str, name: str, req: Request) -> dict[str, Any]:
        return {"user": req.headers.get("x-remote-user"), "groups": req.headers.getlist("x-remote-group"),
                "auth": req.headers.get("authorization"), "name": name}

    @app.websocket("/apis/demo.example.com/v1/namespaces/{ns}/things/{name}/console")
    async def console(ws: WebSocket, ns: str, name: str) -> None:
        await ws.accept(subprotocol="plain.kubevirt.io")
        data = await ws.receive_bytes()
        await ws.send_bytes(b"echo:" + data)
        await ws.close()

    return app


@pytest.fixture
async def backend(tmp_path: Path) -> AsyncIterator[tuple[RunningApiServer, list[dict[str, Any]], str]]:
    port = free_port()
    srv = start_apiserver(tmp_path / "api", "--service", f"demo/backend:443=127.0.0.1:{port}")
    ca = generate_ca("backend-ca")
    cert = issue_certificate(ca, "backend", dns_names=("backend.demo.svc",), server=True)
    cert.write(tmp_path / "tls.crt", tmp_path / "tls.key")
    front_proxy_ca = yaml.safe_load(srv.kubectl(
        "get", "cm", "-n", "kube-system", "extension-apiserver-authentication", "-o", "yaml").stdout)[
        "data"]["requestheader-client-ca-file"]
    (tmp_path / "fp-ca.crt").write_text(front_proxy_ca)
    seen: list[dict[str, Any]] = []
    config = uvicorn.Config(backend_app(seen), host="127.0.0.1", port=port, log_level="warning",
                            ssl_certfile=str(tmp_path / "tls.crt"), ssl_keyfile=str(tmp_path / "tls.key"),
                            ssl_ca_certs=str(tmp_path / "fp-ca.crt"), ssl_cert_reqs=ssl.CERT_OPTIONAL)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    await wait_for_async(lambda: server.started, interval=0.02, message="the backend to start")
    try:
        yield srv, seen, base64.b64encode(ca.cert_pem).decode()
    finally:
        server.should_exit = True
        await task
        srv.stop()


def _apply(srv: RunningApiServer, doc: dict[str, Any]) -> None:
    srv.kubectl("apply", "--validate=false", "-f", "-", input=yaml.safe_dump(doc))


async def test_mutating_and_validating_webhooks(backend: tuple[RunningApiServer, list[dict[str, Any]], str]) -> None:
    srv, seen, ca_bundle = backend

    def hook(path: str) -> dict[str, Any]:
        return {"name": f"{path}.demo.io", "admissionReviewVersions": ["v1"], "sideEffects": "None",
                "failurePolicy": "Fail", "objectSelector": {"matchLabels": {"hooked": "yes"}},
                "clientConfig": {"caBundle": ca_bundle,
                                 "service": {"namespace": "demo", "name": "backend", "path": f"/{path}"}},
                "rules": [{"operations": ["CREATE", "UPDATE"], "apiGroups": [""], "apiVersions": ["v1"],
                           "resources": ["configmaps"]}]}
    _apply(srv, {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
                 "metadata": {"name": "m"}, "webhooks": [hook("mutate")]})
    _apply(srv, {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
                 "metadata": {"name": "v"}, "webhooks": [hook("validate")]})
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c1", "labels": {"hooked": "yes"}},
          "data": {"a": "b"}}
    out = await asyncio.to_thread(srv.kubectl, "create", "--validate=false", "-f", "-", input=yaml.safe_dump(cm))
    assert "mutated by test" in out.stderr
    got = json.loads((await asyncio.to_thread(srv.kubectl, "get", "cm", "c1", "-o", "json")).stdout)
    assert got["data"]["mutated"] == "kubernetes-admin"
    assert seen[0]["operation"] == "CREATE" and seen[0]["userInfo"]["username"] == "kubernetes-admin"
    cm["metadata"]["name"] = "c2"
    cm["data"]["deny"] = "yes"
    res = await asyncio.to_thread(srv.kubectl, "create", "--validate=false", "-f", "-", input=yaml.safe_dump(cm), check=False)
    assert res.returncode != 0
    assert 'admission webhook "validate.demo.io" denied the request: data.deny: Forbidden' in res.stderr
    # not selected by objectSelector: no webhook called
    n = len(seen)
    await asyncio.to_thread(srv.kubectl, "create", "cm", "plain", "--from-literal=x=y")
    assert len(seen) == n


async def test_unreachable_webhook_fail_and_ignore(tmp_path: Path) -> None:
    srv = start_apiserver(tmp_path / "api")
    try:
        for policy in ("Fail", "Ignore"):
            _apply(srv, {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
                         "metadata": {"name": "dead"}, "webhooks": [{
                             "name": "dead.demo.io", "admissionReviewVersions": ["v1"], "sideEffects": "None",
                             "failurePolicy": policy, "timeoutSeconds": 2,
                             "clientConfig": {"url": f"https://127.0.0.1:{free_port()}/x"},
                             "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"],
                                        "resources": ["configmaps"]}]}]})
            res = srv.kubectl("create", "cm", f"x-{policy.lower()}", check=False)
            if policy == "Fail":
                assert res.returncode != 0 and 'failed calling webhook "dead.demo.io"' in res.stderr
            else:
                assert res.returncode == 0, res.stderr
    finally:
        srv.stop()


async def test_a_webhook_that_never_answers_times_out(tmp_path: Path) -> None:
    """A backend that accepts the connection and stays silent: the call ends at `timeoutSeconds` with a 504
    (failurePolicy Fail) or is ignored (Ignore), and the API server keeps answering."""
    silent: list[asyncio.StreamWriter] = []

    async def hold(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        silent.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    srv = start_apiserver(tmp_path / "api")
    try:
        for policy in ("Fail", "Ignore"):
            _apply(srv, {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
                         "metadata": {"name": "silent"}, "webhooks": [{
                             "name": "silent.demo.io", "admissionReviewVersions": ["v1"], "sideEffects": "None",
                             "failurePolicy": policy, "timeoutSeconds": 1,
                             "clientConfig": {"url": f"https://127.0.0.1:{port}/x"},
                             "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"],
                                        "resources": ["configmaps"]}]}]})
            # The client gives up after 30 s: an answer from the server (504 naming the webhook, or success
            # when ignored) shows the server ended the call itself, at the webhook's timeoutSeconds.
            res = await asyncio.to_thread(srv.kubectl, "--request-timeout=30s", "create", "cm",
                                          f"s-{policy.lower()}", check=False)
            if policy == "Fail":
                assert res.returncode != 0, res.stderr
                assert 'failed calling webhook "silent.demo.io": context deadline exceeded' in res.stderr, res.stderr
            else:
                assert res.returncode == 0, res.stderr
        assert silent, "the webhook backend was never called"
    finally:
        srv.stop()
        server.close()
        for w in silent:
            w.close()


async def test_aggregated_api_proxy_and_websocket(backend: tuple[RunningApiServer, list[dict[str, Any]], str]) -> None:
    srv, _, ca_bundle = backend
    _apply(srv, {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
                 "metadata": {"name": "v1.demo.example.com"},
                 "spec": {"group": "demo.example.com", "version": "v1", "groupPriorityMinimum": 1000,
                          "versionPriority": 15, "caBundle": ca_bundle,
                          "service": {"namespace": "demo", "name": "backend", "port": 443}}})
    raw = await asyncio.to_thread(srv.kubectl, "get", "--raw",
                                  "/apis/demo.example.com/v1/namespaces/default/things/t1/echo")
    echo = json.loads(raw.stdout)
    assert echo["user"] == "kubernetes-admin" and "system:masters" in echo["groups"]
    assert echo["auth"] is None  # the client's bearer token is not forwarded

    def available() -> bool:
        st = json.loads(srv.kubectl("get", "apiservice", "v1.demo.example.com", "-o", "json").stdout).get("status", {})
        return any(c["type"] == "Available" and c["status"] == "True" for c in st.get("conditions", []))
    await asyncio.to_thread(lambda: wait_for(available, interval=0.2, message="the APIService to be Available"))
    groups = json.loads((await asyncio.to_thread(srv.kubectl, "get", "--raw", "/apis")).stdout)
    assert "demo.example.com" in [g["name"] for g in groups["groups"]]
    ctx = ssl.create_default_context(cafile=str(srv.ca_file))
    uri = srv.url.replace("https", "wss") + "/apis/demo.example.com/v1/namespaces/default/things/t1/console"
    async with websockets.connect(uri, ssl=ctx, subprotocols=["plain.kubevirt.io"],  # type: ignore[list-item]
                                  additional_headers={"Authorization": f"Bearer {srv.token}"}) as ws:
        assert ws.subprotocol == "plain.kubevirt.io"
        await ws.send(b"hello")
        assert await ws.recv() == b"echo:hello"
    # anonymous requests never reach the backend
    async with httpx.AsyncClient(verify=ctx) as c:
        r = await c.get(srv.url + "/apis/demo.example.com/v1/namespaces/default/things/t1/echo")
        assert r.status_code == 401


def _cm(name: str, owner: dict[str, Any] | None = None) -> dict[str, Any]:
    md: dict[str, Any] = {"name": name}
    if owner:
        md["ownerReferences"] = [{"apiVersion": "v1", "kind": "ConfigMap", "name": owner["metadata"]["name"],
                                  "uid": owner["metadata"]["uid"], "blockOwnerDeletion": True}]
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": md}


def _wait_gone(srv: RunningApiServer, *args: str) -> None:
    wait_for(lambda: srv.kubectl("get", *args, check=False).returncode != 0, message=f"{' '.join(args)} to be gone")


def _owner_and_child(srv: RunningApiServer, suffix: str) -> None:
    srv.kubectl("create", "cm", f"owner-{suffix}")
    owner = json.loads(srv.kubectl("get", "cm", f"owner-{suffix}", "-o", "json").stdout)
    srv.kubectl("create", "--validate=false", "-f", "-", input=json.dumps(_cm(f"child-{suffix}", owner)))


@pytest.mark.parametrize("policy", ["background", "foreground", "orphan"])
def test_garbage_collection(apiserver: RunningApiServer, policy: str) -> None:
    _owner_and_child(apiserver, policy)
    apiserver.kubectl("delete", "cm", f"owner-{policy}", f"--cascade={policy}", "--wait=true", "--timeout=20s")
    if policy == "orphan":
        child = json.loads(apiserver.kubectl("get", "cm", f"child-{policy}", "-o", "json").stdout)
        assert "ownerReferences" not in child["metadata"]
    else:
        _wait_gone(apiserver, "cm", f"child-{policy}")


def test_namespace_deletion_removes_contents(apiserver: RunningApiServer) -> None:
    apiserver.kubectl("create", "ns", "scratch")
    apiserver.kubectl("create", "cm", "x", "-n", "scratch")
    apiserver.kubectl("delete", "ns", "scratch", "--wait=true", "--timeout=20s")
    _wait_gone(apiserver, "ns", "scratch")
    res = apiserver.kubectl("create", "cm", "y", "-n", "scratch", check=False)
    assert res.returncode != 0 and 'namespaces "scratch" not found' in res.stderr


def test_graceful_pod_deletion(apiserver: RunningApiServer) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "spec": {"containers": [{"name": "c", "image": "x"}], "terminationGracePeriodSeconds": 30}}
    apiserver.kubectl("create", "--validate=false", "-f", "-", input=json.dumps(pod))
    apiserver.kubectl("create", "--validate=false", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "Binding",
                                                            "metadata": {"name": "p"},
                                                            "target": {"kind": "Node", "name": "n1"}}))
    apiserver.kubectl("delete", "pod", "p", "--wait=false")
    got = json.loads(apiserver.kubectl("get", "pod", "p", "-o", "json").stdout)
    assert got["metadata"]["deletionTimestamp"] and got["metadata"]["deletionGracePeriodSeconds"] == 30
    assert got["spec"]["nodeName"] == "n1"
    apiserver.kubectl("delete", "pod", "p", "--grace-period=0", "--force")
    _wait_gone(apiserver, "pod", "p")
