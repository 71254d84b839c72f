"""Layer 2 of the test stack: a real virt-api behind the embedded API server's aggregation.

`virt_api_stack(tmp, webhooks=...)` starts layer 1 (`virt-local apiserver`) with the
`kubevirt/virt-api:443` Service mapped to a free port, applies the CRDs and `manifests/virt-api.yaml`
(APIServices with the generated caBundle; webhook configurations only when asked), starts the
`virt-api` process and waits until the aggregated group answers through the API server.
`FakeHandler` stands in for virt-handler: a real HTTPS server with client-certificate
authentication that records the calls virt-api forwards to it.
"""

from __future__ import annotations

import json
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from tests.support.apiserver import RunningApiServer, start_apiserver
from tests.support.process import VENV_BIN, ManagedProcess, free_port
from tests.support.wait import wait_for
from virt_api import certs, manifests
from virt_client.peer_names import HANDLER_SERVER_CN
from virt_client.tls import generate_ca, issue_certificate

NODE = "node01"


@dataclass
class FakeHandler:
    """An mTLS HTTPS server that answers 200 and records (method, path, body)."""

    server_cert: Path
    server_key: Path
    client_ca: Path
    calls: list[tuple[str, str, bytes]] = field(default_factory=list)
    port: int = 0
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    def start(self) -> None:
        calls = self.calls

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                calls.append((self.command, self.path, body))
                payload = b'{"guestAgentVersion":"fake"}' if self.command == "GET" else b""
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_PUT = do_GET = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(self.server_cert), str(self.server_key))
        ctx.load_verify_locations(cafile=str(self.client_ca))
        ctx.verify_mode = ssl.CERT_REQUIRED
        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()


@dataclass
class VirtApiStack:
    api: RunningApiServer
    virt_api: ManagedProcess
    port: int
    cert_dir: Path
    handler: FakeHandler

    @property
    def log(self) -> Path:
        return self.virt_api.log

    def stop(self) -> None:
        self.virt_api.stop()
        self.handler.stop()
        self.api.stop()

    def apply(self, objects: list[dict[str, Any]] | dict[str, Any], check: bool = True) -> subprocess.CompletedProcess[str]:
        docs = objects if isinstance(objects, list) else [objects]
        return self.api.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(docs), check=check)

    def raw(self, verb: str, path: str, body: str = "{}", check: bool = False) -> subprocess.CompletedProcess[str]:
        """`kubectl <verb> --raw PATH` (replace/create read the body from stdin)."""
        if verb == "get":
            return self.api.kubectl("get", "--raw", path, check=check)
        return self.api.kubectl(verb, "--raw", path, "-f", "-", input=body, check=check)

    def get_json(self, *args: str) -> dict[str, Any]:
        out: dict[str, Any] = json.loads(self.api.kubectl("get", *args, "-o", "json").stdout)
        return out


def start_virt_api_stack(tmp: Path, *, webhooks: bool = False, extra_args: tuple[str, ...] = (),
                         timeout: float = 60.0) -> VirtApiStack:
    port = free_port()
    api = start_apiserver(tmp / "apiserver", "--service", f"kubevirt/virt-api:443=127.0.0.1:{port}")
    handler: FakeHandler | None = None
    try:
        cert_dir = tmp / "certs"
        ca = certs.generate(cert_dir)
        handler_ca = generate_ca("fake-handler-ca")
        handler_ca.write(cert_dir / "handler-ca.crt", cert_dir / "handler-ca.key")
        issue_certificate(handler_ca, HANDLER_SERVER_CN, server=True, ip_addresses=("127.0.0.1",)).write(
            cert_dir / "handler.crt", cert_dir / "handler.key")
        handler = FakeHandler(cert_dir / "handler.crt", cert_dir / "handler.key", cert_dir / "ca.crt")
        handler.start()
        api.apply_crds()
        kinds = {"APIService", "Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "RoleBinding"}
        if webhooks:
            kinds |= {"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"}
        docs = [d for d in manifests.with_ca_bundle(manifests.documents(), ca.cert_pem) if d["kind"] in kinds]
        api.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(docs))
        proc = ManagedProcess(
            [str(VENV_BIN / "virt-api"), "--kubeconfig", str(api.kubeconfig), "--address", "127.0.0.1",
             "--port", str(port), "--tls-cert", str(cert_dir / "tls.crt"), "--tls-key", str(cert_dir / "tls.key"),
             "--handler-client-cert", str(cert_dir / "handler-client.crt"),
             "--handler-client-key", str(cert_dir / "handler-client.key"),
             "--handler-ca", str(cert_dir / "handler-ca.crt"),
             "--handler-address", f"{NODE}=127.0.0.1:{handler.port}", "--shutdown-delay", "0", *extra_args],
            tmp / "virt-api.log").start()
        stack = VirtApiStack(api, proc, port, cert_dir, handler)

        def up() -> bool:
            if not proc.alive():
                raise AssertionError(f"virt-api exited: {proc.tail(3000)}")
            return api.kubectl("get", "--raw", "/apis/subresources.kubevirt.io/v1", check=False).returncode == 0

        try:
            wait_for(up, timeout=timeout, message="virt-api behind the aggregation")
        except BaseException:
            proc.stop()
            raise
        api.kubectl("create", "namespace", "demo", check=False)
        return stack
    except BaseException:
        if handler is not None:
            handler.stop()
        api.stop()
        raise


@contextmanager
def virt_api_stack(tmp: Path, *, webhooks: bool = False, extra_args: tuple[str, ...] = ()) -> Iterator[VirtApiStack]:
    stack = start_virt_api_stack(tmp, webhooks=webhooks, extra_args=extra_args)
    try:
        yield stack
    finally:
        stack.stop()


def vm(name: str, *, run_strategy: str | None = "Manual", running: bool | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"template": {"spec": {"domain": {"devices": {}, "resources": {"requests": {"memory": "64Mi"}}}}}}
    if run_strategy is not None:
        spec["runStrategy"] = run_strategy
    if running is not None:
        spec["running"] = running
    return {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "metadata": {"name": name, "namespace": "demo"},
            "spec": spec}


def vmi(name: str, *, phase: str = "Running", node: str = NODE, paused: bool = False) -> dict[str, Any]:
    conditions = [{"type": "Paused", "status": "True"}] if paused else []
    return {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
            "metadata": {"name": name, "namespace": "demo"},
            "spec": {"domain": {"devices": {}, "resources": {"requests": {"memory": "64Mi"}}}},
            "status": {"phase": phase, "nodeName": node, "conditions": conditions}}
