"""The cluster install in `manifests/`: generated files are current, every object validates against
the Kubernetes OpenAPI schemas (kubernetes-validate, strict: unknown fields fail), and the
workloads keep the contracts the components rely on (ports, Secrets, paths, service accounts)."""

from __future__ import annotations

import functools
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
MANIFESTS = ROOT / "manifests"
#: The oldest Kubernetes minor the install targets (image volumes for containerDisks need 1.31+).
KUBERNETES_VERSION = "1.31"


def _load_hack(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name.replace("-", "_"), ROOT / "hack" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


gen = _load_hack("gen_manifests")


_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.load_all(path.read_text(), Loader=_Loader) if d]


def _kustomization() -> dict[str, Any]:
    doc = yaml.safe_load((MANIFESTS / "kustomization.yaml").read_text())
    assert isinstance(doc, dict)
    return doc


@functools.cache
def _install() -> list[tuple[str, dict[str, Any]]]:
    return [(res, d) for res in _kustomization()["resources"] for d in _docs(MANIFESTS / res)]


@functools.cache
def _by_kind_name() -> dict[tuple[str, str], dict[str, Any]]:
    return {(d["kind"], d["metadata"]["name"]): d for _, d in _install()}


def test_kubevirt_yaml_is_current() -> None:
    assert (MANIFESTS / "kubevirt.yaml").read_text() == gen.render(), "run: python hack/gen_manifests.py"


def test_kustomization_lists_every_manifest() -> None:
    listed = set(_kustomization()["resources"])
    on_disk = {str(p.relative_to(MANIFESTS)) for p in MANIFESTS.rglob("*.yaml") if p.name != "kustomization.yaml"}
    assert listed == on_disk


def test_no_object_is_defined_twice() -> None:
    seen: dict[tuple[str, str, str], str] = {}
    for res, d in _install():
        key = (d["kind"], d["metadata"].get("namespace", ""), d["metadata"]["name"])
        assert key not in seen, f"{key} in {res} and {seen[key]}"
        seen[key] = res


@pytest.mark.parametrize(("resource", "doc"), _install(),
                         ids=[f"{r}:{d['kind']}/{d['metadata']['name']}" for r, d in _install()])
def test_object_validates_against_kubernetes_schema(resource: str, doc: dict[str, Any]) -> None:
    try:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as e:
        path = "/".join(str(p) for p in e.caught.absolute_path)
        pytest.fail(f"{resource} {doc['kind']}/{doc['metadata']['name']}: {path}: {e.caught.message}")


def test_schema_validation_catches_a_misspelled_field() -> None:
    """The validation above is strict: it would notice a typo, not only a wrong type."""
    doc = gen.controller_deployment()
    doc["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def _container(doc: dict[str, Any]) -> dict[str, Any]:
    containers = doc["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    c: dict[str, Any] = containers[0]
    return c


def _arg(container: dict[str, Any], flag: str) -> str:
    args: list[str] = container["args"]
    return args[args.index(flag) + 1]


def test_every_workload_namespace_and_service_account_exists() -> None:
    objs = _by_kind_name()
    assert ("Namespace", "kubevirt") in objs
    for kind, name in (("Deployment", "virt-api"), ("Deployment", "virt-controller"), ("DaemonSet", "virt-handler")):
        doc = objs[(kind, name)]
        assert doc["metadata"]["namespace"] == "kubevirt"
        assert ("ServiceAccount", doc["spec"]["template"]["spec"]["serviceAccountName"]) in objs


def test_selectors_match_their_pod_templates() -> None:
    for (kind, name), doc in _by_kind_name().items():
        if kind in ("Deployment", "DaemonSet"):
            labels = doc["spec"]["template"]["metadata"]["labels"]
            assert doc["spec"]["selector"]["matchLabels"].items() <= labels.items(), name
        if kind == "Service":
            pods = [d for (k, _), d in _by_kind_name().items() if k in ("Deployment", "DaemonSet")
                    and doc["spec"]["selector"].items() <= d["spec"]["template"]["metadata"]["labels"].items()]
            assert pods, f"Service {name} selects no workload"


def test_controller_deployment() -> None:
    doc = _by_kind_name()[("Deployment", "virt-controller")]
    spec = doc["spec"]["template"]["spec"]
    c = _container(doc)
    assert doc["spec"]["replicas"] == 2
    assert spec["affinity"]["podAntiAffinity"]
    assert c["readinessProbe"]["httpGet"] == {"scheme": "HTTP", "path": "/healthz", "port": gen.CONTROLLER_PORT}
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["resources"]["requests"] and c["resources"]["limits"]["memory"]
    assert {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}} in c["env"]
    assert _arg(c, "--namespace") == "kubevirt"
    assert _arg(c, "--launcher-image") == "kubevirt-py/virt-launcher:v0.1.0"
    assert spec["securityContext"]["runAsNonRoot"] is True


def test_handler_daemonset() -> None:
    objs = _by_kind_name()
    doc = objs[("DaemonSet", "virt-handler")]
    spec = doc["spec"]["template"]["spec"]
    c = _container(doc)
    assert doc["spec"]["template"]["metadata"]["labels"]["kubevirt.io"] == "virt-handler"  # virt-api's lookup
    assert c["securityContext"]["privileged"] is True
    assert not spec.get("hostPID") and not spec.get("hostNetwork")
    host_paths = {v["hostPath"]["path"]: v["hostPath"]["type"] for v in spec["volumes"] if "hostPath" in v}
    assert host_paths == {"/var/run/kubevirt": "DirectoryOrCreate", "/var/run/kubevirt-private": "DirectoryOrCreate"}
    mounts = {m["mountPath"] for m in c["volumeMounts"]}
    assert {"/var/run/kubevirt", "/var/run/kubevirt-private"} <= mounts
    assert _arg(c, "--node-name") == "$(NODE_NAME)"
    assert {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}} in c["env"]
    assert {p["containerPort"] for p in c["ports"]} == {8186, 8185}
    assert c["readinessProbe"]["httpGet"]["port"] == 8185 and c["livenessProbe"]["httpGet"]["port"] == 8185
    secret = next(v["secret"]["secretName"] for v in spec["volumes"] if "secret" in v)
    assert secret == "kubevirt-virt-handler-server-certs"
    cert_dir = next(m["mountPath"] for m in c["volumeMounts"] if m["name"] == "server-certs")
    assert [_arg(c, f) for f in ("--tls-cert", "--tls-key", "--client-ca")] == [
        f"{cert_dir}/tls.crt", f"{cert_dir}/tls.key", f"{cert_dir}/ca.crt"]


