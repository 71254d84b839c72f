"""Create, rotate and publish every certificate of a cluster install, from one CA.

    python hack/gen-certs.py generate --dir DIR [--namespace kubevirt] [--keep-ca]
    python hack/gen-certs.py apply --dir DIR [--namespace kubevirt] [--kubeconfig FILE]

`generate` runs `virt-api certs generate` (ca.crt/ca.key, virt-api's serving tls.crt/tls.key, its
client certificate handler-client.crt/.key for virt-handler, common name
`kubevirt.io:system:client:virt-handler`, the only one virt-handler serves) and adds virt-handler's
serving pair handler-server.crt/.key (`kubevirt.io:system:node:virt-handler`), signed by the same CA. With `--keep-ca` an existing CA is reused, which is
how certificates are rotated without breaking trust.

`apply` runs `virt-api certs apply` (Secret `kubevirt-virt-api-certs`, caBundle of the APIServices and
webhooks) and creates or replaces the two Secrets of the virt-api → virt-handler mutual TLS:

| Secret | keys | mounted by | used as |
| --- | --- | --- | --- |
| `kubevirt-virt-handler-certs` | tls.crt, tls.key, ca.crt | virt-api | client certificate; ca.crt verifies handlers |
| `kubevirt-virt-handler-server-certs` | tls.crt, tls.key, ca.crt | virt-handler | serving certificate; ca.crt verifies virt-api |

virt-api does not check the handler's host name (handlers are reached by Pod IP), so one handler
certificate serves every node.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from virt_api import certs as virt_api_certs  # noqa: E402
from virt_api.manifests import CERT_SECRET, HANDLER_CLIENT_SECRET  # noqa: E402
from virt_client.errors import NotFound  # noqa: E402
from virt_client.kube import KubeClient  # noqa: E402
from virt_client.peer_names import HANDLER_SERVER_CN  # noqa: E402
from virt_client.resources import SECRETS  # noqa: E402
from virt_client.tls import issue_certificate  # noqa: E402

HANDLER_SERVER_SECRET = "kubevirt-virt-handler-server-certs"


def generate(directory: Path, namespace: str = "kubevirt", *, keep_ca: bool = False) -> None:
    """Write every pair into `directory` (see the module docstring)."""
    ca = virt_api_certs.generate(directory, namespace, keep_ca=keep_ca)
    server = issue_certificate(ca, HANDLER_SERVER_CN, server=True,
                               dns_names=(f"virt-handler.{namespace}.svc", "virt-handler", "localhost"),
                               ip_addresses=("127.0.0.1",))
    server.write(directory / "handler-server.crt", directory / "handler-server.key")


def _tls_secret(name: str, namespace: str, cert: bytes, key: bytes, ca: bytes) -> dict[str, Any]:
    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    return {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {"name": name, "namespace": namespace, "labels": {"kubevirt.io": ""}},
            "data": {"tls.crt": b64(cert), "tls.key": b64(key), "ca.crt": b64(ca)}}


async def _put(kube: KubeClient, secret: dict[str, Any], namespace: str) -> None:
    try:
        current = await kube.get(SECRETS, secret["metadata"]["name"], namespace)
    except NotFound:
        await kube.create(SECRETS, secret, namespace)
        return
    secret["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
    await kube.update(SECRETS, secret, namespace)


async def apply(kube: KubeClient, directory: Path, namespace: str = "kubevirt") -> None:
    """Publish virt-api's Secret and caBundles, then the two handler mTLS Secrets."""
    await virt_api_certs.apply(kube, directory, namespace)
    ca = (directory / "ca.crt").read_bytes()
    pairs = ((HANDLER_CLIENT_SECRET, "handler-client"), (HANDLER_SERVER_SECRET, "handler-server"))
    for name, stem in pairs:
        cert = (directory / f"{stem}.crt").read_bytes()
        key = (directory / f"{stem}.key").read_bytes()
        await _put(kube, _tls_secret(name, namespace, cert, key, ca), namespace)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="gen-certs.py", description="certificates of a cluster install")
    sub = p.add_subparsers(dest="command", required=True)
    g = sub.add_parser("generate", help="write CA, virt-api and virt-handler certificates")
    g.add_argument("--dir", type=Path, required=True)
    g.add_argument("--namespace", default="kubevirt")
    g.add_argument("--keep-ca", action="store_true", help="reuse ca.crt/ca.key when present (rotation)")
    a = sub.add_parser("apply", help="publish the Secrets and caBundles on the cluster")
    a.add_argument("--dir", type=Path, required=True)
    a.add_argument("--namespace", default="kubevirt")
    a.add_argument("--kubeconfig")
    args = p.parse_args(argv)
    if args.command == "generate":
        generate(args.dir, args.namespace, keep_ca=args.keep_ca)
        print(f"wrote {args.dir}: ca, tls (virt-api), handler-client, handler-server")
        return 0

    async def _apply() -> None:
        async with await KubeClient.from_environment(args.kubeconfig) as kube:
            await apply(kube, args.dir, args.namespace)

    asyncio.run(_apply())
    print(f"applied Secrets {CERT_SECRET}, {HANDLER_CLIENT_SECRET}, {HANDLER_SERVER_SECRET} "
          f"in {args.namespace} and the caBundles")
    return 0


if __name__ == "__main__":
    sys.exit(main())
