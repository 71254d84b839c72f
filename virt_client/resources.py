"""Addresses of the resources the components use: `ResourceRef` and the well-known constants.

A `ResourceRef` names a REST collection (group, version, plural, namespaced) and builds its
paths, so no other module formats `/api/v1/namespaces/...` strings by hand.

Invariants: the core group is the empty string and lives under `/api`; every other group under
`/apis`; cluster-scoped refs ignore the namespace; names and namespaces are path segments and are
percent-encoded.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote


@dataclass(frozen=True)
class ResourceRef:
    """One REST collection of the Kubernetes API."""

    group: str
    version: str
    plural: str
    namespaced: bool = True
    kind: str = ""

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def prefix(self) -> str:
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"

    def path(self, namespace: str | None = None, name: str | None = None, subresource: str | None = None) -> str:
        """The collection path, or the object path when `name` is given."""
        parts = [self.prefix]
        if self.namespaced and namespace:
            parts.append("namespaces/" + quote(namespace, safe=""))
        parts.append(self.plural)
        if name is not None:
            if not name:
                raise ValueError(f"empty name for {self.plural}")
            parts.append(quote(name, safe=""))
            if subresource:
                parts.append(subresource)
        elif subresource:
            raise ValueError("a subresource needs an object name")
        return "/".join(parts)

    def __str__(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural


PODS = ResourceRef("", "v1", "pods", True, "Pod")
NODES = ResourceRef("", "v1", "nodes", False, "Node")
EVENTS = ResourceRef("", "v1", "events", True, "Event")
CONFIGMAPS = ResourceRef("", "v1", "configmaps", True, "ConfigMap")
SECRETS = ResourceRef("", "v1", "secrets", True, "Secret")
SERVICES = ResourceRef("", "v1", "services", True, "Service")
NAMESPACES = ResourceRef("", "v1", "namespaces", False, "Namespace")
SERVICE_ACCOUNTS = ResourceRef("", "v1", "serviceaccounts", True, "ServiceAccount")
PVCS = ResourceRef("", "v1", "persistentvolumeclaims", True, "PersistentVolumeClaim")
PVS = ResourceRef("", "v1", "persistentvolumes", False, "PersistentVolume")
LEASES = ResourceRef("coordination.k8s.io", "v1", "leases", True, "Lease")
CRDS = ResourceRef("apiextensions.k8s.io", "v1", "customresourcedefinitions", False, "CustomResourceDefinition")

KUBEVIRT_GROUP = "kubevirt.io"
VMS = ResourceRef(KUBEVIRT_GROUP, "v1", "virtualmachines", True, "VirtualMachine")
VMIS = ResourceRef(KUBEVIRT_GROUP, "v1", "virtualmachineinstances", True, "VirtualMachineInstance")
VMIMS = ResourceRef(KUBEVIRT_GROUP, "v1", "virtualmachineinstancemigrations", True, "VirtualMachineInstanceMigration")
VMIRSS = ResourceRef(KUBEVIRT_GROUP, "v1", "virtualmachineinstancereplicasets", True, "VirtualMachineInstanceReplicaSet")
KUBEVIRTS = ResourceRef(KUBEVIRT_GROUP, "v1", "kubevirts", True, "KubeVirt")
DATAVOLUMES = ResourceRef("cdi.kubevirt.io", "v1beta1", "datavolumes", True, "DataVolume")
