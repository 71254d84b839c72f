"""CustomResourceDefinitions for the KubeVirt and CDI kinds, generated from the API models.

``python -m virt_client.api.crdgen --out manifests/crds`` writes one YAML file per CRD, named
``<plural>.<group>.yaml``. Names, short names, categories, printer columns, subresources and
versions follow upstream (kubevirt ``crds.go``, CDI kubebuilder markers); the
``openAPIV3Schema`` comes from :mod:`virt_client.api.schema`.

Invariants:
- output is deterministic (sorted keys, no YAML anchors), so a test can compare the committed
  files byte for byte with a fresh generation;
- VirtualMachineInstance has no status subresource (its status is written with the object);
  VM, VMIM, VMIRS and DataVolume have one; VMIRS also has scale.
"""

from __future__ import annotations

import argparse
import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from virt_client.api.constants import (
    APP_LABEL,
    CDI_GROUP,
    CDI_VERSION,
    DEPRECATED_VERSION,
    GROUP,
    VERSION,
    Kind,
    Plural,
)
from virt_client.api.datavolume import DataVolume
from virt_client.api.meta import KubeModel
from virt_client.api.migration import VirtualMachineInstanceMigration
from virt_client.api.replicaset import VirtualMachineInstanceReplicaSet
from virt_client.api.schema import structural_schema
from virt_client.api.vm import VirtualMachine
from virt_client.api.vmi import VirtualMachineInstance

CREATION_TIMESTAMP = ".metadata.creationTimestamp"
DEPRECATION_WARNING = (
    f"{GROUP}/{DEPRECATED_VERSION} is now deprecated and will be removed in a future release."
)
CDI_COMPONENT_LABEL = "cdi.kubevirt.io"


@dataclass(frozen=True)
class PrinterColumn:
    name: str
    type: str
    json_path: str
    description: str | None = None
    priority: int | None = None

    def render(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.type, "jsonPath": self.json_path}
        if self.description is not None:
            out["description"] = self.description
        if self.priority is not None:
            out["priority"] = self.priority
        return out


@dataclass(frozen=True)
class CRDSpec:
    """Everything about one CRD that is not derived from its model."""

    model: type[KubeModel]
    group: str
    kind: str
    plural: str
    singular: str
    short_names: tuple[str, ...]
    columns: tuple[PrinterColumn, ...]
    versions: tuple[str, ...]
    labels: dict[str, str]
    status_subresource: bool = False
    scale: dict[str, str] | None = None
    deprecated_versions: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        # StrEnum members are str subclasses YAML cannot represent; store the plain strings.
        object.__setattr__(self, "kind", str(self.kind))
        object.__setattr__(self, "plural", str(self.plural))

    @property
    def name(self) -> str:
        return f"{self.plural}.{self.group}"


def _ready(cond: str) -> str:
    return f".status.conditions[?(@.type=='{cond}')].status"


KUBEVIRT_VERSIONS = (VERSION, DEPRECATED_VERSION)

