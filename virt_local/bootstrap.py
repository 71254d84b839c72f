"""What `virt-local up` puts in place before the KubeVirt components start.

- Certificates, all signed by the API server's CA (`<data-dir>/pki/ca.crt`): virt-api's serving
  certificate for `virt-api.kubevirt.svc` (and 127.0.0.1), one serving certificate per virt-handler,
  and virt-api's client certificate for calling virt-handlers, with upstream's common names
  (`virt_client.peer_names`: virt-handler serves only `kubevirt.io:system:client:virt-handler`).
  Issued once and reused on restart; one whose common name is not the expected one (minted by an
  older version) is issued again.
- Component kubeconfigs (`<data-dir>/components/<name>.kubeconfig`) with client certificates whose
  user is the component's service account (`system:serviceaccount:kubevirt:<sa>`), so RBAC and
  virt-api's "KubeVirt users" checks see the same identities as on a cluster. A component whose RBAC is
  not among the applied manifests also gets `system:masters`, and that is logged.
- The manifests: CRDs from `manifests/crds/` (waited for until Established), then every other
  `manifests/*.yaml` except workloads (Deployments, DaemonSets, Pods: virt-local runs the components
  itself), with the CA filled into APIService and webhook `caBundle`s.
- `<data-dir>/services.yaml`, mapping `kubevirt/virt-api:443` to virt-api's loopback port.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from virt_client.api.constants import INSTALL_NAMESPACE
from virt_client.errors import AlreadyExists
from virt_client.kube import KubeClient
from virt_client.peer_names import HANDLER_SERVER_CN, VIRT_API_CLIENT_CN
from virt_client.resources import CRDS, ResourceRef
from virt_client.tls import KeyPair, certificate_subject, issue_certificate

from .apply import Applier, load_documents
from .errors import VirtLocalError

log = logging.getLogger("virt_local.up")

SKIPPED_KINDS = {"Deployment", "DaemonSet", "ReplicaSet", "StatefulSet", "Pod", "Job"}
NAMESPACE = INSTALL_NAMESPACE
SERVICE_ACCOUNTS = {"virt-api": "kubevirt-apiserver", "virt-controller": "kubevirt-controller",
                    "virt-handler": "kubevirt-handler"}


def sa_user(component: str) -> str:
    return f"system:serviceaccount:{NAMESPACE}:{SERVICE_ACCOUNTS[component]}"


class Pki:
    def __init__(self, data_dir: Path) -> None:
        self.dir = data_dir / "pki"
        self.ca_file = self.dir / "ca.crt"
        self.ca = KeyPair.read(self.dir / "ca.crt", self.dir / "ca.key")

    def leaf(self, name: str, cn: str, *, orgs: tuple[str, ...] = (), dns: tuple[str, ...] = (),
             ips: tuple[str, ...] = (), server: bool = False, client: bool = False) -> tuple[Path, Path]:
        crt, key = self.dir / f"{name}.crt", self.dir / f"{name}.key"
        if not (crt.exists() and key.exists()) or certificate_subject(crt.read_bytes())[0] != cn:
            issue_certificate(self.ca, cn, organizations=orgs, dns_names=dns, ip_addresses=ips, server=server,
                              client=client).write(crt, key)
        return crt, key

    def virt_api_serving(self) -> tuple[Path, Path]:
        return self.leaf("virt-api", "virt-api.kubevirt.svc", server=True, ips=("127.0.0.1",),
                         dns=("virt-api", "virt-api.kubevirt", "virt-api.kubevirt.svc",
                              "virt-api.kubevirt.svc.cluster.local", "localhost"))

    def virt_api_handler_client(self) -> tuple[Path, Path]:
        return self.leaf("virt-api-handler-client", VIRT_API_CLIENT_CN, client=True)

    def handler_serving(self, node: str) -> tuple[Path, Path]:
        return self.leaf(f"virt-handler-{node}", HANDLER_SERVER_CN, server=True, client=True,
                         ips=("127.0.0.1",), dns=(node, "localhost"))

    def component_kubeconfig(self, component: str, url: str, masters: bool) -> Path:
        groups: tuple[str, ...] = ("system:serviceaccounts", f"system:serviceaccounts:{NAMESPACE}")
        if masters:
            groups += ("system:masters",)
        suffix = "-masters" if masters else ""
        crt, key = self.leaf(f"{component}-client{suffix}", sa_user(component), orgs=groups, client=True)
        path = self.dir.parent / "components" / f"{component}.kubeconfig"
        path.parent.mkdir(parents=True, exist_ok=True)
        cfg = {"apiVersion": "v1", "kind": "Config", "current-context": component,
               "clusters": [{"name": "virt-local", "cluster": {"server": url,
                                                               "certificate-authority": str(self.ca_file)}}],
               "users": [{"name": component, "user": {"client-certificate": str(crt), "client-key": str(key)}}],
               "contexts": [{"name": component, "context": {"cluster": "virt-local", "user": component,
                                                            "namespace": NAMESPACE}}]}
        path.write_text(yaml.safe_dump(cfg, sort_keys=False))
        path.chmod(0o600)
        return path


def fill_ca_bundles(obj: dict[str, Any], ca_pem: bytes) -> dict[str, Any]:
    bundle = base64.b64encode(ca_pem).decode()
    if obj.get("kind") == "APIService" and (obj.get("spec") or {}).get("service"):
        obj = {**obj, "spec": {**obj["spec"], "caBundle": bundle}}
        obj["spec"].pop("insecureSkipTLSVerify", None)
    if obj.get("kind") in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
        obj = {**obj, "webhooks": [{**w, "clientConfig": {**(w.get("clientConfig") or {}), "caBundle": bundle}}
                                   for w in obj.get("webhooks") or []]}
    return obj


def has_rbac_for(docs: list[dict[str, Any]], service_account: str) -> bool:
    for d in docs:
        if d.get("kind") in ("ClusterRoleBinding", "RoleBinding"):
            for s in d.get("subjects") or []:
                if s.get("kind") == "ServiceAccount" and s.get("name") == service_account:
                    return True
    return False


async def wait_for_crds_established(client: KubeClient, names: list[str], seconds: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    pending = set(names)
    while pending:
        for name in list(pending):
            crd = await client.get(CRDS, name)
            if any(c.get("type") == "Established" and c.get("status") == "True"
                   for c in (crd.get("status") or {}).get("conditions") or []):
                pending.discard(name)
        if not pending:
            return
        if loop.time() > deadline:
            raise VirtLocalError(f"CRDs not established after {seconds:.0f}s: {', '.join(sorted(pending))}")
        await asyncio.sleep(0.1)


def read_manifests(manifests: Path) -> tuple[list[dict[str, Any]], list[tuple[Path, list[dict[str, Any]]]]]:
    """The CRD documents, and per other file its documents; every file's Namespaces come first.

    Files may use a Namespace another file creates (as with `kubectl apply -k`, which emits Namespaces
    before anything else), so the Namespaces of all files form the first group.
    """
    crds = [d for p in sorted((manifests / "crds").glob("*.yaml")) for d in load_documents(p)]
    namespaces: list[dict[str, Any]] = []
    others: list[tuple[Path, list[dict[str, Any]]]] = []
    for path in sorted(manifests.glob("*.yaml")):
        if path.name == "kustomization.yaml":  # kustomize's build file, not an object
            continue
        docs = load_documents(path)
        namespaces += [d for d in docs if d["kind"] == "Namespace"]
        others.append((path, [d for d in docs if d["kind"] != "Namespace"]))
    if namespaces:
        others.insert(0, (manifests, namespaces))
    return crds, others


async def apply_manifests(client: KubeClient, manifests: Path, ca_pem: bytes) -> list[dict[str, Any]]:
    """Apply the CRDs, then the other manifests; return every applied document."""
    applier = Applier(client)
    await ensure_bootstrap_roles(client)
    crds, others = read_manifests(manifests)
    applied: list[dict[str, Any]] = []
    for doc in crds:
        await applier.apply(doc)
        applied.append(doc)
    await wait_for_crds_established(client, [d["metadata"]["name"] for d in crds])
    log.info("applied %d CRDs from %s", len(crds), manifests / "crds")
    for path, docs in others:
        count = 0
        for doc in docs:
            if doc["kind"] in SKIPPED_KINDS:
                continue
            await applier.apply(fill_ca_bundles(doc, ca_pem))
            applied.append(doc)
            count += 1
        log.info("applied %d objects from %s", count, path)
    return applied


# kube-apiserver bootstraps this Role; virt-api's RoleBinding refers to it. Created when missing.
AUTH_READER_ROLE: dict[str, Any] = {
    "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
    "metadata": {"name": "extension-apiserver-authentication-reader", "namespace": "kube-system",
                 "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}},
    "rules": [{"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["extension-apiserver-authentication"],
               "verbs": ["get", "list", "watch"]}],
}


async def ensure_bootstrap_roles(client: KubeClient) -> None:
    ref = ResourceRef("rbac.authorization.k8s.io", "v1", "roles", True, "Role")
    try:
        await client.create(ref, AUTH_READER_ROLE, "kube-system")
        log.info("created Role kube-system/extension-apiserver-authentication-reader (missing from the "
                 "API server's bootstrap policy)")
    except AlreadyExists:
        pass


def write_services(data_dir: Path, mapping: Mapping[str, str]) -> None:
    path = data_dir / "services.yaml"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(dict(mapping), sort_keys=True))
    tmp.replace(path)
