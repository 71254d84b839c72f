"""`virt-api certs`: create or rotate virt-api's TLS material and publish it on a cluster.

  virt-api certs generate --dir DIR [--namespace kubevirt] [--keep-ca]
      Writes ca.crt/ca.key (kept with --keep-ca, so clients keep trusting), tls.crt/tls.key for
      `virt-api.<ns>.svc` (serving), and handler-client.crt/.key (client certificate for virt-handler).
  virt-api certs apply --dir DIR [--kubeconfig K] [--namespace kubevirt]
      Creates or replaces Secret `kubevirt-virt-api-certs` and sets `caBundle` on the APIServices and on
      every webhook of `virt-api-mutator` / `virt-api-validator`.

A running virt-api re-reads its certificate files on the next handshake, so rotation is `generate
--keep-ca` followed by `apply` (the Secret volume is refreshed by the kubelet), with no restart.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
from collections.abc import Sequence
from pathlib import Path

from virt_client.api.views import ObjectView
from virt_client.errors import NotFound
from virt_client.kube import KubeClient
from virt_client.kube_api import KubeApi
from virt_client.peer_names import VIRT_API_CLIENT_CN
from virt_client.resources import SECRETS, ResourceRef
from virt_client.tls import KeyPair, generate_ca, issue_certificate

from .manifests import CERT_SECRET, VERSIONS
from .wire import JsonObject, JsonValue, op_set

APISERVICES = ResourceRef("apiregistration.k8s.io", "v1", "apiservices", False, "APIService")
MUTATING = ResourceRef("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations", False)
VALIDATING = ResourceRef("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations", False)


def generate(directory: Path, namespace: str = "kubevirt", *, keep_ca: bool = False) -> KeyPair:
    """Write the CA, serving and handler-client pairs; return the CA."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_crt, ca_key = directory / "ca.crt", directory / "ca.key"
    if keep_ca and ca_crt.exists() and ca_key.exists():
        ca = KeyPair.read(ca_crt, ca_key)
    else:
        ca = generate_ca("kubevirt-virt-api-ca")
        ca.write(ca_crt, ca_key)
    dns = (f"virt-api.{namespace}.svc", f"virt-api.{namespace}.svc.cluster.local", "virt-api", "localhost")
    serving = issue_certificate(ca, f"virt-api.{namespace}.svc", dns_names=dns, ip_addresses=("127.0.0.1",),
                                server=True)
    serving.write(directory / "tls.crt", directory / "tls.key")
    client = issue_certificate(ca, VIRT_API_CLIENT_CN, client=True)  # the one name virt-handler serves
    client.write(directory / "handler-client.crt", directory / "handler-client.key")
    return ca


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def apply(kube: KubeApi, directory: Path, namespace: str = "kubevirt") -> None:
    """Publish the Secret and the caBundles."""
    ca_pem = (directory / "ca.crt").read_bytes()
    metadata: dict[str, JsonValue] = {"name": CERT_SECRET, "namespace": namespace}
    secret: JsonObject = {
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls", "metadata": metadata,
        "data": {"tls.crt": _b64((directory / "tls.crt").read_bytes()),
                 "tls.key": _b64((directory / "tls.key").read_bytes()), "ca.crt": _b64(ca_pem)}}
    try:
        current = await kube.get(SECRETS, CERT_SECRET, namespace)
        metadata["resourceVersion"] = ObjectView(current).metadata.resource_version
        await kube.update(SECRETS, secret, namespace)
    except NotFound:
        await kube.create(SECRETS, secret, namespace)
    bundle = _b64(ca_pem)
    for version in VERSIONS:
        try:
            await kube.patch(APISERVICES, f"{version}.subresources.kubevirt.io", {"spec": {"caBundle": bundle}})
        except NotFound:
            pass
    for ref, name in ((MUTATING, "virt-api-mutator"), (VALIDATING, "virt-api-validator")):
        try:
            cfg = await kube.get(ref, name)
        except NotFound:
            continue
        ops = [op_set("replace", f"/webhooks/{i}/clientConfig/caBundle", bundle)
               for i in range(len(cfg.get("webhooks") or []))]
        if ops:
            await kube.patch(ref, name, ops, patch_type="json")


def main(argv: Sequence[str]) -> None:
    p = argparse.ArgumentParser(prog="virt-api certs", description="create or rotate virt-api certificates")
    sub = p.add_subparsers(dest="command", required=True)
    g = sub.add_parser("generate", help="write CA, serving and handler-client certificates")
    g.add_argument("--dir", type=Path, required=True)
    g.add_argument("--namespace", default="kubevirt")
    g.add_argument("--keep-ca", action="store_true", help="reuse ca.crt/ca.key when present (rotation)")
    a = sub.add_parser("apply", help="publish the Secret and caBundles on the cluster")
    a.add_argument("--dir", type=Path, required=True)
    a.add_argument("--namespace", default="kubevirt")
    a.add_argument("--kubeconfig")
    args = p.parse_args(list(argv))
    if args.command == "generate":
        generate(args.dir, args.namespace, keep_ca=args.keep_ca)
        print(f"wrote {args.dir}/ca.crt, tls.crt, tls.key, handler-client.crt, handler-client.key")
        return

    async def _apply() -> None:
        async with await KubeClient.from_environment(args.kubeconfig) as kube:
            await apply(kube, args.dir, args.namespace)

    asyncio.run(_apply())
    print(f"applied Secret {args.namespace}/{CERT_SECRET} and caBundles")