CRDS: tuple[CRDSpec, ...] = (
    CRDSpec(
        model=VirtualMachine,
        group=GROUP,
        kind=Kind.VIRTUAL_MACHINE,
        plural=Plural.VIRTUAL_MACHINES,
        singular="virtualmachine",
        short_names=("vm", "vms"),
        columns=(
            PrinterColumn("Age", "date", CREATION_TIMESTAMP),
            PrinterColumn("Status", "string", ".status.printableStatus", description="Human Readable Status"),
            PrinterColumn("Ready", "string", _ready("Ready")),
        ),
        versions=KUBEVIRT_VERSIONS,
        labels={APP_LABEL: ""},
        status_subresource=True,
        deprecated_versions=frozenset({DEPRECATED_VERSION}),
    ),
    CRDSpec(
        model=VirtualMachineInstance,
        group=GROUP,
        kind=Kind.VIRTUAL_MACHINE_INSTANCE,
        plural=Plural.VIRTUAL_MACHINE_INSTANCES,
        singular="virtualmachineinstance",
        short_names=("vmi", "vmis"),
        columns=(
            PrinterColumn("Age", "date", CREATION_TIMESTAMP),
            PrinterColumn("Phase", "string", ".status.phase"),
            PrinterColumn("IP", "string", ".status.interfaces[0].ipAddress"),
            PrinterColumn("NodeName", "string", ".status.nodeName"),
            PrinterColumn("Ready", "string", _ready("Ready")),
            PrinterColumn("Live-Migratable", "string", _ready("LiveMigratable"), priority=1),
            PrinterColumn("Paused", "string", _ready("Paused"), priority=1),
        ),
        versions=KUBEVIRT_VERSIONS,
        labels={APP_LABEL: ""},
        status_subresource=False,
        deprecated_versions=frozenset({DEPRECATED_VERSION}),
    ),
    CRDSpec(
        model=VirtualMachineInstanceMigration,
        group=GROUP,
        kind=Kind.VIRTUAL_MACHINE_INSTANCE_MIGRATION,
        plural=Plural.VIRTUAL_MACHINE_INSTANCE_MIGRATIONS,
        singular="virtualmachineinstancemigration",
        short_names=("vmim", "vmims"),
        columns=(
            PrinterColumn(
                "Phase", "string", ".status.phase", description="The current phase of VM instance migration"
            ),
            PrinterColumn(
                "VMI",
                "string",
                ".spec.vmiName",
                description="The name of the VMI to perform the migration on",
            ),
        ),
        versions=KUBEVIRT_VERSIONS,
        labels={APP_LABEL: ""},
        status_subresource=True,
        deprecated_versions=frozenset({DEPRECATED_VERSION}),
    ),
    CRDSpec(
        model=VirtualMachineInstanceReplicaSet,
        group=GROUP,
        kind=Kind.VIRTUAL_MACHINE_INSTANCE_REPLICA_SET,
        plural=Plural.VIRTUAL_MACHINE_INSTANCE_REPLICA_SETS,
        singular="virtualmachineinstancereplicaset",
        short_names=("vmirs", "vmirss"),
        columns=(
            PrinterColumn(
                "Desired",
                "integer",
                ".spec.replicas",
                description="Number of desired VirtualMachineInstances",
            ),
            PrinterColumn(
                "Current",
                "integer",
                ".status.replicas",
                description="Number of managed and not final or deleted VirtualMachineInstances",
            ),
            PrinterColumn(
                "Ready",
                "integer",
                ".status.readyReplicas",
                description="Number of managed VirtualMachineInstances which are ready to receive traffic",
            ),
            PrinterColumn("Age", "date", CREATION_TIMESTAMP),
        ),
        versions=KUBEVIRT_VERSIONS,
        labels={APP_LABEL: ""},
        status_subresource=True,
        scale={
            "specReplicasPath": ".spec.replicas",
            "statusReplicasPath": ".status.replicas",
            "labelSelectorPath": ".status.labelSelector",
        },
        deprecated_versions=frozenset({DEPRECATED_VERSION}),
    ),
    CRDSpec(
        model=DataVolume,
        group=CDI_GROUP,
        kind=Kind.DATA_VOLUME,
        plural=Plural.DATA_VOLUMES,
        singular="datavolume",
        short_names=("dv", "dvs"),
        columns=(
            PrinterColumn("Phase", "string", ".status.phase", description="The phase the data volume is in"),
            PrinterColumn(
                "Progress",
                "string",
                ".status.progress",
                description="Transfer progress in percentage if known, N/A otherwise",
            ),
            PrinterColumn(
                "Restarts",
                "integer",
                ".status.restartCount",
                description="The number of times the transfer has been restarted.",
            ),
            PrinterColumn("Age", "date", CREATION_TIMESTAMP),
        ),
        versions=(CDI_VERSION,),
        labels={CDI_COMPONENT_LABEL: ""},
        status_subresource=True,
    ),
)


def render_crd(spec: CRDSpec) -> dict[str, Any]:
    """The CustomResourceDefinition object for one kind."""
    schema = structural_schema(spec.model)
    versions: list[dict[str, Any]] = []
    for index, version in enumerate(spec.versions):
        entry: dict[str, Any] = {
            "name": version,
            "served": True,
            "storage": index == 0,
            "schema": {"openAPIV3Schema": copy.deepcopy(schema)},
            "additionalPrinterColumns": [c.render() for c in spec.columns],
        }
        if version in spec.deprecated_versions:
            entry["deprecated"] = True
            entry["deprecationWarning"] = DEPRECATION_WARNING
        subresources: dict[str, Any] = {}
        if spec.status_subresource:
            subresources["status"] = {}
        if spec.scale is not None:
            subresources["scale"] = dict(spec.scale)
        if subresources:
            entry["subresources"] = subresources
        versions.append(entry)
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": spec.name, "labels": dict(spec.labels)},
        "spec": {
            "group": spec.group,
            "names": {
                "kind": spec.kind,
                "listKind": f"{spec.kind}List",
                "plural": spec.plural,
                "singular": spec.singular,
                "shortNames": list(spec.short_names),
                "categories": ["all"],
            },
            "scope": "Namespaced",
            "versions": versions,
        },
    }


class _NoAliasDumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump_yaml(obj: Any) -> str:
    """Deterministic YAML: sorted keys, block style, no anchors."""
    return yaml.dump(obj, Dumper=_NoAliasDumper, sort_keys=True, default_flow_style=False, width=100)


def render_all() -> dict[str, str]:
    """File name → YAML text for every CRD."""
    return {f"{spec.name}.yaml": dump_yaml(render_crd(spec)) for spec in CRDS}


def write_all(out: Path) -> list[Path]:
    """Write every CRD into ``out`` (created if missing); returns the written paths."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render_all().items():
        path = out / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m virt_client.api.crdgen", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("manifests/crds"), help="output directory")
    args = parser.parse_args(argv)
    for path in write_all(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
