"""Which resources exist right now: the built-ins plus those of established CRDs.

`ResourceTable` answers lookups by (group, version, plural), short name and kind, and produces
the discovery documents. It is rebuilt whenever a CRD or APIService changes, so a lookup never
sees half of an update.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .builtin import BUILTIN
from .resources import PrinterColumn, ResourceInfo

# group → preferred version order for discovery (built-ins)
_BUILTIN_GROUP_ORDER = ["", "apps", "coordination.k8s.io", "storage.k8s.io", "rbac.authorization.k8s.io",
                        "authorization.k8s.io", "authentication.k8s.io", "apiextensions.k8s.io",
                        "apiregistration.k8s.io", "admissionregistration.k8s.io"]


def resources_from_crd(crd: dict[str, Any]) -> list[ResourceInfo]:
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    out = []
    for ver in spec.get("versions") or ():
        if not ver.get("served", True):
            continue
        subs_spec = ver.get("subresources") or {}
        subs = tuple(s for s in ("status", "scale") if s in subs_spec)
        scale = subs_spec.get("scale") or {}
        cols = tuple(
            PrinterColumn(name=c.get("name", ""), type=c.get("type", "string"), json_path=c.get("jsonPath", ""),
                          description=c.get("description", ""), priority=int(c.get("priority", 0) or 0),
                          format=c.get("format", ""))
            for c in ver.get("additionalPrinterColumns") or ()
        )
        out.append(ResourceInfo(
            group=spec.get("group", ""), version=ver.get("name", ""), plural=names.get("plural", ""),
            kind=names.get("kind", ""), namespaced=spec.get("scope", "Namespaced") == "Namespaced",
            singular=names.get("singular", "") or names.get("kind", "").lower(),
            short_names=tuple(names.get("shortNames") or ()), categories=tuple(names.get("categories") or ()),
            subresources=subs, list_kind=names.get("listKind", "") or names.get("kind", "") + "List",
            schema=(ver.get("schema") or {}).get("openAPIV3Schema") or {"type": "object",
                                                                        "x-kubernetes-preserve-unknown-fields": True},
            printer_columns=cols, scale_paths={k: v for k, v in scale.items() if isinstance(v, str)},
            from_crd=(crd.get("metadata") or {}).get("name", ""),
        ))
    return out


def storage_version(crd: dict[str, Any]) -> str:
    for ver in (crd.get("spec") or {}).get("versions") or ():
        if ver.get("storage"):
            return str(ver.get("name", ""))
    return ""


class ResourceTable:
    def __init__(self, crds: Iterable[dict[str, Any]] = (), aggregated: Iterable[tuple[str, str, int, int]] = ()):
        self.resources: dict[tuple[str, str, str], ResourceInfo] = {}
        self.crd_versions: dict[tuple[str, str], list[str]] = {}  # (group, plural) -> served versions
        self.storage_versions: dict[tuple[str, str], str] = {}
        for r in BUILTIN:
            self.resources[(r.group, r.version, r.plural)] = r
        for crd in crds:
            for r in resources_from_crd(crd):
                self.resources.setdefault((r.group, r.version, r.plural), r)
                self.crd_versions.setdefault((r.group, r.plural), []).append(r.version)
            spec = crd.get("spec") or {}
            self.storage_versions[(spec.get("group", ""), (spec.get("names") or {}).get("plural", ""))] = \
                storage_version(crd)
        # aggregated group versions: (group, version, groupPriorityMinimum, versionPriority)
        self.aggregated = {(g, v): (gp, vp) for g, v, gp, vp in aggregated}

    def lookup(self, group: str, version: str, plural: str) -> ResourceInfo | None:
        return self.resources.get((group, version, plural))

    def group_versions(self) -> dict[str, list[str]]:
        """group -> versions, preferred first (kube sorts by version priority)."""
        gv: dict[str, list[str]] = {}
        for g, v, _ in self.resources:
            if v not in gv.setdefault(g, []):
                gv[g].append(v)
        for (g, v) in self.aggregated:
            if v not in gv.setdefault(g, []):
                gv[g].append(v)
        for vs in gv.values():
            vs.sort(key=_version_priority)
        return gv

    def groups_in_order(self) -> list[str]:
        gv = self.group_versions()
        builtin = [g for g in _BUILTIN_GROUP_ORDER if g in gv]
        rest = sorted(g for g in gv if g not in _BUILTIN_GROUP_ORDER)
        return builtin + rest

    def in_group_version(self, group: str, version: str) -> list[ResourceInfo]:
        return [r for (g, v, _), r in self.resources.items() if g == group and v == version]

    # ---- discovery documents -------------------------------------------------------------
    def api_versions(self) -> dict[str, Any]:
        return {"kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]}

    def api_group(self, group: str) -> dict[str, Any] | None:
        versions = self.group_versions().get(group)
        if not versions or not group:
            return None
        vs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        return {"name": group, "versions": vs, "preferredVersion": vs[0]}

    def api_group_list(self) -> dict[str, Any]:
        groups = [self.api_group(g) for g in self.groups_in_order() if g]
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [g for g in groups if g]}

    def api_resource_list(self, group: str, version: str) -> dict[str, Any] | None:
        rs = self.in_group_version(group, version)
        if not rs:
            return None
        items: list[dict[str, Any]] = []
        for r in sorted(rs, key=lambda r: r.plural):
            item: dict[str, Any] = {"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced,
                                    "kind": r.kind, "verbs": list(r.verbs)}
            if r.short_names:
                item["shortNames"] = list(r.short_names)
            if r.categories:
                item["categories"] = list(r.categories)
            items.append(item)
            for sub in r.subresources:
                sub_kind, sub_verbs = _subresource_shape(r, sub)
                sub_item: dict[str, Any] = {"name": f"{r.plural}/{sub}", "singularName": "",
                                            "namespaced": r.namespaced, "kind": sub_kind, "verbs": sub_verbs}
                if sub == "scale":
                    sub_item.update(group="autoscaling", version="v1")
                items.append(sub_item)
        return {"kind": "APIResourceList", "apiVersion": "v1",
                "groupVersion": f"{group}/{version}" if group else version, "resources": items}


def _subresource_shape(r: ResourceInfo, sub: str) -> tuple[str, list[str]]:
    return {
        "status": (r.kind, ["get", "patch", "update"]),
        "scale": ("Scale", ["get", "patch", "update"]),
        "binding": ("Binding", ["create"]),
        "eviction": ("Eviction", ["create"]),
        "log": ("Pod", ["get"]),
        "token": ("TokenRequest", ["create"]),
        "finalize": ("Namespace", ["update"]),
    }.get(sub, (r.kind, ["get"]))


def _version_priority(v: str) -> tuple[int, int, int, str]:
    """Kubernetes version ordering: GA > beta > alpha, higher numbers first, then others by name."""
    import re

    m = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", v)
    if not m:
        return (3, 0, 0, v)
    major = int(m.group(1))
    stage = {None: 0, "beta": 1, "alpha": 2}[m.group(2)]
    minor = int(m.group(3) or 0)
    return (stage, -major, -minor, v)
