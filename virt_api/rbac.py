"""RBAC shipped with virt-api: upstream's user-facing ClusterRoles and virt-api's own permissions.

Upstream (`pkg/virt-operator/resource/generate/rbac/cluster.go`): `kubevirt.io:admin` and `:edit`
(aggregated into admin/edit) may use every subresource except `virtualmachines/migrate`, which lives
in `kubevirt.io:migrate` with full verbs on migrations; `kubevirt.io:view` (aggregated into view)
reads. Pure data; `manifests.py` renders it into `manifests/virt-api.yaml`.
"""

from __future__ import annotations

from virt_client.api.constants import GROUP, SUBRESOURCE_GROUP

from .wire import JsonObject

ALL_VERBS = ["get", "delete", "create", "update", "patch", "list", "watch", "deletecollection"]
READ_VERBS = ["get", "list", "watch"]
KUBEVIRT_RESOURCES = ["virtualmachines", "virtualmachineinstances", "virtualmachineinstancepresets",
                      "virtualmachineinstancereplicasets", "virtualmachineinstancemigrations"]

VMI_GET = ["virtualmachineinstances/console", "virtualmachineinstances/vnc", "virtualmachineinstances/vnc/screenshot",
           "virtualmachineinstances/portforward", "virtualmachineinstances/guestosinfo",
           "virtualmachineinstances/filesystemlist", "virtualmachineinstances/userlist",
           "virtualmachineinstances/sev/fetchcertchain", "virtualmachineinstances/sev/querylaunchmeasurement",
           "virtualmachineinstances/usbredir", "virtualmachineinstances/objectgraph"]
VMI_UPDATE = ["virtualmachineinstances/pause", "virtualmachineinstances/unpause", "virtualmachineinstances/addvolume",
              "virtualmachineinstances/removevolume", "virtualmachineinstances/freeze",
              "virtualmachineinstances/unfreeze", "virtualmachineinstances/softreboot",
              "virtualmachineinstances/reset", "virtualmachineinstances/sev/setupsession",
              "virtualmachineinstances/sev/injectlaunchsecret", "virtualmachineinstances/evacuate/cancel"]
VM_GET = ["virtualmachines/expand-spec", "virtualmachines/portforward", "virtualmachines/objectgraph"]
VM_UPDATE = ["virtualmachines/start", "virtualmachines/stop", "virtualmachines/restart", "virtualmachines/addvolume",
             "virtualmachines/removevolume", "virtualmachines/memorydump", "virtualmachines/removememorydump",
             "virtualmachines/evacuate/cancel"]


def _rule(groups: list[str], resources: list[str], verbs: list[str]) -> JsonObject:
    return {"apiGroups": groups, "resources": resources, "verbs": verbs}


def _role(name: str, rules: list[JsonObject], aggregate_to: str | None) -> JsonObject:
    labels = {"kubevirt.io": ""}
    if aggregate_to:
        labels[f"rbac.authorization.k8s.io/aggregate-to-{aggregate_to}"] = "true"
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": name, "labels": labels}, "rules": rules}


def _editor_rules() -> list[JsonObject]:
    return [
        _rule([SUBRESOURCE_GROUP], VMI_GET + VM_GET, ["get"]),
        _rule([SUBRESOURCE_GROUP], VMI_UPDATE + VM_UPDATE + ["expand-vm-spec"], ["update"]),
        _rule([GROUP], KUBEVIRT_RESOURCES, ALL_VERBS),
        _rule([GROUP], ["kubevirts"], READ_VERBS),
        _rule(["cdi.kubevirt.io"], ["datavolumes"], ALL_VERBS),
    ]


def cluster_roles() -> list[JsonObject]:
    """`kubevirt.io:admin`, `:edit`, `:view` and `:migrate`, with upstream's rules."""
    view_rules = [
        _rule([SUBRESOURCE_GROUP], ["virtualmachines/expand-spec", "virtualmachineinstances/guestosinfo",
                                    "virtualmachineinstances/filesystemlist", "virtualmachineinstances/userlist",
                                    "virtualmachineinstances/sev/fetchcertchain",
                                    "virtualmachineinstances/sev/querylaunchmeasurement"], ["get"]),
        _rule([SUBRESOURCE_GROUP], ["expand-vm-spec"], ["update"]),
        _rule([GROUP], KUBEVIRT_RESOURCES + ["kubevirts"], READ_VERBS),
        _rule(["cdi.kubevirt.io"], ["datavolumes"], READ_VERBS),
    ]
    migrate_rules = [
        _rule([SUBRESOURCE_GROUP], ["virtualmachines/migrate"], ["update"]),
        _rule([GROUP], ["virtualmachineinstancemigrations"], ALL_VERBS),
    ]
    return [
        _role("kubevirt.io:admin", _editor_rules(), "admin"),
        _role("kubevirt.io:edit", _editor_rules(), "edit"),
        _role("kubevirt.io:view", view_rules, "view"),
        _role("kubevirt.io:migrate", migrate_rules, None),
    ]


def virt_api_role() -> JsonObject:
    """What virt-api itself needs: SubjectAccessReviews, VM/VMI patches, migrations, handler lookup."""
    rules = [
        _rule(["authorization.k8s.io"], ["subjectaccessreviews"], ["create"]),
        _rule([GROUP], ["virtualmachines", "virtualmachineinstances"], ["get", "list", "watch", "patch"]),
        _rule([GROUP], ["virtualmachines/status"], ["patch"]),
        _rule([GROUP], ["virtualmachineinstancemigrations"], ["get", "list", "watch", "create"]),
        _rule([""], ["pods"], ["get", "list", "delete"]),
        _rule([""], ["nodes"], ["get"]),
    ]
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "kubevirt-apiserver", "labels": {"kubevirt.io": ""}}, "rules": rules}


def virt_api_bindings(namespace: str, service_account: str) -> list[JsonObject]:
    subject = [{"kind": "ServiceAccount", "name": service_account, "namespace": namespace}]

    def ref(kind: str, name: str) -> dict[str, str]:
        return {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": name}

    return [
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": "kubevirt-apiserver", "labels": {"kubevirt.io": ""}},
         "roleRef": ref("ClusterRole", "kubevirt-apiserver"), "subjects": subject},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": "kubevirt-apiserver-auth-delegator", "labels": {"kubevirt.io": ""}},
         "roleRef": ref("ClusterRole", "system:auth-delegator"), "subjects": subject},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": {"name": "kubevirt-apiserver-authentication-reader", "namespace": "kube-system",
                      "labels": {"kubevirt.io": ""}},
         "roleRef": ref("Role", "extension-apiserver-authentication-reader"), "subjects": subject},
    ]
