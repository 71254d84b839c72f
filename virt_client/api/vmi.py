"""VirtualMachineInstance: the spec, the template that VMs and replica sets embed, and the kind.

Mirrors upstream ``VirtualMachineInstanceSpec`` and ``VirtualMachineInstanceTemplateSpec``.
Kubernetes core types the spec embeds (affinity, tolerations, probes, DNS config, topology
spread constraints) are kept as opaque JSON: we pass them to the launcher Pod unchanged.

Invariant: ``spec.domain`` is required, as upstream; everything else is optional.
"""

from __future__ import annotations

from pydantic import Field

from virt_client.api.constants import API_VERSION, EvictionStrategy, Kind, StartStrategy
from virt_client.api.domain import DomainSpec
from virt_client.api.fields import FreeForm, Int64, StringMap
from virt_client.api.meta import KubeModel, ObjectMeta
from virt_client.api.vmi_status import VirtualMachineInstanceStatus
from virt_client.api.volumes import Network, Volume


class VirtualMachineInstanceSpec(KubeModel):
    priority_class_name: str | None = None
    domain: DomainSpec
    node_selector: StringMap | None = None
    affinity: FreeForm | None = None
    scheduler_name: str | None = None
    tolerations: list[FreeForm] | None = None
    topology_spread_constraints: list[FreeForm] | None = None
    eviction_strategy: EvictionStrategy | None = None
    start_strategy: StartStrategy | None = None
    termination_grace_period_seconds: Int64 | None = None
    volumes: list[Volume] | None = None
    liveness_probe: FreeForm | None = None
    readiness_probe: FreeForm | None = None
    hostname: str | None = None
    subdomain: str | None = None
    networks: list[Network] | None = None
    dns_policy: str | None = None
    dns_config: FreeForm | None = None
    access_credentials: list[FreeForm] | None = None
    architecture: str | None = None
    resource_claims: list[FreeForm] | None = None
    utility_volumes: list[FreeForm] | None = None
    service_account_name: str | None = None


class VirtualMachineInstanceTemplateSpec(KubeModel):
    """The VMI template embedded in VMs and replica sets (metadata is free-form)."""

    metadata: ObjectMeta | None = None
    spec: VirtualMachineInstanceSpec | None = None


class VirtualMachineInstance(KubeModel):
    api_version: str | None = Field(default=None)
    kind: str | None = None
    metadata: ObjectMeta | None = None
    spec: VirtualMachineInstanceSpec
    status: VirtualMachineInstanceStatus | None = None

    @classmethod
    def new(cls, *, name: str, namespace: str, spec: VirtualMachineInstanceSpec) -> VirtualMachineInstance:
        """A fresh VMI with apiVersion and kind set."""
        return cls(
            api_version=API_VERSION,
            kind=Kind.VIRTUAL_MACHINE_INSTANCE,
            metadata=ObjectMeta(name=name, namespace=namespace),
            spec=spec,
        )
