"""Render `manifests/kubevirt.yaml`: what a cluster needs besides the CRDs and `virt-api.yaml`.

Contents, in apply order: the ServiceAccounts `kubevirt-controller` and `kubevirt-handler`, their
least-privilege RBAC (each rule is something the component's code calls; see RULES below), the
virt-controller Deployment and metrics Service, and the virt-handler DaemonSet and metrics Service.
The Namespace, virt-api's ServiceAccount, RBAC, Deployment, Service, APIServices and webhooks stay in
`manifests/virt-api.yaml` (rendered by `python -m virt_api.manifests`); `manifests/kustomization.yaml`
lists all of them.

Ports, paths, image names and Secret names are imported from the components' settings modules so
the manifest cannot drift from what the processes expect. A unit test checks that the committed file
equals `render()`.

    python hack/gen_manifests.py            # rewrite manifests/kubevirt.yaml
    python hack/gen_manifests.py --check    # exit 1 when the committed file is stale
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from virt_api.manifests import HANDLER_CLIENT_SECRET, NAMESPACE  # noqa: E402
from virt_client.api.constants import DEFAULT_LAUNCHER_IMAGE  # noqa: E402
from virt_controller.settings import Settings  # noqa: E402
from virt_handler.settings import DEFAULT_RUN_DIR, HandlerSettings  # noqa: E402

OUTPUT = ROOT / "manifests" / "kubevirt.yaml"
VERSION = "v0.1.0"
REGISTRY = "kubevirt-py"
CONTROLLER_IMAGE = f"{REGISTRY}/virt-controller:{VERSION}"
HANDLER_IMAGE = f"{REGISTRY}/virt-handler:{VERSION}"
LAUNCHER_IMAGE = DEFAULT_LAUNCHER_IMAGE

CONTROLLER_SA = "kubevirt-controller"
HANDLER_SA = "kubevirt-handler"
#: Secret with virt-handler's serving certificate for virt-api's mutual TLS (tls.crt, tls.key, ca.crt);
#: `ca.crt` also verifies virt-api's client certificate (Secret `HANDLER_CLIENT_SECRET`).
HANDLER_SERVER_SECRET = "kubevirt-virt-handler-server-certs"
HANDLER_CERT_DIR = "/etc/virt-handler/servercertificates"
PRIVATE_DIR = "/var/run/kubevirt-private"
NONROOT_UID = 107  # upstream's non-root user (qemu) in KubeVirt images
#: `emulation` (TCG) until launcher Pods get /dev/kvm: the handler only advertises
#: `devices.kubevirt.io/kvm` in Node status, no device plugin hands the device to the container yet.
#: docs/operations.md shows the patch that switches an install to `kvm`.
HYPERVISOR = "emulation"

_CONTROLLER = Settings()
_HANDLER = HandlerSettings(node_name="")
CONTROLLER_PORT = _CONTROLLER.port
LEASE_NAME = _CONTROLLER.lease_name
HANDLER_PORT = _HANDLER.port
HANDLER_HEALTH_PORT = _HANDLER.health_port

Rule = dict[str, Any]


def _rule(groups: list[str], resources: list[str], verbs: list[str],
          names: list[str] | None = None) -> Rule:
    rule: Rule = {"apiGroups": groups, "resources": resources, "verbs": verbs}
    if names:
        rule["resourceNames"] = names
    return rule


READ = ["get", "list", "watch"]

#: virt-controller, cluster-wide. Informers list/watch VMs, VMIs, VMIRSs, DataVolumes, PVCs and
#: launcher Pods; the VM controller patches VMs (spec, finalizers) and PUTs `status`; the VMI
#: controller creates/deletes launcher Pods and PUTs VMIs (VMI has no status subresource, as
#: upstream); the VMIRS controller PUTs `status`; both create/delete VMIs; the event recorder creates
#: and patches Events. `<kind>/finalizers` update is what the OwnerReferencesPermissionEnforcement
#: admission plugin asks of a creator setting `blockOwnerDeletion` (launcher Pods, VMIs).
#: VirtualMachineInstanceMigrations are read-only until the migration controller writes them.
CONTROLLER_RULES: list[Rule] = [
    _rule(["kubevirt.io"], ["virtualmachines"], [*READ, "patch"]),
    _rule(["kubevirt.io"], ["virtualmachines/status"], ["update"]),
    _rule(["kubevirt.io"], ["virtualmachineinstances"], [*READ, "create", "update", "delete"]),
    _rule(["kubevirt.io"], ["virtualmachineinstancereplicasets"], READ),
    _rule(["kubevirt.io"], ["virtualmachineinstancereplicasets/status"], ["update"]),
    _rule(["kubevirt.io"], ["virtualmachines/finalizers", "virtualmachineinstances/finalizers",
                            "virtualmachineinstancereplicasets/finalizers"], ["update"]),
    _rule(["kubevirt.io"], ["virtualmachineinstancemigrations"], READ),
    _rule(["cdi.kubevirt.io"], ["datavolumes"], READ),
    _rule([""], ["pods"], [*READ, "create", "delete"]),
    _rule([""], ["persistentvolumeclaims"], READ),
    _rule([""], ["events"], ["create", "patch"]),
]

#: virt-controller, in the install namespace only: its leader-election Lease. `create` cannot be
#: narrowed by name (the name is not known to RBAC before the object exists); get/update can.
CONTROLLER_NAMESPACE_RULES: list[Rule] = [
    _rule(["coordination.k8s.io"], ["leases"], ["create"]),
    _rule(["coordination.k8s.io"], ["leases"], ["get", "update"], [LEASE_NAME]),
]

#: virt-handler, cluster-wide. RBAC cannot say "VMIs on my node": the informers select by the
#: `kubevirt.io/nodeName` label, and the VMI update validator is where node scoping belongs (upstream
#: does it there). VMIs: watch + JSON-patch of status; Pods: list, to read a launcher's image; Nodes:
#: heartbeat/labels patch and the device resources on `nodes/status`; Events for node-level reports.
HANDLER_RULES: list[Rule] = [
    _rule(["kubevirt.io"], ["virtualmachineinstances"], [*READ, "patch"]),
    _rule([""], ["pods"], ["list"]),
    _rule([""], ["nodes"], ["get", "patch"]),
    _rule([""], ["nodes/status"], ["patch"]),
    _rule([""], ["events"], ["create", "patch"]),
]


def _meta(name: str, namespace: str | None = None, labels: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    meta["labels"] = {"kubevirt.io": "", **(labels or {})}
    return meta


def service_account(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(name, NAMESPACE)}


def _subject(sa: str) -> list[dict[str, str]]:
    return [{"kind": "ServiceAccount", "name": sa, "namespace": NAMESPACE}]


def cluster_role(name: str, rules: list[Rule]) -> list[dict[str, Any]]:
    rbac = "rbac.authorization.k8s.io"
    return [
        {"apiVersion": f"{rbac}/v1", "kind": "ClusterRole", "metadata": _meta(name), "rules": rules},
        {"apiVersion": f"{rbac}/v1", "kind": "ClusterRoleBinding", "metadata": _meta(name),
         "roleRef": {"apiGroup": rbac, "kind": "ClusterRole", "name": name}, "subjects": _subject(name)},
    ]


def namespace_role(name: str, rules: list[Rule]) -> list[dict[str, Any]]:
    rbac = "rbac.authorization.k8s.io"
    return [
        {"apiVersion": f"{rbac}/v1", "kind": "Role", "metadata": _meta(name, NAMESPACE), "rules": rules},
        {"apiVersion": f"{rbac}/v1", "kind": "RoleBinding", "metadata": _meta(name, NAMESPACE),
         "roleRef": {"apiGroup": rbac, "kind": "Role", "name": name}, "subjects": _subject(name)},
    ]


def _probe(path: str, port: int, *, initial: int, period: int = 10, failures: int = 3) -> dict[str, Any]:
    return {"httpGet": {"scheme": "HTTP", "path": path, "port": port}, "initialDelaySeconds": initial,
            "periodSeconds": period, "timeoutSeconds": 5, "failureThreshold": failures}


def _env_field(name: str, path: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}}


def _nonroot() -> tuple[dict[str, Any], dict[str, Any]]:
    """Pod and container security contexts of the unprivileged control-plane components."""
    pod = {"runAsNonRoot": True, "runAsUser": NONROOT_UID, "runAsGroup": NONROOT_UID,
           "seccompProfile": {"type": "RuntimeDefault"}}
    container = {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                 "capabilities": {"drop": ["ALL"]}}
    return pod, container


def controller_deployment() -> dict[str, Any]:
    labels = {"kubevirt.io": "virt-controller"}
    args = ["--namespace", NAMESPACE, "--launcher-image", LAUNCHER_IMAGE, "--hypervisor", HYPERVISOR,
            "--port", str(CONTROLLER_PORT), "--workers", str(_CONTROLLER.workers),
            "--bind-address", "$(POD_IP)"]
    pod_sc, container_sc = _nonroot()
    anti_affinity = {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 100, "podAffinityTerm": {"labelSelector": {"matchLabels": labels},
                                            "topologyKey": "kubernetes.io/hostname"}}]}}
    container = {
        "name": "virt-controller", "image": CONTROLLER_IMAGE, "imagePullPolicy": "IfNotPresent",
        "command": ["virt-controller"], "args": args,
        "env": [_env_field("POD_NAME", "metadata.name"), _env_field("POD_IP", "status.podIP")],
        "ports": [{"name": "metrics", "containerPort": CONTROLLER_PORT, "protocol": "TCP"}],
        "readinessProbe": _probe("/healthz", CONTROLLER_PORT, initial=5),
        "livenessProbe": _probe("/healthz", CONTROLLER_PORT, initial=15, failures=6),
        "resources": {"requests": {"cpu": "50m", "memory": "200Mi"}, "limits": {"memory": "1Gi"}},
        "securityContext": container_sc,
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": _meta("virt-controller", NAMESPACE, labels),
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": labels},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 1}},
            "template": {
                "metadata": {"labels": {**labels, "prometheus.kubevirt.io": "true"}},
                "spec": {
                    "serviceAccountName": CONTROLLER_SA,
                    "securityContext": pod_sc,
                    "affinity": anti_affinity,
                    "tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists"}],
                    "terminationGracePeriodSeconds": 30,
                    "containers": [container],
                    "volumes": [{"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "16Mi"}}],
                },
            },
        },
    }


def handler_daemonset() -> dict[str, Any]:
    labels = {"kubevirt.io": "virt-handler"}
    run_dir = str(DEFAULT_RUN_DIR)
    args = ["--node-name", "$(NODE_NAME)", "--run-dir", run_dir, "--hypervisor", HYPERVISOR,
            "--port", str(HANDLER_PORT), "--health-port", str(HANDLER_HEALTH_PORT),
            "--tls-cert", f"{HANDLER_CERT_DIR}/tls.crt", "--tls-key", f"{HANDLER_CERT_DIR}/tls.key",
            "--client-ca", f"{HANDLER_CERT_DIR}/ca.crt", "--address", "$(POD_IP)"]
    container = {
        "name": "virt-handler", "image": HANDLER_IMAGE, "imagePullPolicy": "IfNotPresent",
        "command": ["virt-handler"], "args": args,
        "env": [_env_field("NODE_NAME", "spec.nodeName"), _env_field("POD_IP", "status.podIP")],
        "ports": [{"name": "server", "containerPort": HANDLER_PORT, "protocol": "TCP"},
                  {"name": "metrics", "containerPort": HANDLER_HEALTH_PORT, "protocol": "TCP"}],
        "readinessProbe": _probe("/readyz", HANDLER_HEALTH_PORT, initial=5),
        "livenessProbe": _probe("/healthz", HANDLER_HEALTH_PORT, initial=60, failures=6),
        "resources": {"requests": {"cpu": "50m", "memory": "150Mi"}, "limits": {"memory": "1Gi"}},
        # Privileged: the container runtime then exposes the host's /dev (so /dev/kvm can be checked
        # and, later, handed to launchers) and root can use every launcher's socket directory.
        # No hostPID/hostNetwork: launchers are reached through unix sockets in the shared run dir.
        "securityContext": {"privileged": True, "runAsUser": 0},
        "volumeMounts": [
            {"name": "kubevirt-run", "mountPath": run_dir},
            {"name": "kubevirt-private", "mountPath": PRIVATE_DIR},
            {"name": "server-certs", "mountPath": HANDLER_CERT_DIR, "readOnly": True},
        ],
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    return {
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": _meta("virt-handler", NAMESPACE, labels),
        "spec": {
            "selector": {"matchLabels": labels},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
            "template": {
                "metadata": {"labels": {**labels, "prometheus.kubevirt.io": "true"}},
                "spec": {
                    "serviceAccountName": HANDLER_SA,
                    "tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists"}],
                    "terminationGracePeriodSeconds": 30,
                    "containers": [container],
                    "volumes": [
                        {"name": "kubevirt-run", "hostPath": {"path": run_dir, "type": "DirectoryOrCreate"}},
                        {"name": "kubevirt-private", "hostPath": {"path": PRIVATE_DIR, "type": "DirectoryOrCreate"}},
                        {"name": "server-certs", "secret": {"secretName": HANDLER_SERVER_SECRET}},
                    ],
                },
            },
        },
    }


def metrics_service(name: str, selector: str, port: int) -> dict[str, Any]:
    """A headless Service so Prometheus (or a person) can find every replica's /metrics."""
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": _meta(name, NAMESPACE, {"kubevirt.io": selector, "prometheus.kubevirt.io": "true"}),
            "spec": {"clusterIP": "None", "selector": {"kubevirt.io": selector},
                     "ports": [{"name": "metrics", "port": port, "targetPort": "metrics", "protocol": "TCP"}]}}


