"""The table of resource types the embedded API server serves.

A `ResourceInfo` describes one REST resource (built-in or from a CRD): where it lives in the URL
space, its kind, scope, verbs, short names and subresources. Built-in types are listed here once;
custom resources are turned into `ResourceInfo`s from their CustomResourceDefinition at run time.
Invariant: (group, version, plural) is unique within a `ResourceTable`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class PrinterColumn:
    name: str
    type: str
    json_path: str
    description: str = ""
    priority: int = 0
    format: str = ""


@dataclass(frozen=True)
class ResourceInfo:
    group: str  # "" for the core group
    version: str
    plural: str
    kind: str
    namespaced: bool
    singular: str = ""
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    # subresource name -> kind served there ("status", "scale", "binding", "log", "eviction", ...)
    subresources: tuple[str, ...] = ()
    list_kind: str = ""
    # CRD-backed resources: the openAPIV3Schema of this version (None for built-ins)
    schema: dict[str, Any] | None = None
    printer_columns: tuple[PrinterColumn, ...] = ()
    # scale subresource paths for CRDs (specReplicasPath, statusReplicasPath, labelSelectorPath)
    scale_paths: dict[str, str] = field(default_factory=dict)
    from_crd: str = ""  # name of the CRD that defines it, "" for built-ins

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def has_status(self) -> bool:
        return "status" in self.subresources
