"""Strategic-merge-patch metadata for the built-in kinds the API server serves.

Kubernetes declares, on each list field of its Go types, a patch strategy and merge key
(`patchStrategy:"merge" patchMergeKey:"name"`). Strategic merge patch needs them; this module
is that table, written out by field path. A path is the tuple of field names from the object
root with list items left out, e.g. ("spec", "template", "spec", "containers", "env").

Invariants:
- Only lists that upstream marks `patchStrategy:"merge"` appear; any other list is replaced
  whole by a patch (so `tolerations`, `taints`, `envFrom`, `readinessGates` are absent on purpose).
- A value of `PRIMITIVE_MERGE` marks a list of scalars that is merged as a set (`finalizers`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

PRIMITIVE_MERGE: Final = "$primitive"
"""Merge-key marker for lists of scalars that merge as an ordered set."""

MergeKeyLookup = Callable[[tuple[str, ...]], str | None]

_CONTAINER: dict[tuple[str, ...], str] = {
    ("env",): "name",
    ("ports",): "containerPort",
    ("volumeMounts",): "mountPath",
    ("volumeDevices",): "devicePath",
    ("resizePolicy",): "resourceName",
}

_POD_SPEC_LISTS: dict[tuple[str, ...], str] = {
    ("volumes",): "name",
    ("imagePullSecrets",): "name",
    ("hostAliases",): "ip",
    ("topologySpreadConstraints",): "topologyKey",
    ("resourceClaims",): "name",
    ("schedulingGates",): "name",
}

_CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")

_METADATA: dict[tuple[str, ...], str] = {
    ("metadata", "ownerReferences"): "uid",
    ("metadata", "finalizers"): PRIMITIVE_MERGE,
}

_CONDITIONS: dict[tuple[str, ...], str] = {("status", "conditions"): "type"}


def _pod_spec(prefix: tuple[str, ...]) -> dict[tuple[str, ...], str]:
    """Merge keys of a PodSpec found at `prefix` (and of the metadata of its template)."""
    table = {prefix + path: key for path, key in _POD_SPEC_LISTS.items()}
    for containers in _CONTAINER_LISTS:
        table[prefix + (containers,)] = "name"
        for path, key in _CONTAINER.items():
            table[prefix + (containers,) + path] = key
    template_meta = prefix[:-1] + ("metadata",)
    if prefix != ("spec",):
        table[template_meta + ("ownerReferences",)] = "uid"
        table[template_meta + ("finalizers",)] = PRIMITIVE_MERGE
    return table


_TEMPLATE: Final = ("spec", "template", "spec")
_JOB_TEMPLATE: Final = ("spec", "jobTemplate", "spec", "template", "spec")

_BY_KIND: dict[str, dict[tuple[str, ...], str]] = {
    "Pod": {**_pod_spec(("spec",)), **_CONDITIONS, ("status", "podIPs"): "ip", ("status", "hostIPs"): "ip"},
    "PodTemplate": _pod_spec(("template", "spec")),
    "Deployment": {**_pod_spec(_TEMPLATE), **_CONDITIONS},
    "ReplicaSet": {**_pod_spec(_TEMPLATE), **_CONDITIONS},
    "DaemonSet": {**_pod_spec(_TEMPLATE), **_CONDITIONS},
    "StatefulSet": {**_pod_spec(_TEMPLATE), **_CONDITIONS},
    "ReplicationController": {**_pod_spec(_TEMPLATE), **_CONDITIONS},
    "Job": {**_pod_spec(_TEMPLATE), **_CONDITIONS},
    "CronJob": _pod_spec(_JOB_TEMPLATE),
    "Service": {("spec", "ports"): "port", **_CONDITIONS},
    "Node": {
        **_CONDITIONS,
        ("status", "addresses"): "type",
        ("spec", "podCIDRs"): PRIMITIVE_MERGE,
    },
    "Namespace": {("spec", "finalizers"): PRIMITIVE_MERGE, **_CONDITIONS},
    "PersistentVolumeClaim": _CONDITIONS,
}

BUILTIN_MERGE_KEYS: dict[tuple[str, ...], str] = {
    path: key for table in (_METADATA, *_BY_KIND.values()) for path, key in table.items()
}
"""Every built-in merge key, whatever the kind (paths of different kinds do not disagree)."""


def builtin_merge_key_lookup(kind: str) -> MergeKeyLookup:
    """Return the merge-key lookup for one built-in kind; unknown kinds only know metadata lists."""
    table = {**_METADATA, **_BY_KIND.get(kind, {})}
    return table.get