def test_virt_api_mounts_the_client_secret_gen_certs_writes() -> None:
    certs = _load_hack("gen-certs")
    api = _by_kind_name()[("Deployment", "virt-api")]
    secrets = {v["secret"]["secretName"] for v in api["spec"]["template"]["spec"]["volumes"] if "secret" in v}
    assert secrets == {"kubevirt-virt-api-certs", certs.HANDLER_CLIENT_SECRET}
    assert certs.HANDLER_SERVER_SECRET == gen.HANDLER_SERVER_SECRET


def test_gen_certs_generate_signs_every_pair_with_one_ca(tmp_path: Path) -> None:
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID

    certs = _load_hack("gen-certs")
    certs.generate(tmp_path)
    ca = x509.load_pem_x509_certificate((tmp_path / "ca.crt").read_bytes())
    usages = {"tls": ExtendedKeyUsageOID.SERVER_AUTH, "handler-server": ExtendedKeyUsageOID.SERVER_AUTH,
              "handler-client": ExtendedKeyUsageOID.CLIENT_AUTH}
    for stem, usage in usages.items():
        cert = x509.load_pem_x509_certificate((tmp_path / f"{stem}.crt").read_bytes())
        cert.verify_directly_issued_by(ca)
        assert usage in cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value, stem
    old_ca = (tmp_path / "ca.crt").read_bytes()
    old_server = (tmp_path / "handler-server.crt").read_bytes()
    certs.generate(tmp_path, keep_ca=True)
    assert (tmp_path / "ca.crt").read_bytes() == old_ca
    assert (tmp_path / "handler-server.crt").read_bytes() != old_server


def _allows(rules: list[dict[str, Any]], group: str, resource: str, verb: str) -> bool:
    return any(group in r["apiGroups"] and resource in r["resources"] and verb in r["verbs"]
               and not r.get("resourceNames") for r in rules)


@pytest.mark.parametrize(("role", "group", "resource", "verb"), [
    ("kubevirt-controller", "", "secrets", "get"),
    ("kubevirt-controller", "", "nodes", "patch"),
    ("kubevirt-controller", "*", "*", "*"),
    ("kubevirt-handler", "", "pods", "create"),
    ("kubevirt-handler", "", "pods", "delete"),
    ("kubevirt-handler", "", "secrets", "get"),
    ("kubevirt-handler", "kubevirt.io", "virtualmachineinstances", "delete"),
    ("kubevirt-handler", "kubevirt.io", "virtualmachines", "get"),
], ids=lambda v: v or "core")
def test_cluster_roles_do_not_grant(role: str, group: str, resource: str, verb: str) -> None:
    rules = _by_kind_name()[("ClusterRole", role)]["rules"]
    assert not _allows(rules, group, resource, verb)
    assert not any("*" in r["apiGroups"] or "*" in r["resources"] or "*" in r["verbs"] for r in rules)


def test_argument_positions_the_operations_guide_patches() -> None:
    """docs/operations.md patches these JSON-pointer indexes; the two hypervisor modes must agree."""
    controller = _container(_by_kind_name()[("Deployment", "virt-controller")])["args"]
    handler = _container(_by_kind_name()[("DaemonSet", "virt-handler")])["args"]
    assert controller[2] == "--launcher-image" and controller[4] == "--hypervisor"
    assert handler[4] == "--hypervisor"
    assert controller[5] == handler[5]
