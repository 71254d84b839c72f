"""VirtualMachineInstanceReplicaSet: keep N VMIs from one template running.

Mirrors upstream ``VirtualMachineInstanceReplicaSetSpec``/``...Status``. ``status.labelSelector``
is the string form of ``spec.selector`` that the scale subresource reports.

Invariant: ``spec.selector`` and ``spec.template`` are required, as upstream; ``replicas``
defaults to 1 when unset (read it through :func:`desired_replicas`).
"""

from __future__ import annotations

from pydantic import Field

from virt_client.api.constants import API_VERSION, Kind
from virt_client.api.fields import Int32
from virt_client.api.meta import Condition, KubeModel, LabelSelector, ObjectMeta
from virt_client.api.vmi import VirtualMachineInstanceTemplateSpec


class VirtualMachineInstanceReplicaSetSpec(KubeModel):
    replicas: Int32 | None = None
    selector: LabelSelector
    template: VirtualMachineInstanceTemplateSpec
    paused: bool | None = None


class VirtualMachineInstanceReplicaSetStatus(KubeModel):
    replicas: Int32 | None = None
    ready_replicas: Int32 | None = None
    conditions: list[Condition] | None = None
    label_selector: str | None = None


class VirtualMachineInstanceReplicaSet(KubeModel):
    api_version: str | None = Field(default=None)
    kind: str | None = None
    metadata: ObjectMeta | None = None
    spec: VirtualMachineInstanceReplicaSetSpec
    status: VirtualMachineInstanceReplicaSetStatus | None = None

    @classmethod
    def new(
        cls, *, name: str, namespace: str, spec: VirtualMachineInstanceReplicaSetSpec
    ) -> VirtualMachineInstanceReplicaSet:
        """A fresh replica set with apiVersion and kind set."""
        return cls(
            api_version=API_VERSION,
            kind=Kind.VIRTUAL_MACHINE_INSTANCE_REPLICA_SET,
            metadata=ObjectMeta(name=name, namespace=namespace),
            spec=spec,
        )


def desired_replicas(spec: VirtualMachineInstanceReplicaSetSpec) -> int:
    """``spec.replicas`` with upstream's default of 1."""
    return 1 if spec.replicas is None else spec.replicas


def selector_string(selector: LabelSelector) -> str:
    """The label-selector string form of a LabelSelector (what ``status.labelSelector`` holds)."""
    parts = [f"{key}={value}" for key, value in sorted((selector.match_labels or {}).items())]
    for req in selector.match_expressions or []:
        op = req.operator
        values = ",".join(sorted(req.values or []))
        if op == "In":
            parts.append(f"{req.key} in ({values})")
        elif op == "NotIn":
            parts.append(f"{req.key} notin ({values})")
        elif op == "Exists":
            parts.append(req.key)
        elif op == "DoesNotExist":
            parts.append(f"!{req.key}")
        else:
            raise ValueError(f"unknown label selector operator {op!r}")
    return ",".join(parts)