def documents() -> list[dict[str, Any]]:
    """Every object of `manifests/kubevirt.yaml`, in apply order."""
    return [
        service_account(CONTROLLER_SA),
        service_account(HANDLER_SA),
        *cluster_role(CONTROLLER_SA, CONTROLLER_RULES),
        *namespace_role(CONTROLLER_SA, CONTROLLER_NAMESPACE_RULES),
        *cluster_role(HANDLER_SA, HANDLER_RULES),
        metrics_service("virt-controller", "virt-controller", CONTROLLER_PORT),
        controller_deployment(),
        metrics_service("virt-handler", "virt-handler", HANDLER_HEALTH_PORT),
        handler_daemonset(),
    ]


class _NoAliases(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def render() -> str:
    header = ("# Generated by `python hack/gen_manifests.py`; do not edit by hand.\n"
              f"# virt-api's objects are in virt-api.yaml; the client certificate Secret it mounts is "
              f"{HANDLER_CLIENT_SECRET}.\n")
    return header + yaml.dump_all(documents(), Dumper=_NoAliases, sort_keys=False)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--check", action="store_true", help="exit 1 when manifests/kubevirt.yaml is stale")
    p.add_argument("--output", type=Path, default=OUTPUT)
    args = p.parse_args(argv)
    text = render()
    if args.check:
        current = args.output.read_text() if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is stale: run python hack/gen_manifests.py", file=sys.stderr)
            return 1
        return 0
    args.output.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
