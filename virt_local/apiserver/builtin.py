"""The built-in Kubernetes resource types the embedded API server serves, and their quirks.

Only what the project's components, kubectl and virtctl use is listed. Per-kind rules (which
fields a status write may change, field selectors, printer columns) sit next to the table.
"""

from __future__ import annotations

from typing import Any

from .resources import ALL_VERBS, PrinterColumn, ResourceInfo

CREATE_ONLY = ("create",)


def _r(group: str, version: str, plural: str, kind: str, namespaced: bool, *,
       short: tuple[str, ...] = (), subs: tuple[str, ...] = (), verbs: tuple[str, ...] = ALL_VERBS,
       categories: tuple[str, ...] = (), singular: str = "",
       columns: tuple[PrinterColumn, ...] = ()) -> ResourceInfo:
    return ResourceInfo(group=group, version=version, plural=plural, kind=kind, namespaced=namespaced,
                        singular=singular or kind.lower(), short_names=short, categories=categories,
                        verbs=verbs, subresources=subs, list_kind=kind + "List", printer_columns=columns)


AGE = PrinterColumn("Age", "date", ".metadata.creationTimestamp")

BUILTIN: tuple[ResourceInfo, ...] = (
    _r("", "v1", "namespaces", "Namespace", False, short=("ns",), subs=("status", "finalize"),
       verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
       columns=(PrinterColumn("Status", "string", ".status.phase"), AGE)),
    # Nodes' and Pods' table cells are computed, not JSONPath: see builtin_printers.
    _r("", "v1", "nodes", "Node", False, short=("no",), subs=("status",)),
    _r("", "v1", "pods", "Pod", True, short=("po",), subs=("status", "binding", "log", "eviction"),
       categories=("all",)),
    _r("", "v1", "bindings", "Binding", True, verbs=CREATE_ONLY),
    _r("", "v1", "events", "Event", True, short=("ev",),
       columns=(PrinterColumn("Last Seen", "date", ".lastTimestamp"),
                PrinterColumn("Type", "string", ".type"), PrinterColumn("Reason", "string", ".reason"),
                PrinterColumn("Object", "string", ".involvedObject.name"),
                PrinterColumn("Message", "string", ".message"))),
    _r("", "v1", "configmaps", "ConfigMap", True, short=("cm",)),
    _r("", "v1", "secrets", "Secret", True, columns=(PrinterColumn("Type", "string", ".type"), AGE)),
    _r("", "v1", "services", "Service", True, short=("svc",), subs=("status",), categories=("all",),
       columns=(PrinterColumn("Type", "string", ".spec.type"),
                PrinterColumn("Cluster-IP", "string", ".spec.clusterIP"), AGE)),
    _r("", "v1", "endpoints", "Endpoints", True, short=("ep",),
       columns=(PrinterColumn("Endpoints", "string", ".subsets[*].addresses[*].ip"), AGE)),
    _r("", "v1", "serviceaccounts", "ServiceAccount", True, short=("sa",), subs=("token",)),
    _r("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", True, short=("pvc",), subs=("status",),
       columns=(PrinterColumn("Status", "string", ".status.phase"),
                PrinterColumn("Volume", "string", ".spec.volumeName"),
                PrinterColumn("Capacity", "string", ".status.capacity.storage"),
                PrinterColumn("StorageClass", "string", ".spec.storageClassName"), AGE)),
    _r("", "v1", "persistentvolumes", "PersistentVolume", False, short=("pv",), subs=("status",),
       columns=(PrinterColumn("Capacity", "string", ".spec.capacity.storage"),
                PrinterColumn("Status", "string", ".status.phase"),
                PrinterColumn("Claim", "string", ".spec.claimRef.name"), AGE)),
    _r("storage.k8s.io", "v1", "storageclasses", "StorageClass", False, short=("sc",),
       columns=(PrinterColumn("Provisioner", "string", ".provisioner"), AGE)),
    _r("coordination.k8s.io", "v1", "leases", "Lease", True,
       columns=(PrinterColumn("Holder", "string", ".spec.holderIdentity"), AGE)),
    _r("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False,
       short=("crd", "crds"), subs=("status",),
       columns=(PrinterColumn("Created At", "date", ".metadata.creationTimestamp"),)),
    _r("apiregistration.k8s.io", "v1", "apiservices", "APIService", False, subs=("status",),
       columns=(PrinterColumn("Service", "string", ".spec.service.name"),
                PrinterColumn("Available", "string", ".status.conditions[?(@.type=='Available')].status"),
                AGE)),
    _r("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations",
       "ValidatingWebhookConfiguration", False),
    _r("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations",
       "MutatingWebhookConfiguration", False),
    _r("rbac.authorization.k8s.io", "v1", "roles", "Role", True),
    _r("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True),
    _r("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    _r("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    _r("authorization.k8s.io", "v1", "subjectaccessreviews", "SubjectAccessReview", False, verbs=CREATE_ONLY),
    _r("authorization.k8s.io", "v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview", False,
       verbs=CREATE_ONLY),
    _r("authorization.k8s.io", "v1", "localsubjectaccessreviews", "LocalSubjectAccessReview", True,
       verbs=CREATE_ONLY),
    _r("authentication.k8s.io", "v1", "tokenreviews", "TokenReview", False, verbs=CREATE_ONLY),
    _r("authentication.k8s.io", "v1", "selfsubjectreviews", "SelfSubjectReview", False, verbs=CREATE_ONLY),
    _r("apps", "v1", "deployments", "Deployment", True, short=("deploy",), subs=("status", "scale"),
       categories=("all",),
       columns=(PrinterColumn("Ready", "integer", ".status.readyReplicas"),
                PrinterColumn("Up-to-date", "integer", ".status.updatedReplicas"),
                PrinterColumn("Available", "integer", ".status.availableReplicas"), AGE)),
    _r("apps", "v1", "daemonsets", "DaemonSet", True, short=("ds",), subs=("status",), categories=("all",),
       columns=(PrinterColumn("Desired", "integer", ".status.desiredNumberScheduled"),
                PrinterColumn("Current", "integer", ".status.currentNumberScheduled"),
                PrinterColumn("Ready", "integer", ".status.numberReady"),
                PrinterColumn("Up-to-date", "integer", ".status.updatedNumberScheduled"),
                PrinterColumn("Available", "integer", ".status.numberAvailable"), AGE)),
    _r("apps", "v1", "replicasets", "ReplicaSet", True, short=("rs",), subs=("status", "scale"),
       categories=("all",),
       columns=(PrinterColumn("Desired", "integer", ".spec.replicas"),
                PrinterColumn("Current", "integer", ".status.replicas"),
                PrinterColumn("Ready", "integer", ".status.readyReplicas"), AGE)),
)

# Resources that are computed per request and never stored.
VIRTUAL = {"bindings", "subjectaccessreviews", "selfsubjectaccessreviews", "localsubjectaccessreviews", "tokenreviews",
           "selfsubjectreviews"}


def pod_fields(obj: dict[str, Any]) -> dict[str, str]:
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    return {"spec.nodeName": spec.get("nodeName", "") or "", "status.phase": status.get("phase", "") or "",
            "spec.serviceAccountName": spec.get("serviceAccountName", "") or "",
            "spec.schedulerName": spec.get("schedulerName", "") or "",
            "status.podIP": status.get("podIP", "") or "", "spec.restartPolicy": spec.get("restartPolicy", "")}


def event_fields(obj: dict[str, Any]) -> dict[str, str]:
    io = obj.get("involvedObject") or {}
    out = {f"involvedObject.{k}": str(io.get(k, "") or "") for k in
           ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")}
    out["reason"] = obj.get("reason", "") or ""
    out["type"] = obj.get("type", "") or ""
    out["source"] = (obj.get("source") or {}).get("component", "") or ""
    return out


def simple_fields(path: str) -> Any:
    parts = path.split(".")

    def get(obj: dict[str, Any]) -> dict[str, str]:
        cur: Any = obj
        for p in parts:
            cur = cur.get(p) if isinstance(cur, dict) else None
        return {path: str(cur) if cur is not None else ""}
    return get


FIELD_GETTERS: dict[tuple[str, str], Any] = {
    ("", "pods"): pod_fields,
    ("", "events"): event_fields,
    ("", "secrets"): simple_fields("type"),
    ("", "namespaces"): simple_fields("status.phase"),
    ("", "nodes"): simple_fields("spec.unschedulable"),
    ("", "persistentvolumeclaims"): simple_fields("spec.volumeName"),
}
